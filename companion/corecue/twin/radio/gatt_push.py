"""Notifications and indications from the emulated `bluetooth.BLE`'s GATT server, as NimBLE sends
them: to a live connection whether or not it subscribed, a notification cut to the ATT MTU and
sent through NimBLE's finite buffers in the connection's events (airtime.py), an indication
confirmed (or failed, on a timeout or a dropped link) by one
`_IRQ_GATTS_INDICATE_DONE`. A mixin of `gatt_server.GattServer`."""
from __future__ import annotations

import asyncio
import errno as _errno

from bumble import att, core
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR

from corecue.twin.radio.ble_types import (
    _BLE_HS_ENOTCONN, _BLE_HS_ETIMEOUT, _IRQ_GATTS_INDICATE_DONE, _buffer_bytes, _oserror,
)


class GattPush:
    def _payload(self, value_handle: int, data) -> bytes:
        if data is None:
            entry = self._db.get(value_handle)
            if entry is None:
                raise _oserror(_errno.ENOENT)
            return bytes(entry.data[: entry.length])
        return _buffer_bytes(data)

    def _send_notification(self, conn, value_handle: int, payload: bytes) -> None:
        """Into NimBLE's buffers (OSError(ENOMEM) when they are full), then onto the air in
        one of the connection's events (airtime.py)."""
        payload = payload[: conn.att_mtu - 3]
        pdu = bytes(att.ATT_Handle_Value_Notification(
            attribute_handle=value_handle, attribute_value=payload
        ))
        server = self._dev.gatt_server
        self._airtime.send(conn, pdu, lambda: server.send_gatt_pdu(conn, pdu))

    def gatts_notify(self, conn_handle, value_handle, data=None, /):
        self._push(self._send_notification, conn_handle, value_handle, data)

    def gatts_indicate(self, conn_handle, value_handle, data=None, /):
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
