"""The emulated central's scanning side for bleak (see bleak_backend.py for the whole backend):
one Bumble central shared by every scanner and client (CentralRadio), bleak's scanner backend on
it, and advertisements in bleak's form. As BlueZ does: BLEDevice.address is the peer's address
string, BLEDevice.name is the advertised name or the address with dashes (BlueZ's alias);
AdvertisementData merges advertising data and scan response (active scanning); service UUIDs are
normalised 128-bit strings; the radio scans actively while any scanner asked for it."""
from __future__ import annotations

import asyncio
import uuid as _uuid
from typing import Any, ClassVar

from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError
from bumble import core, hci
from bumble.core import AdvertisingData
from bumble.device import Connection, Device


def uuid_str(value: core.UUID) -> str:
    """A Bumble UUID as bleak spells UUIDs: 128-bit, lower case, with dashes."""
    return str(_uuid.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


class EmulatedDeviceDetails:
    """`BLEDevice.details` for devices found on the emulated air."""

    __slots__ = ("address", "advertisement")

    def __init__(self, address: hci.Address, advertisement) -> None:
        self.address = address
        self.advertisement = advertisement

    def __repr__(self) -> str:
        return "EmulatedDeviceDetails(%s)" % self.address


def advertisement_data(advertisement) -> AdvertisementData:
    """Translate a Bumble Advertisement (advertising data + scan response) to bleak's form."""
    local_name = None
    manufacturer: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    service_uuids: list[str] = []
    tx_power = None
    shortened = None
    for ad_type, payload in advertisement.data.ad_structures:
        payload = bytes(payload)
        if ad_type == AdvertisingData.COMPLETE_LOCAL_NAME:
            local_name = payload.decode("utf-8", "replace")
        elif ad_type == AdvertisingData.SHORTENED_LOCAL_NAME:
            shortened = payload.decode("utf-8", "replace")
        elif ad_type == AdvertisingData.MANUFACTURER_SPECIFIC_DATA and len(payload) >= 2:
            manufacturer[int.from_bytes(payload[:2], "little")] = payload[2:]
        elif ad_type in (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                         AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS):
            for i in range(0, len(payload) - 1, 2):
                service_uuids.append(uuid_str(core.UUID.from_bytes(payload[i:i + 2])))
        elif ad_type in (AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
                         AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS):
            for i in range(0, len(payload) - 3, 4):
                service_uuids.append(uuid_str(core.UUID.from_bytes(payload[i:i + 4])))
        elif ad_type in (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                         AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
            for i in range(0, len(payload) - 15, 16):
                service_uuids.append(uuid_str(core.UUID.from_bytes(payload[i:i + 16])))
        elif ad_type == AdvertisingData.SERVICE_DATA_16_BIT_UUID and len(payload) >= 2:
            service_data[uuid_str(core.UUID.from_bytes(payload[:2]))] = payload[2:]
        elif ad_type == AdvertisingData.SERVICE_DATA_32_BIT_UUID and len(payload) >= 4:
            service_data[uuid_str(core.UUID.from_bytes(payload[:4]))] = payload[4:]
        elif ad_type == AdvertisingData.SERVICE_DATA_128_BIT_UUID and len(payload) >= 16:
            service_data[uuid_str(core.UUID.from_bytes(payload[:16]))] = payload[16:]
        elif ad_type == AdvertisingData.TX_POWER_LEVEL and payload:
            tx_power = int.from_bytes(payload[:1], "little", signed=True)
    if local_name is None:
        local_name = shortened
    # Keep the order of appearance, drop repeats (a UUID may be in adv data and scan response).
    service_uuids = list(dict.fromkeys(service_uuids))
    return AdvertisementData(
        local_name=local_name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class CentralRadio:
    """The companion's side of the air: one Bumble central shared by every scanner and client."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._scanners: list[BumbleBleakScanner] = []
        self._scan_active: bool | None = None
        self._scan_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)

    def _on_advertisement(self, advertisement) -> None:
        for scanner in list(self._scanners):
            scanner._on_advertisement(advertisement)

    async def _apply_scan_state(self) -> None:
        want = None
        if self._scanners:
            want = any(s._scanning_mode == "active" for s in self._scanners)
        if want == self._scan_active:
            return
        if self._scan_active is not None:
            await self.device.stop_scanning()
            self._scan_active = None
        if want is not None:
            await self.device.start_scanning(active=want, filter_duplicates=False)
            self._scan_active = want

    async def add_scanner(self, scanner: BumbleBleakScanner) -> None:
        async with self._scan_lock:
            if scanner not in self._scanners:
                self._scanners.append(scanner)
            await self._apply_scan_state()

    async def remove_scanner(self, scanner: BumbleBleakScanner) -> None:
        async with self._scan_lock:
            if scanner in self._scanners:
                self._scanners.remove(scanner)
            await self._apply_scan_state()

    async def connect(self, address: hci.Address, timeout: float) -> Connection:
        async with self._connect_lock:
            return await self.device.connect_le(
                address, own_address_type=hci.OwnAddressType.PUBLIC, timeout=timeout
            )


class BumbleBleakScanner(BaseBleakScanner):
    """bleak scanner backend on the emulated central (bind with `backends_for`)."""

    _radio: ClassVar[CentralRadio | None] = None

    def __init__(self, detection_callback=None, service_uuids=None, scanning_mode="active",
                 **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        if scanning_mode not in ("active", "passive"):
            raise BleakError("scanning_mode must be 'active' or 'passive'")
        if self._radio is None:
            raise BleakError("emulated scanner backend is not bound to a radio (use backends_for)")
        self._scanning_mode = scanning_mode

    async def start(self) -> None:
        self.seen_devices = {}
        await self._radio.add_scanner(self)

    async def stop(self) -> None:
        await self._radio.remove_scanner(self)

    def _on_advertisement(self, advertisement) -> None:
        data = advertisement_data(advertisement)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = advertisement.address.to_string(False)
        name = data.local_name
        if name is None:
            known = self.seen_devices.get(address)
            name = known[0].name if known else address.replace(":", "-")
        device = self.create_or_update_device(
            address, address, name, EmulatedDeviceDetails(advertisement.address, advertisement), data
        )
        self.call_detection_callbacks(device, data)
