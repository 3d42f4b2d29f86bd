"""The GAP half of the emulated `bluetooth.BLE`: advertising, connections, MTU, link events.

`gap_advertise` and `gap_disconnect` take effect over the air (queued with `BLE._submit`);
Bumble's connection events become MicroPython's `_IRQ_CENTRAL_CONNECT`/`_DISCONNECT`,
`_IRQ_MTU_EXCHANGED`, `_IRQ_CONNECTION_UPDATE` and `_IRQ_ENCRYPTION_UPDATE`, each connection
announced to the firmware before any other event about it. The central-role calls MicroPython
has but a peripheral never makes raise OSError(EOPNOTSUPP). A mixin of `ble_object.BLE`, kept
apart because it is the only part that follows a connection's life.
"""
from __future__ import annotations

import errno as _errno

from bumble import core, hci
from bumble.device import AdvertisingType as _AdvertisingType
from bumble.smp import PairingMethod as _PairingMethod

from corecue.twin.radio.ble_types import (
    _ADV_ITVL_DEFAULT_CONNECTABLE, _ADV_ITVL_DEFAULT_OTHER, _ADV_ITVL_MAX, _ADV_ITVL_MIN,
    _ADV_MAX, _HCI_REMOTE_USER_TERMINATED, _IRQ_CENTRAL_CONNECT, _IRQ_CENTRAL_DISCONNECT,
    _IRQ_CONNECTION_UPDATE, _IRQ_ENCRYPTION_UPDATE, _IRQ_MTU_EXCHANGED, _buffer_bytes, _oserror,
)


class GapPeripheral:
    """bluetooth.BLE's gap_* methods, gattc_exchange_mtu and the connection events (state:
    `_conns`, `_announced`, `_adv_data`, `_resp_data`, `_advertising`, set up by `BLE._setup`)."""

    @staticmethod
    def _addr(address: hci.Address) -> tuple[int, bytes]:
        return int(address.address_type) & 1, bytes(reversed(bytes(address)))

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
            self._adv_units = units

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

    @property
    def adv_interval_us(self) -> int:
        """The interval the radio advertises at now, in us (0: it does not advertise): the
        silicon's own state, not part of MicroPython's API; the sim board's power meter reads it
        (an advertising event costs about the same charge at any interval)."""
        return self._adv_units * 625 if self._advertising and self._active else 0

    def gap_disconnect(self, conn_handle, /):
        self._require_active()
        conn = self._conns.get(int(conn_handle))
        if conn is None:
            return False

        async def terminate():
            await conn.disconnect(_HCI_REMOTE_USER_TERMINATED)

        self._submit(terminate)
        return True

    # -- GATT client (only what a peripheral uses) ----------------------------------------------
    def gattc_exchange_mtu(self, conn_handle, /):
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
        connection.on(connection.EVENT_PAIRING,
                      lambda keys, c=connection: self._on_encryption(c, paired=True))
        connection.on(connection.EVENT_PAIRING_FAILURE,
                      lambda reason, c=connection: self._on_encryption(c, paired=True))
        name = str(connection.peer_address)
        self.secrets.bonded.discard(name)
        self.secrets.restored.discard(name)
        self._announce(connection)

    def _on_disconnection(self, connection, reason) -> None:
        handle = connection.handle
        if self._conns.get(handle) is not connection:
            return
        self._fail_indications(handle)
        self._airtime.drop(handle)
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

    def _on_encryption(self, connection, paired: bool = False) -> None:
        if self._conns.get(connection.handle) is not connection:
            return
        session = self._dev.smp_manager.sessions.get(connection.handle)
        if not paired and session is not None and not session.completed:
            # NimBLE reports BLE_GAP_EVENT_ENC_CHANGE when its SM procedure ends: after the keys
            # have been distributed and stored, not when the link is first encrypted.
            return
        # NimBLE's "authenticated" means MITM-protected keys, i.e. not Just Works; "bonded"
        # that the keys are in the store: the firmware took them (_IRQ_SET_SECRET) at this
        # pairing, or gave them back (_IRQ_GET_SECRET) to re-encrypt.
        name = str(connection.peer_address)
        encrypted = bool(connection.encryption)
        # (A link re-encrypted from a bond counts as not authenticated: only Just Works, with
        # no MITM protection, is emulated, see _NoUserDelegate.)
        authenticated = encrypted and session is not None and (
            session.pairing_method != _PairingMethod.JUST_WORKS)
        bonded = encrypted and (name in self.secrets.bonded or name in self.secrets.restored)
        self._dispatch(_IRQ_ENCRYPTION_UPDATE, (
            self._announce(connection),
            encrypted,
            authenticated,
            bonded,
            # Bumble's software controller reports no key size; SMP agreed on 16 bytes.
            int(getattr(connection, "encryption_key_size", 0) or 16) if encrypted else 0,
        ))
