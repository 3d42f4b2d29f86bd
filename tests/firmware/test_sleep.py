# Deep sleep when idle (belt.idle, App.deep_sleep, the sim board's sleep and wake), under both
# interpreters, on the sim board's virtual clock: nothing here waits for wall time.
import asyncio
import sys

from fwtest import SCRATCH, eq, record

from belt import config as _config
from belt import haptics
from belt.app import App
from belt.idle import Idle
from belt.runflow import State
from belt.storage import Storage
from boards.sim import Board
from test_app import _fresh

_LFS = sys.implementation.name == "micropython"


def test_idle_is_due_after_the_idle_time_and_never_while_busy():
    i = Idle(180000, 1000)
    eq(i.due(1000 + 179999, False), False)
    eq(i.due(1000 + 180000, False), True)
    eq(i.left_ms(1000 + 100000), 80000)
    i.touch(200000)                       # a press or a request
    eq(i.due(200000 + 179999, False), False)
    eq(i.due(200000 + 180000, True), False)     # busy: the idle time starts again
    eq(i.due(200000 + 180000 + 179999, False), False)
    eq(i.due(200000 + 180000 + 180000, False), True)
    never = Idle(0, 0)
    eq(never.due(10 ** 8, False), False)
    eq(never.left_ms(5), None)
    # Across the tick counter's wrap (2**30 ms).
    w = Idle(180000, 0x3FFFFFFF - 1000)
    eq(w.due(178998, False), False)           # 179,999 ms after
    eq(w.due(178999, False), True)


def _belt(d, scenario, sleep_s=None):
    board = Board(d, scenario, image=_LFS)
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    if sleep_s is not None:
        cfg.update({"sleep_s": sleep_s})
    return board, cfg


def _boots(board, cfg, until_s, log=None, owned=False):
    """Boot the belt on the board as main.py does, again after each wake, until until_s."""
    apps = []
    while True:
        app = App(board, cfg, Storage(board.root + "/sessions"), log or (lambda m: None))
        if owned:
            from belt import owners
            owners.setup(app, board.root)
        apps.append(app)

        async def main():
            tasks = app.start()
            while not board.finished() and board.elapsed_ms < until_s * 1000:
                await asyncio.sleep(0)
            for t in tasks:
                t.cancel()
            board.stop()
        asyncio.run(main())
        if not (board.asleep and board.sleep_until_pressed()):
            return apps
        asyncio.new_event_loop()


def test_an_idle_belt_sleeps_and_a_press_wakes_it_ready():
    d = _fresh("sleep")
    # Nothing happens for an hour, then the runner presses the button.
    board, cfg = _belt(d, ([(0, 0, True)], [(3600, "press", "short")], 3700))
    apps = _boots(board, cfg, 3700)
    eq(len(apps), 2)
    eq(len(board.sleeps), 1)
    start, end = board.sleeps[0]
    eq(end, 3600000)                          # asleep until the press
    eq(180000 <= start <= 182000, True)       # 180 s idle, seen within the 1 s check
    eq(apps[0].asleep, True)
    eq(board.woken, True)
    # The woken belt says it is ready, and the press that woke it starts nothing.
    eq(apps[1].flow.state, State.IDLE)
    eq(apps[1].player.table[haptics.AWAKE][0], "awake")
    record("sleep_start_ms", start)
    # The meter: awake (sampling) until the sleep and again after the wake; asleep in between.
    p = board.power_states()
    eq(p["deep_sleep"], 3600000 - start)
    eq(p["awake"], start + (board.elapsed_ms - 3600000))
    eq(p["advertising"], 0)                   # this sim board has no radio
    eq(p["motor"] > 0, True)                  # the awake pattern: 180 ms at 60 %
    eq(p["motor"] <= 180 * 60 // 100 + 20, True, p["motor"])
    record("power_states", sorted(p.items()))


def test_the_awake_pattern_is_played_on_a_wake_and_not_on_a_power_on():
    d = _fresh("awake")
    board, cfg = _belt(d, ([(0, 0, True)], [(600, "press", "short")], 605))
    _boots(board, cfg, 605)
    # Motor edges after the wake at 600 s: the awake pattern's three ticks, nothing before.
    before = [e for e in board.motor_edges if e[0] < 600000]
    after = [e for e in board.motor_edges if e[0] >= 600000]
    eq(before, [])
    eq(len([e for e in after if e[1] > 0]), 3)


def test_a_run_keeps_the_belt_awake_and_it_sleeps_after_the_lie_down():
    d = _fresh("run")
    # Warm up at 10 s, skip priming (uncalibrated), run 10 minutes, lie down 10 minutes.
    ev = [(10, "press", "short"), (110, "press", "short"), (113, "press", "short"),
          (713, "press", "long")]
    board, cfg = _belt(d, ([(0, 20, True)], ev, 2000))
    apps = _boots(board, cfg, 2000)
    eq(len(board.sleeps), 1, board.sleeps)
    done_by = (713 + 600) * 1000
    start = board.sleeps[0][0]
    # Not during the run or the lie-down: only once Done has been idle for 180 s.
    # (the long press is heard when let go, 2 s later, and the lie-down ends on a tick)
    eq(done_by + 180000 <= start <= done_by + 180000 + 10000, True, start)
    eq(len(apps[0].sessions_logged), 1)
    eq(apps[0].sessions_logged[0][2] is not None, True)    # the session was closed first
    eq(apps[0].writer, None)


def test_sleep_s_zero_keeps_the_belt_awake():
    d = _fresh("never")
    board, cfg = _belt(d, ([(0, 0, True)], [], 1200), sleep_s=0)
    _boots(board, cfg, 1200)
    eq(board.sleeps, [])


def test_the_setting_takes_0_or_30_s_to_a_day():
    from belt.configschema import check
    cfg = _config.Config()
    base = cfg.as_dict()
    for v, ok in ((0, True), (30, True), (86400, True), (29, False), (86401, False),
                  (-1, False), (True, False), ("60", False)):
        values = dict(base)
        values["sleep_s"] = v
        why = check(values, ("sleep_s",))
        eq(why is None, ok, "sleep_s=%r: %s" % (v, why))


def test_a_wake_is_never_the_factory_reset():
    # Held at power-on, the button clears the keys; the press that wakes the belt from deep
    # sleep may still be down while it boots, and must not.
    d = _fresh("reset")
    board = Board(d, ([(0, 0, True)], [(600, "press", "short")], 700), image=_LFS,
                  button_held=True)
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    lines = []
    apps = _boots(board, cfg, 700, log=lines.append, owned=True)
    eq(len(apps), 2)
    eq(len([ln for ln in lines if "button held at power-on" in ln]), 1)


class _Cable:
    """A host's USB line that stays plugged in (nothing is read or written here)."""
    dead = False


def test_a_belt_on_usb_power_stays_awake():
    d = _fresh("usb")
    board = Board(d, ([(0, 0, True)], [], 1200), image=_LFS, usb=_Cable())
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    _boots(board, cfg, 1200)
    eq(board.sleeps, [])
    board.usb.dead = True                     # the cable is pulled: it sleeps as usual
    eq(board.usb_powered(), False)
