# The belt's tasks: sense, buttons, timers, motor, battery and watchdog, each under a guard.
#
# Interrupts (sampling timer, button) only record and set a ThreadSafeFlag; these tasks do the
# work. Time comes from the board (board.ticks_ms, board.sleep_ms), so the same code runs on the
# ESP32 and, on the sim board, in accelerated virtual time. Each task runs under a guard: an
# exception is logged, the open session is flushed (nothing logged is lost; a flash that refuses
# that too ends the session, closed, and the run goes on) and the task starts again. The watchdog is fed only while frames keep coming, so a stalled signal chain resets the
# belt, and the boot-time recovery closes the session it was writing.
#
# Tasks is the run-time half of belt.app.App (App inherits it): what each task does with a frame,
# a press or a deadline is the App's; when and under what guard it runs is here.
import gc

import asyncio
from micropython import const

from belt import battery as _battery
from belt import dataarea as _dataarea
from belt import haptics as _haptics
from belt import sessionformat as _fmt
from belt import ticks
from belt.effort import Q_MISSED
from belt.runflow import Ev

_GC_FREE_MIN = const(24 * 1024)   # collect right after a frame when less than this is free
_WDT_FEED_MS = const(1000)
_STALL_MS = const(3000)           # no frame for this long: stop feeding the watchdog
_BATTERY_MS = const(5000)         # how often the level is judged (belt.battery: median of 5)
_RESTART_MS = const(200)
_IDLE_CHECK_MS = const(1000)
_mem_free = getattr(gc, "mem_free", None)   # MicroPython's; CPython collects on its own terms


class Tasks:

    async def _sense(self):
        s = self.sampler
        chain = self.chain
        while True:
            await self._frame_flag.wait()
            while s.ready():
                chain.push_block(s.buf, s.block_start(), Q_MISSED if s.block_missed() else 0)
                s.release()
                self._frame(chain.effort_pm, chain.quality)
            if _mem_free and _mem_free() < _GC_FREE_MIN:
                gc.collect()          # now, between frames, not at a random moment

    async def _buttons(self):
        board = self.board
        button = self.button
        while True:
            await self._button_flag.wait()
            # An edge is activity already: a short press waiting for a possible second must not
            # meet the idle time's end in between (belt.idle).
            self.idle.touch(board.ticks_ms())
            while True:
                # A double press means a sync only while the run flow is idle or done
                # (belt.button): there a short press waits to see whether a second follows.
                state = self.flow.state
                kind = button.poll(board.ticks_ms(), state == 0 or state == 5)
                if kind:
                    self.press(kind)
                wait = button.wait_ms(board.ticks_ms())
                if wait is None:
                    break
                await board.sleep_ms(wait)

    async def _timers(self):
        board = self.board
        while True:
            now = board.ticks_ms()
            self._apply(self.flow.handle(Ev.TICK, now), now)
            deadline = self.flow.next_deadline(now)
            wait = 1000 if deadline is None else ticks.diff(deadline, now)
            await board.sleep_ms(1000 if wait > 1000 else (wait if wait > 0 else 0))

    async def _motor(self):
        board = self.board
        on = 0
        while True:
            now = board.ticks_ms()
            if on:
                # The end of a pulse, the motor still on: the cell's deepest sag of the pattern,
                # what the next cue will take it to (belt.battery judges it at its own pace).
                self.battery.reading(board.battery_mv(), _battery.MOTOR)
            on = self.player.update(now)
            board.set_motor(on)
            if self.player.busy():
                wait = ticks.diff(self.player.next_deadline(now), now)
                await board.sleep_ms(wait if wait > 0 else 0)
            else:
                await self._motor_flag.wait()

    async def _battery(self):
        board = self.board
        while True:
            # The load this reading is taken under: belt.battery keeps loaded readings apart.
            radio = self.radio
            load = _battery.MOTOR if self.player.busy() else (
                _battery.RADIO if radio is not None and radio.conn is not None else _battery.REST)
            level = self.battery.update(board.battery_mv(), load)
            self.flow.battery = level
            if self.writer and level != self.battery_logged:
                # A change of level (not of ok/full, which has no hysteresis) goes in the session.
                self.battery_logged = level
                self.writer.add_event(_fmt.EV_BATTERY, _fmt.battery_arg(
                    self.battery.code(), self.battery.judged_mv()))
            if level == _battery.EMPTY and self.writer:
                now = board.ticks_ms()
                if self.flow.state != 0:
                    self._apply(self.flow.handle(Ev.BATTERY, now), now)
                else:                   # logging started over the protocol: close it all the same
                    self.log("battery empty (%d mV): session %d closed" % (
                        self.battery.judged_mv(), self.session_id))
                    self._close_session(now)
            await board.sleep_ms(_BATTERY_MS)

    def touch(self):
        """A request arrived (belt.commands): someone is using the belt, it stays awake."""
        self.idle.touch(self.board.ticks_ms())

    def busy(self):
        """Something is going on that deep sleep would break: a run or a lie-down, an open
        session, a calibration, a live view, a pattern playing, a connected companion, power
        from USB (a charging belt has no battery to save, and its cable is its link)."""
        state = self.flow.state
        if (state != 0 and state != 5) or self.writer or self.calibrating or self.live_views:
            return True
        if self.player.busy():
            return True
        for link in self.links:
            if link.conn is not None:
                return True
        return self.board.usb_powered()

    def deep_sleep(self):
        """Idle for sleep_s: the sensor rail off, the motor off, the radio off, the button armed;
        the board sleeps until a press wakes it, and the belt boots again. Nothing is open: a
        session is never kept across a sleep (busy() says so; closing it is the rule's guard)."""
        now = self.board.ticks_ms()
        self._close_session(now)
        self.log("idle for %d s: deep sleep until the button is pressed" % (
            self.idle.sleep_ms // 1000))
        self.asleep = True
        self.running = False
        self.board.stop()
        self.board.set_motor(0)
        self.board.deep_sleep()

    async def _sleeper(self):
        board = self.board
        while True:
            await board.sleep_ms(_IDLE_CHECK_MS)
            if self.idle.due(board.ticks_ms(), self.busy()):
                self.deep_sleep()
                return

    async def _watchdog(self):
        board = self.board
        last_frames = -1
        last_progress = board.ticks_ms()
        while True:
            now = board.ticks_ms()
            if self.frames != last_frames:
                last_frames = self.frames
                last_progress = now
            if ticks.diff(now, last_progress) < _STALL_MS:
                board.feed_watchdog()
            await board.sleep_ms(_WDT_FEED_MS)

    async def _guard(self, name, fn):
        while self.running:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.task_restarts += 1
                try:
                    self.last_error = "%s: %r" % (name, e)
                    self.log("task %s failed: %r; restarting" % (name, e))
                    self.save_session()
                except MemoryError:
                    # The heap that failed the task is still full: words cannot be made now,
                    # and the session's block is written at its next flush. The task must
                    # not die of it: nothing would start it again.
                    self.last_error = name
                await self.board.sleep_ms(_RESTART_MS)

    def start(self, extra=()):
        """Create the tasks and start sampling. extra: more (name, coroutine function) pairs to
        run under the same guard (the protocol link). Returns the tasks (the caller may cancel
        them)."""
        self.store.recover_all(self.log)
        tasks = [asyncio.create_task(self._guard(n, f)) for n, f in (
            ("sense", self._sense), ("buttons", self._buttons), ("timers", self._timers),
            ("motor", self._motor), ("watchdog", self._watchdog),
            ("battery", self._battery), ("sleeper", self._sleeper)) + tuple(extra)]
        self.board.start(self)
        if self.board.woke_by_button():
            self.log("woken from deep sleep by the button")
            self.play(_haptics.AWAKE)
        if self.data_area == _dataarea.FORMATTED:
            # After "awake", which it then cuts short: losing the data area matters more. The
            # log has the board's line already. A blank one formatted (NEW: a new belt's first
            # boot) lost nothing, so it is not felt.
            self.play(_haptics.DATA_FORMATTED)
        return tasks
