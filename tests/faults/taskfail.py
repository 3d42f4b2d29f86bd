# An exception in each of the belt's tasks in turn, and a watchdog reset mid-run: the real app on
# the sim board, its session on LittleFS (the board's image), under MicroPython.
#
#   task     an exception raised once in the work of one task (sense: the signal chain; buttons:
#            the button's poll; timers: the run flow's tick; motor: the motor driver; battery:
#            the cell reading; watchdog: its feed), at several moments of a session. The guard
#            must log it and restart the task; the belt runs to the end without a watchdog
#            reset, and the session, closed at the end, holds every frame written.
#   watchdog the signal chain hangs at several moments of a session; the watchdog resets the
#            belt, which boots again on the same image through its own recovery: the session is
#            closed with every frame but those of the block being written.
#
#   micropython -X heapsize=8M tests/faults/taskfail.py FIRMWARE MOMENTS
#
# MOMENTS: how many moments per task (spread over a block of 10 s). Prints "<row> tried N failed
# N lost N" (frames lost beyond the block being written) and a line per failure.
import sys

sys.path.insert(0, sys.argv[1])
import os  # noqa: E402

import asyncio  # noqa: E402
from belt import app as _app  # noqa: E402
from belt import haptics  # noqa: E402
from belt import config as _config  # noqa: E402
from belt.runflow import Ev  # noqa: E402
from belt.sessionlog import SessionWriter, read_session  # noqa: E402
from belt.storage import Storage  # noqa: E402
from boards.sim import Board  # noqa: E402

DIR = "/tmp/cq-taskfail-" + "".join("%02x" % b for b in os.urandom(6))
RUN_S = 60
START_MS = 1000
FAULT_FROM_MS = 21000
TASKS = ("sense", "buttons", "timers", "motor", "battery", "watchdog")


class Writer(SessionWriter):
    frames = []

    def add_frame(self, effort_pm, quality, fatigue=0, cadence=0):
        Writer.frames.append(-1 if effort_pm < 0 else (effort_pm + 2) // 5 * 5)
        super().add_frame(effort_pm, quality, fatigue, cadence)


_app.SessionWriter = Writer


def boot():
    board = Board(DIR, ([(t, 10 + (t * 37) % 30, True) for t in range(RUN_S)], [], RUN_S),
                  image=True)
    lines = []
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = _app.App(board, cfg, Storage(board.root + "/sessions"), lines.append)
    return board, app, lines


class Boom(Exception):
    pass


def inject(board, app, task, at_ms):
    """Make the work of `task` raise once, at the first call after at_ms."""
    state = {"done": False}

    def once(fn, when=None):
        def wrapped(*args):
            if not state["done"] and board.elapsed_ms >= at_ms and (when is None or when(*args)):
                state["done"] = True
                raise Boom(task)
            return fn(*args)
        return wrapped
    if task == "sense":
        app.chain.push_block = once(app.chain.push_block)
    elif task == "buttons":
        app.button.poll = once(app.button.poll)
    elif task == "timers":
        app.flow.handle = once(app.flow.handle, lambda ev, now: ev == Ev.TICK)
    elif task == "motor":
        board.set_motor = once(board.set_motor)
    elif task == "battery":
        board.battery_mv = once(board.battery_mv)
    elif task == "watchdog":
        board.feed_watchdog = once(board.feed_watchdog)
    return state


def run(hook):
    """Boot, start a session at START_MS, run to RUN_S; hook(board, app, tasks) every step.
    Returns (board, app, lines, sid, frames at the end)."""
    Writer.frames = []
    board, app, lines = boot()
    state = {"sid": None}

    async def main():
        tasks = app.start()
        while not board.finished() and board.elapsed_ms < RUN_S * 1000:
            if state["sid"] is None and board.elapsed_ms >= START_MS:
                state["sid"] = app.start_session()
            hook(board, app, tasks)
            await asyncio.sleep(0)
        if not board.wdt_expired:
            app.shutdown()          # an orderly end: the session is closed by its writer
        for t in tasks:
            t.cancel()
        board.stop()
    asyncio.run(main())
    return board, app, lines, state["sid"]


def read_back(sid):
    """The session as the next boot finds it, after its own recovery."""
    board, app, lines = boot()
    app.store.recover_all(lines.append)
    path = app.store.find(sid)
    if path is None:
        return None, None
    _, got, _, _, status = read_session(path)
    return status, [e for e, _ in got]


def task_row(moments):
    tried = failed = 0
    for task in TASKS:
        if task == "buttons":
            continue                # it works only at a press: press_row
        for m in range(moments):
            at = FAULT_FROM_MS + 10000 * m // moments
            fault = {}

            def hook(board, app, tasks, task=task, at=at):
                if not fault:
                    fault["state"] = inject(board, app, task, at)
                if task == "motor" and board.elapsed_ms >= at and "played" not in fault:
                    fault["played"] = True
                    app.play(haptics.ACK)       # the motor task wakes only for a pattern
            board, app, lines, sid = run(hook)
            tried += 1
            why = None
            said = [ln for ln in lines if "task %s failed: Boom" % task in ln]
            if board.wdt_expired:
                why = "the watchdog reset the belt"
            elif not fault["state"]["done"] or app.task_restarts != 1 or len(said) != 1:
                why = "raised %s, restarts %d, said %d" % (fault["state"]["done"],
                                                            app.task_restarts, len(said))
            elif app.frames < (RUN_S - 1) * 10:
                why = "frames stopped at %d" % app.frames
            else:
                status, got = read_back(sid)
                if status != "closed" or got != Writer.frames:
                    why = "session %s, %s of %d frames as written" % (
                        status, None if got is None else len(got), len(Writer.frames))
            if why:
                failed += 1
                print("FAIL %s raised at %d ms: %s" % (task, at, why))
    return "an exception in each task tried %d failed %d lost 0" % (tried, failed)


def press_row(moments):
    """The button task: an exception in its poll at a press, then a press that works."""
    tried = failed = 0
    for m in range(moments):
        at = FAULT_FROM_MS + 10000 * m // moments
        fault = {}

        def hook(board, app, tasks, at=at):
            if not fault:
                fault["state"] = inject(board, app, "buttons", at)
            if board.elapsed_ms >= at and not fault.get("pressed"):
                fault["pressed"] = 1
                board.press("long")
            elif fault["state"]["done"] and board.elapsed_ms >= at + 5000 and \
                    fault["pressed"] == 1:
                fault["pressed"] = 2
                board.press("long")
        board, app, lines, sid = run(hook)
        tried += 1
        said = [ln for ln in lines if "task buttons failed: Boom" in ln]
        why = None
        raised = fault["state"]["done"]
        if board.wdt_expired or not raised or len(said) != 1 or app.task_restarts != 1:
            why = "wdt %s, raised %s, said %d" % (board.wdt_expired, raised, len(said))
        else:
            status, got = read_back(sid)
            if status != "closed" or got != Writer.frames:
                why = "session %s, %s of %d frames" % (status, got and len(got),
                                                       len(Writer.frames))
        if why:
            failed += 1
            print("FAIL a press raised at %d ms: %s" % (at, why))
    return "an exception in the button task at a press tried %d failed %d lost 0" % (tried,
                                                                                     failed)


def watchdog_row(moments):
    tried = failed = lost = 0
    for m in range(moments):
        at = FAULT_FROM_MS + 10000 * m // moments

        def hook(board, app, tasks, at=at):
            if board.elapsed_ms >= at and not tasks[0].done():
                tasks[0].cancel()           # the signal chain hangs: frames stop
        board, app, lines, sid = run(hook)
        tried += 1
        why = None
        if not board.wdt_expired:
            why = "no watchdog reset"
        else:
            status, got = read_back(sid)
            written = Writer.frames
            if status != "closed" or got != written[:len(got)]:
                why = "session %s after the reset" % status
            elif len(written) - len(got) > 100:
                lost += len(written) - len(got) - 100
                why = "%d of %d frames kept" % (len(got), len(written))
        if why:
            failed += 1
            print("FAIL watchdog reset after a hang at %d ms: %s" % (at, why))
    return "a watchdog reset mid-run tried %d failed %d lost %d" % (tried, failed, lost)


def main():
    moments = int(sys.argv[2])
    os.mkdir(DIR)
    rows = []
    for row in (task_row, press_row, watchdog_row):
        try:
            os.remove(DIR + "/flash.img")
        except OSError:
            pass
        rows.append(row(moments))
    for name in os.listdir(DIR):
        os.remove(DIR + "/" + name)
    os.rmdir(DIR)
    bad = 0
    for r in rows:
        print(r)
        bad += int(r.split(" failed ")[1].split()[0])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
