# The hand-off from the sampling interrupt to the signal-chain task.
#
# The board's timer callback calls record(value, now_us) once per sample. record() only stores
# into a preallocated ring, counts, and wakes the task when a whole block (one effort frame) is
# ready; it allocates nothing, so it may run as a hard or soft interrupt handler. On the ESP32,
# machine.Timer callbacks are soft: a garbage collection or a burst of BLE work delays them. A late
# callback cannot recover the ADC value it missed, so record() fills each missing slot with the
# last value (keeping time aligned: a frame is always 100 ms) and counts it; the block is then
# reported as having missed samples and its frame gets the Q_MISSED quality bit.
from array import array
from micropython import const

from belt import ticks

_RING_BLOCKS = const(8)   # 800 ms of slack at 1 kHz before an unserved task loses data


class Sampler:
    def __init__(self, rate_hz, block, wake=None):
        self.block = block
        self.period_us = 1000000 // rate_hz
        self.buf = array("H", bytes(2 * (block * _RING_BLOCKS)))
        self._missed_in = array("H", bytes(2 * _RING_BLOCKS))
        self._wake = wake
        self.reset()

    def reset(self):
        # The interrupt only ever writes _w and _produced, the task only _consumed: no
        # read-modify-write is shared, so neither can lose the other's update.
        self._w = 0
        self._produced = 0     # whole blocks written
        self._consumed = 0     # whole blocks served to the task
        self._last = -1
        self._prev_value = 0
        self.samples = 0
        self.late = 0          # callbacks that came half a period or more late
        self.missed = 0        # sample slots filled because the callback never came
        self.overruns = 0      # blocks overwritten before the task served them
        self.gap_max_us = 0
        self.jitter_sum_us = 0  # sum of |gap - period|: mean jitter = jitter_sum_us / samples
        for i in range(_RING_BLOCKS):
            self._missed_in[i] = 0

    def record(self, value, now_us):
        """Interrupt context: store one sample taken at now_us (ticks_us). No allocation."""
        period = self.period_us
        if self._last >= 0:
            gap = ticks.diff(now_us, self._last)
            if gap > self.gap_max_us:
                self.gap_max_us = gap
            dev = gap - period
            self.jitter_sum_us += dev if dev >= 0 else -dev
            if gap >= period + (period >> 1):
                lost = (gap + (period >> 1)) // period - 1
                self.late += 1
                self.missed += lost
                while lost > 0:
                    self._put(self._prev_value, 1)
                    lost -= 1
        self._last = now_us
        self._prev_value = value
        self._put(value, 0)

    def _put(self, value, missed):
        w = self._w
        self.buf[w] = value
        if missed:
            self._missed_in[w // self.block] += 1
        self.samples += 1
        w += 1
        if w == len(self.buf):
            w = 0
        self._w = w
        if w % self.block == 0:
            self._produced += 1
            self._missed_in[w // self.block] = 0
            if self._wake:
                self._wake()

    def ready(self):
        """Whole blocks waiting for the task. If the task fell a whole ring behind, the blocks
        that were overwritten are counted as overruns and skipped."""
        backlog = self._produced - self._consumed
        if backlog > _RING_BLOCKS - 1:
            self.overruns += backlog - (_RING_BLOCKS - 1)
            self._consumed = self._produced - (_RING_BLOCKS - 1)
            backlog = _RING_BLOCKS - 1
        return backlog

    def block_start(self):
        """Sample index in buf of the oldest whole block not yet served."""
        return (self._consumed % _RING_BLOCKS) * self.block

    def block_missed(self):
        return self._missed_in[self._consumed % _RING_BLOCKS]

    def release(self):
        """The task has consumed the block at block_start()."""
        if self._produced != self._consumed:
            self._consumed += 1
