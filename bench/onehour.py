"""A closed one-hour session as the firmware's own SessionWriter logs a run: effort wandering
around 20 % in the chain's 0.5 %MVC steps, a flagged frame every 3 minutes, a state event every
minute. The benchmarks' common input (download, store)."""
import random

from corecue.interp import firmware_module

firmware_module("belt.app")                      # firmware/ and the shims on sys.path
from belt.sessionlog import SessionWriter  # noqa: E402

HOUR_FRAMES = 36000
BAND = (150, 200, 300)


def write_hour(dest, sid, wall_time=0, seed=7):
    """Write the hour to dest (a path or a binary file) as session sid."""
    w = SessionWriter(dest, sid, 1000, wall_time, 0, 72, 5400, 1, BAND)
    rng = random.Random(seed)
    e = 200
    for i in range(HOUR_FRAMES):
        e += rng.choice((-10, -5, -5, 0, 0, 0, 5, 5, 10))
        e = min(max(e, 120), 320)
        w.add_frame(e, 4 if i % 1800 == 0 else 0)
        if i % 600 == 0:
            w.add_event(5, 3)
    w.close(1000 + HOUR_FRAMES * 100)
