"""The emulated BLE link end to end: a peripheral written only against MicroPython's `bluetooth`
API, reached through bleak's public API with the emulated backend, over Bumble's real stacks."""
import asyncio
import errno
import struct
import sys

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError, BleakGATTProtocolError

from corecue.twin.radio import airtime
from corecue.twin.radio import EmulatedAir

# MicroPython's event codes, as firmware defines them for itself.
_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_GATTS_READ_REQUEST = 4
_IRQ_GATTS_INDICATE_DONE = 20
_IRQ_MTU_EXCHANGED = 21
_IRQ_ENCRYPTION_UPDATE = 28

_ADV_TYPE_FLAGS = 0x01
_ADV_TYPE_UUID128_COMPLETE = 0x07
_ADV_TYPE_NAME = 0x09

SERVICE = "6c0ec0e0-0001-4b1e-9c0e-00000000c0de"
CONTROL = "6c0ec0e0-0002-4b1e-9c0e-00000000c0de"
DATA = "6c0ec0e0-0003-4b1e-9c0e-00000000c0de"
INFO = "6c0ec0e0-0004-4b1e-9c0e-00000000c0de"
EVENTS = "6c0ec0e0-0005-4b1e-9c0e-00000000c0de"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER = "00002a24-0000-1000-8000-00805f9b34fb"

INFO_VALUE = b"corecue fw 0.1.0 hw 2"
BURST = 30
WAIT = 5.0  # upper bound for any single awaited event; normally met within milliseconds


class BeltPeripheral:
    """A small belt-like peripheral that uses nothing but MicroPython's `bluetooth` module."""

    def __init__(self, bluetooth, name=b"corecue-TEST", events_char=False):
        bt = self.bt = bluetooth
        self.ble = bt.BLE()
        self.ble.active(True)
        self.ble.irq(self._irq)
        core = (
            bt.UUID(SERVICE),
            (
                (bt.UUID(CONTROL), bt.FLAG_WRITE | bt.FLAG_WRITE_NO_RESPONSE | bt.FLAG_NOTIFY),
                (bt.UUID(DATA), bt.FLAG_NOTIFY),
                (bt.UUID(INFO), bt.FLAG_READ),
            ) + (((bt.UUID(EVENTS), bt.FLAG_INDICATE),) if events_char else ()),
        )
        device_information = (
            bt.UUID(0x180A),
            ((bt.UUID(0x2A29), bt.FLAG_READ), (bt.UUID(0x2A24), bt.FLAG_READ)),
        )
        battery = (bt.UUID(0x180F), ((bt.UUID(0x2A19), bt.FLAG_READ | bt.FLAG_NOTIFY),))
        handles = self.ble.gatts_register_services((core, device_information, battery))
        (core_handles, (self.manufacturer, self.model), (self.battery,)) = handles
        self.control, self.data, self.info = core_handles[:3]
        self.events_handle = core_handles[3] if events_char else None
        self.ble.gatts_write(self.info, INFO_VALUE)
        self.ble.gatts_write(self.manufacturer, b"corecue")
        self.ble.gatts_write(self.model, b"CC-1")
        self.ble.gatts_write(self.battery, bytes([87]))
        self.ble.config(gap_name=name)
        self.adv = self._payload(_ADV_TYPE_FLAGS, b"\x06") + self._payload(
            _ADV_TYPE_UUID128_COMPLETE, bytes(bt.UUID(SERVICE)))
        self.resp = self._payload(_ADV_TYPE_NAME, name)
        self.conn = None
        self.readvertise = True
        self.log = []  # (event, details) with copies of everything, in arrival order
        self.writes = []  # values read with gatts_read inside _IRQ_GATTS_WRITE
        self.kept_addr = None
        self._changed = asyncio.Event()

    @staticmethod
    def _payload(ad_type, value):
        return struct.pack("BB", len(value) + 1, ad_type) + value

    def advertise(self):
        self.ble.gap_advertise(20_000, self.adv, resp_data=self.resp)

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            conn, addr_type, addr = data
            self.conn = conn
            self.kept_addr = addr  # kept past the call on purpose: MicroPython says it must not be
            self.log.append((event, (conn, addr_type, bytes(addr))))
        elif event == _IRQ_CENTRAL_DISCONNECT:
            conn, addr_type, addr = data
            self.conn = None
            self.log.append((event, (conn, addr_type, bytes(addr))))
            if self.readvertise:
                self.advertise()
        elif event == _IRQ_GATTS_WRITE:
            conn, handle = data
            value = self.ble.gatts_read(handle)
            self.writes.append(value)
            self.log.append((event, (conn, handle, value)))
            if handle == self.control and value.startswith(b"ack"):
                self.ble.gatts_notify(conn, self.control, b"ok:" + value)
        elif event == _IRQ_GATTS_READ_REQUEST:
            self.log.append((event, tuple(data)))
            return 0
        else:
            self.log.append((event, tuple(data)))
        self._changed.set()
        return None

    def count(self, event):
        return sum(1 for e, _ in self.log if e == event)

    def last(self, event):
        return [d for e, d in self.log if e == event][-1]

    async def wait_for(self, event, count=1):
        async with asyncio.timeout(WAIT):
            while self.count(event) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.last(event)

    def burst(self, n, start=0):
        """Notify seq start.. of n at once, as a sampling loop does after a pause, until NimBLE's
        buffers are full: the next seq (n when all went)."""
        mtu_payload = 40
        for seq in range(start, n):
            try:
                self.ble.gatts_notify(self.conn, self.data,
                                      struct.pack("<HH", seq, n) + bytes(mtu_payload))
            except OSError as e:
                assert e.errno == errno.ENOMEM
                return seq
        return n


def run(coro):
    async def bounded():
        async with asyncio.timeout(60):
            return await coro
    return asyncio.run(bounded())


async def start(events_char=False, mtu=None):
    air = EmulatedAir()
    await air.start()
    device = await air.add_peripheral()
    belt = BeltPeripheral(air.bluetooth_module(device), events_char=events_char)
    if mtu is not None:
        belt.ble.config(mtu=mtu)
    belt.advertise()
    scanner, client = air.bleak_backends()
    return air, belt, scanner, client


async def find(scanner, service=SERVICE, timeout=WAIT, **kwargs):
    return await BleakScanner.find_device_by_filter(
        lambda d, ad: service in ad.service_uuids, timeout=timeout, backend=scanner,
        service_uuids=[service], **kwargs)


async def wait_until(predicate):
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0)


# ------------------------------------------------------------------------------------------------


def test_scan_finds_the_belt_by_service_uuid_and_name():
    async def main():
        air, belt, scanner, _ = await start()
        other = BeltPeripheral(air.bluetooth_module(await air.add_peripheral()), name=b"not-a-belt")
        other.adv = other._payload(_ADV_TYPE_FLAGS, b"\x06")  # advertises no service
        other.advertise()

        seen = {}
        async with BleakScanner(lambda d, ad: seen.setdefault(d.address, ad),
                                service_uuids=[SERVICE], backend=scanner):
            async with asyncio.timeout(WAIT):
                while not any(ad.local_name for ad in seen.values()):
                    await asyncio.sleep(0.005)
        assert len(seen) == 1, "the UUID filter let another device through"
        (address, adv), = seen.items()
        assert adv.local_name == "corecue-TEST"
        assert adv.service_uuids == [SERVICE]

        by_name = await BleakScanner.find_device_by_name("corecue-TEST", timeout=WAIT, backend=scanner)
        assert by_name is not None and by_name.address == address and by_name.name == "corecue-TEST"
        assert await BleakScanner.find_device_by_name("not-a-belt", timeout=WAIT, backend=scanner)

        found = await BleakScanner.discover(timeout=0.3, return_adv=True, service_uuids=[SERVICE],
                                            backend=scanner)
        assert [ad.local_name for _, ad in found.values()] == ["corecue-TEST"]
        await air.close()

    run(main())


def test_passive_scan_gets_no_scan_response():
    async def main():
        air, _, scanner, _ = await start()
        seen = []
        async with BleakScanner(lambda d, ad: seen.append(ad), scanning_mode="passive", backend=scanner):
            async with asyncio.timeout(WAIT):
                while len(seen) < 3:
                    await asyncio.sleep(0.005)
        # The name travels in the scan response, which only an active scan asks for.
        assert all(ad.local_name is None for ad in seen)
        assert all(ad.service_uuids == [SERVICE] for ad in seen)
        await air.close()

    run(main())


def test_connect_exchanges_mtu_on_both_sides_and_reads():
    async def main():
        air, belt, scanner, client_backend = await start(mtu=185)
        device = await find(scanner)
        async with BleakClient(device, backend=client_backend) as client:
            conn, addr_type, addr = await belt.wait_for(_IRQ_CENTRAL_CONNECT)
            assert belt.ble.connections() == (conn,)
            assert (addr_type, addr) == (0, bytes.fromhex("CE0000000001"))
            assert await belt.wait_for(_IRQ_MTU_EXCHANGED) == (conn, 185)
            assert client.mtu_size == 185
            assert client.services.get_characteristic(CONTROL).max_write_without_response_size == 182
            # Advertising stopped when the central connected, as on NimBLE.
            with pytest.raises(OSError) as busy:
                belt.ble.gatts_register_services(())
            assert busy.value.errno == errno.EBUSY

            assert await client.read_gatt_char(INFO) == INFO_VALUE
            assert belt.last(_IRQ_GATTS_READ_REQUEST) == (conn, belt.info)
            assert await client.read_gatt_char(BATTERY_LEVEL) == bytes([87])
            assert await client.read_gatt_char(MANUFACTURER_NAME) == b"corecue"
            assert await client.read_gatt_char(MODEL_NUMBER) == b"CC-1"
            assert await client.read_gatt_char("2a00") == b"corecue-TEST"  # GAP device name
            assert client.services.get_service("180a") and client.services.get_service("180f")

            # What bleak sees of the service table is what the firmware registered.
            control = client.services.get_characteristic(CONTROL)
            assert sorted(control.properties) == ["notify", "write", "write-without-response"]
            assert [d.uuid[4:8] for d in control.descriptors] == ["2902"]
            assert client.services.get_characteristic(INFO).properties == ["read"]

            # NimBLE refuses these at ATT level: no event reaches the firmware.
            writes = belt.count(_IRQ_GATTS_WRITE)
            with pytest.raises(BleakGATTProtocolError) as denied:
                await client.write_gatt_char(INFO, b"x", response=True)
            assert denied.value.code == 0x03  # write not permitted
            with pytest.raises(BleakGATTProtocolError) as denied:
                await client.read_gatt_char(DATA)
            assert denied.value.code == 0x02  # read not permitted
            assert belt.count(_IRQ_GATTS_WRITE) == writes
            assert belt.ble.gatts_read(belt.info) == INFO_VALUE
        await air.close()

    run(main())


def test_default_mtu_is_the_esp32_preferred_mtu():
    async def main():
        air, belt, scanner, client_backend = await start()
        assert belt.ble.config("mtu") == 256
        async with BleakClient(await find(scanner), backend=client_backend) as client:
            conn, mtu = await belt.wait_for(_IRQ_MTU_EXCHANGED)
            assert mtu == client.mtu_size == 256
        await air.close()

    run(main())


def test_control_writes_reach_the_firmware_and_buffers_limit_them():
    async def main():
        air, belt, scanner, client_backend = await start()
        async with BleakClient(await find(scanner), backend=client_backend) as client:
            conn, _, _ = await belt.wait_for(_IRQ_CENTRAL_CONNECT)
            await client.write_gatt_char(CONTROL, b"start", response=True)
            assert belt.last(_IRQ_GATTS_WRITE) == (conn, belt.control, b"start")

            long = bytes(range(60))
            await client.write_gatt_char(CONTROL, long, response=True)
            assert belt.writes[-1] == long[:20], "the default 20-byte buffer must truncate"

            belt.ble.gatts_set_buffer(belt.control, 128)
            await client.write_gatt_char(CONTROL, long, response=True)
            assert belt.writes[-1] == long

            # Write without response: no reply, so wait for the firmware to see it.
            await client.write_gatt_char(CONTROL, b"quiet", response=False)
            await belt.wait_for(_IRQ_GATTS_WRITE, count=4)
            assert belt.writes[-1] == b"quiet"
            with pytest.raises(BleakError):
                await client.write_gatt_char(CONTROL, bytes(client.mtu_size - 2), response=False)

            # Longer than MTU-3 with response: Prepare/Execute Write, one event for the whole value.
            belt.ble.gatts_set_buffer(belt.control, 512)
            big = bytes(i & 0xFF for i in range(400))
            before = belt.count(_IRQ_GATTS_WRITE)
            await client.write_gatt_char(CONTROL, big, response=True)
            assert belt.count(_IRQ_GATTS_WRITE) == before + 1
            assert belt.writes[-1] == big

            # Append mode: writes accumulate, gatts_read empties the buffer.
            belt.ble.gatts_set_buffer(belt.control, 16, True)
            belt.writes.clear()
            belt.ble.irq(lambda event, data: None)  # leave the data in the buffer
            for chunk in (b"abc", b"def", b"0123456789xyz"):
                await client.write_gatt_char(CONTROL, chunk, response=True)
            assert belt.ble.gatts_read(belt.control) == b"abcdef0123456789"
            assert belt.ble.gatts_read(belt.control) == b""
        await air.close()

    run(main())


def test_notification_burst_arrives_complete_and_in_order():
    async def main():
        air, belt, scanner, client_backend = await start()
        async with BleakClient(await find(scanner), backend=client_backend) as client:
            await belt.wait_for(_IRQ_MTU_EXCHANGED)
            received = []
            done = asyncio.Event()

            def on_data(sender, data):
                assert isinstance(data, bytearray)
                received.append(struct.unpack_from("<HH", data))
                if len(received) == BURST:
                    done.set()

            await client.start_notify(DATA, on_data)
            # NimBLE's MSYS_1 pool holds 12 such notifications; the 13th is refused with ENOMEM
            # until connection events have sent some. What was accepted arrives, in order.
            sent = belt.burst(BURST)
            assert sent == airtime.MSYS_BLOCKS
            assert belt.ble._airtime.refused == 1
            while sent < BURST:
                await wait_until(lambda: len(received) > sent - airtime.MSYS_BLOCKS)
                sent = belt.burst(BURST, sent)
            async with asyncio.timeout(WAIT):
                await done.wait()
            assert received == [(seq, BURST) for seq in range(BURST)]

            # A notification is cut to ATT_MTU - 3, as NimBLE does.
            sizes = []
            await client.start_notify(BATTERY_LEVEL, lambda s, d: sizes.append(len(d)))
            belt.ble.gatts_notify(belt.conn, belt.battery, bytes(1000))
            await wait_until(lambda: sizes)
            assert sizes == [client.mtu_size - 3]

            # The firmware answers a control write with a notification sent from inside its IRQ.
            acks = []
            await client.start_notify(CONTROL, lambda s, d: acks.append(bytes(d)))
            await client.write_gatt_char(CONTROL, b"ack1", response=True)
            await wait_until(lambda: acks)
            assert acks == [b"ok:ack1"]

            await client.stop_notify(DATA)
            belt.burst(3)
            await client.read_gatt_char(INFO)  # a round trip: the burst has been delivered by now
            assert len(received) == BURST, "notifications arrived after stop_notify"
        assert not belt.ble.irq_errors and not belt.ble.background_errors
        await air.close()

    run(main())


def test_injected_disconnect_then_readvertise_and_reconnect():
    async def main():
        air, belt, scanner, client_backend = await start()
        lost = asyncio.Event()
        client = BleakClient(await find(scanner), disconnected_callback=lambda c: lost.set(),
                             backend=client_backend)
        await client.connect()
        first_conn, _, _ = await belt.wait_for(_IRQ_CENTRAL_CONNECT)
        await client.start_notify(DATA, lambda s, d: None)

        assert air.drop_link(air.peripherals[0]) == 1
        async with asyncio.timeout(WAIT):
            await lost.wait()
        assert not client.is_connected
        conn, addr_type, addr = await belt.wait_for(_IRQ_CENTRAL_DISCONNECT)
        assert conn == first_conn and addr == bytes.fromhex("CE0000000001")
        with pytest.raises(OSError) as gone:
            belt.ble.gatts_notify(first_conn, belt.data, b"late")
        assert gone.value.errno == errno.ENOTCONN
        with pytest.raises(BleakError):
            await client.read_gatt_char(INFO)

        # The firmware re-advertised from its disconnect IRQ; the companion finds it again.
        received = []
        again = await find(scanner)
        async with BleakClient(again, backend=client_backend) as client2:
            conn2, _, _ = await belt.wait_for(_IRQ_CENTRAL_CONNECT, count=2)
            assert belt.conn == conn2
            await client2.start_notify(DATA, lambda s, d: received.append(bytes(d[:2])))
            belt.burst(5)
            await wait_until(lambda: len(received) == 5)
            assert received == [struct.pack("<H", i) for i in range(5)]
        assert belt.count(_IRQ_CENTRAL_DISCONNECT) == 2
        await air.close()

    run(main())


def test_out_of_range_belt_is_neither_connected_nor_seen():
    async def main():
        air, belt, scanner, client_backend = await start()
        lost = asyncio.Event()
        async with BleakClient(await find(scanner), disconnected_callback=lambda c: lost.set(),
                               backend=client_backend):
            await belt.wait_for(_IRQ_CENTRAL_CONNECT)
            air.set_in_range(air.peripherals[0], False)
            async with asyncio.timeout(WAIT):
                await lost.wait()
            await belt.wait_for(_IRQ_CENTRAL_DISCONNECT)
        # It advertises every 20 ms, so 0.3 s out of range means ~15 adverts that must be unheard.
        assert await find(scanner, timeout=0.3) is None
        air.set_in_range(air.peripherals[0], True)
        assert await find(scanner) is not None
        await air.close()

    run(main())


def test_peripheral_side_disconnect_and_deactivation():
    async def main():
        air, belt, scanner, client_backend = await start()
        lost = asyncio.Event()
        client = BleakClient(await find(scanner), disconnected_callback=lambda c: lost.set(),
                             backend=client_backend)
        await client.connect()
        conn, _, _ = await belt.wait_for(_IRQ_CENTRAL_CONNECT)
        belt.readvertise = False
        assert belt.ble.gap_disconnect(conn) is True
        async with asyncio.timeout(WAIT):
            await lost.wait()
        await belt.wait_for(_IRQ_CENTRAL_DISCONNECT)
        assert belt.ble.gap_disconnect(conn) is False
        # Advertising ended when the central connected (NimBLE), so services can be replaced now.
        ((control, _),) = belt.ble.gatts_register_services(
            ((belt.bt.UUID(SERVICE), ((belt.bt.UUID(CONTROL), belt.bt.FLAG_WRITE),
                                      (belt.bt.UUID(INFO), belt.bt.FLAG_READ))),))
        belt.control = control
        belt.advertise()

        # active(False) drops the link silently on the firmware side.
        lost.clear()
        await client.connect()
        await belt.wait_for(_IRQ_CENTRAL_CONNECT, count=2)
        belt.ble.active(False)
        async with asyncio.timeout(WAIT):
            await lost.wait()
        assert belt.count(_IRQ_CENTRAL_DISCONNECT) == 1
        assert belt.ble.gatts_read(belt.info) == b""      # the stack's ENODEV is ignored there
        with pytest.raises(OSError) as off:
            belt.ble.gatts_notify(1, belt.info, b"x")
        assert off.value.errno == errno.ENODEV
        await air.close()

    run(main())


def test_indication_is_confirmed_with_indicate_done():
    async def main():
        air, belt, scanner, client_backend = await start(events_char=True)
        async with BleakClient(await find(scanner), backend=client_backend) as client:
            conn, _, _ = await belt.wait_for(_IRQ_CENTRAL_CONNECT)
            got = []
            await client.start_notify(EVENTS, lambda s, d: got.append(bytes(d)))
            belt.ble.gatts_write(belt.events_handle, b"brace!")
            belt.ble.gatts_indicate(conn, belt.events_handle)
            assert await belt.wait_for(_IRQ_GATTS_INDICATE_DONE) == (conn, belt.events_handle, 0)
            assert got == [b"brace!"]
            # gatts_write(..., send_update=True) indicates to the subscribed client.
            belt.ble.gatts_write(belt.events_handle, b"again", True)
            await belt.wait_for(_IRQ_GATTS_INDICATE_DONE, count=2)
            assert got == [b"brace!", b"again"]
        await air.close()

    run(main())


def test_irq_memoryviews_are_valid_only_during_the_call():
    async def main():
        air, belt, scanner, client_backend = await start()
        async with BleakClient(await find(scanner), backend=client_backend):
            await belt.wait_for(_IRQ_CENTRAL_CONNECT)
            assert belt.last(_IRQ_CENTRAL_CONNECT)[2] == bytes.fromhex("CE0000000001")
            with pytest.raises(ValueError):
                bytes(belt.kept_addr)
        await air.close()

    run(main())


def test_irq_handler_exceptions_are_reported_and_switch_the_handler_off(capsys):
    async def main():
        air, belt, scanner, client_backend = await start()

        def broken(event, data):
            raise RuntimeError("boom")

        belt.ble.irq(broken)
        async with BleakClient(await find(scanner), backend=client_backend) as client:
            await client.write_gatt_char(CONTROL, b"x", response=True)
            await client.write_gatt_char(CONTROL, b"y", response=True)
            assert await client.read_gatt_char(INFO) == INFO_VALUE
        # As modbluetooth.c since 1.20: printed once, then no handler: no event ever again.
        assert len(belt.ble.irq_errors) == 1 and isinstance(belt.ble.irq_errors[0], RuntimeError)
        assert belt.ble._handler is None
        await air.close()

    run(main())
    assert "Unhandled exception in IRQ callback handler" in capsys.readouterr().err


def test_micropython_api_semantics():
    async def main():
        air = EmulatedAir()
        await air.start()
        bt = air.bluetooth_module(await air.add_peripheral())
        ble = bt.BLE()
        assert bt.BLE() is ble
        assert ble.active() is False
        for call in (lambda: ble.gap_advertise(100_000),
                     lambda: ble.config("mac"), lambda: ble.gatts_register_services(())):
            with pytest.raises(OSError) as off:
                call()
            assert off.value.errno == errno.ENODEV
        assert ble.gatts_read(1) == b""     # modbluetooth.c ignores the error of a stack that is off
        assert ble.active(True) is True
        assert ble.config("mac") == (0, bytes.fromhex("CC0000000001"))
        assert ble.config("gap_name") == b"MPY ESP32"   # ports/esp32/boards/sdkconfig.ble
        ble.config(gap_name="corecue-TEST")
        assert ble.config("gap_name") == b"corecue-TEST"
        with pytest.raises(OSError):
            ble.config(gap_name=b"x" * 32)
        with pytest.raises(ValueError):
            ble.config("rxbuf")
        with pytest.raises(TypeError):
            ble.config()
        for bad in (22, 528):
            with pytest.raises(OSError) as inval:
                ble.config(mtu=bad)
            assert inval.value.errno == errno.EINVAL
        with pytest.raises(ValueError):
            ble.irq(42)

        ((a, d, b),) = ble.gatts_register_services((
            (bt.UUID(0x1234), (
                (bt.UUID(0x1235), bt.FLAG_READ | bt.FLAG_NOTIFY, ((bt.UUID(0x2901), bt.FLAG_READ),)),
                (bt.UUID(0x1236), bt.FLAG_WRITE),
            )),
        ))
        # In definition order: the characteristic, its descriptor, the next characteristic;
        # the CCCD NimBLE adds sits between the value and the user descriptor.
        assert a + 1 < d < b
        assert ble.gatts_read(a) == b""
        assert ble.gatts_write(a, bytes(100)) == 100    # a local write grows the buffer
        assert ble.gatts_read(a) == bytes(100)
        assert ble.gatts_read(999) == b""               # an unknown handle reads as nothing
        # The C functions take positional arguments only.
        for call in (lambda: ble.gatts_read(value_handle=a), lambda: ble.irq(handler=None),
                     lambda: ble.gatts_write(a, b"x", send_update=False),
                     lambda: ble.gatts_notify(7, a, data=b"x"),
                     lambda: ble.gap_disconnect(conn_handle=7)):
            with pytest.raises(TypeError):
                call()
        with pytest.raises(OSError) as notconn:
            ble.gatts_notify(7, a, b"x")
        assert notconn.value.errno == errno.ENOTCONN
        assert ble.gap_disconnect(7) is False
        with pytest.raises(OSError):
            ble.gap_advertise(100_000, bytes(32))
        with pytest.raises(ValueError):
            ble.gatts_register_services(((0x1234, ()),))

        ble.gap_advertise(100_000, b"\x02\x01\x06")
        with pytest.raises(OSError) as busy:
            ble.gatts_register_services(())
        assert busy.value.errno == errno.EBUSY
        ble.gap_advertise(None)
        assert ble.gatts_register_services(()) == ()
        ble.active(True)  # restarts the stack: registered services are gone
        assert ble.gatts_read(a) == b""
        with pytest.raises(OSError):
            ble.gatts_write(a, b"x")
        await ble.settle()
        assert not ble.background_errors

        # UUIDs behave as MicroPython's.
        u = bt.UUID("6E400001-B5A3-F393-E0A9-E50E24DCCA9E")
        assert repr(u) == "UUID('6e400001-b5a3-f393-e0a9-e50e24dcca9e')"
        assert bytes(u) == bytes.fromhex("9ECADC240EE5A9E093F3A3B50100406E")
        assert repr(bt.UUID(0x180F)) == "UUID(0x180f)" and bytes(bt.UUID(0x180F)) == b"\x0f\x18"
        assert bt.UUID(0x180F) == bt.UUID(b"\x0f\x18") and bt.UUID(0x180F) != bt.UUID(0x180A)
        assert len({bt.UUID(0x180F), bt.UUID(b"\x0f\x18")}) == 1
        for bad in (0x10000, "1234-zz", "6E400001"):
            with pytest.raises(ValueError):
                bt.UUID(bad)
        assert (bt.FLAG_READ, bt.FLAG_WRITE_NO_RESPONSE, bt.FLAG_WRITE, bt.FLAG_NOTIFY,
                bt.FLAG_INDICATE) == (0x02, 0x04, 0x08, 0x10, 0x20)
        await air.close()

    run(main())


def test_two_belts_have_their_own_ble_singletons():
    async def main():
        air = EmulatedAir()
        await air.start()
        one = air.bluetooth_module(await air.add_peripheral())
        two = air.bluetooth_module(await air.add_peripheral())
        assert one.BLE() is not two.BLE()
        one.BLE().active(True)
        two.BLE().active(True)
        assert one.BLE().config("mac")[1] != two.BLE().config("mac")[1]
        await air.close()

    run(main())


def test_pairing_from_bleak_reaches_the_firmware_as_encryption_update():
    async def main():
        air, belt, scanner, client_backend = await start()
        async with BleakClient(await find(scanner), pair=True, backend=client_backend) as client:
            conn, _, _ = await belt.wait_for(_IRQ_CENTRAL_CONNECT)
            # conn_handle, encrypted, authenticated (MITM: not with Just Works), bonded, key_size
            assert await belt.wait_for(_IRQ_ENCRYPTION_UPDATE) == (conn, True, False, False, 16)
            assert await client.read_gatt_char(INFO) == INFO_VALUE
        await air.close()

    run(main())


def test_firmware_imports_bluetooth_as_on_the_device():
    from corecue.twin.radio import micropython_ble

    async def main():
        air = EmulatedAir()
        await air.start()
        one = await air.add_peripheral()
        two = await air.add_peripheral(name="second")
        installed = micropython_ble.install(one)
        import bluetooth  # what the firmware's board code does

        assert bluetooth is installed
        belt = BeltPeripheral(bluetooth)
        belt.advertise()
        # The module itself can stand in for `bluetooth` too, bound with attach().
        micropython_ble.attach(two)
        try:
            other = BeltPeripheral(micropython_ble, name=b"corecue-TWO")
            other.advertise()
            assert other.ble is micropython_ble.BLE() and other.ble is not belt.ble
            assert other.ble.config("mac")[1] == bytes.fromhex("CC0000000002")
        finally:
            micropython_ble.attach(None)
        scanner, client_backend = air.bleak_backends()
        # bleak also accepts an address string; the backend then scans for it first.
        async with BleakClient("CC:00:00:00:00:01", backend=client_backend) as client:
            assert await client.read_gatt_char(INFO) == INFO_VALUE
        two_found = await BleakScanner.find_device_by_name("corecue-TWO", timeout=WAIT, backend=scanner)
        async with BleakClient(two_found, backend=client_backend) as client:
            assert await client.read_gatt_char("2a00") == b"corecue-TWO"
        await air.close()

    previous = sys.modules.pop("bluetooth", None)
    try:
        run(main())
    finally:
        sys.modules.pop("bluetooth", None)
        if previous is not None:
            sys.modules["bluetooth"] = previous


def test_non_connectable_advertising_is_seen_but_cannot_be_connected():
    async def main():
        air, belt, scanner, client_backend = await start()
        # resp_data=None keeps the previous scan response, so this is ADV_SCAN_IND with a name.
        belt.ble.gap_advertise(20_000, belt.adv, connectable=False)
        await belt.ble.settle()
        seen = []
        async with BleakScanner(lambda d, ad: seen.append((d, ad)), backend=scanner):
            await wait_until(lambda: any(ad.local_name for _, ad in seen))
        device, adv = seen[-1]
        assert adv.local_name == "corecue-TEST"
        assert adv.platform_data[0].is_connectable is False
        assert adv.platform_data[0].is_scannable is True
        links = []
        air.central.on("connection", links.append)
        with pytest.raises(TimeoutError):
            await BleakClient(device, timeout=0.3, backend=client_backend).connect()
        assert links == [] and belt.count(_IRQ_CENTRAL_CONNECT) == 0
        # The central is free again: a connectable belt is reached right after.
        belt.advertise()
        async with BleakClient(await find(scanner), backend=client_backend) as client:
            assert client.is_connected
        await air.close()

    run(main())
