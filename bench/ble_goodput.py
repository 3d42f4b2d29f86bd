"""Downloading a one-hour session over Bluetooth LE: the real firmware (belt.blelink on the sim
board) and the companion's bleak transport, joined by the emulated radio (corecue.twin.radio), at
the negotiated MTU. For each window size, in the same run: session bytes / notification payload
bytes (the share of the link's notification capacity that is session data), the round trips (acks
the belt had to wait for), the notifications NimBLE's buffers refused (ENOMEM, sent again) and
the time the download took on the emulated air (its connection events and air time:
corecue.twin.radio.airtime; the connection interval is Bumble's). Then an estimate of the time on
a real ESP32-S3 at a 30 ms connection interval.

    .venv/bin/python bench/ble_goodput.py
"""
import asyncio
import os
import sys
import tempfile
import time

from corecue.link import ble as T
from corecue.twin.radio import EmulatedAir
from corecue.link.client import Belt
from corecue.interp import firmware_module

firmware_module("belt.app")                      # firmware/ and the shims on sys.path
from belt import config as _config  # noqa: E402
from belt import protocol as P  # noqa: E402
from belt.app import App  # noqa: E402
from belt.blelink import BleLink  # noqa: E402
from belt.storage import Storage  # noqa: E402
from boards.scenarios import Responsive  # noqa: E402
from boards.sim import Board  # noqa: E402
from onehour import HOUR_FRAMES, write_hour  # noqa: E402  (bench/, the script's folder)

INTERVAL_MS = 30
# Notifications an ESP32-S3 (NimBLE) and a desktop controller typically exchange per connection
# event with data length extension: 2 is a cautious figure, 4-6 are common.
PER_EVENT = (2, 4, 6)


def store_hour(folder):
    """A closed one-hour session (bench/onehour.py) in the belt's session store."""
    board = Board(folder, Responsive())
    store = Storage(board.root + "/sessions")
    sid, path = store.new_session()
    write_hour(path, sid)
    store.closed(sid)
    return sid, os.path.getsize(path)


async def measure(folder, sid, windows):
    air = EmulatedAir()
    await air.start()
    dev = await air.add_peripheral()
    board = Board(folder, Responsive(), bluetooth=air.bluetooth_module(dev))
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = App(board, cfg, Storage(board.root + "/sessions"), lambda msg: None)
    link = BleLink(app, *board.ble())
    tasks = app.start(link.tasks())
    rows = []
    try:
        transport = await T.connect(backend=air.bleak_backends())
        belt = Belt(transport)
        await belt.hello()
        # A data notification fills the ATT payload: packet header, session id and offset, bytes.
        chunk = transport.mtu - 3 - P.HEADER_LEN - 8
        dl = link.commands.download
        for window in windows:
            stalls, enomem = dl.stalls, link.enomem
            t0 = time.monotonic()
            data = await belt.download(sid, window=window, chunk=chunk)
            took = time.monotonic() - t0
            st = belt.last_download
            rows.append((window, transport.mtu, chunk, st.chunks, st.acks, dl.stalls - stalls,
                         len(data), len(data) + st.chunks * (P.HEADER_LEN + 8),
                         link.enomem - enomem, took))
        await transport.close()
    finally:
        for t in tasks:
            t.cancel()
        board.stop()
        await air.close()
    return rows


def main():
    with tempfile.TemporaryDirectory() as d:
        sid, size = store_hour(d)
        rows = asyncio.run(measure(d, sid, (1, 2, 4, 8, 16)))
    mtu, chunk, chunks = rows[0][1], rows[0][2], rows[0][3]
    print(f"One hour of 10 Hz frames: a {size}-byte session; negotiated MTU {mtu}, "
          f"{chunk}-byte chunks ({chunks} notifications)")
    print("| window (chunks) | windows of data | acks sent | acks the belt waited for | "
          "session bytes | notification payload bytes | goodput | refused (ENOMEM) | "
          "time on the emulated air |")
    print("|---|---|---|---|---|---|---|---|---|")
    for window, _, _, n, acks, stalls, got, note_bytes, enomem, took in rows:
        print(f"| {window} | {-(-n // window)} | {acks} | {stalls} | {got} | {note_bytes} | "
              f"{100 * got / note_bytes:.1f} % | {enomem} | {took:.2f} s |")
    # Every window costs one round trip: the read request for the first, an ack for each of the
    # others (the companion acks once per whole window). A round trip is about two connection
    # events: the request goes out in one, the next notification can follow in the next.
    windows8 = -(-chunks // 8)
    print(f"Estimate on an ESP32-S3 at a {INTERVAL_MS} ms connection interval (the Linux "
          f"default), window 8: {chunks} notifications and {windows8} round trips (the read "
          f"request and {windows8 - 1} acks) of about two connection events each:")
    for k in PER_EVENT:
        events = -(-chunks // k) + 2 * windows8
        print(f"- {k} notifications per connection event: {events} events, "
              f"about {events * INTERVAL_MS / 1000:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
