"""The virtual belt under MicroPython on the emulated air: the firmware's main.py on the sim board
(`--board sim --ble`), a child process whose `bluetooth` is the unix port's
(twin/unixport/bluetooth.py), its stack a Bumble peripheral here, on an `EmulatedAir` that the
companion reaches through bleak as it reaches a belt. `AirProcess` is what every such process
shares (the air, the radio server, the child's output); `MpBleBelt` is the sim board's, and
`esp32twin.Esp32Twin` the reference board's.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile

from corecue.interp import FIRMWARE, micropython_path
from corecue.twin.radio import EmulatedAir
from corecue.twin.radioserver import RadioServer

UNIXPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unixport")
MAIN = os.path.join(FIRMWARE, "main.py")
# The sim board runs the firmware from source, compiled as it loads (the belt has it compiled
# in flash), with the sim's own modules besides: it needs more. Memory as on the chip is the
# reference board's twin's to show (esp32twin, from .mpy files, BELT_HEAP_KB).
SIM_HEAP = "heapsize=512k"


class AirProcess:
    """A MicroPython process on the emulated air: `await start()`, `backend()` for
    link.ble.scan/connect, `drop_link()`, `wait_output(b"...")`, `close()`."""

    def __init__(self, interpreter=None):
        self.interpreter = interpreter or micropython_path()
        self.air = self.server = self.proc = self._dev = None
        self._tmp = None
        self.output = bytearray()       # what the belt printed (and wrote on its USB line)

    def command(self):
        raise NotImplementedError

    async def start(self):
        self._tmp = tempfile.mkdtemp(prefix="corecue-air-")
        cmd = self.command()
        self.air = EmulatedAir()
        await self.air.start()
        self._dev = await self.air.add_peripheral()
        sock = os.path.join(self._tmp, "radio")
        self.server = await RadioServer(self.air, self._dev).start(sock)
        self._more = asyncio.Event()
        await self._spawn(cmd)
        return self

    async def _spawn(self, cmd):
        """Start the process on the air and the radio server already there: at start, and again
        for a chip that boots anew on the same air (esp32twin: a wake from deep sleep). What it
        prints goes on after what earlier processes printed."""
        sock = os.path.join(self._tmp, "radio")
        env = dict(os.environ, CORECUE_RADIO=sock, MICROPYPATH=UNIXPORT + ":.frozen")
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=FIRMWARE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read(self.proc))

    async def _read(self, proc):
        while True:
            data = await proc.stdout.read(4096)
            self._more.set()
            if not data:
                return
            self.output.extend(data)

    async def wait_output(self, needle, timeout=30, since=0):
        """Until the belt has printed needle (bytes) after output[since:]; AssertionError if it
        ends first."""
        async with asyncio.timeout(timeout):
            while needle not in self.output[since:]:
                if self._reader.done():
                    raise AssertionError("the belt ended: %r" % bytes(self.output[-600:]))
                self._more.clear()
                await self._more.wait()

    def backend(self):
        return self.air.bleak_backends()

    def drop_link(self):
        """The radio link drops, as when the belt goes out of range."""
        return self.air.drop_link(self._dev)

    async def close(self):
        if self.proc is not None and self.proc.returncode is None:
            # Ctrl-C first: MicroPython ends its program (KeyboardInterrupt) and runs what it
            # runs at exit; a process that does not end soon is killed.
            self.proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(5):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.server is not None:
            await self.server.close()
        if self.air is not None:
            await self.air.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


class MpBleBelt(AirProcess):
    """The sim board's virtual belt in DIR (the same flash folder as `--virtual DIR`), the
    responsive person, at `speed` times real time (0: as fast as the host allows)."""

    def __init__(self, folder, speed=1.0, interpreter=None, extra=()):
        super().__init__(interpreter)
        self.folder = os.path.abspath(folder)
        self.speed = speed
        self.extra = tuple(extra)

    def name(self):
        """corecue-XXXX, from the device id the belt keeps in its flash."""
        with open(os.path.join(self.folder, "flash", "device_id"), "rb") as f:
            i = f.read()
        return "corecue-%02X%02X" % (i[-2], i[-1])

    def command(self):
        return [self.interpreter, "-X", SIM_HEAP, MAIN, "--board", "sim", "--flash", self.folder,
                "--ble", "--speed", "%g" % self.speed] + list(self.extra)


async def serve_hci(folder, transport, speed=1.0, on_ready=print):
    """`corecue virtual ble DIR --interpreter micropython`: the belt under MicroPython on the air,
    and one more controller on it driven over an HCI transport by another Bluetooth host (as
    virtualbelt.serve_hci does for the belt in this process). Runs until cancelled."""
    from bumble.transport import open_transport

    from corecue.link.errors import BeltError
    from corecue.twin.mpbelt import BeltInUse
    from corecue.twin.recording import RecordingError
    os.makedirs(folder, exist_ok=True)
    try:
        lock = BeltInUse(folder).__enter__()
    except RecordingError as e:
        raise BeltError(str(e)) from None
    # The other host has no way to press the belt's button: it is held once, just after boot,
    # so that host can pair within the first 60 s of the belt's time.
    belt = MpBleBelt(folder, speed, extra=("--long-press", "500"))
    try:
        await belt.start()
        await belt.wait_output(b"sessions:")
        try:
            hci = await open_transport(transport)
        except Exception as e:          # Bumble raises whatever the OS gave it: say it in a line
            from corecue.link.oserrors import hci_error
            raise BeltError(hci_error(transport, e)) from None
        async with hci:
            belt.air.attach_host_controller(hci.source, hci.sink)
            on_ready(belt.name())
            await belt.proc.wait()
    finally:
        await belt.close()
        lock.__exit__(None, None, None)
