# Wrap-aware tick arithmetic, as MicroPython's time.ticks_*: the board's clock hands out tick
# values that wrap at 2**30, so the core never compares raw ticks, only differences.
# On the ESP32 a small int holds -2**30 .. 2**30-1; every intermediate below stays inside that
# range, so these never allocate a big int (the obvious (t + d) & mask does, near the wrap).
from micropython import const

PERIOD = const(0x40000000)
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def add(t, delta):
    """t + delta on the tick circle; |delta| must be below 2**29."""
    r = (t - _HALF) + delta
    if r >= _HALF:
        r = r - _HALF - _HALF
    elif r < -_HALF:
        r = r + _HALF + _HALF
    return r + _HALF


def diff(end, start):
    """Signed distance from start to end, correct across one wrap."""
    d = (end - start) & _MASK
    if d >= _HALF:
        d = d - _HALF - _HALF
    return d
