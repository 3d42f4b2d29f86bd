from fwtest import eq
from belt import ticks


def test_diff_across_wrap():
    t0 = ticks.PERIOD - 5
    t1 = ticks.add(t0, 12)
    eq(t1, 7, "wrapped tick")
    eq(ticks.diff(t1, t0), 12, "forward across wrap")
    eq(ticks.diff(t0, t1), -12, "backward across wrap")


def test_diff_plain():
    eq(ticks.diff(1000, 400), 600, "plain")
