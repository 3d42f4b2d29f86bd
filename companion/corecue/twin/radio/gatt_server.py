"""The GATT server half of the emulated `bluetooth.BLE`: services, the value store, notify/indicate.

`gatts_register_services` builds Bumble services from MicroPython's nested tuples (a CCCD right
after every notify/indicate value, as NimBLE places it) and returns MicroPython's handle tuples;
remote reads and writes go through the value store (`_Entry`: 20-byte default buffers, writes cut
to the buffer, append mode) and raise `_IRQ_GATTS_READ_REQUEST` / `_IRQ_GATTS_WRITE`;
`gatts_notify` / `gatts_indicate` (gatt_push.py) send to a connection whether or not it
subscribed, as NimBLE does. Arguments are positional only and `gatts_read` / `gatts_write`
return what modbluetooth.c does. A mixin of `ble_object.BLE`, kept apart because the attribute database is the largest and
most self-contained part of the stack: nothing here starts advertising or handles connections.
"""
from __future__ import annotations

import errno as _errno

from bumble import att
from bumble.gatt import (
    GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
    Characteristic,
    CharacteristicValue,
    Descriptor,
    Service,
)
from bumble.profiles.gap import GenericAccessService

from corecue.twin.radio.ble_types import (
    _DEFAULT_ATTR_LEN, _FLAG_READ_AUTHENTICATED, _FLAG_READ_AUTHORIZED, _FLAG_READ_ENCRYPTED,
    _FLAG_WRITE_AUTHENTICATED, _FLAG_WRITE_AUTHORIZED, _FLAG_WRITE_ENCRYPTED,
    _IRQ_GATTS_READ_REQUEST, _IRQ_GATTS_WRITE, _MAX_SERVICES, FLAG_INDICATE, FLAG_NOTIFY,
    FLAG_READ, FLAG_WRITE, FLAG_WRITE_NO_RESPONSE, UUID, _buffer_bytes, _oserror,
)
from corecue.twin.radio.gatt_push import GattPush


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


class GattServer(GattPush):
    """bluetooth.BLE's gatts_* methods, on the Bumble device's GATT server (state: `_db`,
    `_indications`, `_gap_service`, set up by `BLE._setup`); notify and indicate in GattPush."""

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

    def gatts_register_services(self, services_definition, /):
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

    def gatts_read(self, value_handle, /):
        # modbluetooth.c ignores the stack's error here: an unknown handle, or a stack that is
        # off, reads as b"".
        entry = self._db.get(int(value_handle)) if self._active else None
        if entry is None:
            return b""
        value = bytes(entry.data[: entry.length])
        if entry.append:
            entry.length = 0
        return value

    def gatts_write(self, value_handle, data, send_update=False, /):
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
                        try:
                            self._send_notification(conn, handle, value)
                        except OSError:
                            pass    # ble_gatts_chr_updated reports nothing to Python
                    elif len(cccd) == 2 and cccd[0] & 0x02:
                        self._start_indication(conn, handle, value)
            return len(value)       # modbluetooth.c returns the length written
        finally:
            self._depth -= 1

    def gatts_set_buffer(self, value_handle, len, append=False, /):  # noqa: A002 - MicroPython's
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
