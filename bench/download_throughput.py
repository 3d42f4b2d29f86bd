"""Downloading a one-hour session from the virtual belt over a serial line (a pseudo-terminal):
payload bytes per wire byte, and the round trips the belt waits on, for windows 1, 2, 4, 8, 16,
all in one run against the same session.

    .venv/bin/python bench/download_throughput.py [--speed 0] [--minutes 60]

The session is the belt's own: `corecue virtual serve` runs the firmware on the sim board, the
companion calibrates it through the protocol, starts a session, waits until the belt has made an
hour of 100 ms frames (the simulated runner braces about 20 %, the scenario `responsive`) in
accelerated virtual time, and stops it. Nothing is written by hand onto the flash.

Wire bytes are every byte both ways while a download runs (the list entry it verifies against,
the read request and reply, data frames, acks), counted by the serial transport. Round trips are
the acks that opened the window onto data the belt was holding back (DownloadStats.gating_acks),
plus the read request itself."""
import argparse
import asyncio
import os
import queue
import sys
import tempfile
import threading
import time

from corecue.twin import mpbelt as virtual
from corecue.link.usb import open_belt

WINDOWS = (1, 2, 4, 8, 16)
CHUNKS = (1016, 256)


async def wait_frames(belt, n):
    start = (await belt.status()).frames
    while (await belt.status()).frames < start + n:
        await asyncio.sleep(0.05)


async def record(belt, minutes):
    await belt.cal_begin("rest")
    await wait_frames(belt, 100)
    for i in range(3):
        await belt.cal_begin("brace")
        await wait_frames(belt, 50)
        if i < 2:
            await belt.cal_begin("pause")
            await wait_frames(belt, 100)
    cal = await belt.cal_commit()
    if not cal.adopted:
        raise SystemExit(f"calibration refused (reasons {cal.reasons})")
    sid = await belt.session_start()
    t0 = time.monotonic()
    await wait_frames(belt, minutes * 600)
    await belt.session_stop()
    return sid, time.monotonic() - t0


async def measure(port, minutes):
    belt = await open_belt(port, timeout=10.0)
    try:
        sid, took = await record(belt, minutes)
        entry = await belt.session(sid)
        print(f"session {sid}: {entry.duration_ms / 60000:.1f} min, {entry.size} bytes, "
              f"recorded in {took:.1f} s real time", file=sys.stderr)
        rows = []
        t = belt.transport
        for chunk in CHUNKS:
            for window in WINDOWS:
                b0 = t.bytes_in + t.bytes_out
                data = await belt.download(sid, window=window, chunk=chunk)
                wire = t.bytes_in + t.bytes_out - b0
                st = belt.last_download
                assert len(data) == entry.size and st.rereads == 0
                rows.append((chunk, window, st.chunks, st.acks, 1 + st.gating_acks(), wire,
                             len(data) / wire))
        return entry, rows
    finally:
        await belt.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", type=float, default=0,
                    help="virtual seconds per real second (default 0: as fast as the belt can)")
    ap.add_argument("--minutes", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="corecue-bench-") as tmp:
        ports = queue.Queue()
        stop = threading.Event()
        errors = []

        def serve():
            try:
                virtual.serve(os.path.join(tmp, "flash"), "responsive", args.speed,
                              on_port=ports.put, stop=stop)
            except Exception as e:          # reported below, instead of a hang
                errors.append(e)
                ports.put(None)
        th = threading.Thread(target=serve, daemon=True)
        th.start()
        port = ports.get(timeout=120)
        if port is None:
            raise SystemExit(f"virtual belt: {errors[0]}")
        try:
            entry, rows = asyncio.run(measure(port, args.minutes))
        finally:
            stop.set()
            th.join(30)
    print(f"One {entry.duration_ms / 60000:.0f}-minute session, {entry.size} bytes, "
          f"downloaded over a pty from the virtual belt (MicroPython unix port)")
    print()
    print("| chunk (bytes) | window (chunks) | chunks | acks sent | round trips | wire bytes "
          "| payload / wire |")
    print("|---|---|---|---|---|---|---|")
    for chunk, window, chunks, acks, trips, wire, eff in rows:
        print(f"| {chunk} | {window} | {chunks} | {acks} | {trips} | {wire} | {100 * eff:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
