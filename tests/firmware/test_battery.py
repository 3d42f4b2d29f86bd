from fwtest import allocated, eq, skip_unless_micropython
from belt import battery
from belt.battery import CRITICAL, EMPTY, LOW, OK, Battery


def _feed(b, mv, n):
    for _ in range(n):
        b.update(mv)
    return b.level


def test_levels_follow_the_smoothed_voltage():
    b = Battery()
    eq(b.update(0), OK, "no gauge: nothing is refused")
    eq(b.mv, 0, "and nothing is assumed")
    eq(b.update(4000), OK, "a full cell")
    eq(_feed(b, 3700, 20), LOW, "below 3.80 V: low")
    eq(_feed(b, 3480, 20), CRITICAL, "below 3.50 V: no new run")
    eq(_feed(b, 3400, 20), EMPTY, "below 3.45 V: empty")
    eq(battery.EMPTY_MV < battery.CRITICAL_MV < battery.LOW_MV, True, "edges in order")


def test_one_sagging_reading_is_not_the_end_of_a_run():
    b = Battery()
    _feed(b, 3600, 10)
    eq(b.update(3000), LOW, "a motor pulse's sag is one reading")
    eq(b.update(3000), LOW, "two")
    eq(b.update(3600), LOW, "and the cell is back")
    eq([b.update(3000) for _ in range(3)], [LOW, LOW, EMPTY], "three in a row are real")


def test_the_first_reading_counts_at_once():
    b = Battery()
    eq(b.update(3420), EMPTY, "switched on flat: refused from the start")


def test_a_level_is_left_upwards_only_clearly_above_its_edge():
    b = Battery()
    _feed(b, 3790, 30)
    eq(b.level, LOW, "just below the edge")
    eq(_feed(b, 3810, 30), LOW, "just above it: still low (a resting cell recovers a little)")
    eq(_feed(b, 3900, 30), OK, "well above it: ok")


def test_an_update_allocates_nothing():
    skip_unless_micropython("mem_total is MicroPython's")
    b = Battery()
    b.update(3900)
    eq(allocated(lambda: b.update(3850)), 0, "bytes allocated by update")


def _levels(b, readings):
    return [b.update(mv) for mv in readings]


def test_a_worn_cell_straddling_an_edge_still_reaches_critical():
    # Sags to 3440 (EMPTY) under load, recovers to 3470 (CRITICAL) at rest: no two readings in a
    # row agree, yet every one is worse than LOW.
    b = Battery()
    _levels(b, [3900] * 2 + [3700] * 4)
    eq(b.level, LOW, "a tired cell")
    seen = _levels(b, [3440, 3470] * 20)
    eq(seen[:3], [LOW, LOW, CRITICAL], "three worse readings: the least severe of them")
    eq(seen[-1], CRITICAL, "and no lower: the cell at rest is above the EMPTY edge")


def test_a_cell_sagging_below_the_regulator_refuses_a_run_at_once():
    b = Battery()
    b.update(3900)
    seen = _levels(b, [3440, 3470, 3300] * 10)
    eq(seen[:3], [OK, OK, CRITICAL], "three worse readings: CRITICAL, the least severe of them")
    # Each 3470 is at CRITICAL and breaks the run of EMPTY readings, so the level stays there.
    eq(seen[-1], CRITICAL, "a rest reading at CRITICAL keeps the level")


def test_readings_on_both_sides_of_the_level_change_nothing():
    b = Battery()
    _feed(b, 3600, 10)
    eq(b.level, LOW, "start")
    seen = _levels(b, [3400, 3400, 3950, 3400, 3950, 3950, 3400, 3400, 3950] * 5)
    eq(seen, [LOW] * len(seen), "two worse, then better: a new run each time the side changes")


def test_better_readings_adopt_the_least_improved_level():
    b = Battery()
    _feed(b, 3400, 10)
    eq(b.level, EMPTY, "start")
    eq(_levels(b, [3950, 3700, 3950]), [EMPTY, EMPTY, LOW], "up to LOW, not OK")
    eq(_levels(b, [3820, 3820, 3820]), [LOW] * 3, "within the hysteresis: at the level")
