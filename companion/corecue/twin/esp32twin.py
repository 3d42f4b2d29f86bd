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
import tempfile

from corecue.twin.radio import EmulatedAir
from corecue.interp import FIRMWARE, micropython_path
from corecue.flash.manifest import deployed, mpy_cross_path, read_manifest
from corecue.twin.radioserver import RadioServer

UNIXPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unixport")
ROM = os.path.join(UNIXPORT, "rom.py")
# An ESP32-S3 without PSRAM leaves the firmware 256 KB; the twin's own modules (unixport: code
# that is C in flash on the chip) take about 30 KB of the unix port's heap on top
# (tests/companion/test_esp32_twin.py measures it), so the process gets that much more.
TWIN_HEAP_KB = 32
HEAP = "heapsize=%dk" % (256 + TWIN_HEAP_KB)


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


class Esp32Twin:
    """`await Esp32Twin(folder).start()`; `backend()` for transport_ble; `close()`."""

    def __init__(self, folder, effort=20, mac=None, interpreter=None):
        self.folder = os.path.abspath(folder)
        self.effort = effort
        self.mac = mac
        self.interpreter = interpreter or micropython_path()
        self.air = self.server = self.proc = None
        self._tmp = None
        self.output = bytearray()       # what the belt printed and wrote on its USB line

    async def start(self):
        os.makedirs(self.folder, exist_ok=True)
        self._tmp = tempfile.mkdtemp(prefix="corecue-twin-")
        tree = build_host_tree(os.path.join(self._tmp, "tree"))
        self.air = EmulatedAir()
        await self.air.start()
        dev = await self.air.add_peripheral()
        sock = os.path.join(self._tmp, "radio")
        self.server = await RadioServer(self.air, dev).start(sock)
        cmd = [self.interpreter, "-X", HEAP, ROM, "--flash", os.path.join(self.folder, "esp32.img"),
               "--install", tree, "--effort", str(self.effort)]
        if self.mac:
            cmd += ["--mac", self.mac.hex()]
        env = dict(os.environ, CORECUE_RADIO=sock, MICROPYPATH=UNIXPORT + ":.frozen")
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self._more = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self):
        while True:
            data = await self.proc.stdout.read(4096)
            self._more.set()
            if not data:
                return
            self.output.extend(data)

    async def wait_output(self, needle, timeout=30):
        """Until the belt has printed needle (bytes); AssertionError if it ends first."""
        async with asyncio.timeout(timeout):
            while needle not in self.output:
                if self._reader.done():
                    raise AssertionError("the twin ended: %r" % bytes(self.output[-600:]))
                self._more.clear()
                await self._more.wait()

    def backend(self):
        return self.air.bleak_backends()

    async def close(self):
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self.server is not None:
            await self.server.close()
        if self.air is not None:
            await self.air.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
