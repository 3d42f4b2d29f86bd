from fwtest import eq, raises, record, skip_unless_micropython
from belt import haptics, ticks
from belt.haptics import Player, TABLE

NEEDED = ("brace_more_1", "brace_more_2", "brace_more_3", "ease_off_1", "ease_off_2", "ease_off_3",
          "back_in_band", "check_sensor", "go", "warmup_next", "lie_down_done", "storage_full",
          "calibrate_phase")


def trace(player, t0, span, step=1):
    """(ms after t0, level) at every change of motor level, sampling every `step` ms."""
    out = []
    last = 0
    for dt in range(0, span, step):
        lv = player.update(ticks.add(t0, dt))
        if lv != last:
            out.append((dt, lv))
            last = lv
    return out


def expected(pid, start=0):
    """The edges a pattern should produce when it starts `start` ms after t0."""
    duty, steps = TABLE[pid][2], TABLE[pid][3]
    out = []
    t = start
    for i in range(len(steps)):
        out.append((t, 0 if i & 1 else duty))
        t += steps[i]
    out.append((t, 0))
    return out


def on_time(pid):
    steps = TABLE[pid][3]
    return sum(steps[i] for i in range(0, len(steps), 2))


def test_table_is_well_formed():
    names = [e[0] for e in TABLE]
    for n in NEEDED:
        haptics.pattern_id(n)
    eq(len(set(names)), len(names), "names unique")
    for name, prio, duty, steps in TABLE:
        eq(len(steps) % 2, 1, name + " starts and ends on")
        eq(all(isinstance(ms, int) and ms > 0 for ms in steps), True, name + " steps positive")
        eq(1 <= duty <= 100, True, name + " duty")
        eq(prio in (haptics.PRIO_CUE, haptics.PRIO_FLOW), True, name + " priority")
    eq(len(set(e[3] for e in TABLE)), len(TABLE), "every rhythm distinct")
    raises(ValueError, haptics.pattern_id, "no_such_pattern")
    eq(haptics.pattern_id("go"), haptics.GO, "ids match the table")
    eq(haptics.duration(haptics.BRACE_MORE_1), 400, "duration")


def test_escalation_is_stronger_in_the_same_rhythm():
    for first in (haptics.BRACE_MORE_1, haptics.EASE_OFF_1):
        for lvl in (1, 2):
            a, b = first + lvl - 1, first + lvl
            eq(on_time(b) > on_time(a), True, "%s on-time grows" % TABLE[b][0])
            eq(TABLE[b][2] > TABLE[a][2], True, "%s duty grows" % TABLE[b][0])
            eq(TABLE[b][3][:3], TABLE[a][3][:3], "%s keeps its rhythm" % TABLE[b][0])


def test_brace_and_ease_are_told_apart_by_pulse_length():
    longest_brace = max(TABLE[p][3][0] for p in (0, 1, 2))
    shortest_ease = min(TABLE[p][3][0] for p in (3, 4, 5))
    eq(shortest_ease >= 3 * longest_brace, True, "ease-off pulses much longer than brace taps")


def test_idle_player_is_off_and_has_no_deadline():
    p = Player()
    eq(p.update(1234), 0, "idle level")
    eq(p.next_deadline(1234), None, "idle deadline")
    eq(p.busy(), False, "idle")


def test_edges_of_every_pattern():
    for pid in range(len(TABLE)):
        p = Player()
        p.play(pid, 5000)
        eq(trace(p, 5000, haptics.duration(pid) + 50), expected(pid), TABLE[pid][0])
        eq(p.busy(), False, TABLE[pid][0] + " finished")


def test_deadlines_land_on_the_edges():
    p = Player()
    t = 100
    p.play(haptics.BRACE_MORE_2, t)
    seen = [(0, p.update(t))]
    while p.next_deadline(t) is not None:
        t = p.next_deadline(t)
        seen.append((t - 100, p.update(t)))
    eq(seen, expected(haptics.BRACE_MORE_2), "walking deadline to deadline")


def test_wraps_around_the_tick_period():
    t0 = ticks.PERIOD - 250
    p = Player()
    p.play(haptics.BRACE_MORE_3, t0)
    got = trace(p, t0, 1200)
    eq(got, expected(haptics.BRACE_MORE_3), "edges across the wrap")
    eq(ticks.add(t0, got[2][0]), 0, "third edge lands exactly on the wrap")
    record("haptics.brace_more_3_edges", got)
    p.play(haptics.BRACE_MORE_3, t0)
    t = t0
    deadlines = []
    while p.next_deadline(t) is not None:
        t = p.next_deadline(t)
        eq(0 <= t < ticks.PERIOD, True, "deadline %r is a valid tick" % t)
        deadlines.append(ticks.diff(t, t0))
        p.update(t)
    eq(deadlines, [e[0] for e in expected(haptics.BRACE_MORE_3)[1:]], "deadlines across the wrap")


def test_late_update_does_not_stretch_the_pattern():
    p = Player()
    p.play(haptics.EASE_OFF_2, 0)
    eq(p.update(0), 60 + 15, "on")
    eq(p.update(650), 0, "late call lands in the first gap")
    eq(p.next_deadline(650), 800, "second pulse still due at 800")
    eq(p.update(2099), 75, "last pulse still on")
    eq(p.update(2100), 0, "done")
    eq(p.busy(), False, "finished on schedule")


def test_same_priority_preempts_after_a_gap():
    p = Player()
    p.play(haptics.BRACE_MORE_1, 0)
    eq(p.update(50), 70, "brace on")
    eq(p.play(haptics.BACK_IN_BAND, 50), True, "takes over")
    got = [(0, 70), (50, 0)] + [(dt + 50, lv) for dt, lv in trace(p, 50, 1000)]
    eq(got, [(0, 70), (50, 0)] + expected(haptics.BACK_IN_BAND, 350), "cut, gap, new")
    record("haptics.preempt_edges", got)


def test_preempt_in_an_off_step_counts_the_gap_from_the_last_pulse():
    p = Player()
    p.play(haptics.BRACE_MORE_1, 0)          # on 0..150, off 150..250
    eq(p.update(200), 0, "in the off step")
    p.play(haptics.CHECK_SENSOR, 200)
    eq(p.next_deadline(200), 450, "starts gap_ms after the pulse ended at 150")
    eq(p.update(449), 0, "still quiet")
    eq(p.update(450), 80, "check_sensor begins")


def test_lower_priority_waits_for_the_whole_protocol_signal():
    p = Player()
    p.play(haptics.GO, 0)
    eq(p.play(haptics.BRACE_MORE_1, 100), False, "queued")
    eq(p.play(haptics.EASE_OFF_1, 200), False, "newer cue replaces the waiting one")
    got = trace(p, 0, 3000)
    eq(got, [(0, 100), (1000, 0)] + expected(haptics.EASE_OFF_1, 1300), "go whole, then ease")


def test_protocol_signal_preempts_a_cue():
    p = Player()
    p.play(haptics.EASE_OFF_3, 0)
    eq(p.play(haptics.GO, 100), True, "go takes over")
    eq(p.update(100), 0, "cut")
    eq(p.update(400), 100, "go after the gap")
    eq(p.pid, haptics.GO, "playing go")


def test_back_to_back_patterns_keep_the_gap():
    p = Player()
    p.play(haptics.ACK, 0)
    eq(p.update(60), 0, "ack ends")
    p.play(haptics.ACK, 100)
    eq(p.update(100), 0, "too soon after the last pulse")
    eq(p.update(360), 60, "after the gap")
    p2 = Player()
    p2.play(haptics.ACK, 0)
    p2.update(1000)
    p2.play(haptics.ACK, 1000)
    eq(p2.update(1000), 60, "no wait once the gap has passed")


def test_stale_off_time_after_a_long_idle_does_not_delay():
    p = Player()
    p.play(haptics.ACK, 0)
    p.update(60)
    t = ticks.add(60, ticks.PERIOD - 100)    # much later, numerically just before the off edge
    p.play(haptics.ACK, t)
    eq(p.update(t), 60, "starts at once")


def test_stop_silences():
    p = Player()
    p.play(haptics.GO, 0)
    p.play(haptics.BRACE_MORE_1, 10)
    p.stop()
    eq(p.update(20), 0, "off")
    eq(p.next_deadline(20), None, "nothing pending")
    eq(trace(p, 20, 2000), [], "queued pattern dropped too")


def _drive(p, n, t):
    on = 0
    for i in range(n):
        if i & 255 == 0:
            p.play(haptics.BRACE_MORE_3 if i & 256 else haptics.EASE_OFF_1, t)
        if p.update(t):
            on += 1
        p.next_deadline(t)
        t = (t + 10) & 0x3FFFFFFF
    return on


def test_playing_allocates_nothing():
    skip_unless_micropython("mem_total is MicroPython's")
    import micropython
    p = Player()
    t = ticks.PERIOD - 5000
    before = micropython.mem_total()
    _drive(p, 0, t)
    base = micropython.mem_total() - before
    before = micropython.mem_total()
    on = _drive(p, 2000, t)
    eq(micropython.mem_total() - before - base, 0, "bytes over 2000 updates and 8 plays")
    eq(on > 300, True, "the motor did run")


def test_a_runner_can_have_their_own_pattern():
    from belt import config as _config
    cfg = _config.Config(path=None)
    cfg.set("patterns", {"back_in_band": [300]})
    p = haptics.Player(table=cfg.haptic_table())
    p.play(haptics.BACK_IN_BAND, 1000)
    eq(p.update(1000) > 0, True, "on at once")
    eq(p.update(1299) > 0, True, "still on at 299 ms")
    eq(p.update(1300), 0, "off after the runner's 300 ms")
