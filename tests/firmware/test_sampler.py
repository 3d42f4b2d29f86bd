import micropython
from fwtest import allocated, eq, skip_unless_micropython

from belt import ticks
from belt.sampler import Sampler


class Wakes:
    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1


def drain(s):
    got = []
    while s.ready():
        start = s.block_start()
        got.append((s.buf[start], s.block_missed()))
        s.release()
    return got


def test_blocks_arrive_in_order_and_wake_the_task():
    w = Wakes()
    s = Sampler(1000, 100, w)
    t = ticks.PERIOD - 50000          # start near the wrap: ticks_us wraps at 2**30
    got = []
    for i in range(1000):
        s.record(i % 4096, t)
        t = ticks.add(t, 1000)
        if i % 250 == 0:
            got += drain(s)           # the task keeps up, a few blocks at a time
    got += drain(s)
    eq(w.n, 10, "one wake per block")
    eq(len(got), 10, "every block served")
    eq([v for v, _ in got][:3], [0, 100, 200], "first sample of each block")
    eq((s.missed, s.late, s.overruns), (0, 0, 0), "clean run")


def test_late_callback_fills_and_counts_missed_samples():
    s = Sampler(1000, 100)
    t = 0
    for i in range(250):
        gap = 4000 if i == 150 else 1000    # a 4 ms stall (GC) loses 3 samples
        t = ticks.add(t, gap)
        s.record(7, t)
    eq(s.missed, 3, "missed samples")
    eq(s.late, 1, "late callbacks")
    eq(s.samples, 253, "slots filled keep time aligned")
    eq([m for _, m in drain(s)], [0, 3], "the block that lost samples says so")
    eq(s.gap_max_us, 4000, "largest gap")


def test_a_task_that_falls_behind_counts_overruns():
    s = Sampler(1000, 100)
    t = 0
    for i in range(100 * 12):
        t = ticks.add(t, 1000)
        s.record(i // 100, t)
    eq(s.ready(), 7, "what the ring still holds")
    eq(s.overruns, 5, "blocks lost")
    eq(drain(s)[0][0], 5, "the oldest intact block is served first")


def test_record_allocates_nothing():
    skip_unless_micropython("heap_lock proves no allocation only on MicroPython")
    s = Sampler(1000, 100, Wakes())

    def feed():
        t = 0
        for i in range(2000):
            t = ticks.add(t, 1000 if i % 97 else 3000)
            s.record(i & 4095, t)
    micropython.heap_lock()
    try:
        feed()
    finally:
        micropython.heap_unlock()
    eq(s.samples > 2000, True, "samples recorded under heap_lock")
    eq(allocated(feed), 0, "bytes allocated by 2000 samples")
