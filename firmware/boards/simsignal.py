# The sim board's sensor: a synthetic runner, sample by sample, in integers only, so MicroPython
# and CPython render the same samples. (The companion's numpy generator, corecue/twin/synth.py, is the
# richer model used for accuracy benchmarks; recordings from it can be played with --recording.)
import micropython
from micropython import const

from belt.effort import isqrt

RAW = const(0)        # bipolar EMG around mid-supply: noise whose SD follows the effort
ENV = const(1)        # analog envelope: a level that follows the effort
STRETCH = const(2)    # cord length: a level that follows the effort
OFF = const(3)        # electrode off: the input floats to the rail

SIGMA_MVC = const(300)   # EMG SD at maximal contraction, counts


@micropython.viper
def fill(buf: ptr16, n: int, kind: int, amp: int, st: ptr32):
    """n samples into buf. amp: EMG SD (RAW) or level above baseline (ENV/STRETCH), counts.
    st[0] is the generator state, st[1] the counts of noise on levels."""
    s = st[0]
    for i in range(n):
        acc = 0
        for k in range(4):
            # mod 2**30 so every constant is a small int on a 32-bit port too; a 32-bit
            # machine multiply keeps the low 30 bits exact, so all targets agree
            s = (s * 1664525 + 1013904223) & 0x3FFFFFFF
            acc += (s >> 15) & 0x7FFF
        g = acc - 65534                 # sum of four uniforms: ~Gaussian, SD 18918
        if kind == 0:
            v = 2048 + (g * amp) // 18918
        elif kind == 3:
            v = 4095
        elif kind == 1:
            v = 120 + amp + (g * st[1]) // 18918
        else:
            v = 1500 + amp + (g * st[1]) // 18918
        if v < 0:
            v = 0
        if v > 4095:
            v = 4095
        buf[i] = v
    st[0] = s


def amplitude(kind, effort_pct):
    """What fill() needs for an effort: EMG SD with a 4-count noise floor, or a level."""
    if kind == RAW:
        sd = SIGMA_MVC * effort_pct // 100
        return isqrt(sd * sd + 16)
    if kind == ENV:
        return 15 * effort_pct            # MyoWare ENV: ~1.5 V at MVC over ~100 mV rest
    return 6 * effort_pct                 # stretch cord: a few hundred counts at a full brace
