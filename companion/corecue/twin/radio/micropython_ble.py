"""MicroPython's `bluetooth` module (peripheral role, ESP32/NimBLE flavour) on a Bumble device.

The belt firmware does `import bluetooth`; under CPython the board gives it a module made here
(`module_for(device)`, or `install(device)` to put one in `sys.modules["bluetooth"]`, or this
module itself after `attach(device)`). `BLE()` then drives a Bumble peripheral `Device` that sits
on an `EmulatedAir` (see `link.py`): real advertising, real connections, a real ATT/GATT server.

This module makes the module object; the emulation itself is in five parts next to it:
`ble_types` (flags, IRQ codes, limits, `UUID`), `ble_object` (`BLE`: active, config, irq, event
delivery), `gap` (advertising, connections, MTU), `gatt_server` (services, values, notify,
indicate) and `secrets` (pairing as configured, the bond secrets kept by the firmware).

What is reproduced (checked against MicroPython's docs and its extmod/modbluetooth.c and
extmod/nimble/modbluetooth_nimble.c, ESP32 port with synchronous events):

* `BLE()` is a singleton; `active()`, `config()`, `irq()`, `gap_advertise()`, `gap_disconnect()`,
  `gatts_register_services()`, `gatts_read()`, `gatts_write()`, `gatts_notify()`,
  `gatts_indicate()`, `gatts_set_buffer()`, `gattc_exchange_mtu()`; module-level `UUID`,
  `FLAG_READ`, `FLAG_WRITE_NO_RESPONSE`, `FLAG_WRITE`, `FLAG_NOTIFY`, `FLAG_INDICATE`.
* Events: `_IRQ_CENTRAL_CONNECT` (1), `_IRQ_CENTRAL_DISCONNECT` (2), `_IRQ_GATTS_WRITE` (3),
  `_IRQ_GATTS_READ_REQUEST` (4, the return value is honoured: a non-zero int denies the read
  with that ATT error), `_IRQ_GATTS_INDICATE_DONE` (20), `_IRQ_MTU_EXCHANGED` (21),
  `_IRQ_CONNECTION_UPDATE` (27), `_IRQ_ENCRYPTION_UPDATE` (28), `_IRQ_GET_SECRET` (29),
  `_IRQ_SET_SECRET` (30), with MicroPython's tuples.
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
* Pairing is what the Bumble central asks for, configured by `bond`, `le_secure`, `mitm`, `io`
  as NimBLE is, Just Works only; the bond secrets go to the firmware through `_IRQ_SET_SECRET`
  and come back through `_IRQ_GET_SECRET` (`secrets.py`); `gap_pair`, `gap_passkey` and
  `_IRQ_PASSKEY_ACTION` are not emulated.
* Central/observer role (`gap_scan`, `gap_connect`, `gattc_discover_*`, `gattc_read`,
  `gattc_write`) raises OSError(EOPNOTSUPP); `addr_mode` 2 and 3 (RPA/NRPA) too. L2CAP channel
  methods do not exist, as on the ESP32 port.
"""
from __future__ import annotations

import asyncio
import sys
import types

from bumble.device import Device

# Re-exported: this module is what `import bluetooth` gives the firmware, and what tests import.
from corecue.twin.radio.ble_object import BLE  # noqa: F401
from corecue.twin.radio.ble_types import (  # noqa: F401
    DEFAULT_GAP_NAME, DEFAULT_PREFERRED_MTU, FLAG_INDICATE, FLAG_NOTIFY, FLAG_READ, FLAG_WRITE,
    FLAG_WRITE_NO_RESPONSE, UUID,
)


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
