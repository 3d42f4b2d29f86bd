from fwtest import eq, raises, record, skip_unless_micropython
from belt import coach, haptics, ticks
from belt.coach import CUE_BACK, CUE_CHECK_SENSOR, CUE_OVER, CUE_UNDER, Coach
from belt.runflow import Act, Ev, Mark, Runflow, State, cue_pattern

T0 = ticks.PERIOD - 50000      # the clock wraps during the warm-up


class Rig:
    """A run flow, its coach and a player on an integer clock; every action is kept as
    (ms since t0, act, arg)."""

    def __init__(self, config=None, coach_config=None, t0=T0):
        self.coach = Coach(coach_config)
        self.flow = Runflow(self.coach, config)
        self.player = haptics.Player()
        self.t0 = t0
        self.ms = 0
        self.log = []

    def now(self):
        return ticks.add(self.t0, self.ms)

    def _keep(self, acts):
        if acts is not None:
            for act, arg in acts:
                self.log.append((self.ms, act, arg))
                if act == Act.PLAY:
                    self.player.play(arg, self.now())
        return acts

    def short(self):
        return self._keep(self.flow.handle(Ev.SHORT, self.now()))

    def long(self):
        return self._keep(self.flow.handle(Ev.LONG, self.now()))

    def at(self, ms):
        """Move the clock to ms and let timers run, as the loop does when a deadline passes."""
        self.ms = ms
        return self._keep(self.flow.handle(Ev.TICK, self.now()))

    def frames(self, effort, seconds, quality=0):
        for _ in range(int(seconds * 10 + 0.5)):
            self._keep(self.flow.frame(effort, quality, self.now()))
            self.ms += 100
        return self

    def deadline(self):
        d = self.flow.next_deadline(self.now())
        return None if d is None else ticks.diff(d, self.t0)

    def since(self, ms, act=None):
        return [(t, a, g) for t, a, g in self.log if t >= ms and (act is None or a == act)]

    def plays(self, since=0):
        return [(t, g) for t, a, g in self.since(since, Act.PLAY)]


def warm_up(r):
    r.short()
    r.at(30000)
    r.at(60000)
    r.at(90000)


def to_run(r, at=100000):
    warm_up(r)
    r.ms = at
    r.short()
    r.frames(200, 3.1)


def test_the_whole_protocol():
    r = Rig()
    eq(r.flow.state, State.IDLE, "starts idle")
    eq(r.deadline(), None, "nothing to wait for")
    eq(r.short(), ((Act.LOG_START, 0), (Act.STATE, State.WARMUP), (Act.MARK, Mark.SIDE_PLANK_LEFT),
                   (Act.PLAY, haptics.WARMUP_NEXT)), "start: log, warm-up, first hold, buzz")
    eq(r.deadline(), 30000, "first hold 30 s")
    eq(r.at(29999), None, "not before")
    eq(r.at(30000), ((Act.MARK, Mark.SIDE_PLANK_RIGHT), (Act.PLAY, haptics.WARMUP_NEXT)),
       "other side")
    eq(r.at(60000), ((Act.MARK, Mark.BIRD_DOG), (Act.PLAY, haptics.WARMUP_NEXT)), "bird dog")
    eq(r.at(90000), ((Act.MARK, Mark.WARMUP_DONE), (Act.PLAY, haptics.WARMUP_NEXT)), "warm-up done")
    eq((r.flow.state, r.deadline()), (State.WARMUP, None), "waits for the runner")

    r.ms = 120000
    eq(r.short(), ((Act.STATE, State.PRIME), (Act.PLAY, haptics.BRACE_MORE_1)),
       "prime asks to brace")
    r.frames(200, 3)
    eq(r.flow.state, State.PRIME, "2.9 s of brace is not enough")
    r.frames(200, 0.1)
    eq(r.since(123000), [(123000, Act.STATE, State.RUN), (123000, Act.MARK, Mark.PRIME_OK),
                         (123000, Act.PLAY, haptics.GO)], "go after 3 s in band")
    eq(r.player.update(r.now()), 100, "go is on the motor")

    r.frames(200, 5).frames(100, 1.6)
    eq(r.since(123100, Act.CUE), [(129600, Act.CUE, (CUE_UNDER, 1))], "early dwell: 1.5 s")
    eq(r.plays(123100), [(129600, haptics.BRACE_MORE_1)], "felt as brace_more_1")
    r.frames(200, 60).frames(400, 5.1)
    eq(r.since(189700, Act.CUE), [(194700, Act.CUE, (CUE_OVER, 1))], "normal 5 s dwell later on")

    r.ms = 1800000
    eq(r.long(), ((Act.STATE, State.COOLDOWN), (Act.MARK, Mark.LIE_DOWN),
                  (Act.PLAY, haptics.WARMUP_NEXT)), "long press ends the run")
    eq(r.deadline(), 2400000, "ten minutes lying down")
    eq(r.at(2399999), None, "not before")
    eq(r.at(2400000), ((Act.MARK, Mark.LIE_DOWN_DONE), (Act.STATE, State.DONE), (Act.LOG_STOP, 0),
                       (Act.PLAY, haptics.LIE_DOWN_DONE)), "lie-down done")
    eq(r.short(), ((Act.STATE, State.IDLE), (Act.PLAY, haptics.ACK)), "back to idle")
    states = [g for t, a, g in r.log if a == Act.STATE]
    eq(states, [1, 2, 3, 4, 5, 0], "state codes in order")
    record("runflow.protocol_states", states)
    record("runflow.protocol_plays", r.plays())


def test_go_needs_a_continuous_in_band_brace():
    for name, effort, quality in (("under", 100, 0), ("over", 400, 0), ("bad signal", 200, 1),
                                  ("uncalibrated", -1, 0)):
        r = Rig()
        warm_up(r)
        r.ms = 100000
        r.short()
        r.frames(200, 2.9).frames(effort, 0.1, quality)
        r.frames(200, 3)
        eq(r.flow.state, State.PRIME, name + " restarts the 3 s")
        r.frames(200, 0.1)
        eq(r.plays(100000)[-1], (106000, haptics.GO), name + ": go 3 s after the break")
    r = Rig()
    warm_up(r)
    r.ms = 100000
    r.short()
    r.frames(150, 1.5).frames(300, 1.6)
    eq(r.plays(100000)[-1], (103000, haptics.GO), "anywhere in the band, edges included")


def test_prime_reminds_the_runner_who_is_not_bracing():
    r = Rig()
    warm_up(r)
    r.ms = 100000
    r.short()
    eq(r.deadline(), 110000, "reminder due")
    r.frames(100, 10.1)
    eq(r.plays(100001), [(110000, haptics.BRACE_MORE_1)], "under: asked again")
    r.frames(450, 10)
    eq(r.plays(110001), [(120000, haptics.EASE_OFF_1)], "over: asked to ease off")
    r.frames(200, 2.5)
    r.at(130000)
    eq(r.plays(120001), [], "no reminder mid-brace")
    r.frames(200, 1)
    eq(r.flow.state, State.RUN, "and the brace completes")


def test_short_press_in_prime_skips_to_the_run():
    r = Rig()
    warm_up(r)
    r.ms = 100000
    r.short()
    r.ms = 105000
    eq(r.short(), ((Act.STATE, State.RUN), (Act.MARK, Mark.PRIME_SKIPPED), (Act.PLAY, haptics.GO)),
       "skipped, and marked so")
    eq(r.coach.running, True, "coach started")


def test_short_press_cuts_a_hold():
    r = Rig()
    r.short()
    r.ms = 12000
    eq(r.short(), ((Act.MARK, Mark.HOLD_CUT), (Act.MARK, Mark.SIDE_PLANK_RIGHT),
                   (Act.PLAY, haptics.WARMUP_NEXT)), "next hold now")
    eq(r.deadline(), 42000, "full 30 s from the press")
    eq(r.flow.hold, 1, "second hold")


def test_late_timers_catch_up_without_stretching():
    r = Rig()
    r.short()
    acts = r.at(95000)
    eq([g for a, g in acts if a == Act.MARK],
       [Mark.SIDE_PLANK_RIGHT, Mark.BIRD_DOG, Mark.WARMUP_DONE], "all three holds in one call")
    eq(r.deadline(), None, "warm-up over")
    r2 = Rig()
    r2.short()
    r2.at(30700)
    eq(r2.deadline(), 60000, "next hold timed from when the last was due")


def test_frames_also_run_the_timers():
    r = Rig()
    r.short()
    r.ms = 29900
    r.frames(0, 0.2)
    eq(r.since(0, Act.MARK)[-1], (30000, Act.MARK, Mark.SIDE_PLANK_RIGHT), "hold ends on a frame")


def test_storage_full_refuses_a_session():
    r = Rig()
    r.flow.storage_full = True
    eq(r.short(), ((Act.MARK, Mark.STORAGE_FULL), (Act.PLAY, haptics.STORAGE_FULL)), "refused")
    eq(r.flow.state, State.IDLE, "still idle")
    r.flow.storage_full = False
    eq(r.short()[0], (Act.LOG_START, 0), "starts once there is room")


def test_the_battery_refuses_warns_and_ends_a_run_cleanly():
    from belt.battery import CRITICAL, EMPTY, LOW
    r = Rig()
    r.flow.battery = CRITICAL
    eq(r.short(), ((Act.PLAY, haptics.BATTERY_EMPTY),), "no run on a nearly flat cell")
    eq(r.flow.state, State.IDLE, "still idle")
    r.flow.battery = LOW
    acts = r.short()
    eq(acts[0], (Act.LOG_START, 0), "a low cell starts the run")
    eq(acts[-2:], ((Act.MARK, Mark.BATTERY_LOW), (Act.PLAY, haptics.BATTERY_LOW)),
       "marked, and felt instead of warmup_next")
    eq(r.flow.handle(Ev.BATTERY, r.now()) is not None, True, "empty during the warm-up ends it")
    eq(r.flow.state, State.DONE, "done")
    for during in ("warm-up", "run", "lie-down"):
        r = Rig()
        if during == "warm-up":
            r.short()
        else:
            to_run(r)
        if during == "lie-down":
            r.long()
        r.flow.battery = EMPTY
        acts = r._keep(r.flow.handle(Ev.BATTERY, r.now()))
        eq(acts, ((Act.MARK, Mark.BATTERY_STOP), (Act.STATE, State.DONE), (Act.LOG_STOP, 0),
                  (Act.PLAY, haptics.BATTERY_EMPTY)), "empty in the %s" % during)
        eq((r.flow.state, r.deadline()), (State.DONE, None), "done, no timer left")
        eq(r.flow.handle(Ev.BATTERY, r.now()), None, "once")
    r = Rig()
    eq(r.flow.handle(Ev.BATTERY, r.now()), None, "idle: nothing to end")


def test_long_press_aborts_warmup_and_prime():
    for prime in (False, True):
        r = Rig()
        r.short()
        if prime:
            for t in (30000, 60000, 90000):
                r.at(t)
            r.short()
        eq(r.long(), ((Act.MARK, Mark.ABORTED), (Act.STATE, State.IDLE), (Act.LOG_STOP, 0),
                      (Act.PLAY, haptics.ACK)), "aborted")
        eq(r.deadline(), None, "no timer left")
        eq(r.at(200000), None, "and none fires")


def test_presses_that_do_nothing():
    r = Rig()
    eq(r.long(), None, "long in idle")
    to_run(r)
    eq(r.flow.state, State.RUN, "running")
    eq(r.short(), None, "short while running: an arm swing must not change the run")
    r.long()
    r.at(700000 + 100000)
    eq(r.flow.state, State.DONE, "done")
    eq(r.long(), None, "long when done")


def test_cooldown_press_restarts_the_ten_minutes_long_press_cuts_it():
    r = Rig()
    to_run(r)
    r.ms = 200000
    r.long()
    r.ms = 500000
    eq(r.short(), ((Act.MARK, Mark.LIE_DOWN), (Act.PLAY, haptics.ACK)), "lying down now")
    eq(r.deadline(), 1100000, "ten minutes from the press")
    eq(r.at(800000), None, "old deadline gone")
    r.ms = 900000
    eq(r.long(), ((Act.MARK, Mark.LIE_DOWN_CUT), (Act.STATE, State.DONE), (Act.LOG_STOP, 0),
                  (Act.PLAY, haptics.ACK)), "cut short, and marked")


def test_coach_hears_only_the_run():
    r = Rig()
    warm_up(r)
    r.frames(100, 5)
    eq(r.coach.running, False, "not during warm-up")
    r.ms = 100000
    r.short()
    r.frames(200, 3.1)
    r.frames(200, 10)
    inband = r.coach.frames[coach.F_IN]
    eq(inband, 100, "run frames counted from the start of the run")
    r.long()
    r.frames(100, 20)
    eq(r.coach.frames[coach.F_UNDER], 0, "not during the lie-down")
    eq(r.since(113100, Act.CUE), [], "and no cues")


def test_cue_patterns():
    eq([cue_pattern(CUE_UNDER, l) for l in (1, 2, 3)],
       [haptics.BRACE_MORE_1, haptics.BRACE_MORE_2, haptics.BRACE_MORE_3], "brace more")
    eq([cue_pattern(CUE_OVER, l) for l in (1, 2, 3)],
       [haptics.EASE_OFF_1, haptics.EASE_OFF_2, haptics.EASE_OFF_3], "ease off")
    eq(cue_pattern(CUE_BACK, 1), haptics.BACK_IN_BAND, "back")
    eq(cue_pattern(CUE_CHECK_SENSOR, 1), haptics.CHECK_SENSOR, "check sensor")


def test_check_sensor_during_the_run():
    r = Rig()
    to_run(r)
    r.frames(200, 70, quality=1)
    eq(r.plays(103100), [(105100, haptics.CHECK_SENSOR), (165100, haptics.CHECK_SENSOR)],
       "after 2 s of bad signal, then a minute later")


def test_config():
    r = Rig({"holds": ((Mark.BIRD_DOG, 45000),), "prime_ms": 5000, "lie_down_ms": 300000})
    eq(r.short()[2], (Act.MARK, Mark.BIRD_DOG), "custom hold")
    eq(r.deadline(), 45000, "custom length")
    r.at(45000)
    r.short()
    r.frames(200, 5)
    eq(r.flow.state, State.PRIME, "5 s prime")
    r.frames(200, 0.1)
    eq(r.flow.state, State.RUN, "after 5 s")
    raises(ValueError, Runflow, Coach(), {"holds": ()})


def _run_frames(flow, n, t):
    hits = 0
    for i in range(n):
        if flow.frame(200 + (i & 63), 0, t) is not None:
            hits += 1
        t = (t + 100) & 0x3FFFFFFF
    return hits


def _unbraced_frames(flow, n, t):
    hits = 0
    for i in range(n):
        if flow.frame(100 if i & 8 else 200, 0, t) is not None:
            hits += 1
        t = (t + 100) & 0x3FFFFFFF
    return hits


def _heap_cost(fn, flow, n, t):
    """(bytes the heap handed out for n frames, cues). mem_total() also counts the function
    frames that heap_lock() would quietly move to the C stack; the cost of calling fn for no
    frames at all (its own frame) is taken off."""
    import micropython
    before = micropython.mem_total()
    fn(flow, 0, t)
    base = micropython.mem_total() - before
    before = micropython.mem_total()
    hits = fn(flow, n, t)
    return micropython.mem_total() - before - base, hits


def test_run_frames_allocate_nothing():
    skip_unless_micropython("heap_lock is enforced only by MicroPython")
    import micropython
    r = Rig()
    to_run(r)
    t = ticks.add(r.now(), 100)
    eq(_heap_cost(_run_frames, r.flow, 3000, t), (0, 0), "bytes and cues over 3000 run frames")
    micropython.heap_lock()
    try:
        hits = _run_frames(r.flow, 3000, ticks.add(t, 300000))
    finally:
        micropython.heap_unlock()
    eq(hits, 0, "and under heap_lock")


def test_prime_and_warmup_frames_allocate_nothing():
    skip_unless_micropython("mem_total is MicroPython's")
    r = Rig({"prime_remind_ms": 10000000})
    r.short()
    t = ticks.add(r.now(), 100)
    eq(_heap_cost(_unbraced_frames, r.flow, 200, t), (0, 0), "bytes over 200 warm-up frames")
    r = Rig({"prime_remind_ms": 10000000})
    warm_up(r)
    r.ms = 100000
    r.short()
    t = ticks.add(r.now(), 100)
    eq(_heap_cost(_unbraced_frames, r.flow, 3000, t), (0, 0),
       "bytes over 3000 prime frames that never hold 3 s")
    eq(r.flow.state, State.PRIME, "still priming")
