# The sim board: the belt without hardware, for the MicroPython unix port (and CPython).
#
# Only the board is simulated. The sampling "timer" calls the firmware's Sampler.record() once
# per sample with a virtual microsecond clock; the button "interrupt" calls Button.edge(); the
# motor and the watchdog are recorded; the flash is a folder or a LittleFS image (boards/simflash.py). Time
# is virtual: the world task advances it in small steps and yields to the firmware's tasks between
# steps. By default it runs as fast as the host allows, so a 45-minute morning takes seconds; with
# a speed it is held to that many times real time (1 for a companion watching live).
#
# The USB serial line is a port object (boards/stdio.py for the process's stdin and stdout, or a
# test's); when its stream ends (the companion has gone) the world ends, and main.py closes the
# open session on the way out.
import asyncio
import os
import sys
from array import array

try:
    from time import ticks_diff as _real_diff, ticks_ms as _real_ms
except ImportError:             # CPython
    import time

    def _real_ms():
        return int(time.monotonic() * 1000)

    def _real_diff(a, b):
        return a - b

from belt import dataarea, ticks
from belt.calibration import PH_BRACE, PH_PAUSE, PH_REST
from belt.runflow import State
from boards import scenarios, simflash, simsignal

_KIND = {"emg_raw": simsignal.RAW, "emg_env": simsignal.ENV, "stretch": simsignal.STRETCH}
_PHASE = {"rest": PH_REST, "brace": PH_BRACE, "pause": PH_PAUSE}
_STEP_MS = 20           # longest virtual step between yields to the firmware's tasks
# The runner's stride while running: 166 steps/min, and the trunk muscles' EMG 1.5x as strong for
# the 40 % of each step after the foot strike and 2/3 as strong for the rest (the same mean
# amplitude: the brace is unchanged). The belt finds its window and the cadence it logs in this.
_STRIDE_MS = 361
_WDT_TIMEOUT_MS = 10000
_PRESS_MS = {"short": 200, "long": 2000}
_BATTERY_MV = 3900      # a LiPo about half full, unless a test or scenario sets board.battery
_ID_FILE = "/device_id"


class _Flag:
    """ThreadSafeFlag's semantics (wait() consumes the set) on asyncio.Event. The sim's
    interrupts are calls from its world task, so no thread safety is needed, and a waiting
    ThreadSafeFlag makes every scheduler round on the unix port poll for about a millisecond."""

    def __init__(self):
        self._e = asyncio.Event()

    def set(self):
        self._e.set()

    async def wait(self):
        await self._e.wait()
        self._e.clear()


class Board:
    name = "sim"

    def __init__(self, flash_dir, scenario="morning", run_min=30, tick_start=0, recording=None,
                 wall_time=0, seed=1, usb=None, speed=0, bluetooth=None, image=None,
                 button_held=False):
        simflash.note = None
        simflash.area = dataarea.AS_IS      # a folder, or an image made here: as it is
        self.root = simflash.mount(flash_dir, image)
        self.flash_note = simflash.note     # the data area was formatted: why (main logs it)
        self.data_area = simflash.area
        self.flash_dir = flash_dir
        # A scenario is a name, (segments, events, end_s) or a person, as in boards/scenarios.py.
        if isinstance(scenario, str):
            scenario = scenarios.get(scenario, run_min)
        if hasattr(scenario, "effort"):
            self.person = scenario
            self.segments, events, end_s = (), (), scenario.end_s
        else:
            self.person = None
            self.segments, events, end_s = scenario
        self.end_ms = None if end_s is None else end_s * 1000
        self._events = []
        for t, action, arg in sorted(events, key=lambda e: e[0]):
            if action == "press":
                self._events.append((t * 1000, "down", arg))
                self._events.append((t * 1000 + _PRESS_MS[arg], "up", arg))
            else:
                self._events.append((t * 1000, action, arg))
        self._recording = open(recording, "rb") if recording else None
        self._ms = tick_start
        self._us = (tick_start * 1000) & (ticks.PERIOD - 1)
        self.elapsed_ms = 0
        self._wall0 = wall_time
        self._sleepers = []
        self.motor_edges = []       # (elapsed_ms, level) at every change
        self._motor = 0
        self.wdt_fed_at = 0
        self.wdt_expired = False
        self._st = array("i", [seed, 3])
        self.app = None
        self._world_task = None
        self.usb = usb
        self._bluetooth = bluetooth  # a `bluetooth` module (corecue.twin.radio's emulated radio)
        self.speed = speed          # virtual ms per real ms; 0: as fast as possible
        self.battery = _BATTERY_MV  # what the cell reads now (mV): a test may drain it
        self.ended = False          # end() was called: the host went away, or a reboot
        self.rebooting = False
        self.asleep = False         # in deep sleep: no samples, no radio, until a press
        self.woken = False          # this boot is a press waking the belt from deep sleep
        self.sleeps = []            # [start, end] elapsed ms of each deep sleep (end None: still)
        # Where the charge goes, in ms of each state while awake (power_states() adds the deep
        # sleep): awake (sampling: the belt samples from boot), the radio advertising, the radio
        # connected, the motor at full strength (its on time weighted by its strength).
        self.meter = [0, 0, 0, 0]
        self.adv_events = 0.0       # advertising events the radio sent (time / its interval)
        self._radio = None          # the BLE object handed out, whose state the meter reads
        self._never = None
        self._held_at_boot = button_held    # the wearer holds the button at power-on

    # -- the board interface the firmware uses ------------------------------------------------

    def ticks_ms(self):
        return self._ms

    def flag(self):
        return _Flag()

    def button_held(self):
        """The button is down now (read at boot: held at power-on is the factory reset)."""
        return self._held_at_boot

    def wall_time(self):
        return self._wall0 + self.elapsed_ms // 1000 if self._wall0 else 0

    async def sleep_ms(self, ms):
        ev = asyncio.Event()
        self._sleepers.append((self.elapsed_ms + ms, ev))
        await ev.wait()

    def set_motor(self, level):
        if level != self._motor:
            self._motor = level
            self.motor_edges.append((self.elapsed_ms, level))

    def feed_watchdog(self):
        self.wdt_fed_at = self.elapsed_ms

    def start(self, app):
        self.app = app
        self._world_task = asyncio.create_task(self._world())

    def stop(self):
        if self._world_task:
            self._world_task.cancel()
            self._world_task = None

    def log(self, msg):
        try:
            print("%9.1f s  %s" % (self.elapsed_ms / 1000, msg))
            if self.usb:
                sys.stdout.flush()      # log text and frames share the line: keep their order
        except OSError:
            pass                        # the companion closed the terminal: nobody to tell

    def battery_mv(self):
        return self.battery

    def device_id(self):
        """8 bytes, made up at random the first time and kept in this belt's flash, so the same
        folder is the same belt to the companion."""
        path = self.root + _ID_FILE
        try:
            with open(path, "rb") as f:
                got = f.read()
            if len(got) == 8:
                return got
        except OSError:
            pass
        got = os.urandom(8)
        with open(path, "wb") as f:
            f.write(got)
        return got

    def ble(self):
        """(BLE object, UUID type) for belt.blelink, or None when this sim has no radio."""
        bt = self._bluetooth
        if bt is None:
            return None
        self._radio = bt.BLE()
        return self._radio, bt.UUID

    async def usb_read(self, buf):
        """Bytes from the USB serial line into buf; 0 when the host has gone, which ends the
        world (main.py then closes the open session and exits)."""
        if self.usb is None:
            if self._never is None:
                self._never = asyncio.Event()
            await self._never.wait()
        n = await self.usb.readinto(buf)
        if not n:
            self.end()
        return n

    def usb_write(self, data, n=None):
        """data, or its first n bytes (the links write from buffers made once)."""
        if self.usb is not None:
            self.usb.write(data if n is None else memoryview(data)[:n])

    def deep_sleep(self):
        """The chip sleeps: the firmware stops (this boot ends), the radio is off, and the next
        press of the world wakes it into a new boot on this board, its time going on
        (sleep_until_pressed; main.py and the virtual belt boot it again)."""
        self.asleep = True
        self.sleeps.append([self.elapsed_ms, None])
        if self._bluetooth is not None:
            self._bluetooth.BLE().active(False)
        self.end()
        # The world task is stopped with the chip (App.deep_sleep calls stop()): whoever waits
        # on the board's clock is woken now and sees finished().
        for _, ev in self._sleepers:
            ev.set()
        self._sleepers = []

    def woke_by_button(self):
        return self.woken

    def usb_powered(self):
        """The sim's USB line is a host's cable (`virtual serve`): it powers the belt, as a board
        with VBUS sensed would know. (The XIAO cannot tell, boards/xiao_esp32s3.py.)"""
        return self.usb is not None and not getattr(self.usb, "dead", False)

    def _metered(self, ms):
        m = self.meter
        m[0] += ms
        radio = 0
        for link in self.app.links:
            if link.conn is not None:
                radio = 2
                break
        if not radio and self._radio is not None:
            # Advertising as the radio itself says (the emulated BLE's adv_interval_us; a radio
            # that does not tell, the unix port's, is not metered advertising): its interval
            # sets how many events, and so how much charge, the time costs.
            us = getattr(self._radio, "adv_interval_us", 0)
            if us:
                radio = 1
                self.adv_events += ms * 1000 / us
        if radio:
            m[radio] += ms
        if self._motor:
            m[3] += ms * self._motor // 100

    def power_states(self):
        """{state: ms} since this board was made: deep sleep, awake (sampling), advertising,
        connected, motor (full-strength equivalent); and adv_events, the advertising events
        sent (their number, not ms: fast and slow advertising differ in it). The radio and motor
        overlap awake."""
        asleep = 0
        for start, end in self.sleeps:
            asleep += (self.elapsed_ms if end is None else end) - start
        m = self.meter
        return {"deep_sleep": asleep, "awake": m[0], "advertising": m[1], "connected": m[2],
                "motor": m[3], "adv_events": int(self.adv_events)}

    def sleep_until_pressed(self):
        """Asleep: the world's time passes to its next press, which wakes the chip (True), or to
        the scenario's end (False: the belt sleeps on). What else the world does meanwhile (a
        calibration step) a sleeping belt never sees."""
        while self._events:
            t, action, _ = self._events.pop(0)
            if action == "down":
                self.pass_asleep(t - self.elapsed_ms)
                self.sleeps[-1][1] = self.elapsed_ms
                self.asleep = False
                self.woken = True
                self._held_at_boot = False      # a wake's press is not the factory reset
                self.ended = False
                self._sleepers = []
                return True
        if self.end_ms is not None and self.end_ms > self.elapsed_ms:
            self.pass_asleep(self.end_ms - self.elapsed_ms)
        return False

    def pass_asleep(self, ms):
        # Time passes with the chip asleep: no samples, the watchdog stopped with the chip. The
        # tick clocks move in steps ticks.add can take (under 2**29 us).
        while ms > 0:
            step = ms if ms < 100000 else 100000
            self.elapsed_ms += step
            self._ms = ticks.add(self._ms, step)
            self._us = ticks.add(self._us, step * 1000)
            ms -= step
        self.wdt_fed_at = self.elapsed_ms

    def reboot(self):
        """The sim cannot reset its process: main.py boots the belt again on the same flash."""
        self.rebooting = True
        self.end()

    def end(self):
        self.ended = True

    # -- for the host: the runner's finger, when the scenario is over, and what happened --------

    def set_speed(self, speed):
        """Run at another speed from now on (0: as fast as possible)."""
        self.speed = speed
        self._anchor()

    def _anchor(self):
        self._real0 = _real_ms()
        self._virt0 = self.elapsed_ms

    def press(self, kind="short", at_ms=None):
        """The runner presses the button now ("short", "long" or "double"), as a scripted press does; or
        at_ms of the belt's time from its start."""
        t = self.elapsed_ms if at_ms is None else at_ms
        if kind == "double":        # two short presses, the second 200 ms after the first's release
            self.press("short", t)
            self.press("short", t + _PRESS_MS["short"] + 200)
            return
        self._events.append((t, "down", kind))
        self._events.append((t + _PRESS_MS[kind], "up", kind))
        self._events.sort(key=lambda e: e[0])

    def finished(self):
        return (self.ended or self.wdt_expired
                or (self.end_ms is not None and self.elapsed_ms >= self.end_ms))

    def report(self, app, motor_log=None):
        """One line per session logged in this run, then the motor log if asked for."""
        if self.wdt_expired:
            print("watchdog: not fed for %d ms: the belt would reset here" % _WDT_TIMEOUT_MS)
        for start, end in self.sleeps:
            print("deep sleep at %.1f s, %s" % (start / 1000, "woken by the button at %.1f s" % (
                end / 1000) if end is not None else "still asleep at the end"))
        sizes = dict((e[0], e[1]) for e in app.store.list())
        for sid, path, trailer, cues, run in app.sessions_logged:
            run = run or {}
            t = trailer or {}
            judged = run.get("frames_in", 0) + run.get("frames_under", 0) + run.get("frames_over", 0)
            in_band = 100 * run.get("frames_in", 0) // judged if judged else 0
            secs = t.get("duration_ms", 0) // 1000
            print("session %d: duration %d:%02d, run in band %d%%, cues %d (under %d, over %d, "
                  "back %d, check sensor %d), %s, size: %d bytes" % (
                      sid, secs // 60, secs % 60, in_band, sum(cues), cues[1], cues[2], cues[3],
                      cues[4], "closed" if trailer else "open", sizes.get(sid, 0)))
        if motor_log:
            with open(motor_log, "w") as f:
                f.write("t_ms,level\n")
                for t, level in self.motor_edges:
                    f.write("%d,%d\n" % (t, level))

    # -- the simulated world ---------------------------------------------------------------------

    def _segment(self, ms):
        effort, contact = 0, True
        for start, e, c in self.segments:
            if start * 1000 <= ms:
                effort, contact = e, c
        return effort, contact

    def _samples(self, buf, n, kind, ms):
        if self._recording:
            got = self._recording.readinto(memoryview(buf)[:n]) if n else 0
            return got // 2 if got else 0
        if self.person:
            effort, contact = self.person.effort(self.app, ms, self._motor)
        else:
            effort, contact = self._segment(ms)
        k = kind if contact else simsignal.OFF
        amp = simsignal.amplitude(kind, effort)
        if k == simsignal.RAW and self.app.flow.state == State.RUN:
            amp = amp * 3 // 2 if (ms % _STRIDE_MS) * 5 < _STRIDE_MS * 2 else amp * 2 // 3
        simsignal.fill(buf, n, k, amp, self._st)
        return n

    def _due_events(self):
        while self._events and self._events[0][0] <= self.elapsed_ms:
            _, action, arg = self._events.pop(0)
            if action == "down":
                self.app.button.edge(True, self._ms)
            elif action == "up":
                self.app.button.edge(False, self._ms)
            elif action == "cal":
                self.app.cal_begin(_PHASE[arg])
            elif action == "commit":
                self.app.cal_commit()

    async def _world(self):
        app = self.app
        sampler = app.sampler
        kind = _KIND[app.chain.mode]
        period_ms = 1000 // app.chain.rate_hz
        buf = array("H", [0] * (_STEP_MS // period_ms + 1))
        record = sampler.record
        self._anchor()
        while not self.finished():
            step = _STEP_MS
            if self._sleepers:
                soonest = min(t for t, _ in self._sleepers) - self.elapsed_ms
                if 0 < soonest < step:
                    step = soonest
            n = (self.elapsed_ms + step) // period_ms - self.elapsed_ms // period_ms
            got = self._samples(buf, n, kind, self.elapsed_ms)
            for i in range(got):
                self._us = ticks.add(self._us, period_ms * 1000)
                record(buf[i], self._us)
            if got < n:                   # the recording ended
                self.end_ms = self.elapsed_ms
            self.elapsed_ms += step
            self._ms = ticks.add(self._ms, step)
            self._metered(step)
            if self.elapsed_ms - self.wdt_fed_at > _WDT_TIMEOUT_MS:
                self.wdt_expired = True
            self._due_events()
            due = [s for s in self._sleepers if s[0] <= self.elapsed_ms]
            for s in due:
                self._sleepers.remove(s)
                s[1].set()
            for _ in range(3):
                await asyncio.sleep(0)
            if self.speed:
                now = _real_ms()
                ahead = (self.elapsed_ms - self._virt0) / self.speed - _real_diff(now, self._real0)
                if ahead >= 1:
                    await asyncio.sleep(ahead / 1000)     # real time: stdin is served meanwhile
                elif ahead < -1000 or _real_diff(now, self._real0) > 600000:
                    # Far behind (a busy host): go on from here instead of racing to catch up.
                    # And every ten minutes in any case, before the real tick counter wraps.
                    self._virt0 = self.elapsed_ms - (ahead * self.speed if ahead > -1000 else 0)
                    self._real0 = now
        # The world has ended: wake every sleeper, so whoever waits sees finished().
        for _, ev in self._sleepers:
            ev.set()
        self._sleepers = []
