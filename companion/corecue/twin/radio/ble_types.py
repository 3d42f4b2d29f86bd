"""The values and the type MicroPython's `bluetooth` module defines: flags, IRQ codes, UUID.

`FLAG_*` and `UUID` are what MicroPython's module exports; the `_IRQ_*` event codes and the other
`_FLAG_*` bits are the ones MicroPython's documentation tells firmware to define itself (the
emulation uses the same numbers). The defaults and limits are NimBLE's and ESP-IDF's, with the
C name each one comes from. Kept apart from the stack (`ble_object`, `gap`, `gatt_server`) so that
every part of the emulation reads the numbers from one place, and so the tiny part of the API a
firmware module touches at import time (`UUID`, `FLAG_*`) can be read without the Bumble glue.
"""
from __future__ import annotations

import errno as _errno

from bumble import core, hci

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

# CONFIG_BT_NIMBLE_SVC_GAP_DEVICE_NAME in MicroPython's ports/esp32/boards/sdkconfig.ble
DEFAULT_GAP_NAME = b"MPY ESP32"
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
