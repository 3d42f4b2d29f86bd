# The run-time on the sim board: the guard that restarts a failed task, and the watchdog that
# catches a stalled one, with the open session surviving both. Runs under both interpreters
# (LittleFS on MicroPython; a plain folder under CPython).
import asyncio
import os
import sys

from fwtest import SCRATCH, eq, record

from belt import button
from belt.app import App
from belt import config as _config
from belt.sessionformat import EV_BATTERY, battery_of_arg
from belt.sessionlog import read_session
from belt.storage import Storage
from boards.sim import Board

_TMP = SCRATCH + "-app"


def _fresh(name):
    d = _TMP + "-" + name
    for sub in ("", "/flash", "/flash/sessions"):
        try:
            os.mkdir(d + sub)
        except OSError:
            pass
    for path in (d + "/flash.img",):
        try:
            os.remove(path)
        except OSError:
            pass
    for folder in (d + "/flash/sessions", d + "/flash"):
        try:
            for n in os.listdir(folder):
                try:
                    os.remove(folder + "/" + n)
                except OSError:
                    pass
        except OSError:
            pass
    return d


# Under MicroPython the belt's flash is a real LittleFS (its rename and recovery behaviour);
# CPython has no LittleFS and uses a folder.
_LFS = sys.implementation.name == "micropython"


def _boot(d, scenario):
    board = Board(d, scenario, image=_LFS)
    lines = []

    def log(msg):
        lines.append(msg)
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = App(board, cfg, Storage(board.root + "/sessions"), log)
    return board, app, lines


def _run(board, app, until_s, hook=None):
    async def main():
        tasks = app.start()
        while not board.finished() and board.elapsed_ms < until_s * 1000:
            if hook:
                hook(board, app, tasks)
            await asyncio.sleep(0)
        for t in tasks:
            t.cancel()
        board.stop()
    asyncio.run(main())


# Thirty seconds of steady 20 % effort; the runner starts a session at 2 s (the belt has no
# calibration, so effort is logged as uncalibrated: what matters here is the file).
_STEADY = ([(0, 20, True)], [(2, "press", "short")], 30)
_LONGER = ([(0, 20, True)], [(2, "press", "short")], 80)


def test_a_failing_task_is_restarted_and_the_session_goes_on():
    d = _fresh("guard")
    board, app, lines = _boot(d, _STEADY)
    state = {"raised": 0}

    def flaky(effort, quality):
        if app.frames == 100 and not state["raised"]:
            state["raised"] = 1
            raise RuntimeError("listener broke")
    app.listeners.append(flaky)
    _run(board, app, 30)
    app.shutdown()
    eq(app.task_restarts, 1, "restarts: %s" % [l for l in lines if "failed" in l][:3])
    eq(len([l for l in lines if "task sense failed" in l]), 1, "logged once")
    eq(app.frames >= 290, True, "frames kept coming after the restart: %d" % app.frames)
    sid, path = app.sessions_logged[0][:2]
    hdr, frames, events, tr, status = read_session(path)
    eq(status, "closed", "session status")
    eq(len(frames), tr["frames"], "frames in file")
    record("guard_frames", len(frames))


def test_a_task_that_runs_the_heap_out_is_restarted_even_if_its_words_cannot_be_made():
    # The guard's own words and the session's save took heap too: with the heap still full when
    # the task failed, they raised out of the guard and the task died for good (the sense task:
    # no more frames, then the watchdog's reset). tests/faults/memrun.py tries this at every
    # allocation site of the run time.
    d = _fresh("guardheap")
    board, app, lines = _boot(d, _STEADY)
    state = {"raised": 0}

    def flaky(effort, quality):
        if app.frames == 100 and not state["raised"]:
            state["raised"] = 1
            app.log = full              # the heap stays full while the guard handles it
            raise MemoryError("memory allocation failed")

    def full(msg):
        app.log = lines.append
        raise MemoryError("memory allocation failed")
    app.listeners.append(flaky)
    _run(board, app, 30)
    app.shutdown()
    eq(app.task_restarts, 1, "restarted once")
    eq(app.last_error, "sense", "what failed, in the words made at start")
    eq(app.frames >= 290, True, "frames kept coming after the restart: %d" % app.frames)
    eq(board.wdt_expired, False, "no watchdog reset")


def test_a_flat_battery_ends_the_run_with_the_session_saved_whole():
    d = _fresh("battery")
    board, app, lines = _boot(d, _LONGER)

    def drain(board, app, tasks):
        if board.elapsed_ms >= 40000:
            board.battery = 3380            # the cell gives out 40 s in
    _run(board, app, 80, drain)
    eq(app.flow.state, 5, "the run flow is done")
    eq(app.writer, None, "the session was closed by the belt")
    sid, path = app.sessions_logged[0][:2]
    hdr, frames, events, tr, status = read_session(path)
    eq((status, tr["closed_by"]), ("closed", 1), "closed by the writer, not by recovery")
    end = len(frames) / 10
    eq(40 <= end <= 40 + 25, True, "ended %.1f s in: within a few readings of the drop" % end)
    marks = [a for _, k, a in events if k == 7]
    eq(14 in marks, True, "marked BATTERY_STOP: %s" % marks)
    levels = [battery_of_arg(a) for _, k, a in events if k == EV_BATTERY]
    eq((levels[0], levels[-1]), ((0, 3900), (3, 3380)), "the battery at the start and at the end")
    edges = [t for t, level in board.motor_edges if level and t >= 40000]
    eq(len(edges) >= 3, True, "battery_empty felt: %s" % edges)
    app.shutdown()
    # A new run is refused while the cell is this low.
    app.press(button.SHORT)
    eq(app.flow.state, 0, "done: a press goes back to idle")
    app.press(button.SHORT)
    eq((app.flow.state, app.writer), (0, None), "still idle, and no session started")
    record("battery_stop_s", int(end))


def test_a_worn_cell_that_sags_under_the_motor_ends_the_run_before_it_browns_out():
    # From 30 s in, the cell reads 3.47 V at rest (CRITICAL: a running session goes on) and
    # 3.34 V whenever the motor is on: the next cue could take the regulator under. The motor
    # task reads the cell at the end of each pulse; the battery task ends the run on them.
    d = _fresh("worn")
    board, app, lines = _boot(d, ([(0, 20, True)], [(2, "press", "short")], 200))

    def cell():
        if board.elapsed_ms < 30000:
            return 3900
        return 3340 if board._motor else 3470
    board.battery_mv = cell
    _run(board, app, 200)
    sid, path = app.sessions_logged[0][:2]
    hdr, frames, events, tr, status = read_session(path)
    eq(status, "closed", "the belt closed the session")
    eq(tr["closed_by"], 1, "closed by the writer, not by recovery")
    marks = [a for _, k, a in events if k == 7]
    eq(14 in marks, True, "marked BATTERY_STOP: %s" % marks)
    levels = [battery_of_arg(a) for _, k, a in events if k == EV_BATTERY]
    eq(levels[-1], (3, 3340), "empty, on the pulses' 3.34 V")
    eq(app.battery.mv, 3470, "while at rest the cell still read 3.47 V")
    app.shutdown()
    record("worn_stop_s", len(frames) // 10)


def test_a_stalled_chain_starves_the_watchdog_and_boot_recovers_the_session():
    d = _fresh("wdt")
    board, app, lines = _boot(d, _LONGER)

    def stall(board, app, tasks):
        if board.elapsed_ms >= 25000 and not tasks[0].done():
            tasks[0].cancel()          # the signal-chain task hangs: no more frames
    _run(board, app, 80, stall)
    eq(board.wdt_expired, True, "watchdog expired")
    eq(board.elapsed_ms < 25000 + 10000 + 3000 + 1000, True, "expired soon after the stall")
    stalled_at = app.frames
    # The belt resets: no shutdown, the session file is left open. Next boot recovers it.
    board2, app2, lines2 = _boot(d, _STEADY)
    app2.store.recover_all(app2.log)
    sid, path = app.sessions_logged[0][:2]
    hdr, frames, events, tr, status = read_session(path)
    eq(status, "closed", "recovered session")
    # Blocks of 100 frames (10 s) are made durable as they fill: at most the one being
    # written when the belt stopped is lost.
    eq(stalled_at - 100 <= len(frames) <= stalled_at, True,
       "frames kept: %d of %d" % (len(frames), stalled_at))
    record("wdt_frames", len(frames))


def test_a_calibration_in_an_older_chains_levels_is_not_used():
    """emg_raw levels are the high-passed amplitude now; a calibration stored by firmware that
    measured mean |step| (cal_level 1, or no cal_level at all) would read every brace wrong."""
    d = _fresh("callevel")
    board, app, _ = _boot(d, _STEADY)
    cfg = app.config
    cfg.set_calibration(60, 3800, "emg_raw")
    eq(cfg.cal_level, 2, "a new calibration is in today's levels")
    eq(app.calibration(), (60, 3800, 0, 0), "used")
    cfg.update({"cal_level": 1})
    eq(app.calibration(), None, "an older chain's calibration")
    cfg.update({"cal_rest": 70, "cal_mvc": 3900})   # given by hand: in today's levels
    eq(app.calibration(), (70, 3900, 0, 0), "set through the config")
    board.stop()


def test_the_session_logs_the_chains_fatigue_index_and_cadence():
    d = _fresh("signal")
    board, app, lines = _boot(d, _STEADY)
    seen = {}

    def watch(board, app, tasks):
        w = app.writer
        if w is not None:
            ch = app.chain
            seen[w.stats.frames] = (ch.fatigue_q8, ch.cadence_spm if ch.rhythm_found else 0)
    _run(board, app, 30, watch)
    path = app.sessions_logged[0][1]
    app.shutdown()
    sig = []
    read_session(path, sig)
    eq(len(sig) >= 2, True, "a pair every 10 s: %r" % sig)
    for f, fat, cad in sig:
        want_fat, want_cad = seen[f + 1]
        eq(want_fat > 0, True, "the chain had an index by frame %d" % f)
        eq((fat, cad), (((want_fat + 2) >> 2) << 2, ((want_cad + 1) >> 1) << 1),
           "the pair at frame %d is the chain's, as stored" % f)
    record("app_signal_pairs", len(sig))


def _calibrate(app, n, rest_sd=0, brace_sd=300):
    """The at-home procedure through the app, as the companion drives it: rest 10 s, three 5 s
    braces with pauses between; every frame goes through the app's own frame path."""
    from array import array
    from belt.calibration import PH_BRACE, PH_PAUSE, PH_REST
    from signals import emg
    plan = [(PH_REST, rest_sd, 100)]
    for i in range(3):
        plan.append((PH_BRACE, brace_sd, 50))
        if i < 2:
            plan.append((PH_PAUSE, 0, 30))
    for phase, sd, frames in plan:
        app.cal_begin(phase)
        for _ in range(frames):
            buf = emg(100, sd, n)
            app.chain.push_block(buf, 0)
            app._frame(app.chain.effort_pm, app.chain.quality)
    return app.cal_commit()


def test_a_new_calibration_is_not_judged_against_the_one_it_replaces():
    """A calibration taken where the rest was loud (mains hum over a USB cable, worn
    electrodes) has a high rest level. Against it, the rest of a new calibration in a quiet
    place is 'quieter than half the calibrated rest', which the chain flags as lost contact: the
    new calibration was refused as 'signal absent', and the belt could never leave the old one.
    A refused or aborted calibration leaves the old one in use."""
    from signals import Noise
    d = _fresh("recal")
    board, app, _ = _boot(d, _STEADY)
    app.config.set_calibration(900, 3900, "emg_raw")
    app.apply_config()
    eq((app.chain._rest, app.chain._mvc), (900, 3900), "the loud calibration in use")
    n = Noise(5)
    res = _calibrate(app, n)
    eq(res.reason_text(), "", "the new calibration's verdict")
    eq((app.cal_adopted, app.chain._rest, app.chain._mvc), (True, res.rest, res.mvc),
       "the new calibration adopted")
    eq(app.calibration(), (res.rest, res.mvc, res.fi, res.rest_fi), "and saved")
    bad = _calibrate(app, n, brace_sd=0)              # no braces: refused
    eq(bad.ok, False, "a calibration without braces")
    eq((app.chain._rest, app.chain._mvc), (res.rest, res.mvc), "the good one still in use")
    from belt.calibration import PH_REST
    app.cal_begin(PH_REST)
    app.apply_config()                                 # a setting changed mid-calibration
    eq((app.chain._rest, app.chain._mvc), (0, 0), "still judged on its own after a setting")
    app.cal_abort()
    eq((app.chain._rest, app.chain._mvc), (res.rest, res.mvc), "and after an abort")
    record("recal", "%d %d" % (res.rest, res.mvc))
    board.stop()
