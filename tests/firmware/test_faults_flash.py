# A flash that refuses a session's block at run time, on a real app on the sim board (LittleFS on
# MicroPython, a folder under CPython). One refusal: the guard writes the block again and nothing
# is lost. A flash that stays full: the guard's own retry raised out of the guard, the sense task
# died, and the watchdog reset the belt mid-run; a refused trailer left the session open, taking
# every frame though the run was over. Now the session is closed with what reached the flash and
# the run goes on unlogged, and the belt says so (log, motor, storage_full).
from fwtest import eq

import beltrig as rig
from belt import app as _app
from belt import haptics
from belt import protocol as P
from belt import sessionformat as sf
from belt.commands import Commands
from belt.sessionlog import SessionWriter, read_session


class _Flash(SessionWriter):
    """A session writer whose flash fails: `fail` writes in a row fail with `errno` (-1: every
    one from now on, a flash that is full); every frame handed to it is noted."""
    fail = 0
    errno = 28
    frames = []

    def add_frame(self, effort_pm, quality, fatigue=0, cadence=0):
        _Flash.frames.append(effort_pm)
        super().add_frame(effort_pm, quality, fatigue, cadence)

    def _write(self, data):
        if _Flash.fail:
            _Flash.fail -= 1 if _Flash.fail > 0 else 0
            raise OSError(_Flash.errno)
        super()._write(data)


def _run_with(name, when_ms, fail, errno, stop_first=False):
    """A belt that starts a session at once, has its flash fail `fail` writes at when_ms (before
    the stop when stop_first), and runs on to 60 s. Returns (board, app, log, sid)."""
    d = rig.fresh(name)
    board, app, lines = rig.boot(d)
    cmd = Commands(app)
    _Flash.fail, _Flash.errno, _Flash.frames = 0, errno, []
    out = {}

    async def body():
        out["sid"] = rig.reply(cmd.handle(P.request("session_start", 1)))[2][0]
        await rig.advance(board, when_ms)
        _Flash.fail = fail
        if stop_first:
            got = rig.reply(cmd.handle(P.request("session_stop", 2)))
            out["stop"] = got[0]
        await rig.advance(board, 60000 - when_ms)
        out["frames"] = app.frames
    _app.SessionWriter = _Flash
    try:
        rig.run(board, app, body)
    finally:
        _app.SessionWriter = SessionWriter
        _Flash.fail = 0
    return board, app, lines, out


def test_one_refused_block_is_written_again_and_nothing_is_lost():
    board, app, lines, out = _run_with("eio-once", 25050, 1, 5)
    eq(board.wdt_expired, False, "no watchdog reset")
    eq(len([ln for ln in lines if "task sense failed: OSError(5" in ln]), 1, "said once")
    app.shutdown()
    _, frames, _, _, status = read_session(app.store.find(out["sid"]))
    eq((status, len(frames)), (sf.CLOSED, len(_Flash.frames)), "closed, every frame in it")


def test_a_flash_that_stays_full_ends_the_session_closed_and_the_run_goes_on():
    board, app, lines, out = _run_with("full-run", 25050, -1, 28)
    eq(board.wdt_expired, False, "no watchdog reset mid-run")
    eq(out["frames"] >= 590, True, "frames went on to the end: %d" % out["frames"])
    eq((app.writer, app.store.open_id), (None, None), "the session is not left open")
    said = [ln for ln in lines if "stopped: the flash refused a block" in ln]
    eq(len(said), 1, "the belt says so: %s" % lines[-4:])
    eq((app.flow.storage_full, app.last_error is not None), (True, True), "and flags it")
    pulses = [t for t, level in board.motor_edges if level and t >= 25000]
    eq(len(pulses), len(haptics.TABLE[haptics.STORAGE_FULL][3]) // 2 + 1,
       "and buzzes storage_full (uncalibrated: no cue buzzes): %s" % pulses)
    _, frames, _, _, status = read_session(app.store.find(out["sid"]))
    eq(status, sf.CLOSED, "closed now, not at the next boot")
    kept = len(frames)
    eq(len(_Flash.frames) - 100 <= kept < len(_Flash.frames), True,
       "%d of %d frames kept: only the block being written is lost" % (kept, len(_Flash.frames)))
    eq([e for e, _ in frames] == [-1 if e < 0 else (e + 2) // 5 * 5
                                  for e in _Flash.frames[:kept]], True, "each as written")


def test_a_refused_trailer_closes_the_session_instead_of_leaving_it_recording():
    board, app, lines, out = _run_with("full-stop", 20000, -1, 28, stop_first=True)
    eq(board.wdt_expired, False, "no watchdog reset")
    eq((app.writer, app.store.open_id), (None, None), "not left recording after the stop")
    n = len(_Flash.frames)
    eq(190 <= n <= 210, True, "no frame taken after the stop: %d" % n)
    _, frames, _, _, status = read_session(app.store.find(out["sid"]))
    eq(status, sf.CLOSED, "closed by the belt's recovery at once")
    eq(len(frames) >= n - 100, True, "%d of %d frames kept" % (len(frames), n))
