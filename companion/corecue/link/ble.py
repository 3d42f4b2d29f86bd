"""The belt over Bluetooth LE, through bleak: protocol packets as GATT writes and notifications.

    transport = await connect()                 # the first belt heard, or connect("corecue-3F2A")
    belt = Belt(transport)

Belts are found by the advertised corecue service UUID, never by address (addresses change with
the platform and, on some, with every scan); `name_or_id` narrows the choice to one belt by its
advertised name `corecue-XXXX` or just the XXXX. The GATT layout (docs/protocol.md, "Bluetooth
LE") is the firmware's own, read from belt.blelink.

Requests are written to the control characteristic with response (a long write when a packet is
longer than ATT_MTU - 3), so a send returns once the belt's stack has the packet. Replies arrive
as notifications on the control characteristic; one longer than a notification is split by the
belt and joined here by the packet header's length. Data chunks and live effort events come on
their own characteristics, one packet per notification. A disconnection, however it happens, is
reported once to the receiver (`connection_lost`); a transport is then finished, and reconnecting
means a new `connect()`: the client resumes a broken download on the new transport from the last
contiguous offset.
"""
import asyncio
import logging
import struct

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError

from corecue.interp import firmware_module
from corecue.link.client import BeltError

P = firmware_module("belt.protocol")
_gatt = firmware_module("belt.blelink")

SERVICE_UUID = _gatt.SERVICE_UUID
CONTROL_UUID = _gatt.CONTROL_UUID
DATA_UUID = _gatt.DATA_UUID
LIVE_UUID = _gatt.LIVE_UUID
NAME_PREFIX = "corecue-"
# The advertisement's manufacturer data: company id, format, then the count of syncs the runner
# asked for since the belt booted (belt.radiowindow, docs/protocol.md).
_ASKED_COMPANY = int.from_bytes(_gatt.SYNC_ASKED[:2], "little")
_ASKED_FORMAT = _gatt.SYNC_ASKED[2:]
logger = logging.getLogger(__name__)

SCAN_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF = 0.5               # seconds before the second attempt, doubling after each failure
BOND_TIMEOUT = 30.0         # seconds the system may take to pair (it may ask its user first)


NO_RADIO = ("this computer has no Bluetooth to use (no adapter, or its Bluetooth service is not "
            "running): name a USB belt with --port, or try the virtual belt with --virtual DIR")


class BleError(BeltError):
    """No belt found or no connection made; one line saying why."""


def _backends(backend):
    """backend: None (the platform's bleak backend) or (scanner backend, client backend), as
    corecue.twin.radio.EmulatedAir.bleak_backends() gives."""
    if backend is None:
        return {}, {}
    scanner, client = backend
    return {"backend": scanner}, {"backend": client}


def is_belt(adv):
    return SERVICE_UUID in [u.lower() for u in adv.service_uuids]


def sync_asked(adv):
    """How many syncs the belt's runner has asked for since it booted (a double press), from a
    belt's advertisement; None for a belt that does not say (older firmware)."""
    data = (adv.manufacturer_data or {}).get(_ASKED_COMPANY)
    if data is None or len(data) != len(_ASKED_FORMAT) + 1 or not data.startswith(_ASKED_FORMAT):
        return None
    return data[-1]


def matches(name_or_id, device, adv):
    if name_or_id is None:
        return True
    name = (adv.local_name or device.name or "").upper()
    want = name_or_id.upper()
    return name == want or name == NAME_PREFIX.upper() + want


async def scan(timeout=SCAN_TIMEOUT, backend=None):
    """[(name, BLEDevice, AdvertisementData)] of the belts heard within timeout seconds."""
    kw, _ = _backends(backend)
    found = await BleakScanner.discover(timeout=timeout, return_adv=True,
                                        service_uuids=[SERVICE_UUID], **kw)
    return [(adv.local_name or dev.name, dev, adv) for dev, adv in found.values() if is_belt(adv)]


class BleTransport:
    """A connected belt: bind(receiver), await send(packet), await close()."""

    def __init__(self, client, name=None):
        self.client = client
        self.name = name
        self.receiver = None
        self.mtu = client.mtu_size
        self.closed = False
        self._lost = False
        self._joining = bytearray()     # a reply split over several notifications
        self._want = 0

    def bind(self, receiver):
        self.receiver = receiver

    async def start(self):
        """Subscribe to the belt's three notifying characteristics."""
        await self.client.start_notify(CONTROL_UUID, self._on_control)
        await self.client.start_notify(DATA_UUID, self._on_packet)
        await self.client.start_notify(LIVE_UUID, self._on_packet)
        self.mtu = self.client.mtu_size

    def _on_packet(self, _char, value):
        if self.receiver is not None and not self._lost:
            self.receiver.packet_received(bytes(value))

    def _on_control(self, char, value):
        buf = self._joining
        if not buf:
            if len(value) < P.HEADER_LEN:
                self._on_packet(char, value)        # the client counts it as malformed
                return
            flags, n = value[1], struct.unpack_from("<H", value, 4)[0]
            self._want = P.HEADER_LEN + n + (P.AUTH_LEN if flags & P.F_AUTH else 0)
        buf.extend(value)
        if len(buf) >= self._want:
            pkt = bytes(buf)
            buf.clear()
            self._on_packet(char, pkt)

    def _on_disconnect(self, _client):
        if self._lost:
            return
        self._lost = True
        self._joining.clear()
        if self.receiver is not None and not self.closed:
            self.receiver.connection_lost(OSError("Bluetooth LE link to the belt lost"))

    async def send(self, pkt):
        if self._lost or self.closed:
            raise OSError("not connected to the belt")
        try:
            await self.client.write_gatt_char(CONTROL_UUID, bytes(pkt), response=True)
        except (BleakError, asyncio.TimeoutError) as e:
            raise OSError(f"write to the belt failed: {e}") from None

    async def close(self):
        self.closed = True
        try:
            await self.client.disconnect()
        except BleakError:
            pass


async def bond(transport, timeout=None):
    """Ask the system to pair with the belt over Bluetooth (LE Secure Connections with bonding,
    Just Works: the belt asks for it; docs/protocol.md, "Defence in depth"). Extra to the belt's
    own ownership, never needed: "not supported" (CoreBluetooth has no pair()) or a failure is
    a logged note, and so is a system that has not finished within `timeout` seconds (a pairing
    dialogue nobody answers). Returns None when bonded, else why not, in words."""
    try:
        async with asyncio.timeout(BOND_TIMEOUT if timeout is None else timeout):
            await transport.client.pair()
    except NotImplementedError:
        why = "this system's Bluetooth pairs only on its own (CoreBluetooth has no pair())"
    except (BleakError, OSError, asyncio.TimeoutError, AssertionError) as e:
        why = "the system's Bluetooth did not pair (%s)" % (type(e).__name__,)
    else:
        logger.info("Bluetooth: paired and bonded with %s", transport.name)
        return None
    logger.info("Bluetooth bond with %s not made: %s; the belt's own pairing protects the link",
                transport.name, why)
    return why


async def _attempt(name_or_id, backend, scan_timeout, connect_timeout):
    scan_kw, client_kw = _backends(backend)
    device = await BleakScanner.find_device_by_filter(
        lambda d, adv: is_belt(adv) and matches(name_or_id, d, adv),
        timeout=scan_timeout, **scan_kw)
    if device is None:
        which = f"belt {name_or_id}" if name_or_id else "corecue belt"
        raise BleError(f"no {which} advertising within {scan_timeout:g} s (is it on, and not "
                       "connected to another companion?)")
    holder = []
    client = BleakClient(device, disconnected_callback=lambda c: holder[0]._on_disconnect(c)
                         if holder else None, timeout=connect_timeout, **client_kw)
    transport = BleTransport(client, device.name)
    holder.append(transport)
    await client.connect()
    try:
        await transport.start()
    except BaseException:
        await transport.close()
        raise
    return transport


async def connect(name_or_id=None, backend=None, attempts=ATTEMPTS, backoff=BACKOFF,
                  scan_timeout=SCAN_TIMEOUT, connect_timeout=CONNECT_TIMEOUT):
    """A BleTransport to the belt named name_or_id (corecue-XXXX or XXXX; None: the first belt
    heard), found by its service UUID. Tries `attempts` times, waiting backoff, 2 x backoff, ...
    seconds between them. BleError when every attempt failed."""
    wait = backoff
    last = None
    for i in range(attempts):
        if i:
            await asyncio.sleep(wait)
            wait *= 2
        try:
            return await _attempt(name_or_id, backend, scan_timeout, connect_timeout)
        except (BleakBluetoothNotAvailableError, FileNotFoundError) as e:
            # No adapter, or no Bluetooth service to ask (BlueZ's D-Bus socket is missing):
            # trying again will not help.
            raise BleError(NO_RADIO) from e
        except (BleakError, BleError, OSError, asyncio.TimeoutError) as e:
            last = e
    # The last failure in words: ours as they are, bleak's and the system's without their text
    # (which names no next step).
    if isinstance(last, BleError):
        why = str(last)
    else:
        why = ("it did not answer in time" if isinstance(last, asyncio.TimeoutError) else
               "the link failed") + " (is it on, near, and not connected to another computer?)"
    raise BleError(f"cannot connect to the belt after {attempts} attempts: {why}")
