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


def test_add_and_diff_agree_everywhere_near_the_wrap():
    for t in (0, 1, ticks.PERIOD - 1, ticks.PERIOD - 1000, 12345, (1 << 29) - 1, 1 << 29):
        for d in (0, 1, -1, 999, -999, (1 << 29) - 1, -(1 << 29) + 1):
            u = ticks.add(t, d)
            if not 0 <= u < ticks.PERIOD:
                raise AssertionError("add(%d, %d) = %d off the circle" % (t, d, u))
            eq(ticks.diff(u, t), d, "diff(add(%d, %d))" % (t, d))
