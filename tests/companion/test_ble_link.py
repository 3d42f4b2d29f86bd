"""The belt's Bluetooth LE link end to end, in one process: the real firmware (belt.blelink, the
App, Storage, commands) on the sim board, its `bluetooth` module the emulated radio
(corecue.twin.radio), and the companion's client on corecue.link.ble through bleak's public API
with the emulated backend. The belt runs in its virtual time; the client's timeouts in the loop's."""
import asyncio
import zlib

import realbelt as R  # noqa: F401  (puts firmware/ on sys.path)
from corecue.link import ble as T
from corecue.twin.radio import EmulatedAir
from corecue.link.client import Belt, LinkLost

from belt import config as _config
from belt import protocol as P
from belt.app import App
from belt.blelink import BleLink, belt_name
from belt.storage import Storage
from boards.scenarios import Responsive
from boards.sim import Board
import beltrig

_MTU = 247
_CHUNK = _MTU - 3 - P.HEADER_LEN - 8        # ATT notification header, packet header, id + offset


def boot(folder, bluetooth, speed=0):
    board = Board(folder, Responsive(), bluetooth=bluetooth, speed=speed)
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = App(board, cfg, Storage(board.root + "/sessions"), lambda msg: None)
    return board, app, BleLink(app, *board.ble())


def run(body, limit_s=20):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


def test_belt_over_ble_scan_hello_config_calibration_live_download_drop_and_resume(tmp_path):
    folder = str(tmp_path)
    files = R.write_sessions(folder, [20000])
    data = files[1]

    async def body():
        air = EmulatedAir()
        await air.start()
        dev = await air.add_peripheral()
        board, app, link = boot(folder, air.bluetooth_module(dev), speed=10)
        tasks = app.start(link.tasks())
        backend = air.bleak_backends()
        try:
            # Scan: found by the service UUID, named after the device id.
            name = belt_name(board.device_id())
            assert name.startswith("corecue-") and len(name) == 12
            found = await T.scan(timeout=1.0, backend=backend)
            assert [n for n, _, _ in found] == [name]
            assert T.SERVICE_UUID in found[0][2].service_uuids

            transport = await T.connect(name, backend=backend)
            assert transport.mtu == _MTU
            belt = Belt(transport)
            hello = await belt.hello()
            assert hello.capabilities & P.CAP_BLE and not hello.capabilities & P.CAP_USB
            assert hello.device_id == board.device_id()
            assert link.mtu == _MTU and link.conn is not None

            # Config: a reply longer than one notification comes back whole.
            cfg = await belt.config_set({"low_pm": 140})
            assert cfg["low_pm"] == 140
            assert len(app.config.to_json()) > _MTU - 3
            assert app.config.as_dict()["low_pm"] == 140

            # Calibration through the protocol, the sim's person following the phases.
            await belt.cal_begin(0)
            await beltrig.advance(board, 10000)
            for _ in range(3):
                await belt.cal_begin(1)
                await beltrig.advance(board, 5000)
                await belt.cal_begin(2)
                await beltrig.advance(board, 5000)
            cal = await belt.cal_commit()
            assert cal.adopted and cal.mvc > cal.rest
            assert app.calibration()[:2] == (cal.rest, cal.mvc) and app.calibration()[2] > 0

            # Live effort: every frame, about 10 per second of the belt's time. The radio has
            # air time (twin/radio/airtime.py), so the belt runs at ten times real time here, as
            # fast as a companion could watch it: faster, and it would drop frames for the air.
            frames = []
            unsub = belt.subscribe("effort", lambda ev: frames.append(ev.frame))
            await belt.live(True)
            await beltrig.advance(board, 5000)
            await belt.live(False)
            await belt.status()         # behind every live frame on the air: all have arrived
            unsub()
            assert 45 <= len(frames) <= 55, len(frames)
            numbers = frames
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
            assert link.out.live_dropped == 0

            # Download at the negotiated MTU; the link drops a third of the way through.
            chunks = []
            have = bytearray()
            dropped = []

            def on_data(ev):
                chunks.append(len(ev.data))
                if ev.offset == len(have):
                    have.extend(ev.data)
                if len(have) >= len(data) // 3 and not dropped:
                    dropped.append(air.drop_link(dev))
            belt.subscribe("data", on_data)
            try:
                await belt.download(1, window=8)
                raise AssertionError("the download survived a dropped link")
            except LinkLost:
                pass
            assert dropped == [1] and 0 < len(have) < len(data)
            assert set(chunks[:-1]) == {_CHUNK}
            assert bytes(have) == data[:len(have)]
            for _ in range(20):
                await asyncio.sleep(0)
            assert link.conn is None and not link.commands.download.active

            # Advertising resumed: a new scan hears the belt, a new transport resumes the file.
            # At speed 10 the boot's fast window (60 s of the belt's time) has closed by now, so
            # it advertises every adv_slow_ms (1 s): a look as long as the slowest allowed
            # interval (2.5 s) hears it, where a 1 s look could fall between two.
            assert [n for n, _, _ in await T.scan(timeout=2.5, backend=backend)] == [name]
            transport2 = await T.connect(name, backend=backend)
            belt2 = Belt(transport2)
            await belt2.hello()
            resumed_at = len(have)
            got = await belt2.download(1, offset=resumed_at, have=bytes(have), window=8)
            assert got == data
            assert belt2.last_download.start == resumed_at
            entry = await belt2.session(1)
            assert zlib.crc32(got) == entry.crc
            await belt2.confirm(1, entry.crc)
            assert (await belt2.session(1)).synced
            assert link.connections == 2
            await transport2.close()
            for _ in range(50):
                await asyncio.sleep(0)
            assert link.conn is None
        finally:
            for t in tasks:
                t.cancel()
            board.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            await air.close()
    run(body)


def test_notifications_refused_for_want_of_buffers_are_sent_again(tmp_path):
    # A download with a wide window fills NimBLE's buffers faster than the connection events
    # empty them (corecue.twin.radio.airtime): the stack refuses with ENOMEM, the belt sends the
    # same packet again after a pause, and nothing is lost.
    folder = str(tmp_path)
    data = R.write_sessions(folder, [20000])[1]

    async def body():
        air = EmulatedAir()
        await air.start()
        dev = await air.add_peripheral()
        board, app, link = boot(folder, air.bluetooth_module(dev))
        tasks = app.start(link.tasks())
        try:
            transport = await T.connect(backend=air.bleak_backends())
            belt = Belt(transport)
            await belt.hello()
            got = await belt.download(1, window=16)
            assert got == data
            refused = link.ble._airtime.refused
            assert refused > 0 and link.enomem == refused
            assert belt.last_download.rereads == 0      # nothing was lost, only delayed
            await transport.close()
        finally:
            for t in tasks:
                t.cancel()
            board.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            await air.close()
    run(body)
