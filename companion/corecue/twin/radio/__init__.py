"""Emulated Bluetooth LE link for the belt and the companion: real Bluetooth stacks, no radio.

* `link.EmulatedAir`: Bumble controllers joined in one process (one central, N peripherals),
  deterministic addresses, link-level faults.
* `micropython_ble`: MicroPython's `bluetooth` module on an emulated peripheral, so the belt
  firmware's BLE code runs unchanged under CPython.
* `bleak_backend`: a bleak backend on the emulated central, so the companion uses bleak's public
  API with `backend=`.

docs/ble-emulation.md describes how it is put together and what differs from the real thing.
"""
from corecue.twin.radio.link import CENTRAL_ADDRESS, EmulatedAir, peripheral_address

__all__ = ["CENTRAL_ADDRESS", "EmulatedAir", "peripheral_address"]
