"""MicroPython's `bluetooth` module (peripheral role, ESP32/NimBLE flavour) on a Bumble device.

The belt firmware does `import bluetooth`; under CPython the board gives it a module made here
(`module_for(device)`, or `install(device)` to put one in `sys.modules["bluetooth"]`, or this
module itself after `attach(device)`). `BLE()` then drives a Bumble peripheral `Device` that sits
on an `EmulatedAir` (see `link.py`): real advertising, real connections, a real ATT/GATT server.

What is reproduced (checked against MicroPython's docs and its extmod/modbluetooth.c and
extmod/nimble/modbluetooth_nimble.c, ESP32 port with synchronous events):

* `BLE()` is a singleton; `active()`, `config()`, `irq()`, `gap_advertise()`, `gap_disconnect()`,
  `gatts_register_services()`, `gatts_read()`, `gatts_write()`, `gatts_notify()`,
  `gatts_indicate()`, `gatts_set_buffer()`, `gattc_exchange_mtu()`; module-level `UUID`,
  `FLAG_READ`, `FLAG_WRITE_NO_RESPONSE`, `FLAG_WRITE`, `FLAG_NOTIFY`, `FLAG_INDICATE`.
* Events: `_IRQ_CENTRAL_CONNECT` (1), `_IRQ_CENTRAL_DISCONNECT` (2), `_IRQ_GATTS_WRITE` (3),
  `_IRQ_GATTS_READ_REQUEST` (4, the return value is honoured: a non-zero int denies the read
  with that ATT error), `_IRQ_GATTS_INDICATE_DONE` (20), `_IRQ_MTU_EXCHANGED` (21),
  `_IRQ_CONNECTION_UPDATE` (27), `_IRQ_ENCRYPTION_UPDATE` (28), with MicroPython's tuples.
  Addresses are read-only memoryviews valid only during the call (big-endian, as MicroPython
  gives them). Handlers run on the event loop, never inside a `BLE` method call; a handler that
  raises prints "Unhandled exception in IRQ callback handler" and the traceback, as MicroPython
  does, and the stack carries on.
* The GATT value store: 20-byte default buffers, remote writes truncated to the buffer (no error,
  as NimBLE), `gatts_write` growing the buffer, `gatts_set_buffer(len, append)` with append mode
  and read-clears, `gatts_read` of an unknown handle raising OSError(EINVAL).
* NimBLE behaviour visible to firmware: advertising stops when a central connects; a CCCD is added
  right after the value of every notify/indicate characteristic; notifications and indications
  are sent whether or not the client subscribed and are cut to ATT_MTU-3; reads and writes of an
  attribute without READ / WRITE(_NO_RESPONSE) flag fail at ATT level without an event;
  `gatts_register_services` while advertising or connected raises OSError(EBUSY) (NimBLE's
  ble_gatts_reset); `active(True)` on an active stack restarts it (services, connections,
  gap_name and mtu are reset); `config('mtu')` defaults to 256 (ESP-IDF NimBLE) and accepts
  23..527; gap_name defaults to b"ESP32" and is at most 31 bytes; the address is the controller's
  public address, `config('mac')` -> (0, addr).
* Errors are OSError with CPython's errno values (errno.ENODEV when not active, ENOTCONN, EINVAL,
  EBUSY, ENOENT, EOPNOTSUPP, E2BIG), so firmware comparing with `errno.X` works under CPython.

Deviations (also in docs/ble-emulation.md):

* `UUID` supports `bytes(uuid)` but not `memoryview(uuid)` (CPython 3.11 has no Python-level
  buffer protocol).
* Memoryviews handed to the handler are stricter than MicroPython's: after the handler returns
  they are released (using them raises ValueError) and their buffer is overwritten, where
  MicroPython would silently show stale data.
* Attribute handle numbers are Bumble's (GAP service, then GATT service, then yours); the order
  and shape of `gatts_register_services`'s result are MicroPython's, the numbers differ from an
  ESP32's. Firmware must only use the returned handles.
* Calls that take effect over the air (gap_advertise, gap_disconnect, gatts_indicate, the
  deactivation of an active stack) return at once and complete shortly after on the event loop,
  as on a real stack; errors the controller would report later are logged, not raised.
* Notifications are queued without limit (a real ESP32 raises OSError(ENOMEM) when its mbuf pool
  is exhausted). Pairing is what the Bumble central asks for (Just Works); `gap_pair`,
  `gap_passkey`, `_IRQ_GET_SECRET`/`_IRQ_SET_SECRET` are not emulated; the `bonded` field of
  `_IRQ_ENCRYPTION_UPDATE` reflects `config(bond=...)`.
* Central/observer role (`gap_scan`, `gap_connect`, `gattc_discover_*`, `gattc_read`,
  `gattc_write`) raises OSError(EOPNOTSUPP); `addr_mode` 2 and 3 (RPA/NRPA) too. L2CAP channel
  methods do not exist, as on the ESP32 port.
"""
from __future__ import annotations

import asyncio
import errno as _errno
import logging
import sys
import traceback
import types

from bumble import att, core, hci
from bumble.device import AdvertisingType as _AdvertisingType
from bumble.device import Device
from bumble.gatt import (
    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
    Characteristic,
    CharacteristicValue,
    Descriptor,
    Service,
)
from bumble.profiles.gap import GenericAccessService
from bumble.smp import PairingMethod as _PairingMethod

logger = logging.getLogger(__name__)

# Module-level flags (the ones MicroPython's module itself exports).
FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020

# Flags MicroPython documents for user code to define itself.
_FLAG_BROADCAST = 0x0001
_FLAG_AUTHENTICATED_SIGNED_WRITE = 0x0040
_FLAG_READ_ENCRYPTED = 0x0200
_FLAG_READ_AUTHENTICATED = 0x0400
_FLAG_READ_AUTHORIZED = 0x0800
_FLAG_WRITE_ENCRYPTED = 0x1000
_FLAG_WRITE_AUTHENTICATED = 0x2000
_FLAG_WRITE_AUTHORIZED = 0x4000

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_GATTS_READ_REQUEST = 4
_IRQ_GATTS_INDICATE_DONE = 20
_IRQ_MTU_EXCHANGED = 21
_IRQ_CONNECTION_UPDATE = 27
_IRQ_ENCRYPTION_UPDATE = 28

# NimBLE host status codes reported in _IRQ_GATTS_INDICATE_DONE.
_BLE_HS_ENOTCONN = 7
_BLE_HS_ETIMEOUT = 13

DEFAULT_GAP_NAME = b"ESP32"  # MICROPY_PY_BLUETOOTH_DEFAULT_GAP_NAME on the ESP32 port
DEFAULT_PREFERRED_MTU = 256  # CONFIG_BT_NIMBLE_ATT_PREFERRED_MTU default in ESP-IDF
_MTU_MIN = 23
_MTU_MAX = 527  # BLE_ATT_MTU_MAX in NimBLE
_GAP_NAME_MAX = 31  # CONFIG_BT_NIMBLE_GAP_DEVICE_NAME_MAX_LEN default in ESP-IDF
_DEFAULT_ATTR_LEN = 20  # MP_BLUETOOTH_DEFAULT_ATTR_LEN
_MAX_SERVICES = 8  # MP_BLUETOOTH_NIMBLE_MAX_SERVICES
_ADV_MAX = 31  # BLE_HS_ADV_MAX_SZ (legacy advertising)
_ADV_ITVL_MIN = 0x20
_ADV_ITVL_MAX = 0x4000
_ADV_ITVL_DEFAULT_CONNECTABLE = 48  # NimBLE BLE_GAP_ADV_FAST_INTERVAL1_MIN (30 ms)
_ADV_ITVL_DEFAULT_OTHER = 160  # NimBLE BLE_GAP_ADV_FAST_INTERVAL2_MIN (100 ms)
_HCI_REMOTE_USER_TERMINATED = hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR

_SCRIBBLE = 0xA5


def _oserror(code: int) -> OSError:
    return OSError(code, _errno.errorcode.get(code, str(code)))


def _buffer_bytes(obj) -> bytes:
    """bytes of any object MicroPython would accept through the buffer protocol."""
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if isinstance(obj, UUID):
        return bytes(obj)
    return bytes(memoryview(obj))


# ----------------------------------------------------------------------------------------------
# UUID
# ----------------------------------------------------------------------------------------------
class UUID:
    """bluetooth.UUID: 16-, 32- or 128-bit, stored little-endian like MicroPython's."""

    __slots__ = ("_data",)

    def __init__(self, value):
        if isinstance(value, bool) or isinstance(value, int):
            value = int(value)
            if value < 0 or value > 0xFFFF:
                raise ValueError("invalid UUID")
            self._data = bytes((value & 0xFF, (value >> 8) & 0xFF))
            return
        raw = _buffer_bytes(value)  # raises TypeError for non-buffers, as MicroPython
        if len(raw) in (2, 4, 16):
            self._data = raw
            return
        digits = []
        for ch in raw.decode("latin-1"):
            if ch == "-":
                continue
            if ch not in "0123456789abcdefABCDEF":
                raise ValueError("invalid char in UUID")
            digits.append(ch)
        if len(digits) > 32:
            raise ValueError("UUID too long")
        if len(digits) < 32:
            raise ValueError("UUID too short")
        self._data = bytes(reversed(bytes.fromhex("".join(digits))))

    def __bytes__(self) -> bytes:
        return self._data

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other):
        if not isinstance(other, UUID):
            return NotImplemented
        return self._data == other._data

    def __lt__(self, other):
        if not isinstance(other, UUID):
            return NotImplemented
        if len(self._data) != len(other._data):
            return len(self._data) < len(other._data)
        return self._data < other._data

    def __hash__(self) -> int:
        return hash((len(self._data), self._data))

    def __repr__(self) -> str:
        be = bytes(reversed(self._data)).hex()
        if len(self._data) <= 4:
            return "UUID(0x%s)" % be
        return "UUID('%s-%s-%s-%s-%s')" % (be[0:8], be[8:12], be[12:16], be[16:20], be[20:32])

    __str__ = __repr__

    def _to_bumble(self) -> core.UUID:
        if len(self._data) == 2:
            return core.UUID.from_16_bits(self._data[0] | (self._data[1] << 8))
        if len(self._data) == 4:
            return core.UUID.from_32_bits(int.from_bytes(self._data, "little"))
        return core.UUID.from_bytes(self._data)


# ----------------------------------------------------------------------------------------------
# The value store
# ----------------------------------------------------------------------------------------------
class _Entry:
    __slots__ = ("data", "length", "append", "flags")

    def __init__(self, flags: int, alloc: int = _DEFAULT_ATTR_LEN):
        self.data = bytearray(alloc)
        self.length = 0
        self.append = False
        self.flags = flags


def _permissions(flags: int, descriptor: bool) -> int:
    perms = 0
    if flags & FLAG_READ:
        perms |= Characteristic.READABLE
    if flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE):
        perms |= Characteristic.WRITEABLE
    if descriptor:
        return perms  # NimBLE applies no security options to descriptors
    if flags & _FLAG_READ_ENCRYPTED:
        perms |= Characteristic.READ_REQUIRES_ENCRYPTION
    if flags & _FLAG_READ_AUTHENTICATED:
        perms |= Characteristic.READ_REQUIRES_AUTHENTICATION
    if flags & _FLAG_READ_AUTHORIZED:
        perms |= Characteristic.READ_REQUIRES_AUTHORIZATION
    if flags & _FLAG_WRITE_ENCRYPTED:
        perms |= Characteristic.WRITE_REQUIRES_ENCRYPTION
    if flags & _FLAG_WRITE_AUTHENTICATED:
        perms |= Characteristic.WRITE_REQUIRES_AUTHENTICATION
    if flags & _FLAG_WRITE_AUTHORIZED:
        perms |= Characteristic.WRITE_REQUIRES_AUTHORIZATION
    return perms


# ----------------------------------------------------------------------------------------------
# BLE
# ----------------------------------------------------------------------------------------------
class BLE:
    """bluetooth.BLE: returns the singleton bound to this module's emulated peripheral."""

    _device: Device | None = None
    _defaults: dict = {}
    _instance = None

    def __new__(cls):
        inst = cls.__dict__.get("_instance")
        if inst is None:
            if cls._device is None:
                raise OSError(_errno.ENODEV, "no emulated radio attached (see micropython_ble.attach)")
            inst = object.__new__(cls)
            inst._setup(cls._device, **cls._defaults)
            cls._instance = inst
        return inst

    def __init__(self):
        pass

    # -- construction ---------------------------------------------------------------------------
    def _setup(self, device: Device, gap_name: bytes = DEFAULT_GAP_NAME,
               preferred_mtu: int = DEFAULT_PREFERRED_MTU, loop=None) -> None:
        self._dev = device
        try:
            self._home_loop = asyncio.get_running_loop()
        except RuntimeError:
            self._home_loop = loop
        self._default_gap_name = bytes(gap_name)
        self._default_mtu = int(preferred_mtu)
        self._active = False
        self._handler = None
        self._db: dict[int, _Entry] = {}
        self._conns: dict = {}
        self._announced: set[int] = set()
        self._gap_name = self._default_gap_name
        self._mtu = self._default_mtu
        self._addr_mode = 0
        self._adv_data = b""
        self._resp_data = b""
        self._advertising = False
        self._pairing = {"bond": False, "mitm": False, "le_secure": False, "io": 3}
        self._depth = 0
        self._op_tail: asyncio.Future | None = None
        self._indications: dict[int, list] = {}
        self._gap_service: GenericAccessService | None = None
        #: Exceptions raised by the IRQ handler (printed as MicroPython does, kept for tests).
        self.irq_errors: list[BaseException] = []
        #: Exceptions from operations that complete after the call returned (e.g. advertising).
        self.background_errors: list[BaseException] = []
        device.on(device.EVENT_CONNECTION, self._on_connection)

    # -- helpers ----------------------------------------------------------------------------------
    def _require_active(self) -> None:
        if not self._active:
            raise _oserror(_errno.ENODEV)

    def _loop(self) -> asyncio.AbstractEventLoop:
        # Firmware may make BLE calls before its event loop runs (module-level set-up); work for
        # those is queued on the loop the emulated radio lives on and runs once it does.
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            if self._home_loop is None:
                raise RuntimeError("the emulated radio needs its asyncio event loop") from None
            return self._home_loop

    def _submit(self, make_coro) -> None:
        """Run `make_coro()` after every operation submitted before it (stack command order)."""
        previous = self._op_tail

        async def run():
            if previous is not None:
                try:
                    await asyncio.shield(previous)
                except BaseException:
                    pass
            try:
                await make_coro()
            except Exception as exc:  # reported, as a controller error would be logged
                logger.warning("emulated BLE operation failed: %r", exc)
                self.background_errors.append(exc)

        self._op_tail = self._loop().create_task(run())

    async def settle(self) -> None:
        """Wait until every over-the-air operation submitted so far has been carried out
        (emulation helper, not part of MicroPython's API)."""
        while self._op_tail is not None and not self._op_tail.done():
            await asyncio.shield(self._op_tail)

    def _dispatch(self, event: int, items: tuple, buffers: tuple = ()):
        handler = self._handler
        if handler is None or not self._active:
            return None
        if self._depth:
            # Never re-enter the firmware inside one of its own BLE calls.
            self._loop().call_soon(self._dispatch, event, items, buffers)
            return None
        backing = [bytearray(b) for b in buffers]
        views = [memoryview(b).toreadonly() for b in backing]
        try:
            return handler(event, tuple(items) + tuple(views))
        except Exception as exc:
            print("Unhandled exception in IRQ callback handler", file=sys.stderr)
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
            self.irq_errors.append(exc)
            return None
        finally:
            for view in views:
                try:
                    view.release()
                except BufferError:
                    pass
            for b in backing:
                b[:] = bytes((_SCRIBBLE,)) * len(b)

    @staticmethod
    def _addr(address: hci.Address) -> tuple[int, bytes]:
        return int(address.address_type) & 1, bytes(reversed(bytes(address)))

    # -- configuration --------------------------------------------------------------------------
    def active(self, *args):
        if len(args) > 1:
            raise TypeError("function takes at most 1 positional argument")
        if args:
            if args[0]:
                self._init()
            else:
                self._deinit()
        return self._active

    def _init(self) -> None:
        self._deinit()  # mp_bluetooth_init() starts by de-initialising
        self._gap_name = self._default_gap_name
        self._mtu = self._default_mtu
        self._addr_mode = 0
        self._adv_data = b""
        self._resp_data = b""
        self._advertising = False
        self._db = {}
        self._rebuild_server([])
        self._dev.gatt_server.max_mtu = self._mtu
        self._active = True

    def _deinit(self) -> None:
        if not self._active:
            return
        self._active = False  # events during shutdown are not delivered (as NimBLE)
        self._advertising = False
        conns = list(self._conns.values())
        self._conns.clear()
        self._announced.clear()
        for handle in list(self._indications):
            self._fail_indications(handle)
        self._db = {}

        async def shutdown():
            await self._dev.stop_advertising()
            for conn in conns:
                try:
                    await conn.disconnect(_HCI_REMOTE_USER_TERMINATED)
                except Exception:
                    logger.debug("disconnect during deactivation", exc_info=True)

        self._submit(shutdown)

    def config(self, *args, **kwargs):
        if not kwargs:
            if len(args) != 1:
                raise TypeError("must query one param")
            name = args[0]
            if name == "gap_name":
                return bytes(self._gap_name)
            if name == "mac":
                self._require_active()
                if self._addr_mode == 0:
                    return 0, bytes(reversed(bytes(self._dev.public_address)))
                return 1, bytes(reversed(bytes(self._dev.random_address)))
            if name == "mtu":
                self._require_active()
                return self._mtu
            raise ValueError("unknown config param")
        if args:
            raise TypeError("can't specify pos and kw args")
        for key, value in kwargs.items():
            if key == "gap_name":
                name = _buffer_bytes(value)
                if len(name) > _GAP_NAME_MAX:
                    raise _oserror(_errno.EINVAL)
                self._gap_name = name
            elif key == "mtu":
                self._require_active()
                mtu = int(value)
                if not _MTU_MIN <= mtu <= _MTU_MAX:
                    raise _oserror(_errno.EINVAL)
                self._mtu = mtu
                self._dev.gatt_server.max_mtu = mtu
            elif key == "addr_mode":
                self._require_active()
                mode = int(value)
                if mode in (0, 1):
                    self._addr_mode = mode
                elif mode in (2, 3):
                    raise _oserror(_errno.EOPNOTSUPP)
            elif key in ("bond", "mitm", "le_secure"):
                self._pairing[key] = bool(value)
            elif key == "io":
                self._pairing[key] = int(value)
            else:
                raise ValueError("unknown config param")
        return None

    def irq(self, handler):
        if handler is not None and not callable(handler):
            raise ValueError("invalid handler")
        self._handler = handler

    # -- GAP ------------------------------------------------------------------------------------
    def gap_advertise(self, interval_us=500000, adv_data=None, *, resp_data=None, connectable=True):
        self._depth += 1
        try:
            self._require_active()
            if interval_us is None:
                self._advertising = False
                self._submit(self._dev.stop_advertising)
                return None
            interval_us = int(interval_us)
            if adv_data is not None:
                data = _buffer_bytes(adv_data)
                if len(data) > _ADV_MAX:
                    raise _oserror(_errno.EINVAL)
                self._adv_data = data
            if resp_data is not None:
                data = _buffer_bytes(resp_data)
                if len(data) > _ADV_MAX:
                    raise _oserror(_errno.EINVAL)
                self._resp_data = data
            connectable = bool(connectable)
            units = interval_us // 625
            if units == 0:
                units = _ADV_ITVL_DEFAULT_CONNECTABLE if connectable else _ADV_ITVL_DEFAULT_OTHER
            if not _ADV_ITVL_MIN <= units <= _ADV_ITVL_MAX:
                raise _oserror(_errno.EINVAL)
            if connectable:
                adv_type = _AdvertisingType.UNDIRECTED_CONNECTABLE_SCANNABLE
            elif self._resp_data:
                adv_type = _AdvertisingType.UNDIRECTED_SCANNABLE
            else:
                adv_type = _AdvertisingType.UNDIRECTED
            own = hci.OwnAddressType.PUBLIC if self._addr_mode == 0 else hci.OwnAddressType.RANDOM
            adv, resp, ms = self._adv_data, self._resp_data, units * 0.625
            self._advertising = True

            async def start():
                await self._dev.stop_advertising()
                await self._dev.start_advertising(
                    advertising_type=adv_type,
                    own_address_type=own,
                    advertising_data=adv,
                    scan_response_data=resp,
                    advertising_interval_min=ms,
                    advertising_interval_max=ms,
                )

            self._submit(start)
            return None
        finally:
            self._depth -= 1

    def gap_disconnect(self, conn_handle):
        self._require_active()
        conn = self._conns.get(int(conn_handle))
        if conn is None:
            return False

        async def terminate():
            await conn.disconnect(_HCI_REMOTE_USER_TERMINATED)

        self._submit(terminate)
        return True

    # -- GATT server ----------------------------------------------------------------------------
    def _rebuild_server(self, services: list[Service]) -> None:
        server = self._dev.gatt_server
        server.attributes.clear()
        server.attributes_by_handle.clear()
        server.services.clear()
        server.subscribers.clear()
        server.prepared_writes.clear()
        self._gap_service = GenericAccessService(self._dev.name)
        self._gap_service.device_name_characteristic.value = CharacteristicValue(
            read=lambda _conn: bytes(self._gap_name)
        )
        server.add_service(self._gap_service)
        self._dev.add_default_services(add_gap_service=False, add_gatt_service=True)
        for service in services:
            server.add_service(service)

    def gatts_register_services(self, services_definition):
        self._require_active()
        if self._advertising or self._conns:
            raise _oserror(_errno.EBUSY)
        services = list(services_definition)
        if len(services) > _MAX_SERVICES:
            raise _oserror(_errno.E2BIG)
        server = self._dev.gatt_server
        built: list[Service] = []
        handle_refs: list[list] = []
        for service_def in services:
            items = tuple(service_def)
            if len(items) != 2:
                raise ValueError("tuple/list has wrong length")
            service_uuid, characteristics_def = items
            if not isinstance(service_uuid, UUID):
                raise ValueError("invalid service UUID")
            characteristics = []
            refs = []
            for char_def in characteristics_def:
                char_items = tuple(char_def)
                if len(char_items) < 2 or len(char_items) > 3:
                    raise ValueError("invalid characteristic tuple")
                char_uuid, char_flags = char_items[0], int(char_items[1])
                if not isinstance(char_uuid, UUID):
                    raise ValueError("invalid characteristic UUID")
                descriptor_defs = list(char_items[2]) if len(char_items) == 3 else []
                characteristic = Characteristic(
                    char_uuid._to_bumble(),
                    Characteristic.Properties(char_flags & 0xFF),
                    _permissions(char_flags, descriptor=False),
                )
                characteristic.value = self._value_for(characteristic, char_flags)
                refs.append((characteristic, char_flags))
                descriptors = []
                if char_flags & (FLAG_NOTIFY | FLAG_INDICATE):
                    # NimBLE places the CCCD right after the value, before user descriptors.
                    descriptors.append(Descriptor(
                        GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
                        Descriptor.READABLE | Descriptor.WRITEABLE,
                        server.make_descriptor_value(characteristic),
                    ))
                for desc_def in descriptor_defs:
                    desc_items = tuple(desc_def)
                    if len(desc_items) != 2:
                        raise ValueError("tuple/list has wrong length")
                    desc_uuid, desc_flags = desc_items[0], int(desc_items[1])
                    if not isinstance(desc_uuid, UUID):
                        raise ValueError("invalid descriptor UUID")
                    descriptor = Descriptor(
                        desc_uuid._to_bumble(), _permissions(desc_flags, descriptor=True)
                    )
                    descriptor.value = self._value_for(descriptor, desc_flags)
                    descriptors.append(descriptor)
                    refs.append((descriptor, desc_flags))
                characteristic.descriptors = descriptors
                characteristics.append(characteristic)
            built.append(Service(service_uuid._to_bumble(), characteristics))
            handle_refs.append(refs)
        self._rebuild_server(built)
        self._db = {}
        result = []
        for refs in handle_refs:
            handles = []
            for attribute, flags in refs:
                self._db[attribute.handle] = _Entry(flags)
                handles.append(attribute.handle)
            result.append(tuple(handles))
        return tuple(result)

    def _value_for(self, attribute, flags: int) -> CharacteristicValue:
        def read(connection):
            return self._on_remote_read(attribute.handle, connection)

        def write(connection, value):
            self._on_remote_write(attribute.handle, connection, value)

        return CharacteristicValue(read=read, write=write)

    def _on_remote_read(self, handle: int, connection) -> bytes:
        entry = self._db.get(handle)
        if entry is None:
            raise att.ATT_Error(att.ATT_ATTRIBUTE_NOT_FOUND_ERROR, handle)
        if not entry.flags & FLAG_READ:
            raise att.ATT_Error(att.ATT_READ_NOT_PERMITTED_ERROR, handle)
        conn_handle = self._announce(connection)
        result = self._dispatch(_IRQ_GATTS_READ_REQUEST, (conn_handle, handle))
        if result is not None and not isinstance(result, int):
            result = 0
        if result:
            raise att.ATT_Error(int(result) & 0xFF, handle)
        entry = self._db.get(handle, entry)  # the handler may have written a new value
        return bytes(entry.data[: entry.length])

    def _on_remote_write(self, handle: int, connection, value: bytes) -> None:
        entry = self._db.get(handle)
        if entry is None:
            raise att.ATT_Error(att.ATT_ATTRIBUTE_NOT_FOUND_ERROR, handle)
        if not entry.flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE):
            raise att.ATT_Error(att.ATT_WRITE_NOT_PERMITTED_ERROR, handle)
        offset = entry.length if entry.append else 0
        new_length = min(len(entry.data), len(value) + offset)
        entry.data[offset:new_length] = value[: new_length - offset]
        entry.length = new_length
        conn_handle = self._announce(connection)
        self._dispatch(_IRQ_GATTS_WRITE, (conn_handle, handle))

    def gatts_read(self, value_handle):
        self._require_active()
        entry = self._db.get(int(value_handle))
        if entry is None:
            raise _oserror(_errno.EINVAL)
        value = bytes(entry.data[: entry.length])
        if entry.append:
            entry.length = 0
        return value

    def gatts_write(self, value_handle, data, send_update=False):
        self._depth += 1
        try:
            self._require_active()
            handle = int(value_handle)
            entry = self._db.get(handle)
            if entry is None:
                raise _oserror(_errno.EINVAL)
            value = _buffer_bytes(data)
            if len(value) > len(entry.data):
                entry.data = bytearray(len(value))
            entry.data[: len(value)] = value
            entry.length = len(value)
            if send_update:
                subscribers = self._dev.gatt_server.subscribers
                for conn_handle, conn in list(self._conns.items()):
                    cccd = subscribers.get(conn, {}).get(handle, b"")
                    if len(cccd) == 2 and cccd[0] & 0x01:
                        self._send_notification(conn, handle, value)
                    elif len(cccd) == 2 and cccd[0] & 0x02:
                        self._start_indication(conn, handle, value)
            return None
        finally:
            self._depth -= 1

    def _payload(self, value_handle: int, data) -> bytes:
        if data is None:
            entry = self._db.get(value_handle)
            if entry is None:
                raise _oserror(_errno.ENOENT)
            return bytes(entry.data[: entry.length])
        return _buffer_bytes(data)

    def _send_notification(self, conn, value_handle: int, payload: bytes) -> None:
        payload = payload[: conn.att_mtu - 3]
        pdu = att.ATT_Handle_Value_Notification(
            attribute_handle=value_handle, attribute_value=payload
        )
        self._dev.gatt_server.send_gatt_pdu(conn, bytes(pdu))

    def gatts_notify(self, conn_handle, value_handle, data=None):
        self._push(self._send_notification, conn_handle, value_handle, data)

    def gatts_indicate(self, conn_handle, value_handle, data=None):
        self._push(self._start_indication, conn_handle, value_handle, data)

    def _push(self, send, conn_handle, value_handle, data):
        """What notify and indicate share: an active stack, a live connection, the value (given,
        or the local one), then `send`."""
        self._depth += 1
        try:
            self._require_active()
            conn = self._conns.get(int(conn_handle))
            if conn is None:
                raise _oserror(_errno.ENOTCONN)
            handle = int(value_handle)
            send(conn, handle, self._payload(handle, data))
        finally:
            self._depth -= 1

    def _start_indication(self, conn, value_handle: int, payload: bytes) -> None:
        server = self._dev.gatt_server
        attribute = server.get_attribute(value_handle)
        if attribute is None:
            attribute = att.Attribute(
                GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, att.Attribute.READABLE
            )
            attribute.handle = value_handle
        record = {"done": False, "handle": value_handle, "task": None}
        pending = self._indications.setdefault(conn.handle, [])

        async def indicate():
            status = 0
            try:
                await server.indicate_subscriber(conn, attribute, payload, force=True)
            except (TimeoutError, core.TimeoutError, asyncio.TimeoutError):
                status = _BLE_HS_ETIMEOUT
            except asyncio.CancelledError:
                if not record["done"]:
                    raise
                return
            except Exception:
                status = _BLE_HS_ENOTCONN
            finally:
                if record in pending:
                    pending.remove(record)
            if not record["done"]:
                record["done"] = True
                self._dispatch(_IRQ_GATTS_INDICATE_DONE, (conn.handle, value_handle, status))

        pending.append(record)
        record["task"] = self._loop().create_task(indicate())

    def _fail_indications(self, conn_handle: int) -> None:
        for record in self._indications.pop(conn_handle, []):
            if record["done"]:
                continue
            record["done"] = True
            self._dispatch(_IRQ_GATTS_INDICATE_DONE, (conn_handle, record["handle"], _BLE_HS_ENOTCONN))
            if record["task"] is not None:
                record["task"].cancel()

    def gatts_set_buffer(self, value_handle, len, append=False):  # noqa: A002 - MicroPython's name
        self._require_active()
        entry = self._db.get(int(value_handle))
        if entry is None:
            raise _oserror(_errno.EINVAL)
        size = int(len)
        data = bytearray(size)
        keep = min(size, entry.data.__len__())
        data[:keep] = entry.data[:keep]
        entry.data = data
        entry.length = 0
        entry.append = bool(append)

    # -- GATT client (only what a peripheral uses) ----------------------------------------------
    def gattc_exchange_mtu(self, conn_handle):
        self._require_active()
        conn = self._conns.get(int(conn_handle))
        if conn is None:
            raise _oserror(_errno.ENOTCONN)
        mtu = self._mtu

        async def exchange():
            await conn.gatt_client.request_mtu(mtu)

        self._submit(exchange)

    def _not_emulated(self, *args, **kwargs):
        self._require_active()
        raise _oserror(_errno.EOPNOTSUPP)

    gap_scan = gap_connect = _not_emulated
    gattc_discover_services = gattc_discover_characteristics = _not_emulated
    gattc_discover_descriptors = gattc_read = gattc_write = _not_emulated
    gap_pair = gap_passkey = _not_emulated

    # -- events from the Bumble device ------------------------------------------------------------
    def _announce(self, connection) -> int:
        """Make sure the firmware heard of `connection` before any event about it."""
        handle = connection.handle
        if handle not in self._announced and self._active and handle in self._conns:
            self._announced.add(handle)
            addr_type, addr = self._addr(connection.peer_address)
            self._dispatch(_IRQ_CENTRAL_CONNECT, (handle, addr_type), (addr,))
        return handle

    def _on_connection(self, connection) -> None:
        if connection.role != hci.Role.PERIPHERAL or connection.transport != core.PhysicalTransport.LE:
            return
        if not self._active:
            return
        self._advertising = False  # NimBLE stops advertising when a central connects
        self._conns[connection.handle] = connection
        connection.on(connection.EVENT_DISCONNECTION,
                      lambda reason, c=connection: self._on_disconnection(c, reason))
        connection.on(connection.EVENT_CONNECTION_ATT_MTU_UPDATE,
                      lambda c=connection: self._on_mtu(c))
        connection.on(connection.EVENT_CONNECTION_PARAMETERS_UPDATE,
                      lambda c=connection: self._on_parameters(c))
        connection.on(connection.EVENT_CONNECTION_ENCRYPTION_CHANGE,
                      lambda c=connection: self._on_encryption(c))
        self._announce(connection)

    def _on_disconnection(self, connection, reason) -> None:
        handle = connection.handle
        if self._conns.get(handle) is not connection:
            return
        self._fail_indications(handle)
        del self._conns[handle]
        announced = handle in self._announced
        self._announced.discard(handle)
        if announced:
            addr_type, addr = self._addr(connection.peer_address)
            self._dispatch(_IRQ_CENTRAL_DISCONNECT, (handle, addr_type), (addr,))

    def _on_mtu(self, connection) -> None:
        if self._conns.get(connection.handle) is connection:
            self._dispatch(_IRQ_MTU_EXCHANGED, (self._announce(connection), connection.att_mtu))

    def _on_parameters(self, connection) -> None:
        if self._conns.get(connection.handle) is not connection:
            return
        p = connection.parameters
        self._dispatch(_IRQ_CONNECTION_UPDATE, (
            self._announce(connection),
            int(round(p.connection_interval / 1.25)),
            int(p.peripheral_latency),
            int(round(p.supervision_timeout / 10.0)),
            0,
        ))

    def _on_encryption(self, connection) -> None:
        if self._conns.get(connection.handle) is not connection:
            return
        # NimBLE's "authenticated" means MITM-protected keys, i.e. not Just Works.
        session = self._dev.smp_manager.sessions.get(connection.handle)
        authenticated = bool(connection.encryption) and session is not None and (
            session.pairing_method != _PairingMethod.JUST_WORKS)
        self._dispatch(_IRQ_ENCRYPTION_UPDATE, (
            self._announce(connection),
            bool(connection.encryption),
            authenticated,
            bool(self._pairing["bond"]),
            int(getattr(connection, "encryption_key_size", 16) or 16),
        ))

    # -- emulation helpers (not in MicroPython) ---------------------------------------------------
    @property
    def device(self) -> Device:
        """The Bumble device behind this BLE object."""
        return self._dev

    def connections(self) -> tuple[int, ...]:
        """Connection handles of the centrals currently connected."""
        return tuple(self._conns)



# ----------------------------------------------------------------------------------------------
# Module construction
# ----------------------------------------------------------------------------------------------
_PUBLIC = ("UUID", "FLAG_READ", "FLAG_WRITE_NO_RESPONSE", "FLAG_WRITE", "FLAG_NOTIFY", "FLAG_INDICATE")


def module_for(device: Device, *, gap_name: bytes = DEFAULT_GAP_NAME,
               preferred_mtu: int = DEFAULT_PREFERRED_MTU, name: str = "bluetooth") -> types.ModuleType:
    """A new module object that behaves as MicroPython's `bluetooth` for `device`.

    Each module has its own `BLE` singleton, so several emulated belts can share one process.
    `gap_name` and `preferred_mtu` are the defaults the stack comes up with on `active(True)`."""
    module = types.ModuleType(name, "MicroPython bluetooth module emulated on a Bumble device")
    ble_type = type("BLE", (BLE,), {
        "_device": device,
        "_defaults": {"gap_name": bytes(gap_name), "preferred_mtu": int(preferred_mtu),
                      "loop": _running_loop()},
        "_instance": None,
        "__module__": name,
    })
    module.BLE = ble_type
    for attr in _PUBLIC:
        setattr(module, attr, globals()[attr])
    return module


def install(device: Device, **kwargs) -> types.ModuleType:
    """Build a module with `module_for` and make it what `import bluetooth` returns."""
    module = module_for(device, **kwargs)
    sys.modules["bluetooth"] = module
    return module


def attach(device: Device, **kwargs) -> None:
    """Bind this module's own `BLE` to `device`, for code that imports this module as
    `bluetooth` directly (one emulated peripheral per process)."""
    BLE._device = device
    BLE._defaults = dict(kwargs, loop=_running_loop())
    BLE._instance = None


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
