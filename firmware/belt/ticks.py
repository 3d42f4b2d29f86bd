# Wrap-aware tick arithmetic, as MicroPython's time.ticks_*: the board's clock hands out tick
# values that wrap at 2**30, so the core never compares raw ticks, only differences.
from micropython import const

PERIOD = const(0x40000000)
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def add(t, delta):
    return (t + delta) & _MASK


def diff(end, start):
    """Signed distance from start to end, correct across one wrap."""
    return ((end - start + _HALF) & _MASK) - _HALF
