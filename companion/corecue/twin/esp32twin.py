"""The reference board under the real interpreter: firmware/main.py's ESP32 path and
boards/xiao_esp32s3.py, unchanged, on the MicroPython unix port, with only the silicon simulated
(twin/unixport: `machine`, `esp32`, `bluetooth`, the flash chip, the world at the pins).

The firmware is built as `corecue flash` builds it, but for the host's architecture (mpy-cross
-march=x64: the viper code must run here), installed into a LittleFS image and booted by
unixport/rom.py. Its radio is a Bumble peripheral on an `EmulatedAir` in this process, reached
through `radioserver`; its USB serial line is the process's stdin and stdout.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

from corecue.flash.manifest import deployed, mpy_cross_path, read_manifest
from corecue.interp import FIRMWARE
from corecue.twin.mpble import HEAP, TWIN_HEAP_KB, UNIXPORT, AirProcess  # noqa: F401

ROM = os.path.join(UNIXPORT, "rom.py")


def build_host_tree(out_dir, firmware_dir=FIRMWARE):
    """The deployed files of firmware/manifest.txt in out_dir, laid out as on the belt: sources as
    they are, the rest compiled to .mpy for this machine."""
    compiler = mpy_cross_path()
    for e in deployed(read_manifest()):
        src = os.path.join(firmware_dir, e.source)
        out = os.path.join(out_dir, e.device)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if e.kind == "source":
            shutil.copyfile(src, out)
            continue
        subprocess.run([compiler, "-march=x64", "-s", e.source, "-o", out, src], check=True,
                       capture_output=True)
    return out_dir


class Esp32Twin(AirProcess):
    """The reference board with its flash image in DIR/esp32.img; `effort` is the wearer's brace
    on the sensor input (percent of maximal), `mac` the chip's MAC."""

    def __init__(self, folder, effort=20, mac=None, interpreter=None, press_ms=None,
                 hold_ms=None):
        super().__init__(interpreter)
        self.folder = os.path.abspath(folder)
        self.effort = effort
        self.mac = mac
        self.press_ms = press_ms
        self.hold_ms = hold_ms      # a long press then (the pairing window)

    def command(self):
        os.makedirs(self.folder, exist_ok=True)
        tree = build_host_tree(os.path.join(self._tmp, "tree"))
        cmd = [self.interpreter, "-X", HEAP, ROM, "--flash", os.path.join(self.folder, "esp32.img"),
               "--install", tree, "--effort", str(self.effort)]
        if self.mac:
            cmd += ["--mac", self.mac.hex()]
        if self.press_ms is not None:
            cmd += ["--press", str(int(self.press_ms))]
        if self.hold_ms is not None:
            cmd += ["--hold", str(int(self.hold_ms))]
        return cmd

    async def usb_client(self):
        """A corecue.link.client.Belt on the USB line, HELLO done (pair it over the cable with
        corecue.link.auth.pair, as `corecue pair --port` does)."""
        from corecue.link.client import Belt
        belt = Belt(_UsbLine(self))
        await belt.hello()
        return belt

    async def usb_call(self, name, *fields, timeout=10):
        """One request over the belt's USB serial line (the process's stdin and stdout, where
        its log text is too): the reply's fields. The line is read from where the last call
        stopped, so a long test does not read the belt's whole output again per request."""
        from corecue.interp import firmware_module
        P = firmware_module("belt.protocol")
        framing = firmware_module("belt.framing")
        if not hasattr(self, "_usb_rx"):
            self._usb_rx, self._usb_seen, self._req = framing.Deframer(), 0, 0
        self._req += 1
        self.proc.stdin.write(framing.encode(P.request(name, self._req, *fields)))
        await self.proc.stdin.drain()
        async with asyncio.timeout(timeout):
            while True:
                got = []
                new = bytes(self.output[self._usb_seen:])
                self._usb_seen += len(new)
                self._usb_rx.feed(new, lambda p: got.append(bytes(p)))
                for pkt in got:
                    t, _, req, payload = P.parse(pkt)
                    if req == self._req and t & P.REPLY:
                        return P.decode_fields(P.reply_format(t), payload)[0]
                self._more.clear()
                await self._more.wait()


class _UsbLine:
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
