"""A bleak backend (scanner + client) on a Bumble central, for the emulated air in `link.py`; the
scanning side (the shared central, the scanner, advertisements) is in `bleak_scanner.py`, the
discovered services in bleak's form in `bleak_gatt.py`.

Companion code keeps using bleak's public API and only passes `backend=`::

    Scanner, Client = air.bleak_backends()
    device = await BleakScanner.find_device_by_filter(
        lambda d, ad: SERVICE in ad.service_uuids, timeout=5, backend=Scanner)
    async with BleakClient(device, disconnected_callback=on_gone, backend=Client) as client:
        await client.start_notify(DATA_UUID, on_data)
        await client.write_gatt_char(CONTROL_UUID, b"...", response=True)

The backend follows the BlueZ backend where bleak leaves behaviour to the platform, because Linux
is where the companion meets real belts:

* connect() does what BlueZ does on connection: an ATT MTU exchange offering 517, then a full
  service discovery (characteristics and descriptors, CCCDs included). `services=` filters the
  result, as BlueZ does, after discovery.
* `mtu_size` is the negotiated ATT MTU (BlueZ's own backend can only report 23 without a
  workaround; this one reports what was negotiated), `max_write_without_response_size` is
  MTU - 3, and a write without response longer than that fails with BleakError.
* Characteristic handles are declaration handles (BlueZ's object-path numbering); descriptor
  handles are the descriptors' own handles.
* Writes use the procedure asked for (request, with Prepare/Execute Write when longer than
  MTU - 3, or command), without checking the characteristic's properties, as BlueZ does with an
  explicit write type. ATT errors surface as BleakGATTProtocolError.
* start_notify prefers notifications over indications; notifications reach the callback in the
  order they were sent, as bytearrays.
* disconnected_callback is called on every disconnection, including one asked for with
  disconnect(), as BlueZ's backend does.
* Scanning (bleak_scanner.py): BLEDevice as BlueZ fills it, advertising data and scan response
  merged; several scanners share the one radio.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.device import Connection, Peer
from bumble.gatt import Characteristic

from corecue.twin.radio import bleak_gatt
# The scanning side, re-exported: this module stays the backend's one name.
from corecue.twin.radio.bleak_scanner import (  # noqa: F401
    BumbleBleakScanner, CentralRadio, EmulatedDeviceDetails, advertisement_data, uuid_str,
)

logger = logging.getLogger(__name__)

#: The MTU BlueZ offers in its ATT MTU exchange.
CLIENT_MTU = 517

class BumbleBleakClient(BaseBleakClient):
    """bleak client backend on the emulated central (bind with `backends_for`)."""

    _radio: ClassVar[CentralRadio | None] = None
    _scanner_type: ClassVar[type[BumbleBleakScanner] | None] = None

    def __init__(self, address_or_ble_device, *, disconnected_callback=None, services=None,
                 timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback,
                         timeout=timeout)
        if self._radio is None:
            raise BleakError("emulated client backend is not bound to a radio (use backends_for)")
        self._ble_device = address_or_ble_device if isinstance(address_or_ble_device, BLEDevice) else None
        self._requested_services = set(services) if services is not None else None
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}
        self._disconnected = asyncio.Event()
        self._peer_name: str | None = None      # the keystore's name for the belt, once seen

    # -- identity ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        if self._ble_device is not None and self._ble_device.name:
            return self._ble_device.name
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        if self._connection is None:
            return att.ATT_DEFAULT_MTU
        return self._connection.att_mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # -- connection -------------------------------------------------------------------------------
    async def _resolve_address(self, timeout: float) -> hci.Address:
        details = self._ble_device.details if self._ble_device is not None else None
        if isinstance(details, EmulatedDeviceDetails):
            return details.address
        wanted = self.address.upper()
        scanner = self._scanner_type(None, None, "active")
        found: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_found(device: BLEDevice, _data: AdvertisementData) -> None:
            if device.address.upper() == wanted and not found.done():
                found.set_result(device.details.address)

        scanner.register_detection_callback(on_found)
        await scanner.start()
        try:
            async with asyncio.timeout(timeout):    # not wait_for: it can swallow a cancellation
                return await found
        except TimeoutError:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.") from None
        finally:
            await scanner.stop()

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if self._connection is not None:
            return
        timeout = kwargs.get("timeout", self._timeout)
        address = await self._resolve_address(timeout)
        try:
            connection = await self._radio.connect(address, timeout)
        except (core.TimeoutError, core.ConnectionError) as exc:
            raise TimeoutError(f"could not connect to {self.address}") from exc
        self._connection = connection
        self._disconnected = asyncio.Event()
        connection.on(connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(connection, reason))
        self._peer = Peer(connection)
        self._peer_name = str(connection.peer_address)
        try:
            async with asyncio.timeout(timeout):
                await self._encrypt_if_bonded(connection)
                await self._gatt(self._peer.request_mtu(CLIENT_MTU))
                self.services = await self._discover()
                if pair:
                    await self.pair()
        except BaseException:
            if self._connection is not None:
                await self.disconnect()
            raise

    async def _discover(self) -> BleakGATTServiceCollection:
        peer = self._peer
        for service_proxy in await self._gatt(peer.discover_services()):
            await self._gatt(peer.discover_characteristics(service=service_proxy))
        for service_proxy in peer.services:
            for characteristic_proxy in service_proxy.characteristics:
                await self._gatt(peer.discover_descriptors(characteristic=characteristic_proxy))
        return bleak_gatt.collection(peer.services, self._requested_services,
                                     lambda: self.mtu_size - 3)

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if self._connection is not connection:
            return
        logger.debug("disconnected from %s (reason 0x%02X)", self.address, reason)
        self._connection = None
        self._peer = None
        self.services = None
        self._subscriptions.clear()
        self._disconnected.set()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        waiter = self._disconnected
        try:
            await connection.disconnect()
        except Exception:
            logger.debug("disconnect", exc_info=True)
        if self._connection is connection:
            async with asyncio.timeout(10):
                await waiter.wait()

    async def _bond(self):
        keystore = self._radio.device.keystore
        return None if keystore is None or self._peer_name is None else await keystore.get(self._peer_name)

    async def _encrypt_if_bonded(self, connection: Connection) -> None:
        # BlueZ (src/device.c, device_connect_le) asks for BT_IO_SEC_MEDIUM when it connects to
        # a paired LE device: the link is encrypted with the bond's LTK at once.
        if await self._bond() is None:
            return
        try:
            await self._radio.device.encrypt(connection)
        except Exception as exc:
            # The peripheral has lost the bond (a factory reset). The kernel would drop the link
            # (HCI_ERROR_AUTH_FAILURE) and keep the stale bond until the device is removed; here
            # the stale keys are forgotten and the link goes on unencrypted (docs/ble-emulation.md).
            logger.info("bond with %s refused (%r): keys forgotten", self.address, exc)
            await self._radio.device.keystore.delete(self._peer_name)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        self._require_connected()
        if await self._bond() is not None and self._connection.encryption:
            logger.debug("%s is already paired", self.address)   # as bleak's BlueZ pair()
            return
        await self._connection.pair()

    async def unpair(self) -> None:
        keystore = self._radio.device.keystore
        if keystore is not None and self._peer_name is not None:
            await keystore.delete(self._peer_name)      # MemoryKeyStore: no error when absent
        await self.disconnect()

    # -- GATT -------------------------------------------------------------------------------------
    def _require_connected(self) -> None:
        if self._connection is None:
            raise BleakError("Not connected")

    async def _gatt(self, awaitable):
        """Run a GATT procedure, turning Bumble's errors into bleak's."""
        try:
            return await awaitable
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(int(exc.error_code)) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._connection is None and (task is None or not task.cancelling()):
                raise BleakError("Not connected: the link was lost during a GATT operation") from None
            raise
        except core.TimeoutError as exc:
            raise BleakError("GATT operation timed out") from exc

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False,
                             **kwargs: Any) -> bytearray:
        self._require_connected()
        handle = characteristic.obj.handle
        if use_cached:
            cached = self._peer.gatt_client.cached_values.get(handle)
            return bytearray(cached[1] if cached else b"")
        return bytearray(await self._gatt(self._peer.read_value(handle)))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False,
                                   **kwargs: Any) -> bytearray:
        self._require_connected()
        handle = descriptor.handle
        if use_cached:
            cached = self._peer.gatt_client.cached_values.get(handle)
            return bytearray(cached[1] if cached else b"")
        return bytearray(await self._gatt(self._peer.read_value(handle)))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data, response: bool) -> None:
        self._require_connected()
        value = bytes(data)
        if not response and len(value) > self.mtu_size - 3:
            raise BleakError(
                f"write without response of {len(value)} bytes exceeds "
                f"max_write_without_response_size ({self.mtu_size - 3})"
            )
        await self._gatt(self._peer.write_value(characteristic.obj.handle, value, with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data) -> None:
        self._require_connected()
        await self._gatt(self._peer.write_value(descriptor.handle, bytes(data), with_response=True))

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback,
                           **kwargs: Any) -> None:
        self._require_connected()
        proxy = characteristic.obj
        if not proxy.properties & (Characteristic.Properties.NOTIFY | Characteristic.Properties.INDICATE):
            raise BleakError(f"characteristic {characteristic.uuid} does not support notify or indicate")
        if proxy.handle in self._subscriptions:
            raise BleakError(f"notifications already started on {characteristic.uuid}")

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[proxy.handle] = on_value
        try:
            await self._gatt(self._peer.subscribe(proxy, on_value, prefer_notify=True))
        except BaseException:
            self._subscriptions.pop(proxy.handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._require_connected()
        proxy = characteristic.obj
        subscriber = self._subscriptions.pop(proxy.handle, None)
        if subscriber is None:
            raise BleakError(f"notifications were not started on {characteristic.uuid}")
        await self._gatt(self._peer.unsubscribe(proxy, subscriber))


def backends_for(radio: CentralRadio) -> tuple[type[BumbleBleakScanner], type[BumbleBleakClient]]:
    """Scanner and client backend classes bound to `radio`, for bleak's `backend=` argument."""
    scanner = type("EmulatedBleakScanner", (BumbleBleakScanner,), {"_radio": radio})
    client = type("EmulatedBleakClient", (BumbleBleakClient,), {"_radio": radio, "_scanner_type": scanner})
    return scanner, client
