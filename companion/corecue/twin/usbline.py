"""The USB serial line of the reference board's twin (twin/esp32twin.py: the MicroPython
process's stdin and stdout, where the belt's log text is too) as a transport for
corecue.link.client.Belt.
"""
from __future__ import annotations

import asyncio


class UsbLine:
    """The twin's USB serial line (the process's stdin and stdout) as a transport for
    corecue.link.client.Belt: the packets on stdout after the moment it is bound."""

    def __init__(self, twin):
        from corecue.interp import firmware_module
        self.twin = twin
        self.framing = firmware_module("belt.framing")
        self.deframer = self.framing.Deframer()
        self._task = None

    def bind(self, receiver):
        self.receiver = receiver
        self._task = asyncio.get_running_loop().create_task(self._pump(len(self.twin.output)))

    async def _pump(self, seen):
        while True:
            new = bytes(self.twin.output[seen:])
            seen += len(new)
            self.deframer.feed(new, lambda p: self.receiver.packet_received(bytes(p)))
            self.twin._more.clear()
            await self.twin._more.wait()

    async def send(self, pkt):
        self.twin.proc.stdin.write(self.framing.encode(pkt))
        await self.twin.proc.stdin.drain()

    async def close(self):
        if self._task is not None:
            self._task.cancel()
