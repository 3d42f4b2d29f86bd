# Cost of the emg_raw chain per raw sample on the MicroPython interpreter, against a plain-Python
# float implementation of the same chain measured in the same run. Run by bench/chain_cost.py:
#   micropython -X heapsize=128k bench/chain_cost_mpy.py FIRMWARE_DIR
import gc
import math

import micropython
import sys
import time
from array import array

sys.path.insert(0, sys.argv[1])
from belt.effort import EffortChain  # noqa: E402

N_BLOCKS = 100          # 10 s of 1 kHz samples, reused: the ESP32-sized heap holds no more
REPS = 10


def signal():
    buf = array("H")
    for _ in range(N_BLOCKS):             # in pieces: a 10,000-item list would not fit the heap
        buf.extend(array("H", [0] * 100))
    s = 12345
    for i in range(len(buf)):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        buf[i] = 2048 + ((s >> 16) & 255) - 128
    return buf


def timed(chain, buf):
    """Warm the chain up (fill its window), then time REPS passes over buf, and count the bytes
    the heap handed out meanwhile. Returns (fastest pass in microseconds, bytes per pass): on a
    shared machine the fastest pass is the one least disturbed by other work."""
    for start in range(0, len(buf), 100):
        chain.push_block(buf, start)
    gc.collect()
    before = micropython.mem_total()
    best = None
    for rep in range(REPS):
        t0 = time.ticks_us()
        for start in range(0, len(buf), 100):
            chain.push_block(buf, start)
        dt = time.ticks_diff(time.ticks_us(), t0)
        best = dt if best is None or dt < best else best
    return best, (micropython.mem_total() - before) / REPS


def firmware_chain():
    c = EffortChain("emg_raw")
    try:
        # a calibration index above any signal's: the level's spectral correction runs on every
        # frame (firmware from before it takes rest and MVC only)
        c.calibrate(80, 5000, 4000, 300)
    except TypeError:
        c.calibrate(80, 5000)
    return c


class FloatChain:
    """The named baseline: the previous firmware chain written in plain Python floats (first
    difference, rectify, block mean, a weighted 0.7 s window, the quadrature law)."""
    W = (12, 11, 15, 8, 7, 6, 5)

    def __init__(self, rest, mvc):
        self.rest, self.mvc = rest, mvc
        self.prev = None
        self.sums = [0.0] * 7
        self.effort = 0.0

    def push_block(self, buf, start):
        prev = buf[start] if self.prev is None else self.prev
        acc = 0.0
        for i in range(start, start + 100):
            x = float(buf[i])
            acc += abs(x - prev)
            prev = x
        self.prev = prev
        self.sums.insert(0, acc / 100.0)
        self.sums.pop()
        level = sum(w * s for w, s in zip(self.W, self.sums)) / 64.0
        r, c = self.rest, self.mvc
        self.effort = 100.0 * math.sqrt(max(level * level - r * r, 0.0) / (c * c - r * r))


buf = signal()
samples = len(buf)
fw_us, fw_bytes = timed(firmware_chain(), buf)
fl_us, fl_bytes = timed(FloatChain(5.0, 312.0), buf)
print("firmware %.4f us/sample %.3f bytes/sample" % (fw_us / samples, fw_bytes / samples))
print("float %.4f us/sample %.3f bytes/sample" % (fl_us / samples, fl_bytes / samples))
