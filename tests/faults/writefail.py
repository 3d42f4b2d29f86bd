# A flash that fails a write of a session: the real app on the sim board, its session on
# LittleFS (vfs.VfsLfs2 over the board's image), under MicroPython. Each run fails one write and
# then lets the belt go on; afterwards the belt boots again on the same image through its own
# path (the board's mount, Storage.recover_all) and the session is read back. Rows:
#
#   eio-once    the flash chip fails one program or erase (EIO), at every one of the session's,
#               in turn; the next one works again
#   eio-raise   the same, with the driver raising OSError(EIO) as the ESP32's Partition does,
#               instead of returning the error to LittleFS
#   enospc      the flash is full from the k-th write of the session file on (ENOSPC, a file
#               wrapper: the write fails with nothing written, and with half of it written)
#
# Checked for every run: the belt kept running (frames went on to the end), it said so (a log
# line naming the error), the session read back after the reboot is closed, every frame in it is
# what was written (no corrupt frame accepted), and none is missing beyond the block being
# written when the flash failed. Run by the MicroPython interpreter:
#
#   micropython -X heapsize=8M tests/faults/writefail.py FIRMWARE SECONDS STEP [ROW ...]
#
# SECONDS: how long the belt runs (its session is a second shorter at each end); STEP 1 fails
# every write, STEP n every n-th. Prints "<row> tried N failed N lost N" per row and
# a line per failure; exit status 1 when anything failed.
import sys

sys.path.insert(0, sys.argv[1])
import os  # noqa: E402

import asyncio  # noqa: E402
from belt import app as _app  # noqa: E402
from belt import config as _config  # noqa: E402
from belt import sessionlog  # noqa: E402
from belt.sessionlog import SessionWriter, read_session  # noqa: E402
from belt.storage import Storage  # noqa: E402
from boards import scenarios, simflash  # noqa: E402
from boards.sim import Board  # noqa: E402

# One folder per run of this script (two may run at once: make test and make faults).
DIR = "/tmp/cq-writefail-" + "".join("%02x" % b for b in os.urandom(6))
RUN_S = 40                  # the session: started at 1 s, stopped 1 s before the end
START_MS = 1000
BLOCK_FRAMES = 100
EIO, ENOSPC = 5, 28


class Fault:
    """What fails, and where: counts the flash operations (or file writes) of the session."""
    def __init__(self, kind="", at=-1, half=False):
        self.kind, self.at, self.half = kind, at, half
        self.count = 0
        self.armed = False
        self.fired = False
        self.full = False       # enospc: from the k-th write on, the flash stays full

    def op(self):
        """True when this flash operation must fail."""
        if not self.armed:
            return False
        self.count += 1
        if self.count - 1 == self.at:
            self.fired = True
            return True
        return False


FAULT = Fault()


class Device(simflash.FileBlockDevice):
    """The board's image, with a chip that can fail one program or erase."""

    def writeblocks(self, n, buf, off=None):
        if FAULT.kind.startswith("eio") and FAULT.op():
            if FAULT.kind == "eio-raise":
                raise OSError(EIO)
            return -EIO
        return super().writeblocks(n, buf, off)

    def ioctl(self, op, arg):
        if op == 6 and FAULT.kind.startswith("eio") and FAULT.op():
            if FAULT.kind == "eio-raise":
                raise OSError(EIO)
            return -EIO
        return super().ioctl(op, arg)


simflash.FileBlockDevice = Device


class FullFile:
    """The session file on a flash that fills up: from the k-th write on every write fails with
    ENOSPC, having written nothing or (half) the first half of what it was given."""
    def __init__(self, f):
        self.f = f

    def write(self, data):
        if FAULT.kind == "enospc" and FAULT.armed:
            FAULT.count += 1
            if 0 <= FAULT.at <= FAULT.count - 1:
                FAULT.fired = True
                if FAULT.half and not FAULT.full:
                    self.f.write(bytes(data[:len(data) // 2]))
                    self.f.flush()
                FAULT.full = True
                raise OSError(ENOSPC)
        return self.f.write(data)

    def flush(self):
        return self.f.flush()

    def seek(self, pos):
        return self.f.seek(pos)

    def close(self):
        return self.f.close()


def _open(path, mode="r"):
    f = open(path, mode)
    return FullFile(f) if "w" in mode and "/sessions/" in path else f


sessionlog.open = _open      # the session writer's files (a module global before the builtin)


class Writer(SessionWriter):
    """The app's session writer, noting every frame handed to it as it will read back."""
    frames = []

    def add_frame(self, effort_pm, quality, fatigue=0, cadence=0):
        hp = -1 if effort_pm < 0 else min((effort_pm + 2) // 5, 2000 // 5) * 5
        Writer.frames.append(hp)
        super().add_frame(effort_pm, quality, fatigue, cadence)


_app.SessionWriter = Writer


def fresh_image(template):
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    with open(DIR + "/flash.img", "wb") as f:
        f.write(template)


def effort(run_s):
    """The runner's brace: a new level every second around the band, so that every block of the
    session carries frames of its own (a steady brace codes to a few bytes a block)."""
    return [(t, 10 + (t * 37) % 30, True) for t in range(run_s)]


def boot(scenario=None):
    board = Board(DIR, scenario or (effort(RUN_S), [], RUN_S), image=True)
    lines = []
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = _app.App(board, cfg, Storage(board.root + "/sessions"), lines.append)
    return board, app, lines


def run_session(fault):
    """One run of the belt with `fault` armed while its session is open. Returns (app, lines,
    session id)."""
    global FAULT
    FAULT = fault
    Writer.frames = []
    board, app, lines = boot()
    state = {"sid": None}

    async def main():
        tasks = app.start()
        while not board.finished() and board.elapsed_ms < RUN_S * 1000:
            if state["sid"] is None and board.elapsed_ms >= START_MS:
                state["sid"] = app.start_session()
                FAULT.armed = True
            elif FAULT.armed and board.elapsed_ms >= RUN_S * 1000 - 1000:
                try:
                    app.stop_session()
                except OSError as e:
                    lines.append("stop failed: %r" % e)
                FAULT.armed = False
            await asyncio.sleep(0)
        for t in tasks:
            t.cancel()
        board.stop()
    asyncio.run(main())
    FAULT.armed = False
    return board, app, lines, state["sid"]


def check(board, app, lines, sid, fault):
    """(why it failed or None, frames lost beyond the block being written)."""
    written = list(Writer.frames)
    if board.wdt_expired:
        return "the watchdog reset the belt at %d ms" % board.elapsed_ms, 0
    if app.frames < (RUN_S - 2) * 10:
        return "frames stopped at %d" % app.frames, 0
    said = [ln for ln in lines if ("OSError" in ln or "rror" in ln)]
    if fault.fired and not said:
        return "the belt did not say the flash failed", 0
    # The reboot: the board mounts the image, recovery closes what is open.
    board2, app2, lines2 = boot()
    app2.store.recover_all(lines2.append)
    path = app2.store.find(sid)
    if path is None:
        return "session %d gone after the reboot" % sid, 0
    _, got, _, _, status = read_session(path)
    if status != "closed":
        return "status %s after the reboot" % status, 0
    got = [e for e, _ in got]
    if got != written[:len(got)]:
        return "a frame read back differs from what was written", 0
    lost = len(written) - len(got)
    if lost > BLOCK_FRAMES:
        return "%d of %d frames lost" % (lost, len(written)), lost - BLOCK_FRAMES
    return None, 0


def main():
    global RUN_S
    RUN_S, step = int(sys.argv[2]), int(sys.argv[3])
    rows = sys.argv[4:] or ["eio-once", "eio-raise", "enospc"]
    os.mkdir(DIR)
    # A new belt, its image made and formatted, calibrated as the sim's scripted person does it,
    # so that the session holds efforts, not "uncalibrated".
    board, app, lines = boot(scenarios._calibration(0))

    async def calibrate():
        tasks = app.start()
        while not board.finished():
            await asyncio.sleep(0)
        for t in tasks:
            t.cancel()
        board.stop()
    asyncio.run(calibrate())
    if not app.calibration():
        print("FAIL the belt could not be calibrated: %s" % lines[-3:])
        sys.exit(1)
    with open(DIR + "/flash.img", "rb") as f:
        template = f.read()
    bad = 0
    out = []
    for row in rows:
        fresh_image(template)
        clean = Fault(row, -1)
        board, app, lines, sid = run_session(clean)
        why, _ = check(board, app, lines, sid, clean)
        if why:
            print("FAIL %s with no fault: %s" % (row, why))
            bad += 1
            continue
        total, frames_n = clean.count, len(Writer.frames)
        if all(f < 0 for f in Writer.frames):
            print("FAIL %s: the session holds no effort (calibration lost?)" % row)
            bad += 1
            continue
        tried = failed = lost = 0
        for k in range(0, total, step):
            for half in ((False, True) if row == "enospc" else (False,)):
                fresh_image(template)
                fault = Fault(row, k, half)
                board, app, lines, sid = run_session(fault)
                why, n = check(board, app, lines, sid, fault)
                tried += 1
                lost += n
                if why:
                    failed += 1
                    print("FAIL %s at %d/%d%s: %s" % (row, k, total, " (half)" if half else "",
                                                      why))
        out.append("%s tried %d failed %d lost %d (%d %s, %d frames)" % (
            row, tried, failed, lost, total, "file writes" if row == "enospc" else
            "flash operations", frames_n))
        bad += failed
    for name in os.listdir(DIR):
        os.remove(DIR + "/" + name)
    os.rmdir(DIR)
    for r in out:
        print(r)
    sys.exit(1 if bad else 0)


main()
