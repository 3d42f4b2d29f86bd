# On a real belt: how well does the sampler keep 1 kHz through garbage collection and load?
#
#   mpremote cp -r firmware/belt firmware/boards :      (or `corecue flash` once it exists)
#   mpremote run bench/hw_sample_rate.py
#
# Samples for 10 s while the signal chain runs as it does on a run, with a full collection
# forced every second (the firmware collects at chosen moments), and prints the achieved rate,
# the timing jitter and every late, missed or overrun sample the sampler counted.
import asyncio
import gc
import time

from belt.effort import EffortChain, Q_MISSED
from belt.sampler import Sampler
from boards.xiao_esp32s3 import Board

SECONDS = 10


async def main():
    board = Board()
    flag = asyncio.ThreadSafeFlag()
    chain = EffortChain("emg_raw")
    sampler = Sampler(chain.rate_hz, chain.block, flag.set)
    gc.collect()
    t0 = time.ticks_ms()
    board.start_sampling(sampler, chain.rate_hz)
    frames = 0
    worst_gc_us = 0
    while time.ticks_diff(time.ticks_ms(), t0) < SECONDS * 1000:
        await flag.wait()
        while sampler.ready():
            missed = Q_MISSED if sampler.block_missed() else 0
            chain.push_block(sampler.buf, sampler.block_start(), missed)
            sampler.release()
            frames += 1
            if frames % 10 == 0:
                g = time.ticks_us()
                gc.collect()
                worst_gc_us = max(worst_gc_us, time.ticks_diff(time.ticks_us(), g))
    board.stop_sampling()
    elapsed_ms = time.ticks_diff(time.ticks_ms(), t0)
    real = sampler.samples - sampler.missed
    print("achieved rate: %.1f Hz (target %d Hz) over %d ms" % (
        real * 1000 / elapsed_ms, chain.rate_hz, elapsed_ms))
    print("jitter: mean %d us, largest gap %d us" % (
        sampler.jitter_sum_us // max(1, sampler.samples), sampler.gap_max_us))
    print("late callbacks %d, missed samples %d, overrun blocks %d, frames %d" % (
        sampler.late, sampler.missed, sampler.overruns, frames))
    print("longest gc.collect(): %d us" % worst_gc_us)


asyncio.run(main())
