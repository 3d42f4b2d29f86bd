"""Flash cost of a logged run, from the virtual belt (the firmware on the sim board, MicroPython,
ESP32-sized heap), against two baselines computed from the same frames in the same run: the
frames stored plainly (effort u16 + quality u8 per frame) and the same plain bytes through zlib
at its best level (what deflate could do if the device could afford it). The cost of the signal
pairs (fatigue index and cadence every 10 s, format version 2) is the session's frames and events
written again by the firmware's writer with and without them.

    .venv/bin/python bench/session_storage.py [--minutes 60]
"""
import argparse
import io
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
    slog = firmware_module("belt.sessionlog")
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        lines, _ = virtual.run(d, args.minutes, "morning")
        wall = time.monotonic() - t0
        data = virtual.sessions(d)[1]
    signal = []
    hdr, frames, events, trailer, status = read_session(data, signal)
    hours = len(frames) / 36000
    pairs = {p[0]: p[1:] for p in signal}

    def rewrite(with_pairs):
        buf = io.BytesIO()
        w = slog.SessionWriter(buf, 1, 0, 0, hdr["mode"], hdr["cal_rest"], hdr["cal_mvc"],
                               hdr["placement"], (hdr["band_low"], hdr["band_target"],
                                                  hdr["band_high"]))
        ev = iter(events)
        nxt = next(ev, None)
        for i, (e, q) in enumerate(frames):
            while nxt is not None and nxt[0] == i:
                w.add_event(nxt[1], nxt[2])
                nxt = next(ev, None)
            fat, cad = pairs.get(i, (0, 0)) if with_pairs else (0, 0)
            w.add_frame(e, q, fat, cad)
        while nxt is not None:
            w.add_event(nxt[1], nxt[2])
            nxt = next(ev, None)
        w.close()
        return len(buf.getvalue())
    with_pairs, without = rewrite(True), rewrite(False)
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
    print(f"signal pairs ({len(signal)}): {with_pairs - without} bytes, "
          f"{(with_pairs - without) / hours:.0f} bytes per hour (the session's frames and events "
          f"written again with them, {with_pairs} bytes, and without, {without})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
