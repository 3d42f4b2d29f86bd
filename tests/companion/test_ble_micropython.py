"""The belt's Bluetooth LE link end to end with the firmware under MicroPython: main.py on the sim
board with --ble is a child process (twin/mpble.py), its `bluetooth` the unix port's, whose stack
is a Bumble peripheral on the emulated air in this process; the companion's client reaches it
through bleak's public API, as it reaches a belt. The same story as test_ble_link.py (which runs
the firmware under CPython in this process): scan, HELLO, config, calibration, live, a download
that loses its link and resumes. The belt's time is its own (paced to 10x real time): the test
waits for the belt's frames, never for the wall clock. Every connection authenticates: the belt's
button is held for the runner shortly after boot (the pairing window), the companion pairs over
the radio, and everything after goes sealed."""
import asyncio
import zlib

import realbelt as R  # noqa: F401  (puts firmware/ on sys.path)
from corecue.link import auth
from corecue.link import ble as T
from corecue.link.client import AuthRequired, Belt, LinkLost
from corecue.twin.mpble import MpBleBelt

from belt import protocol as P

_MTU = 247
# ATT notification header, packet header, id + offset, the sealed packet's counter and tag
_CHUNK = _MTU - 3 - P.HEADER_LEN - 8 - P.AUTH_LEN
_WINDOW = ("--long-press", "500")           # the runner opens the pairing window after boot


def run(body, limit_s=120):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


async def belt_seconds(belt, seconds):
    """Until `seconds` of the belt's own time have passed (10 frames a second)."""
    target = (await belt.status()).frames + seconds * 10
    while (await belt.status()).frames < target:
        pass


def test_the_firmware_under_micropython_over_ble_scan_config_calibration_live_drop_resume(tmp_path):
    folder = str(tmp_path)
    data = R.write_sessions(folder, [20000])[1]

    async def body():
        mp = await MpBleBelt(folder, speed=10, extra=_WINDOW).start()
        backend = mp.backend()
        host = auth.new_host_id()
        try:
            await mp.wait_output(b"pairing window open")
            found = await T.scan(timeout=2.0, backend=backend)
            assert len(found) == 1 and found[0][0].startswith("corecue-"), mp.output
            name = found[0][0]
            transport = await T.connect(name, backend=backend)
            assert transport.mtu == _MTU
            belt = Belt(transport)
            hello = await belt.hello()
            assert hello.capabilities & P.CAP_BLE and not hello.capabilities & P.CAP_USB
            assert name == "corecue-%02X%02X" % (hello.device_id[-2], hello.device_id[-1])
            key = await auth.pair(belt, host)

            # Config: a reply longer than one notification comes back whole.
            cfg = await belt.config_set({"low_pm": 140})
            assert cfg["low_pm"] == 140 and (await belt.config_get())["low_pm"] == 140

            # Calibration through the protocol, the sim's person following the phases.
            await belt.cal_begin(0)
            await belt_seconds(belt, 10)
            for _ in range(3):
                await belt.cal_begin(1)
                await belt_seconds(belt, 5)
                await belt.cal_begin(2)
                await belt_seconds(belt, 5)
            cal = await belt.cal_commit()
            assert cal.adopted and cal.mvc > cal.rest

            # Live effort: every frame, in order.
            frames = []
            unsub = belt.subscribe("effort", lambda ev: frames.append(ev.frame))
            await belt.live(True)
            await belt_seconds(belt, 3)
            await belt.live(False)
            unsub()
            assert len(frames) >= 25, len(frames)
            assert frames == list(range(frames[0], frames[0] + len(frames)))

            # Download at the negotiated MTU; the link drops a third of the way through.
            chunks, have, dropped = [], bytearray(), []

            def on_data(ev):
                chunks.append(len(ev.data))
                if ev.offset == len(have):
                    have.extend(ev.data)
                if len(have) >= len(data) // 3 and not dropped:
                    dropped.append(mp.drop_link())
            belt.subscribe("data", on_data)
            try:
                await belt.download(1, window=8)
                raise AssertionError("the download survived a dropped link")
            except LinkLost:
                pass
            assert dropped == [1] and 0 < len(have) < len(data)
            assert set(chunks[:-1]) == {_CHUNK}
            assert bytes(have) == data[:len(have)]

            # Advertising resumed: a new scan hears the belt, a new transport resumes the file.
            assert [n for n, _, _ in await T.scan(timeout=2.0, backend=backend)] == [name]
            transport2 = await T.connect(name, backend=backend)
            belt2 = Belt(transport2)
            await belt2.hello()
            await auth.authenticate(belt2, key, host)
            got = await belt2.download(1, offset=len(have), have=bytes(have), window=8)
            assert got == data and belt2.last_download.start == len(have)
            entry = await belt2.session(1)
            assert zlib.crc32(got) == entry.crc
            await belt2.confirm(1, entry.crc)
            assert (await belt2.session(1)).synced
            await transport2.close()
        finally:
            await mp.close()
        assert b"Unhandled exception" not in mp.output and b"failed" not in mp.output, mp.output
    run(body)


def test_under_micropython_notifications_refused_for_want_of_buffers_are_sent_again(tmp_path):
    folder = str(tmp_path)
    data = R.write_sessions(folder, [20000])[1]

    async def body():
        mp = await MpBleBelt(folder, speed=10, extra=_WINDOW).start()
        try:
            await mp.wait_output(b"pairing window open")
            transport = await T.connect(backend=mp.backend())
            belt = Belt(transport)
            await belt.hello()
            await auth.pair(belt, auth.new_host_id())
            # A central with 100 ms connection events: however slowly the interpreter runs on
            # a loaded machine, a window of 16 notifications outruns 12 buffers between events.
            airtime = mp.server.module.BLE()._airtime
            airtime.min_interval_us = 100000
            got = await belt.download(1, window=16)
            assert got == data
            assert airtime.refused > 0                             # the stack said ENOMEM
            assert belt.last_download.rereads == 0                 # and the belt sent again
            await transport.close()
        finally:
            await mp.close()
    run(body)


def test_under_micropython_a_switched_off_irq_handler_is_noticed_and_bluetooth_comes_back(tmp_path):
    # The stack hands the handler an event it cannot take (a write event without its handles):
    # the handler raises, MicroPython switches it off; the belt notices a request nobody
    # announced, restarts Bluetooth and advertises again; the companion connects anew.
    folder = str(tmp_path)

    async def body():
        mp = await MpBleBelt(folder, speed=10).start()
        backend = mp.backend()
        try:
            await mp.wait_output(b"sessions:")
            transport = await T.connect(backend=backend)
            belt = Belt(transport)
            await belt.hello()
            mp.server.inject(3, [])
            await mp.wait_output(b"Unhandled exception in IRQ callback handler")
            try:
                await belt.status()             # heard only by the belt's own look
            except (LinkLost, AuthRequired):
                pass
            await mp.wait_output(b"restarting Bluetooth")
            transport2 = await T.connect(backend=backend)
            assert (await Belt(transport2).hello()).capabilities & P.CAP_BLE
            await transport2.close()
        finally:
            await mp.close()
    run(body)
