"""The emg_raw effort chain on inputs its other tests do not give it: the first seconds of a
session, cadences and pulses outside a steady run, calibrations that go wrong the way people make
them go wrong, and the arithmetic's extremes. Every figure recorded here must be the same under
MicroPython and CPython (tests/test_firmware_runtimes.py)."""
from array import array

from fwtest import allocated, eq, near, record, skip_unless_micropython
from signals import Noise, emg, feed, shaped

from belt.effort import EffortChain


def _noisy_rest_chain(n):
    """A chain calibrated on a noisy electrode's rest (white noise, 20 counts) and a maximal
    brace with the muscle's spectrum over the same noise: a rest unlike the muscle."""
    c = EffortChain("emg_raw")
    feed(c, emg(3000, 0, n, floor_sd=20))
    rest = c.level
    c.reset()
    feed(c, shaped(3000, 300, n, floor_sd=20))
    mvc = c.level
    c.reset()
    c.calibrate(rest, mvc)
    return c


def test_a_short_brace_early_in_a_session_after_a_noisy_rest_reads_its_level():
    """A session starts (the chain is reset) with the runner standing relaxed; 4 s later comes
    the first brace. The amplitude/step ratio's change of state must work in the session's first
    6.4 s too: read with the rest's ratio mixed in, a 1.5 s brace at 20 % read 14 %."""
    n = Noise(11)
    c = _noisy_rest_chain(n)
    feed(c, emg(4000, 0, n, floor_sd=20))
    brace = feed(c, shaped(1500, 60, n, floor_sd=20))[7:]      # after the window has filled
    mean = sum(brace) // len(brace)
    record("early_short_brace_after_noisy_rest", "%d %r" % (mean, brace))
    near(mean, 200, 30, "a 1.5 s brace at 20 % 4 s into a session, after a noisy rest")
