"""Flash cost of a logged run, from the virtual belt (the firmware on the sim board, MicroPython,
ESP32-sized heap), against two baselines computed from the same frames in the same run: the
frames stored plainly (effort u16 + quality u8 per frame) and the same plain bytes through zlib
at its best level (what deflate could do if the device could afford it).

    .venv/bin/python bench/session_storage.py [--minutes 60]
"""
import argparse
import struct
import sys
import tempfile
import time
import zlib

from corecue.twin import mpbelt as virtual
from corecue.interp import firmware_module

FLASH_BYTES = 1_900_000       # the data partition of a 4 MB ESP32 board


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, default=60)
    args = ap.parse_args()
    read_session = firmware_module("belt.sessionread").read_session
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        lines, _ = virtual.run(d, args.minutes, "morning")
        wall = time.monotonic() - t0
        data = virtual.sessions(d)[1]
    hdr, frames, events, trailer, status = read_session(data)
    hours = len(frames) / 36000
    plain = b"".join(struct.pack("<hB", e, q) for e, q in frames)
    deflated = zlib.compress(plain, 9)
    print(f"virtual morning: {args.minutes}-minute run in a {len(frames) / 600:.1f}-minute "
          f"session ({len(events)} events), {status}; simulated in {wall:.1f} s "
          f"({len(frames) / 10 / wall:.0f}x real time)")
    print("| storage | bytes | bytes per hour | hours in 1.9 MB |")
    print("|---|---|---|---|")
    for name, n in (("session log (range-coded blocks, CRC, trailer)", len(data)),
                    ("plain frames, 3 bytes each", len(plain)),
                    ("plain frames through zlib -9 (desktop baseline)", len(deflated))):
        print(f"| {name} | {n} | {n / hours:.0f} | {FLASH_BYTES / (n / hours):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
