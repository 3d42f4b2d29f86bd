"""A virtual BLE radio environment: Bumble controllers joined by a local link, in one process.

`EmulatedAir` owns one link with one central (the companion's side, driven through bleak with the
backend in `bleak_backend`) and any number of peripherals (belts, driven through the MicroPython
`bluetooth` API in `micropython_ble`). Every device runs a real Bumble host (HCI, L2CAP, ATT/GATT,
SMP) against a Bumble software controller; only the radio is replaced by in-process delivery.

Addresses are deterministic: the central is `CENTRAL_ADDRESS`, peripheral *i* (counting from 1)
has the public address `CC:00:00:00:00:0i` (see `peripheral_address`). Nothing in the companion
may depend on them: it finds belts by advertised service UUID and name.

Link faults: `drop_link` ends connections as a supervision timeout does (both hosts get a
Disconnection Complete with reason 0x08, nothing is said over the air, data in flight is lost),
and `set_in_range(peripheral, False)` takes a peripheral out of radio range (its links drop, its
advertisements are not heard and nothing can connect to it) until it is put back.

Four things are patched in Bumble's software controller and link (bumble==0.0.236), so that the
emulated radio behaves like a real one where the companion and the firmware can tell:
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
import logging

from bumble import hci, ll
from bumble.controller import Controller
from bumble.core import PhysicalTransport
from bumble.device import Device, DeviceConfiguration
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

logger = logging.getLogger(__name__)

CENTRAL_ADDRESS = "CE:00:00:00:00:01"
CENTRAL_RANDOM_ADDRESS = "DE:00:00:00:00:01"

# HCI reason codes used for link faults.
REASON_CONNECTION_TIMEOUT = hci.HCI_CONNECTION_TIMEOUT_ERROR  # 0x08, supervision timeout

_ExtProps = hci.HCI_LE_Set_Extended_Advertising_Parameters_Command.AdvertisingProperties
_ReportType = hci.HCI_LE_Extended_Advertising_Report_Event.EventType


def peripheral_address(index: int) -> str:
    """Public address of the index-th peripheral (1-based)."""
    if not 1 <= index <= 0xFF:
        raise ValueError("peripheral index out of range")
    return "CC:00:00:00:00:%02X" % index


def _peripheral_random_address(index: int) -> str:
    # A valid random static address (two top bits set), used only after config(addr_mode=1).
    return "DC:00:00:00:00:%02X" % index


@dataclasses.dataclass
class _AdvExtIndWithScanResponse(ll.AdvExtInd):
    """An extended advertising PDU that also carries what an active scanner would get back."""

    connectable: bool = True
    scannable: bool = True
    legacy: bool = True
    scan_response_data: bytes = b""


class _EmulatedController(Controller):
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


class _EmulatedLink(LocalLink):
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


class EmulatedAir:
    """One virtual radio neighbourhood: a central and any number of peripherals.

    Create and use it inside a running event loop::

        air = EmulatedAir()
        central = await air.start()            # the companion's controller + host
        belt = await air.add_peripheral()       # a belt's controller + host
        bluetooth = air.bluetooth_module(belt)  # what the belt firmware imports as `bluetooth`
        Scanner, Client = air.bleak_backends()  # pass as backend= to BleakScanner / BleakClient
        ...
        await air.close()
    """

    def __init__(self) -> None:
        self.link = _EmulatedLink()
        self.central: Device | None = None
        self.peripherals: list[Device] = []
        self._controllers: dict[Device, _EmulatedController] = {}
        self._central_radio = None
        self._modules: list = []

    @staticmethod
    def _make_device(name: str, public: str, random: str, link: _EmulatedLink):
        controller = _EmulatedController(name, link=link, public_address=public)
        config = DeviceConfiguration()
        config.name = name
        config.address = hci.Address(random)
        config.advertising_data = b""
        config.scan_response_data = b""
        device = Device(config=config, host=Host(controller, AsyncPipeSink(controller)))
        return device, controller

    async def start(self) -> Device:
        """Create and power on the central (idempotent). Returns its Bumble Device."""
        if self.central is None:
            device, controller = self._make_device(
                "central", CENTRAL_ADDRESS, CENTRAL_RANDOM_ADDRESS, self.link
            )
            await device.power_on()
            self.central = device
            self._controllers[device] = controller
        return self.central

    async def add_peripheral(self, name: str | None = None) -> Device:
        """Create and power on the next peripheral. Its controller has a deterministic public
        address (`peripheral_address(i)`); its host is idle until the firmware uses it."""
        index = len(self.peripherals) + 1
        device, controller = self._make_device(
            name or "belt-%d" % index,
            peripheral_address(index),
            _peripheral_random_address(index),
            self.link,
        )
        await device.power_on()
        self.peripherals.append(device)
        self._controllers[device] = controller
        return device

    def bluetooth_module(self, peripheral: Device, **kwargs):
        """A fresh module object that behaves as MicroPython's `bluetooth` on this peripheral."""
        from corecue.twin.radio import micropython_ble

        module = micropython_ble.module_for(peripheral, **kwargs)
        self._modules.append(module)
        return module

    def central_radio(self):
        """The shared central radio the bleak backend classes use."""
        from corecue.twin.radio import bleak_backend

        if self.central is None:
            raise RuntimeError("call start() first")
        if self._central_radio is None:
            self._central_radio = bleak_backend.CentralRadio(self.central)
        return self._central_radio

    def bleak_backends(self):
        """(scanner backend class, client backend class) bound to this air's central, for the
        `backend=` argument of bleak's BleakScanner and BleakClient."""
        from corecue.twin.radio import bleak_backend

        return bleak_backend.backends_for(self.central_radio())

    def controller_of(self, device: Device) -> Controller:
        return self._controllers[device]

    def drop_link(self, peripheral: Device | None = None, reason: int = REASON_CONNECTION_TIMEOUT) -> int:
        """End, at link level, every connection of `peripheral` (or every connection on the air).

        Both hosts receive a Disconnection Complete event with `reason`; nothing is exchanged
        over the air first, so data in flight is lost. Returns the number of links dropped."""
        dropped = 0
        targets = [peripheral] if peripheral is not None else list(self.peripherals)
        for device in targets:
            controller = self._controllers[device]
            for peer_address, connection in list(controller.le_connections.items()):
                peer = self.link.find_le_controller(peer_address)
                if peer is not None:
                    peer_connection = peer.le_connections.get(connection.self_address)
                    if peer_connection is not None:
                        peer.on_le_disconnected(peer_connection, reason)
                controller.on_le_disconnected(connection, reason)
                dropped += 1
        return dropped

    def set_in_range(self, peripheral: Device, in_range: bool) -> None:
        """Move a peripheral out of (or back into) radio range of everything else on the air."""
        controller = self._controllers[peripheral]
        if in_range:
            self.link.out_of_range.discard(controller)
        else:
            self.drop_link(peripheral)
            self.link.out_of_range.add(controller)

    def attach_host_controller(self, hci_source, hci_sink, public_address: str = "CE:00:00:00:00:02"):
        """Put one more controller on this air, driven by an outside host over an HCI transport
        (for example Linux's BlueZ through Bumble's `vhci` transport, docs/ble-emulation.md)."""
        return _EmulatedController(
            "host-controller",
            host_source=hci_source,
            host_sink=hci_sink,
            link=self.link,
            public_address=public_address,
        )

    async def close(self) -> None:
        """Drop every link and silence every controller; the air can be discarded afterwards.

        Controllers are stopped directly (not through their hosts), so work the firmware queued
        just before may still run harmlessly: nothing it sends is delivered any more."""
        self.drop_link()
        for _ in range(5):  # disconnection events reach the hosts and the firmware
            await asyncio.sleep(0)
        for module in self._modules:
            ble = module.BLE.__dict__.get("_instance")
            if ble is not None:
                try:
                    async with asyncio.timeout(5):
                        await ble.settle()
                except (TimeoutError, asyncio.TimeoutError):  # pragma: no cover - diagnostic
                    logger.warning("emulated BLE operations of %s did not settle", ble.device.name)
        for controller in list(self.link.controllers):
            for adv_set in controller.advertising_sets.values():
                adv_set.stop()
            controller.le_legacy_advertiser.stop()
            controller.le_scan_enable = False
            self.link.out_of_range.add(controller)
        # Let the disconnection events reach the hosts before the loop goes away.
        for _ in range(3):
            await asyncio.sleep(0)
