"""A peer's discovered GATT database in bleak's form, numbered as BlueZ numbers it: services,
characteristics by their declaration handles, descriptors by their own handles, property flags
as bleak's names."""
from __future__ import annotations

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bumble.gatt import Characteristic

from corecue.twin.radio.bleak_scanner import uuid_str

_PROPERTY_NAMES = (
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)


def _properties(props: int) -> list[str]:
    return [name for flag, name in _PROPERTY_NAMES if props & flag]


def collection(services, requested, max_write_size) -> BleakGATTServiceCollection:
    """bleak's collection of Bumble's discovered `services` (those in `requested`, when given:
    BlueZ filters after discovery); max_write_size() is the characteristics' current limit."""
    collection = BleakGATTServiceCollection()
    for service_proxy in services:
        service_uuid = uuid_str(service_proxy.uuid)
        if requested is not None and service_uuid not in requested:
            continue
        service = BleakGATTService(service_proxy, service_proxy.handle, service_uuid)
        collection.add_service(service)
        for characteristic_proxy in service_proxy.characteristics:
            characteristic = BleakGATTCharacteristic(
                characteristic_proxy,
                characteristic_proxy.handle - 1,  # declaration handle, as BlueZ numbers them
                uuid_str(characteristic_proxy.uuid),
                _properties(characteristic_proxy.properties),
                max_write_size,
                service,
            )
            collection.add_characteristic(characteristic)
            for descriptor_proxy in characteristic_proxy.descriptors:
                collection.add_descriptor(BleakGATTDescriptor(
                    descriptor_proxy, descriptor_proxy.handle,
                    uuid_str(descriptor_proxy.type), characteristic,
                ))
    return collection
