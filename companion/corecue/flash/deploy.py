"""`corecue flash`: put the firmware on a belt that runs MicroPython, through mpremote.

    built = build(out_dir)                  # [(compiled local file, device path)], mpy-cross
    actions = plan(built, listing)          # what to copy and remove; pure, never touches data
    report = flash("/dev/ttyACM0")          # build, list the belt, carry out the plan, restart

Which files go and how they are compiled is corecue.flash.manifest (firmware/manifest.txt,
mpy-cross; no device involved, re-exported here); this module is the device half: the mpremote
command lines, the plan, the checks of the device and the flash itself.

Two mpremote runs. The first interrupts the running firmware (Ctrl-C, then a soft reset in raw
REPL mode, which stops the sampling timer and the motor and does not start main.py again) and
lists the code folders. The second removes /main.py first, copies the code, removes stale code,
copies main.py last and hard-resets the belt: until that last copy the belt would boot to the
bare MicroPython prompt, never into half-old, half-new firmware, and a flash cut short is
finished by running it again. A hard reset rather than a soft one because MicroPython skips
main.py after a soft reset made from the raw REPL, and a hard reset also ends the watchdog.

A session being recorded is interrupted like a power cut: its writer is not closed, and the
firmware's boot recovery (Storage.recover_all) closes the file at the next start, keeping every
complete block (a block is 10 s). Data files (docs/deploy.md: settings and calibration in
/corecue.cfg, the owners' keys in /keys, everything under /sessions/, MicroPython's own /boot.py)
are never in a plan.
"""
import os
import re
import subprocess
import sys
from dataclasses import dataclass

# The build half, re-exported: `corecue.flash.deploy` stays the one module the CLI and tests import.
from corecue.flash.manifest import (  # noqa: F401
    ARCH, ARCHS, KINDS, MANIFEST, DeployError, Entry, build, build_format, code_dirs, deployed,
    mpy_format, read_manifest,
)

ENTRY = "main.py"           # MicroPython runs /main.py (only a .py) after boot
# Paths on the belt that hold data, not code (firmware: main.py, belt/config.py DEFAULT_PATH and
# its ".tmp" twin from storage.write_atomic; the session folder with the session files, the id
# files and the clock files of belt/storage.py and belt/clock.py). The device id is the chip's
# MAC (machine.unique_id), not a file. boot.py is MicroPython's own and not ours to replace.
# /keys (belt/keystore.py) holds the owners' pairing keys: a flash must not unpair the belt;
# /bonds (belt/bonds.py) the Bluetooth bonds, which a flash must not break either.
DATA_FILES = ("corecue.cfg", "corecue.cfg.tmp", "keys", "keys.tmp", "bonds", "bonds.tmp",
              "boot.py")
DATA_DIRS = ("sessions/",)
LIST_TIMEOUT_S = 60
DEPLOY_TIMEOUT_S = 300
_MARK = "corecue-listing"

# Run on the belt first in each mpremote run. A watchdog the firmware started survives the
# interruption and would reset the belt in the middle of the copy: feed it from a soft timer,
# which runs while the REPL waits for input. Where there is no watchdog (the unix port) nothing
# happens. The hard reset at the end ends both.
QUIESCE = """try:
 import machine
 _w = machine.WDT(timeout=8000)
 machine.Timer(1).init(period=2000, callback=lambda t: _w.feed())
except Exception:
 pass"""

# Lists the root and the code folders below it, one "F path" or "D path/" a line, relative to
# the root. Session folders are not walked: nothing there is ever needed.
_LIST = """import os
def _ls(root, sub, dirs):
 try:
  es = list(os.ilistdir(root + sub))
 except OSError:
  return
 for e in es:
  p = sub + e[0]
  if e[1] & 0x4000:
   print('D ' + p + '/')
   if not sub and e[0] in dirs:
    _ls(root, p + '/', ())
  else:
   print('F ' + p)
import sys
print('%s')
print('M %%d' %% getattr(sys.implementation, '_mpy', 0))
_ls(%r, '', %r)
print('%s')"""

def is_data(path):
    path = path.lstrip("/")
    return path in DATA_FILES or any(path == d or path.startswith(d) or path + "/" == d
                                     for d in DATA_DIRS)


def parse_listing(text):
    """The listing script's output -> (set of paths such as "belt/app.mpy" and "belt/", the
    device's sys.implementation._mpy). DeployError when the markers are missing: something
    other than MicroPython answered."""
    lines = text.replace("\r", "").split("\n")
    try:
        start, end = lines.index(_MARK), len(lines) - 1 - lines[::-1].index(_MARK)
    except ValueError:
        raise DeployError("the device did not list its files: is it running MicroPython?") from None
    body = lines[start + 1:end]
    m = re.fullmatch(r"M (\d+)", body[0]) if body else None
    mpy = int(m.group(1)) if m else 0       # 0: unknown, which check_device refuses
    return {ln[2:] for ln in body if ln[:2] in ("F ", "D ")}, mpy


def check_device(mpy, built_format, expect_arch=ARCH):
    """Refuse a MicroPython that cannot load the compiled files, or that is not an ESP32-S3.
    mpy: the device's sys.implementation._mpy (version, sub-version << 8, arch << 10)."""
    have = (mpy & 0xFF, (mpy >> 8) & 3)
    want = built_format if built_format[1] is not None else (built_format[0], have[1])
    if not mpy or have != want:
        shown = "an unknown format" if not mpy else "%d.%d" % have
        raise DeployError(f"the device's MicroPython loads .mpy {shown}, the firmware is built "
                          f"as {'.'.join(str(x) for x in want)}: install MicroPython 1.29 "
                          "(docs/deploy.md)")
    arch = mpy >> 10
    name = ARCHS[arch] if arch < len(ARCHS) else str(arch)
    if expect_arch and name != expect_arch:
        raise DeployError(f"the device is a {name} MicroPython, not an ESP32-S3 ({expect_arch}): "
                          "is this the belt's port?")


def plan(built, listing, restart=True):
    """The mpremote actions that turn a belt whose files are `listing` (paths relative to the
    root; folders end with "/") into one running `built`:
      ("rm", path), ("mkdir", path), ("cp", local, path), ("reset",)
    Missing code folders are made, then /main.py goes, and it comes back last; stale code (.py/.mpy in a code folder that the
    manifest no longer sends, including a .py that would shadow its new .mpy on import) is
    removed; nothing else on the belt is touched. DeployError if anything would touch data."""
    for _, dev in built:
        if is_data(dev):
            raise DeployError(f"refusing to deploy over /{dev}: it holds the belt's data")
    targets = {dev for _, dev in built}
    dirs = sorted({dev.split("/")[0] for dev in targets if "/" in dev})
    for d in dirs:
        if d in listing:
            raise DeployError(f"/{d} is a file on the belt, where the firmware needs a folder: "
                              f"remove it (`mpremote rm :{d}`) and flash again")
    # Folders first: the likeliest failure (a full or damaged file system) then changes nothing.
    actions = [("mkdir", d) for d in dirs if d + "/" not in listing]
    if ENTRY in listing:
        actions.append(("rm", ENTRY))
    for path in sorted(listing):
        top, _, rest = path.partition("/")
        if (top in dirs and rest and "/" not in rest and path not in targets
                and path.endswith((".py", ".mpy"))):
            actions.append(("rm", path))
    actions += [("cp", local, dev) for local, dev in built if dev != ENTRY]
    actions += [("cp", local, dev) for local, dev in built if dev == ENTRY]
    for a in actions:
        if is_data(a[-1]):      # by construction never; kept so no change can make it so
            raise DeployError(f"refusing to touch /{a[-1]}: it holds the belt's data")
    if restart:
        actions.append(("reset",))
    return actions


def _on(root, path):
    return ":" + root.rstrip("/") + "/" + path


def mpremote_base(port, fresh=True):
    """`python -m mpremote connect PORT`; fresh=False adds `resume` (no soft reset on entry)."""
    return [sys.executable, "-m", "mpremote", "connect", port] + ([] if fresh else ["resume"])


def list_args(root, dirs):
    return ["exec", QUIESCE, "+", "exec", _LIST % (_MARK, root.rstrip("/") + "/", tuple(dirs),
                                                      _MARK)]


def action_args(actions, root="/"):
    """mpremote arguments for a plan, commands joined by "+", after the watchdog feeder."""
    args = ["exec", QUIESCE]
    for a in actions:
        if a[0] == "cp":
            cmd = ["fs", "cp", a[1], _on(root, a[2])]
        elif a[0] == "reset":
            cmd = ["reset"]
        else:
            cmd = ["fs", a[0], _on(root, a[1])]
        args += ["+"] + cmd
    return args


def _failure(port, p):
    text = (p.stderr or "") + "\n" + (p.stdout or "")
    lines = [ln.strip() for ln in (p.stderr or p.stdout or "").splitlines() if ln.strip()]
    last = lines[-1] if lines else f"exit status {p.returncode}"
    if "failed to access" in text:
        return DeployError(f"{port}: busy or not accessible: close the program that has it open "
                           "(a serial monitor, `corecue virtual serve`, another corecue)")
    if "could not enter raw repl" in text or "raw REPL" in text:
        return DeployError(f"{port}: no MicroPython prompt answered: install MicroPython first "
                           "(docs/deploy.md)")
    return DeployError(f"mpremote failed on {port}: {last}")


def _run(run, args, port, timeout):
    try:
        p = run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeployError(f"{port}: mpremote did not finish within {timeout} s (is the device "
                          "a MicroPython board?)") from None
    if p.returncode != 0:
        raise _failure(port, p)
    return p.stdout


def check_port(port):
    if not port:
        raise DeployError("no port given: name the belt's USB serial port with --port "
                          "(e.g. /dev/ttyACM0; `corecue doctor` lists Espressif ports)")
    if sys.platform == "win32":
        return                  # COM ports are names, not paths: mpremote says what is wrong
    if not os.path.exists(port):
        raise DeployError(f"{port}: no such port (is the belt plugged in with a data cable?)")
    if not os.access(port, os.R_OK | os.W_OK):
        raise DeployError(f"{port}: permission denied: add yourself to the group that owns it "
                          "(dialout or uucp), then log in again")


@dataclass
class FlashReport:
    copied: list        # device paths written
    unchanged: list     # device paths mpremote found identical and skipped
    removed: list       # stale code removed
    kept: list          # data paths seen on the belt and left alone


def flash(port, out_dir, root="/", fresh=True, restart=True, expect_arch=ARCH, entries=None,
          run=subprocess.run, progress=None):
    """Build, list the belt, carry out the plan. root: where the belt's file system starts (a
    folder for a stand-in device); fresh=False skips the soft reset on connecting (the unix port
    has none); restart=False leaves the belt at its prompt instead of hard-resetting it;
    expect_arch=None accepts any architecture (a stand-in). progress(line): what is happening."""
    say = progress or (lambda line: None)
    check_port(port)
    say("compiling the firmware with mpy-cross")
    built = build(out_dir, entries)
    dirs = code_dirs(read_manifest() if entries is None else entries)
    say(f"stopping the program on {port} and listing its files")
    listing, mpy = parse_listing(_run(run, mpremote_base(port, fresh) + list_args(root, dirs),
                                      port, LIST_TIMEOUT_S))
    fmt = build_format(built)
    if fmt:
        check_device(mpy, fmt, expect_arch)
    actions = plan(built, listing, restart)
    say(f"copying {sum(1 for a in actions if a[0] == 'cp')} files")
    out = _run(run, mpremote_base(port, fresh=False) + action_args(actions, root), port,
               DEPLOY_TIMEOUT_S)
    skipped = set(re.findall(r"^Up to date: (.+?)\s*$", out, re.M))
    prefix = root.rstrip("/") + "/"
    copies = [a[2] for a in actions if a[0] == "cp"]
    return FlashReport(copied=[p for p in copies if prefix + p not in skipped],
                       unchanged=[p for p in copies if prefix + p in skipped],
                       removed=[a[1] for a in actions if a[0] == "rm" and a[1] != ENTRY],
                       kept=sorted(p for p in listing if is_data(p)))


def flash_command(args):
    """The CLI's `corecue flash --port PATH`: one summary line, DeployError otherwise."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="corecue-build-") as out:
        r = flash(args.port, out, progress=print)
    print(f"flashed {args.port}: {len(r.copied)} files copied, {len(r.unchanged)} unchanged, "
          f"{len(r.removed)} stale removed; kept {', '.join(r.kept) or 'no data yet'}; "
          "the belt is restarting")
    return 0
