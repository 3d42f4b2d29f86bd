"""The virtual belt in this process, over Bluetooth LE: what `--virtual DIR` connects to.

The belt's own firmware (App, BleLink, Storage, config, commands) runs on the sim board in the
companion's asyncio loop; its `bluetooth` module is the emulated radio (corecue.twin.radio) and the
companion reaches it through bleak with the emulated backend, exactly as it reaches a real belt.
Only the board is simulated: the person wearing it is boards.scenarios.Responsive (follows
calibration phases, braces about 20 % while a session is open), the button is `press()`.

The flash is DIR/flash, a plain folder (boards/simflash.py), the same one `corecue virtual run
DIR` uses under MicroPython: successive commands, in this process or the other, see one belt.

Time is the belt's virtual clock. At speed 0 it runs as fast as the host allows; `sleep()` waits
in the belt's time, so a guided step of "relax for 10 seconds" takes 10 s of the belt's time
however fast that runs. The companion's own timeouts stay in real time.
"""
import asyncio
import contextlib
import os
import time

from corecue.interp import firmware_module
from corecue.link.client import BeltError
from corecue.link.oserrors import sentence, words

firmware_module("belt.app")                     # firmware/ and the MicroPython shims on sys.path
from belt import config as _config  # noqa: E402
from belt import owners  # noqa: E402
from belt.app import App  # noqa: E402
from belt.blelink import BleLink, belt_name  # noqa: E402
from belt.storage import Storage  # noqa: E402
from boards.scenarios import Responsive  # noqa: E402
from boards.sim import Board  # noqa: E402


def _quiet_radio_logs():
    # Bumble reports, as warnings, what an emulated link does when it is torn down mid-exchange
    # (Ctrl-C, a dropped link): the companion says what matters in its own words.
    import logging
    for name in ("bumble", "corecue.twin.radio"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


def _shutdown_noise(loop, context):
    # A reply that lands on a future already cancelled (the command was interrupted) is not an
    # error; anything else goes to asyncio's usual report.
    if isinstance(context.get("exception"), asyncio.InvalidStateError):
        return
    loop.default_exception_handler(context)


class VirtualBelt:
    """start(), then connect with transport_ble.connect(backend=vb.backend()); close() at the
    end closes any open session as switching the belt off would not: orderly."""

    def __init__(self, folder, speed=0.0, person=None):
        self.folder = os.path.abspath(folder)
        self.speed = speed
        self.person = person or Responsive()
        self.air = self.board = self.app = self.link = self.owner = None
        self._dev = None
        self._tasks = []
        self._lock = None

    async def start(self):
        from corecue.twin.radio import EmulatedAir
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise BeltError(f"{self.folder}: not a folder (a virtual belt keeps its flash in one)")
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as e:
            raise BeltError(sentence(e, self.folder, "make the virtual belt in")) from None
        from corecue.twin.recording import RecordingError
        from corecue.twin.mpbelt import BeltInUse
        try:
            self._lock = BeltInUse(self.folder).__enter__()
        except RecordingError as e:
            raise BeltError(str(e)) from None
        _quiet_radio_logs()
        asyncio.get_running_loop().set_exception_handler(_shutdown_noise)
        try:
            self.air = EmulatedAir()
            await self.air.start()
            self._dev = await self.air.add_peripheral()
            # The belt's clock starts at the host's time, as a belt the companion has set.
            self.board = Board(self.folder, self.person, speed=self.speed,
                               wall_time=int(time.time()),
                               bluetooth=self.air.bluetooth_module(self._dev))
            self._boot()
        except (OSError, ValueError) as e:
            # A flash folder someone has tampered with (a file where a folder should be, ...).
            await self.close()
            if os.path.exists(os.path.join(self.folder, "flash.img")):
                raise BeltError(f"{self.folder} keeps its flash in a LittleFS image, as on the "
                                "ESP32, which only the MicroPython runs can open: use `corecue "
                                f"virtual serve {self.folder}`, then --port") from None
            where = getattr(e, "filename", None) or self.folder
            why = words(e)[0] if isinstance(e, OSError) else "not as the belt wrote it"
            raise BeltError(f"this virtual belt's flash is damaged: {where}: {why} (move "
                            f"{self.folder} away and pair a new virtual belt)") from None
        return self

    def _boot(self):
        # The firmware's own boot on the sim board, as main.py does it: config, app, radio link.
        cfg, reason = _config.load(self.board.root + "/corecue.cfg")
        self.app = App(self.board, cfg, Storage(self.board.root + "/sessions"), self._log)
        if reason:
            self._log("config: %s; using defaults" % reason)
        # Ownership as main.py wires it: the keys in DIR/flash/keys, the pairing window on a
        # long press of the (simulated) button.
        self.owner = owners.setup(self.app, self.board.root)
        self.link = BleLink(self.app, *self.board.ble(), owner=self.owner,
                            on_paired=owners.paired(self.app, "Bluetooth"),
                            bonds=self.owner.bonds)
        self._tasks = self.app.start(self.link.tasks())

    @property
    def asleep(self):
        """The belt went to deep sleep after its idle time (config sleep_s): no radio."""
        return self.board is not None and self.board.asleep

    async def wake(self):
        """The wearer presses the button of a sleeping belt: the chip boots again, on the same
        board (its clock goes on), and advertises. Nothing when it is awake."""
        old = self._wake_now()
        await asyncio.gather(*old, return_exceptions=True)

    def _wake_now(self):
        # The boot happens at once, so whatever follows the press sees the woken belt; the old
        # boot's tasks (all waiting: the chip stopped them) end at the loop's next turn.
        if not self.asleep:
            return []
        old = self._tasks
        for t in old:
            t.cancel()
        self.board.press("short")
        self.board.sleep_until_pressed()
        self._boot()
        return old

    def _log(self, msg):
        # The belt's log goes where `virtual serve` puts it: DIR/belt.log.
        try:
            with open(os.path.join(self.folder, "belt.log"), "a") as f:
                f.write("%9.1f s  %s\n" % (self.board.elapsed_ms / 1000 if self.board else 0, msg))
        except OSError:
            pass

    @property
    def name(self):
        return belt_name(self.board.device_id())

    @property
    def device(self):
        return self.board.device_id().hex()

    def backend(self):
        """(scanner backend, client backend) for transport_ble.scan/connect."""
        return self.air.bleak_backends()

    async def sleep(self, seconds):
        """Wait `seconds` of the belt's time (which passes on while it is in deep sleep)."""
        end = self.board.elapsed_ms + int(seconds * 1000)
        while self.board.elapsed_ms < end:
            if self.asleep:
                self.board.pass_asleep(end - self.board.elapsed_ms)
                break
            await self.board.sleep_ms(end - self.board.elapsed_ms)

    @contextlib.asynccontextmanager
    async def real_time(self):
        """The belt's time at least as slow as real time meanwhile: while a companion connects
        and authenticates, the belt's 5 s for it are the companion's 5 s, as with a real belt."""
        before = self.board.speed
        if before == 0 or before > 1:
            self.board.set_speed(1.0)
        try:
            yield
        finally:
            if self.board is not None and self.board.speed != before:
                self.board.set_speed(before)

    def press(self, kind="short"):
        """The wearer presses the belt's button ("short" or "long"); a sleeping belt wakes."""
        if self.asleep:
            self._wake_now()
        else:
            self.board.press(kind)

    async def hold_button(self):
        """The wearer holds the button until the belt buzzes twice: a long press while idle opens
        the pairing window (belt.owners). Returns once the press has been taken, in the belt's
        time."""
        self.board.press("long")
        for _ in range(50):
            await self.board.sleep_ms(100)
            if self.owner.window_open(self.board.ticks_ms()):
                return
        raise BeltError("the virtual belt did not open its pairing window (is it in a run?)")

    @property
    def state(self):
        return self.app.flow.state

    def drop_link(self):
        """The radio link drops, as when the belt goes out of range (for tests and the demo)."""
        return self.air.drop_link(self._dev)

    async def close(self):
        if self.app is not None:
            self.app.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.air is not None:
            await self.air.close()
            self.air = None
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None


async def serve_hci(folder, transport, speed=1.0, on_ready=print):
    """The virtual belt on a radio another Bluetooth host can use: one more controller joins the
    emulated air, driven over the HCI transport named by a Bumble transport spec ("vhci": a
    kernel HCI device for Linux's BlueZ, so bleak's default backend and bluetoothctl see the
    belt; "tcp-server:127.0.0.1:9000": any host speaking HCI over TCP). Runs until cancelled."""
    from bumble.transport import open_transport
    vb = await VirtualBelt(folder, speed).start()
    try:
        try:
            hci = await open_transport(transport)
        except Exception as e:          # Bumble raises whatever the OS gave it: say it in a line
            from corecue.link.oserrors import hci_error
            raise BeltError(hci_error(transport, e)) from None
        async with hci:
            vb.air.attach_host_controller(hci.source, hci.sink)
            # The other host has no way to press the belt's button: it is held once for it, so
            # that host can pair within the first 60 s.
            await vb.hold_button()
            on_ready(vb.name)
            await asyncio.Event().wait()
    finally:
        await vb.close()
