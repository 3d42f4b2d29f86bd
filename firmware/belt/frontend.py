# The per-sample kernel: the only code that touches every raw ADC sample.
#
# It runs as viper (native machine integers: no boxing, no heap) over one block of samples, the
# samples of one 100 ms effort frame, and leaves its results in a small int32 array instead of
# returning a tuple, because a tuple would be an allocation per block. Everything else in the
# signal chain runs once per frame. docs/signal.md explains the choice of a first difference.
import micropython
from micropython import const

# Indices into the stats array (array('i', [0] * STATS_LEN)).
PREV = const(0)      # last sample of the previous block: the difference runs across blocks
SUM_DIFF = const(1)  # sum of |x[n] - x[n-1]|: the rectified high-passed EMG of the block
SUM_VAL = const(2)   # sum of x[n]: the level for envelope and stretch sensors
RAILS = const(3)     # samples within RAIL_MARGIN counts of 0 or 4095 (clipping, lost contact)
MAX_DIFF = const(4)  # largest single-sample jump (cable jerk, electrode pop)
STATS_LEN = const(5)

RAIL_MARGIN = const(8)   # scan() spells out 8 and 4087: viper code sees literals only


@micropython.viper
def scan(buf: ptr16, start: int, n: int, st: ptr32):
    prev = st[0]
    s_diff = 0
    s_val = 0
    rails = 0
    max_d = 0
    i = start
    end = start + n
    while i < end:
        x = int(buf[i])
        d = x - prev
        prev = x
        if d < 0:
            d = 0 - d
        s_diff += d
        s_val += x
        if d > max_d:
            max_d = d
        if x <= 8 or x >= 4087:
            rails += 1
        i += 1
    st[0] = prev
    st[1] = s_diff
    st[2] = s_val
    st[3] = rails
    st[4] = max_d
