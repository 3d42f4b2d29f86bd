from fwtest import eq, raises, record, skip_unless_micropython
from belt import coach, ticks
from belt.coach import CUE_BACK, CUE_CHECK_SENSOR, CUE_OVER, CUE_UNDER, Coach

T0 = ticks.PERIOD - 20000      # every scripted run crosses the tick wrap 20 s in
FRAME = 100


class Script:
    """Feeds a coach 10 Hz frames on an integer clock and collects cues as (ms, kind, level),
    ms counted from the start of the script."""

    def __init__(self, c, t0=T0, early_ms=0):
        self.c = c
        self.t0 = t0
        self.ms = 0
        self.cues = []
        c.start(t0, early_ms)

    def feed(self, effort, seconds=None, quality=0, frames=None):
        n = frames if frames is not None else int(seconds * 10 + 0.5)
        for _ in range(n):
            cue = self.c.handle(effort, quality, ticks.add(self.t0, self.ms))
            if cue is not None:
                self.cues.append((self.ms, cue[0], cue[1]))
            self.ms += FRAME
        return self

    def alternate(self, a, b, seconds):
        for _ in range(int(seconds * 5 + 0.5)):
            self.feed(a, frames=1)
            self.feed(b, frames=1)
        return self


def test_brace_more_exactly_when_the_dwell_is_exceeded():
    s = Script(Coach()).feed(200, 2).feed(100, 3)
    eq(s.cues, [], "no cue on the frame 2.9 s after the first low one")
    s.feed(100, frames=1)
    eq(s.cues, [(5000, CUE_UNDER, 1)], "cue on the frame 3 s after the first low one")


def test_ease_off_uses_its_longer_dwell():
    s = Script(Coach()).feed(400, 5)
    eq(s.cues, [], "not at 4.9 s")
    s.feed(400, frames=1)
    eq(s.cues, [(5000, CUE_OVER, 1)], "at 5 s")


def test_the_edges_belong_to_the_band():
    s = Script(Coach()).alternate(150, 300, 30)
    eq(s.cues, [], "exactly on either edge is in band")


def test_back_in_band_after_a_cue_once_held():
    s = Script(Coach()).feed(100, 3.1)
    eq(s.cues, [(3000, CUE_UNDER, 1)], "cue")
    s.feed(200, 0.4)
    eq(len(s.cues), 1, "not yet: in band only 0.4 s")
    s.feed(200, 5)
    eq(s.cues[1:], [(3100 + 500, CUE_BACK, 1)], "confirmation after 0.5 s in band, once")


def test_no_back_in_band_without_a_cue():
    s = Script(Coach()).feed(100, 2.5).feed(200, 3)
    eq(s.cues, [], "a dip shorter than the dwell is never mentioned")


def test_a_value_on_the_edge_does_not_chatter():
    # 145/155 straddles the low edge (150) inside the 15 pm hysteresis: one stretch under the
    # band, cued at the dwell and then at the repeat interval, with no "back in band" in between.
    s = Script(Coach()).alternate(145, 155, 50)
    eq(s.cues, [(3000, CUE_UNDER, 1), (18000, CUE_UNDER, 2), (33000, CUE_UNDER, 3),
                (48000, CUE_UNDER, 3)], "under-band cues at dwell, then every 15 s")
    s2 = Script(Coach()).alternate(295, 305, 12)
    eq(s2.cues, [(5100, CUE_OVER, 1)], "over-band edge likewise (first 305 at 0.1 s)")
    # Clearing the margin does count as a return.
    s3 = Script(Coach()).feed(100, 3.1).alternate(165, 166, 1)
    eq(s3.cues, [(3000, CUE_UNDER, 1), (3600, CUE_BACK, 1)], "165 is back in band")


def test_hysteresis_margin_is_what_stops_the_chatter():
    # The same edge-sitting runner with no margin: every 155 is a return, so no dwell ever
    # completes after the first cue and the runner is told nothing more.
    s = Script(Coach({"hysteresis_pm": 0})).feed(100, 3.1).alternate(145, 155, 20)
    eq(s.cues, [(3000, CUE_UNDER, 1)], "without hysteresis the problem goes unreported")


def test_repeat_escalates_while_ignored():
    s = Script(Coach({"cues_per_min": 10})).feed(100, 60)
    eq(s.cues, [(3000, CUE_UNDER, 1), (18000, CUE_UNDER, 2), (33000, CUE_UNDER, 3),
                (48000, CUE_UNDER, 3)], "repeat every 15 s, level 1..3")
    s.feed(200, 2).feed(100, 3.1)
    eq(s.cues[-2:], [(60500, CUE_BACK, 1), (65000, CUE_UNDER, 1)], "a heeded cue resets the level")


def test_cues_per_minute_cap():
    s = Script(Coach({"repeat_ms": 5000})).feed(100, 70)
    eq([c[0] for c in s.cues], [3000, 8000, 13000, 18000, 63000, 68000],
       "four in a minute, then held until the first falls out of the window")
    eq([c[2] for c in s.cues], [1, 2, 3, 3, 3, 3], "levels")


def test_confirmations_count_against_the_cap():
    s = Script(Coach())
    for _ in range(3):
        s.feed(100, 3.1).feed(200, 1)
    eq(s.cues, [(3000, CUE_UNDER, 1), (3600, CUE_BACK, 1), (7100, CUE_UNDER, 1),
                (7700, CUE_BACK, 1)], "third correction held: four cues in the minute already")
    s.feed(100, 60)
    eq(s.cues[4], (60000 + 3000, CUE_UNDER, 1), "it comes when the first cue leaves the window")


def test_a_confirmation_is_never_withheld():
    s = Script(Coach()).feed(100, 60).feed(200, 1)
    eq(len(s.cues), 5, "four corrections then the confirmation, though the cap is reached")
    eq(s.cues[4], (60500, CUE_BACK, 1), "confirmed on time")


def test_bad_signal_suppresses_cues_and_checks_sensor_once_a_minute():
    c = Coach()
    s = Script(c).feed(100, 150, quality=1)
    eq(s.cues, [(2000, CUE_CHECK_SENSOR, 1), (62000, CUE_CHECK_SENSOR, 1),
                (122000, CUE_CHECK_SENSOR, 1)], "only check-sensor, at most once a minute")
    eq(c.frames[coach.F_BAD], 1500, "bad frames counted")
    eq(c.frames[coach.F_UNDER], 0, "bad frames are not classified")
    s.feed(100, 10, quality=4).feed(100, 5, quality=2)
    eq(len(s.cues), 3, "still within the minute since the last check")
    s.feed(200, 5).feed(100, 3, quality=1)
    eq(len(s.cues), 3, "a new bad stretch within the minute stays quiet too")
    s.feed(100, 60, quality=1)
    eq(s.cues[3], (182000, CUE_CHECK_SENSOR, 1), "a minute after the last check")


def test_a_brief_bad_signal_is_bridged_a_long_one_restarts_the_dwell():
    s = Script(Coach()).feed(100, 2).feed(100, 0.5, quality=4).feed(100, 3)
    eq(s.cues, [(3000, CUE_UNDER, 1)], "0.5 s artefact: the 3 s dwell still counts from 0")
    s2 = Script(Coach()).feed(100, 2).feed(100, 1.5, quality=1).feed(100, 3.1)
    eq(s2.cues, [(3500 + 3000, CUE_UNDER, 1)], "1.5 s contact loss: dwell restarts at 3.5 s")


def test_uncalibrated_frames_are_counted_not_coached():
    c = Coach()
    s = Script(c).feed(-1, 30)
    eq(s.cues, [], "no cues")
    eq(c.frames[coach.F_UNCAL], 300, "counted")


def test_first_minute_uses_the_short_dwell():
    s = Script(Coach(), early_ms=60000).feed(100, 1.6)
    eq(s.cues, [(1500, CUE_UNDER, 1)], "1.5 s in the first minute")
    s.feed(200, 20).feed(400, 1.6)
    eq(s.cues[-1], (21600 + 1500, CUE_OVER, 1), "both sides")
    s.feed(200, 40).feed(100, 3.1)
    eq(s.cues[-1], (63200 + 3000, CUE_UNDER, 1), "normal dwell after the first minute")
    s2 = Script(Coach()).feed(100, 3.1)
    eq(s2.cues, [(3000, CUE_UNDER, 1)], "no early dwell unless asked")


def test_the_example_in_docs_coaching():
    s = Script(Coach(), early_ms=60000)
    s.feed(200, 20).feed(100, 3).feed(200, 277)
    s.feed(120, 40).feed(350, 8).feed(250, 2).feed(120, 30)
    want = [(21500, CUE_UNDER, 1), (23500, CUE_BACK, 1), (303000, CUE_UNDER, 1),
            (318000, CUE_UNDER, 2), (333000, CUE_UNDER, 3), (345000, CUE_OVER, 1),
            (348500, CUE_BACK, 1), (378000, CUE_UNDER, 1)]
    eq(s.cues, want, "the worked example")


def test_fading_widens_the_band():
    c = Coach({"fade_pm_per_10min": 50, "fade_max_pm": 100})
    s = Script(c)
    eq(c.band(), (150, 300), "at the start")
    s.feed(200, 600)
    eq(c.band(), (101, 349), "just under 10 min")
    s.feed(200, frames=1)
    eq(c.band(), (100, 350), "after 10 min")
    s.feed(120, 60)
    eq(s.cues, [], "12 %MVC is inside the faded band")
    eq(c.frames[coach.F_UNDER], 600, "but the summary still reads it against the prescription")
    s.feed(200, 1500)
    eq(c.band(), (50, 400), "capped at fade_max_pm")
    over = s.ms
    s.feed(420, 5.1)
    eq(s.cues, [(over + 5000, CUE_OVER, 1)], "still coached outside the widened band")
    record("coach.fade_band", c.band())


def test_counters_for_the_summary():
    c = Coach()
    s = Script(c).feed(200, 10).feed(100, 4).feed(200, 1).feed(400, 6).feed(200, 1)
    s.feed(0, 1, quality=1)
    sm = c.summary()
    eq((sm["frames_in"], sm["frames_under"], sm["frames_over"], sm["frames_bad"]),
       (120, 40, 60, 10), "frames")
    eq((sm["cues_under"], sm["cues_over"], sm["cues_back"], sm["cues_check_sensor"]),
       (1, 1, 2, 0), "cues by kind")
    c.start(0)
    eq(c.summary()["frames_in"], 0, "start() clears them")


def test_next_deadline_predicts_the_cue():
    c = Coach()
    s = Script(c).feed(100, 1)
    eq(c.next_deadline(0), ticks.add(T0, 3000), "dwell end")
    s.feed(100, 2.1)
    eq(c.next_deadline(0), ticks.add(T0, 18000), "repeat")
    s.feed(200, 0.1)
    eq(c.next_deadline(0), ticks.add(T0, 3100 + 500), "back-in-band confirmation")
    s.feed(200, 1)
    eq(c.next_deadline(0), None, "nothing to say")
    s.feed(0, 0.1, quality=1)
    eq(c.next_deadline(0), ticks.add(T0, 4200 + 2000), "check sensor")


def test_no_cues_before_start_or_after_stop():
    c = Coach()
    eq(c.handle(0, 0, 0), None, "not started")
    eq(c.frames[coach.F_UNDER], 0, "not counted")
    s = Script(c).feed(100, 1)
    c.stop()
    s.feed(100, 10)
    eq(s.cues, [], "stopped")


def test_config_is_checked_and_may_be_an_object():
    raises(ValueError, Coach, {"low_pm": 250})
    raises(ValueError, Coach, {"high_pm": 180})
    raises(ValueError, Coach, {"hysteresis_pm": 80})
    raises(ValueError, Coach, {"cues_per_min": 0})

    class Cfg:
        under_dwell_ms = 2000
    s = Script(Coach(Cfg())).feed(100, 2.1)
    eq(s.cues, [(2000, CUE_UNDER, 1)], "attribute config")
    eq(Coach().under_dwell_ms, coach.DEFAULTS["under_dwell_ms"], "defaults")


def _lcg_run(c, t0, n):
    # A long, deterministic, messy run: effort wandering about the target, the odd artefact
    # frame, and a 3 s contact loss every 5 minutes.
    x = 12345
    effort = 200
    got = []
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        effort += (x >> 16) % 61 - 30 + (240 - effort) // 64
        effort = 0 if effort < 0 else 600 if effort > 600 else effort
        q = 4 if (x >> 8) % 97 == 0 else 0
        if i % 3000 >= 2970:
            q = 1
        cue = c.handle(effort, q, ticks.add(t0, i * FRAME))
        if cue is not None:
            got.append((i, cue[0], cue[1]))
    return got


def test_scripted_run_figures():
    c = Coach({"fade_pm_per_10min": 20})
    c.start(T0, 60000)
    cues = _lcg_run(c, T0, 18000)
    sm = c.summary()
    eq(sum(sm[k] for k in ("frames_in", "frames_under", "frames_over", "frames_bad")), 18000, "all")
    eq(len(cues), sm["cues_under"] + sm["cues_over"] + sm["cues_back"] + sm["cues_check_sensor"],
       "every cue counted")
    per_min = [0] * 31
    for i, kind, level in cues:
        if kind == CUE_UNDER or kind == CUE_OVER:
            per_min[i // 600] += 1
    eq(max(per_min) <= 4, True, "cap holds in every minute")
    eq(sm["cues_under"] + sm["cues_over"] > 10, True, "the script does exercise the coach")
    record("coach.scripted_summary", sorted(sm.items()))
    record("coach.scripted_first_cues", cues[:12])


def _quiet_frames(c, n, t):
    hits = 0
    for i in range(n):
        if c.handle(200 + (i & 63), 0, t) is not None:
            hits += 1
        t = (t + 100) & 0x3FFFFFFF
    return hits


def _cueing_frames(c, n, t):
    hits = 0
    for i in range(n):
        if c.handle(40 if i & 256 else 200, 0, t) is not None:
            hits += 1
        t = (t + 100) & 0x3FFFFFFF
    return hits


def _heap_cost(fn, c, n):
    """(bytes the heap handed out for n frames, cues under heap_lock for n more frames).
    heap_lock() alone is not proof: a function whose frame is too big for the C stack asks the
    heap and, when locked, quietly falls back; mem_total() counts those requests too. The cost of
    calling fn for no frames at all (its own frame) is taken off."""
    import micropython
    before = micropython.mem_total()
    fn(c, 0, 1000)
    base = micropython.mem_total() - before
    before = micropython.mem_total()
    fn(c, n, 1000)
    used = micropython.mem_total() - before - base
    micropython.heap_lock()
    try:
        hits = fn(c, n, 1000 + n * 100)
    finally:
        micropython.heap_unlock()
    return used, hits


def test_in_band_frames_allocate_nothing():
    skip_unless_micropython("heap_lock is enforced only by MicroPython")
    c = Coach({"fade_pm_per_10min": 30})
    c.start(1000, 60000)
    used, hits = _heap_cost(_quiet_frames, c, 3000)
    eq(hits, 0, "no cues")
    eq(c.frames[coach.F_IN], 6000, "all in band")
    eq(used, 0, "bytes allocated over 3000 in-band frames")


def test_cueing_frames_allocate_nothing_either():
    skip_unless_micropython("heap_lock is enforced only by MicroPython")
    c = Coach()
    c.start(1000)
    used, hits = _heap_cost(_cueing_frames, c, 3000)
    eq(hits > 10, True, "cues fired, from preallocated tuples")
    eq(used, 0, "bytes allocated over 3000 frames with cues")
