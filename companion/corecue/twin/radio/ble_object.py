"""The emulated `bluetooth.BLE` object: its life (active, config, irq) and how events reach the firmware.

`BLE` is a per-module singleton bound to a Bumble `Device`. This part owns what GAP and GATT
share: the stack's state (`_setup`), the queue that runs over-the-air operations in the order
they were called (`_submit`, `settle`), and `_dispatch`, which calls the firmware's IRQ handler
as MicroPython does (never inside one of the firmware's own BLE calls, memoryviews released and
overwritten afterwards, a raising handler printed and switched off). GAP is `gap.GapPeripheral`,
the GATT server `gatt_server.GattServer`; `micropython_ble` makes the `bluetooth` module.
"""
from __future__ import annotations

import asyncio
import errno as _errno
import logging
import sys
import traceback

from bumble.device import Device
from bumble.profiles.gap import GenericAccessService

from corecue.twin.radio.ble_types import (
    _GAP_NAME_MAX, _HCI_REMOTE_USER_TERMINATED, _MTU_MAX, _MTU_MIN, _SCRIBBLE, DEFAULT_GAP_NAME,
    DEFAULT_PREFERRED_MTU, _buffer_bytes, _oserror,
)
from corecue.twin.radio.airtime import Airtime
from corecue.twin.radio.gap import GapPeripheral
from corecue.twin.radio.gatt_server import GattServer, _Entry
from corecue.twin.radio.secrets import _IRQ_GET_SECRET, FirmwareSecrets, load_irk, pairing_config

# Logged under the public module's name, the one a user of the emulation knows and configures.
logger = logging.getLogger("corecue.twin.radio.micropython_ble")


class BLE(GapPeripheral, GattServer):
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
        self._reset_settings()
        self._pairing = {"bond": False, "mitm": False, "le_secure": False, "io": 3}
        # SMP as NimBLE does it with ble_hs_cfg's sm_* fields (config keys bond, mitm, le_secure,
        # io), the bond secrets kept by the firmware through _IRQ_GET/SET_SECRET.
        self.secrets = FirmwareSecrets(self)
        device.keystore = self.secrets
        device.pairing_config_factory = self._pairing_config
        self._depth = 0
        self._airtime = Airtime(self._loop)
        self._op_tail: asyncio.Future | None = None
        self._indications: dict[int, list] = {}
        self._gap_service: GenericAccessService | None = None
        #: Exceptions raised by the IRQ handler (printed as MicroPython does, kept for tests).
        self.irq_errors: list[BaseException] = []
        #: Exceptions from operations that complete after the call returned (e.g. advertising).
        self.background_errors: list[BaseException] = []
        device.on(device.EVENT_CONNECTION, self._on_connection)

    # -- helpers ----------------------------------------------------------------------------------
    def _reset_settings(self) -> None:
        """The settings `active(True)` starts from: gap_name, mtu, address mode, advertising."""
        self._gap_name = self._default_gap_name
        self._mtu = self._default_mtu
        self._addr_mode = 0
        self._adv_data = b""
        self._resp_data = b""
        self._advertising = False
        self._adv_units = 0

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
        backing = [bytearray(b) for b in buffers if b is not None]
        made = iter([memoryview(b).toreadonly() for b in backing])
        views = [None if b is None else next(made) for b in buffers]   # None stays None (C NULL)
        try:
            return handler(event, tuple(items) + tuple(views))
        except Exception as exc:
            print("Unhandled exception in IRQ callback handler", file=sys.stderr)
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
            self.irq_errors.append(exc)
            # invoke_irq_handler_run_protected (modbluetooth.c, since 1.20): irq_handler = None.
            self._handler = None
            return None
        finally:
            for view in views:
                if view is None:
                    continue
                try:
                    view.release()
                except BufferError:
                    pass
            for b in backing:
                b[:] = bytes((_SCRIBBLE,)) * len(b)

    async def _ask(self, event: int, items: tuple, buffers: tuple = ()):
        """Deliver an event whose answer the stack needs (_IRQ_GET_SECRET, _IRQ_SET_SECRET) and
        return it, copied as the C code copies it at once. A handler with an `ask` coroutine (the
        radio server's, for a firmware in another process) answers through it."""
        ask = getattr(self._handler, "ask", None)
        if ask is not None and self._active:
            return await ask(event, items, buffers)
        result = self._dispatch(event, items, buffers)
        if result is None or isinstance(result, bool):
            return result
        if event == _IRQ_GET_SECRET:
            return bytes(memoryview(result))   # mp_get_buffer_raise: TypeError for a non-buffer
        return bool(result)

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
        self._reset_settings()
        self._db = {}
        self._rebuild_server([])
        self._dev.gatt_server.max_mtu = self._mtu
        self._active = True
        if self._handler is not None:
            # sync_cb's load_irk (modbluetooth_nimble.c): our IRK from the firmware's store, or a
            # new one offered to it. Only a handler set before active(True) hears it.
            self._submit(lambda: load_irk(self))

    def _deinit(self) -> None:
        if not self._active:
            return
        self._active = False  # events during shutdown are not delivered (as NimBLE)
        self._advertising = False
        self._airtime.reset()
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
                self._pairing[key] = bool(value)           # mp_obj_is_true: any object
            elif key == "io":
                if isinstance(value, float) or not hasattr(value, "__index__"):
                    raise TypeError("can't convert %s to int" % type(value).__name__)
                io = int(value)
                if not 0 <= io <= 4:
                    # NimBLE takes any byte and fails the pairing later; refused here at once.
                    raise ValueError("io capability must be 0..4")
                self._pairing[key] = io
            else:
                raise ValueError("unknown config param")
        return None

    def _pairing_config(self, connection):
        return pairing_config(**self._pairing)

    def irq(self, handler, /):
        if handler is not None and not callable(handler):
            raise ValueError("invalid handler")
        self._handler = handler

    # -- emulation helpers (not in MicroPython) ---------------------------------------------------
    @property
    def device(self) -> Device:
        """The Bumble device behind this BLE object."""
        return self._dev

    def connections(self) -> tuple[int, ...]:
        """Connection handles of the centrals currently connected."""
        return tuple(self._conns)
