"""Bumble's software controller and local link (bumble==0.0.236), patched where the companion or
the firmware could tell them from a real radio; `link.EmulatedAir` joins them into one air.

The four patches:
  * scan responses: the stock controller reports the advertising data a second time as the scan
    response and ignores the advertiser's scan response data; here an active scanner gets the
    real scan response data, a passive scanner gets none, and a non-scannable advertiser sends none;
  * advertising event properties: the stock controller reports every advertisement as
    connectable; here the connectable/scannable bits are the advertiser's, and a central does not
    connect to a non-connectable advertiser;
  * ACL source address: the stock link sends LE data from the controller's random address, so a
    peripheral that advertises with its public address (as an ESP32 running MicroPython does)
    could not be answered; here data is sent from the address the connection was made with;
  * connection cancel: the stock controller acknowledges LE Create Connection Cancel but keeps
    initiating and never reports the end of the attempt, so a connect that timed out blocked
    every later one; here the attempt ends with an LE Connection Complete (Unknown Connection
    Identifier), as the specification asks.
"""
from __future__ import annotations

import asyncio
import dataclasses

from bumble import hci, ll
from bumble.controller import Controller
from bumble.core import PhysicalTransport
from bumble.link import LocalLink

_ExtProps = hci.HCI_LE_Set_Extended_Advertising_Parameters_Command.AdvertisingProperties
_ReportType = hci.HCI_LE_Extended_Advertising_Report_Event.EventType



@dataclasses.dataclass
class _AdvExtIndWithScanResponse(ll.AdvExtInd):
    """An extended advertising PDU that also carries what an active scanner would get back."""

    connectable: bool = True
    scannable: bool = True
    legacy: bool = True
    scan_response_data: bytes = b""


class EmulatedController(Controller):
    """Bumble's software controller with the advertising fixes described in the module doc."""

    le_scan_active: bool = True

    def _advertising_set_for(self, address: hci.Address):
        for adv_set in self.advertising_sets.values():
            if adv_set.enabled and adv_set.address == address:
                return adv_set
        return None

    def send_advertising_pdu(self, packet: ll.AdvertisingPdu) -> None:
        if type(packet) is ll.AdvExtInd:
            adv_set = self._advertising_set_for(packet.advertiser_address)
            if adv_set is not None and adv_set.parameters is not None:
                props = _ExtProps(adv_set.parameters.advertising_event_properties)
                packet = _AdvExtIndWithScanResponse(
                    advertiser_address=packet.advertiser_address,
                    data=packet.data,
                    target_address=packet.target_address,
                    adi=packet.adi,
                    sid=packet.sid,
                    tx_power=packet.tx_power,
                    periodic_advertising_data=packet.periodic_advertising_data,
                    connectable=bool(props & _ExtProps.CONNECTABLE_ADVERTISING),
                    scannable=bool(props & _ExtProps.SCANNABLE_ADVERTISING),
                    legacy=bool(props & _ExtProps.USE_LEGACY_ADVERTISING_PDUS),
                    scan_response_data=bytes(adv_set.scan_response_data),
                )
        super().send_advertising_pdu(packet)

    def on_hci_le_set_extended_scan_parameters_command(self, command):
        self.le_scan_active = bool(command.scan_types and command.scan_types[0])
        return super().on_hci_le_set_extended_scan_parameters_command(command)

    def on_hci_le_set_scan_parameters_command(self, command):
        result = super().on_hci_le_set_scan_parameters_command(command)
        self.le_scan_active = bool(self.le_scan_type)
        return result

    def on_advertising_pdu(self, pdu) -> None:
        if not isinstance(pdu, _AdvExtIndWithScanResponse):
            super().on_advertising_pdu(pdu)
            return
        if self.le_scan_enable:
            base = 0
            if pdu.legacy:
                base |= _ReportType.LEGACY_ADVERTISING_PDU_USED
            if pdu.connectable:
                base |= _ReportType.CONNECTABLE_ADVERTISING
            if pdu.scannable:
                base |= _ReportType.SCANNABLE_ADVERTISING
            reports = [(base, pdu.data)]
            if pdu.scannable and self.le_scan_active:
                reports.append((base | _ReportType.SCAN_RESPONSE, pdu.scan_response_data))
            for event_type, data in reports:
                report = hci.HCI_LE_Extended_Advertising_Report_Event.Report(
                    event_type=event_type,
                    address_type=pdu.advertiser_address.address_type,
                    address=pdu.advertiser_address,
                    primary_phy=hci.Phy.LE_1M,
                    secondary_phy=0 if pdu.legacy else hci.Phy.LE_1M,
                    advertising_sid=0xFF if pdu.legacy else pdu.sid,
                    tx_power=hci.HCI_LE_Extended_Advertising_Report_Event.TX_POWER_INFORMATION_NOT_AVAILABLE,
                    rssi=-50,
                    periodic_advertising_interval=0,
                    direct_address_type=0,
                    direct_address=hci.Address.ANY,
                    data=data,
                )
                self.send_hci_packet(hci.HCI_LE_Extended_Advertising_Report_Event([report]))
        pending = self.pending_le_connection
        if pending is not None and pending.peer_address == pdu.advertiser_address and pdu.connectable:
            self.create_le_connection(pdu.advertiser_address)

    def on_hci_le_create_connection_cancel_command(self, command):
        # The stock controller forgets to end the pending connection; per the spec the initiator
        # stops and the host gets an LE Connection Complete with "Unknown Connection Identifier".
        pending, self.pending_le_connection = self.pending_le_connection, None
        if pending is not None:
            asyncio.get_running_loop().call_soon(
                self.send_hci_packet,
                hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0,
                    role=hci.Role.CENTRAL,
                    peer_address_type=pending.peer_address.address_type,
                    peer_address=pending.peer_address,
                    connection_interval=0,
                    peripheral_latency=0,
                    supervision_timeout=0,
                    central_clock_accuracy=0,
                ),
            )
        return super().on_hci_le_create_connection_cancel_command(command)

    def on_le_connect_ind(self, packet: ll.ConnectInd) -> None:
        adv_set = self._advertising_set_for(packet.advertiser_address)
        if adv_set is not None and adv_set.parameters is not None:
            props = _ExtProps(adv_set.parameters.advertising_event_properties)
            if not props & _ExtProps.CONNECTABLE_ADVERTISING:
                return
        super().on_le_connect_ind(packet)


class EmulatedLink(LocalLink):
    """LocalLink that sends LE data from the connection's own address and models radio range."""

    def __init__(self) -> None:
        super().__init__()
        self.out_of_range: set[Controller] = set()

    def send_acl_data(self, sender_controller, destination_address, transport, data) -> None:
        if transport != PhysicalTransport.LE:
            super().send_acl_data(sender_controller, destination_address, transport, data)
            return
        if sender_controller in self.out_of_range:
            return
        connection = sender_controller.le_connections.get(destination_address)
        source_address = (
            connection.self_address if connection is not None else sender_controller.random_address
        )
        destination = self.find_le_controller(destination_address)
        if destination is None or destination in self.out_of_range:
            return
        asyncio.get_running_loop().call_soon(
            destination.on_link_acl_data, source_address, transport, data
        )

    def send_advertising_pdu(self, sender_controller, packet) -> None:
        if sender_controller in self.out_of_range:
            return
        loop = asyncio.get_running_loop()
        for controller in self.controllers:
            if controller is not sender_controller and controller not in self.out_of_range:
                loop.call_soon(controller.on_ll_advertising_pdu, packet)
