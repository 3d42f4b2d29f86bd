"""Flash cost of a logged run, from the virtual belt (the firmware on the sim board, MicroPython,
ESP32-sized heap), against two baselines computed from the same frames in the same run: the
frames stored plainly (effort u16 + quality u8 per frame) and the same plain bytes through zlib
at its best level (what deflate could do if the device could afford it). The cost of the signal
pairs (fatigue index and cadence every 10 s, format version 2) is the session's frames and events
written again by the firmware's writer with and without them.

Hours are given for the two layouts a belt may have: the reference board's own `data` partition
(its size read from firmware/partitions-8MiB.csv) and the file system the files share with the
code on a 4 MB board with MicroPython's own table (the sim board's image, boards/simflash.py).
Each is the free space of a newly formatted LittleFS of that size, made by MicroPython's VfsLfs2.

    .venv/bin/python bench/session_storage.py [--minutes 60]
"""
import argparse
import io
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from corecue.twin import mpbelt as virtual
from corecue.interp import FIRMWARE, firmware_module, micropython_path

TABLE = os.path.join(FIRMWARE, "partitions-8MiB.csv")
_LFS_FREE = """
import os, vfs
class Ram:
    def __init__(self, n):
        self.n = n
        self.d = bytearray(b"\\xff" * (n * 4096))
    def readblocks(self, b, buf, off=0):
        a = b * 4096 + off
        buf[:] = self.d[a:a + len(buf)]
    def writeblocks(self, b, buf, off=0):
        a = b * 4096 + off
        self.d[a:a + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return 4096
        if op == 6:
            self.d[arg * 4096:(arg + 1) * 4096] = b"\\xff" * 4096
        return 0
dev = Ram(%d)
vfs.VfsLfs2.mkfs(dev)
vfs.mount(vfs.VfsLfs2(dev), "/m")
st = os.statvfs("/m")
print(st[0] * st[3])
"""


def partition_bytes(label):
    """The size of a partition in the belt's table."""
    for line in open(TABLE):
        f = [x.strip() for x in line.split("#")[0].split(",")]
        if len(f) >= 5 and f[0] == label:
            return int(f[4], 0)
    raise SystemExit(f"no partition {label!r} in {TABLE}")


def lfs_free(size):
    """Bytes free on a newly formatted LittleFS of size bytes (4 KiB blocks), under MicroPython."""
    out = subprocess.run([micropython_path(), "-X", "heapsize=16M", "-c",
                          _LFS_FREE % (size // 4096)], capture_output=True, text=True, timeout=120)
    return int(out.stdout.strip())


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
    simflash = firmware_module("boards.simflash")
    layouts = (("the 5 MiB data partition", lfs_free(partition_bytes("data"))),
               ("~1.9 MB shared", lfs_free(simflash.BLOCKS * simflash.BLOCK)))
    plain = b"".join(struct.pack("<hB", e, q) for e, q in frames)
    deflated = zlib.compress(plain, 9)
    print(f"virtual morning: {args.minutes}-minute run in a {len(frames) / 600:.1f}-minute "
          f"session ({len(events)} events), {status}; simulated in {wall:.1f} s "
          f"({len(frames) / 10 / wall:.0f}x real time)")
    print("free on a new LittleFS: " + "; ".join(f"{name}, {free} bytes" for name, free in layouts))
    print("| storage | bytes | bytes per hour | " + " | ".join(
        f"hours in {name}" for name, _ in layouts) + " |")
    print("|---|---|---|" + "---|" * len(layouts))
    for name, n in (("session log (range-coded blocks, CRC, trailer)", len(data)),
                    ("plain frames, 3 bytes each", len(plain)),
                    ("plain frames through zlib -9 (desktop baseline)", len(deflated))):
        print(f"| {name} | {n} | {n / hours:.0f} | " + " | ".join(
            f"{free / (n / hours):.0f}" for _, free in layouts) + " |")
    print(f"signal pairs ({len(signal)}): {with_pairs - without} bytes, "
          f"{(with_pairs - without) / hours:.0f} bytes per hour (the session's frames and events "
          f"written again with them, {with_pairs} bytes, and without, {without})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
