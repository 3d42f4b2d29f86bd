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

The controller and link are Bumble's, with four patches (controller.py) so that the emulated
radio behaves like a real one where the companion and the firmware can tell.
"""
from __future__ import annotations

import asyncio
import logging

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device, DeviceConfiguration
from bumble.host import Host
from bumble.transport.common import AsyncPipeSink

from corecue.twin.radio.controller import EmulatedController, EmulatedLink

logger = logging.getLogger(__name__)

CENTRAL_ADDRESS = "CE:00:00:00:00:01"
CENTRAL_RANDOM_ADDRESS = "DE:00:00:00:00:01"

# HCI reason codes used for link faults.
REASON_CONNECTION_TIMEOUT = hci.HCI_CONNECTION_TIMEOUT_ERROR  # 0x08, supervision timeout


def peripheral_address(index: int) -> str:
    """Public address of the index-th peripheral (1-based)."""
    if not 1 <= index <= 0xFF:
        raise ValueError("peripheral index out of range")
    return "CC:00:00:00:00:%02X" % index


def _peripheral_random_address(index: int) -> str:
    # A valid random static address (two top bits set), used only after config(addr_mode=1).
    return "DC:00:00:00:00:%02X" % index


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
        self.link = EmulatedLink()
        self.central: Device | None = None
        self.peripherals: list[Device] = []
        self._controllers: dict[Device, EmulatedController] = {}
        self._central_radio = None
        self._modules: list = []

    @staticmethod
    def _make_device(name: str, public: str, random: str, link: EmulatedLink):
        controller = EmulatedController(name, link=link, public_address=public)
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
        return EmulatedController(
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
