# The belt at run time: the app joins the board to the signal chain, the coach, the haptic player
# and the session log, and offers the commands the protocol and the sim's scripted person call.
# The tasks that drive it (belt.tasks) are its other half.
from belt import battery as _battery
from belt import button as _button
from belt import haptics, recovery
from belt.calibration import Calibrator
from belt.clock import Clock
from belt.coach import Coach
from belt.idle import Idle
from belt.radiowindow import RadioWindow
from belt.effort import EffortChain, MODE_NAMES
from belt.runflow import Act, Ev, Runflow
from belt.sampler import Sampler
from belt.sessionformat import EV_BATTERY, EV_BOOT, EV_BUTTON, EV_MARK, EV_STATE, battery_arg
from belt.sessionlog import SessionBuffers, SessionWriter
from belt.calibrating import Calibrating
from belt.tasks import Tasks


class App(Tasks, Calibrating):

    def __init__(self, board, config, store, log=None, clock=None):
        self.board = board
        self.config = config
        self.store = store
        self.log = log or print
        # Constructing the app is the boot: the clock counts it (boot id) unless handed one.
        self.clock = clock or Clock(store.root, board.wall_time, self.log,
                                    lambda: recovery.boots_seen(store))
        self.chain = EffortChain(config.mode)
        self.calibrator = Calibrator(self.chain.law)
        cal = self.calibration()
        if cal:
            self.chain.calibrate(*cal)
        # The board makes the flags: ThreadSafeFlag where interrupts set them (ESP32); the sim,
        # whose "interrupts" are a task, uses a cheaper one that keeps virtual time fast.
        self._frame_flag = board.flag()
        self._button_flag = board.flag()
        self._motor_flag = board.flag()
        self.sampler = Sampler(self.chain.rate_hz, self.chain.block, self._frame_flag.set)
        self.button = _button.Button(self._button_flag.set)
        self.coach = Coach(config.coach_config())
        self.flow = Runflow(self.coach, config.runflow_config())
        self.player = haptics.Player(table=config.haptic_table())
        self.writer = None
        # The session writer's buffers (4,320 bytes held on the unix port), made while the heap
        # is whole: a session started hours later, on a heap in pieces, needs no block of them.
        self.session_buffers = SessionBuffers()
        self.session_id = -1
        self.calibrating = False
        self.cal_adopted = False     # the last committed calibration was saved and is in use
        self.cal_frames = 0          # frames labelled in the current calibration phase
        self.session_wall = 0        # wall time in the open session's header (0 unknown)
        self._config_stale = False   # a changed config waits for the run to end
        self.frames = 0
        self.task_restarts = 0
        self.last_error = None
        self.listeners = []          # called with (effort_pm, quality) per frame: live view
        self.live_views = 0          # links with the live view on (belt.commands)
        self.battery = _battery.Battery()
        self.radio = None            # belt.blelink.BleLink, if any: a connection loads the cell
        self.battery_logged = 0      # the level last logged in the open session
        self.sessions_logged = []    # [id, path, trailer, cues by kind, run summary] since boot
        self.cues = [0] * 5          # cues given in the current session, by coach CUE_* kind
        self.running = True
        self.links = []              # radio links (belt.blelink): a connected one keeps it awake
        self.idle = Idle(config.sleep_s * 1000, board.ticks_ms())
        # When the radio advertises fast (belt.blelink asks it): from this boot or wake on.
        self.window = RadioWindow(config, board.ticks_ms())
        self.asleep = False
        # What the board's mount of the data area found (belt.dataarea's code): the status
        # reply carries it, and start() buzzes when the area was formatted anew (not when it
        # was blank: belt.dataarea's NEW).
        self.data_area = getattr(board, "data_area", 0)
        # A long press that the run flow has no use for (idle, done): the owners' pairing window
        # (belt.owners) takes it; on_long_idle(now).
        self.on_long_idle = None

    # -- commands (the protocol and the sim's scripted person call these) --------------------

    def play(self, pid):
        self.player.play(pid, self.board.ticks_ms())
        self._motor_flag.set()

    def press(self, kind):
        """A button press classified by the button task (or injected by a test)."""
        now = self.board.ticks_ms()
        self.idle.touch(now)
        if kind == _button.DOUBLE:
            # The runner asks for a sync (only told apart while idle or done): a window of fast
            # advertising with the request counted in it, felt as the gesture echoed. Not
            # logged: no run is going on.
            self.window.ask(now)
            self.play(haptics.SYNC_WINDOW)
            self.log("sync asked for: advertising fast for %d s" % (self.window.window_ms // 1000))
            return
        if self.writer:
            self.writer.add_event(EV_BUTTON, kind)
        if kind == _button.SHORT and self.flow.state == 0:
            self.flow.storage_full = not self.store.ensure_space()
        acts = self.flow.handle(Ev.SHORT if kind == _button.SHORT else Ev.LONG, now)
        if acts is None and kind == _button.LONG and self.on_long_idle is not None:
            self.window.open(now)       # the pairing window: the computer must find the belt
            self.on_long_idle(now)
        self._apply(acts, now)

    def start_session(self):
        """Start logging now, as the run flow's LOG_START does (protocol session_start); the
        run flow itself stays where it is. Returns the id, or None when the flash is full (or the
        battery too low: battery_too_low() says which)."""
        if self.battery_too_low():
            return None
        self.flow.storage_full = not self.store.ensure_space()
        if self.flow.storage_full:
            return None
        self._open_session(self.board.ticks_ms())
        return self.session_id

    def battery_too_low(self):
        return self.battery.level >= _battery.CRITICAL

    def stop_session(self):
        """Close the open session (protocol session_stop); returns its id, or None."""
        sid = self.session_id if self.writer else None
        self._close_session(self.board.ticks_ms())
        return sid

    def apply_config(self):
        """Take up a changed config: the coach, the run flow, the patterns and the calibration
        now if no run is going on, otherwise once the run flow is back to idle. The sensor mode
        only at the next boot (the sampler and the signal chain are built for one mode)."""
        if self.writer or self.flow.state != 0:
            self._config_stale = True
            return False
        self._config_stale = False
        if not self.calibrating:    # a calibration's frames are judged on their own; its end
            cal = self.calibration() or (0, 0)      # puts the saved calibration back
            self.chain.calibrate(*cal)
        self.coach = Coach(self.config.coach_config())
        full = self.flow.storage_full
        self.flow = Runflow(self.coach, self.config.runflow_config())
        self.flow.storage_full = full
        self.player.table = self.config.haptic_table()
        self.idle.sleep_ms = self.config.sleep_s * 1000
        self.window.configure(self.config)
        return True

    def reboot(self):
        """Orderly restart (protocol reboot): the open session is closed, not left to boot
        recovery."""
        self._close_session(self.board.ticks_ms())
        self.board.reboot()

    # -- actions of the run flow ---------------------------------------------------------------

    def _apply(self, actions, now):
        if not actions:
            return
        for act, arg in actions:
            if act == Act.PLAY:
                self.player.play(arg, now)
                self._motor_flag.set()
            elif act == Act.LOG_START:
                self._open_session(now)
            elif act == Act.LOG_STOP:
                self._close_session(now)
            elif act == Act.STATE:
                if self.writer:
                    self.writer.add_event(EV_STATE, arg)
            elif act == Act.MARK:
                if self.writer:
                    self.writer.add_event(EV_MARK, arg)
            elif act == Act.CUE:
                self.cues[arg[0]] += 1
                if self.writer:
                    self.writer.add_event(arg[0], arg[1])
        if self._config_stale and self.flow.state == 0 and not self.writer:
            self.apply_config()

    def _open_session(self, now):
        if self.writer:
            return          # logging already (started over the protocol): the run goes on in it
        if self.calibrating:
            self.cal_abort()
            self.log("calibration aborted: a session started")
        sid, path = self.store.new_session()
        c = self.config
        cal = self.calibration() or (0, 0)
        self.session_wall = self.clock.wall_time(now)
        w = None
        try:
            w = SessionWriter(path, sid, now, self.session_wall,
                              MODE_NAMES.index(self.chain.mode), cal[0], cal[1],
                              c.placement, c.band(), bufs=self.session_buffers)
            # The boot id goes into the file's first block, written at once: whoever later holds
            # this boot's time anchor can place a session that started before the belt knew
            # the time.
            w.add_event(EV_BOOT, self.clock.boot_id)
            w.flush()
            # The battery as the run starts, in the next block (the boot id's stays alone); the
            # battery task logs each change of level after it.
            self.battery_logged = self.battery.level
            w.add_event(EV_BATTERY, battery_arg(self.battery.code(), self.battery.judged_mv()))
        except BaseException:
            # Nothing of the run is in the file yet: give it up, so the next start (by button or
            # protocol) is not refused as "session N is open" until a reboot.
            if w is not None:
                w.abandon()
            self.store.abandon(sid)
            raise
        self.writer = w
        self.session_id = sid
        self.cues = [0] * 5
        self.sessions_logged.append([sid, path, None, self.cues, None])
        self.chain.reset()
        self.log("session %d started" % sid)

    def _close_session(self, now):
        if not self.writer:
            return
        try:
            trailer = self.writer.close(now)
        except Exception as e:
            # The flash refused the last block or the trailer: left open, the session would
            # take every frame from now on though the run is over.
            self._session_failed(e)
            return
        self.store.closed(self.session_id)
        self.sessions_logged[-1][2] = trailer
        self.sessions_logged[-1][4] = self.coach.summary()    # the run's own figures
        self.log("session %d closed: %d frames, %d in band, %d cues" % (
            self.session_id, trailer["frames"], trailer["in_band"], trailer["cues"]))
        self.writer = None
        if self._config_stale and self.flow.state == 0:
            self.apply_config()

    def save_session(self):
        """After a task failed: make what the open session holds durable (its writer starts the
        block again from where the last whole one ended). A flash that refuses it again (full,
        failing) ends the session here, closed with what reached the flash, so the run goes on
        unlogged rather than the task dying and the watchdog resetting the belt mid-run."""
        if not self.writer:
            return
        try:
            self.writer.flush()
        except Exception as e:
            self._session_failed(e)

    def _session_failed(self, e):
        sid, w = self.session_id, self.writer
        self.writer = None
        w.abandon()
        self.store.closed(sid)
        # Closed now by boot recovery's own path (a torn tail cut, the trailer appended, the
        # reserve block given up for it on a full flash), not at the next boot: until then it
        # would be listed open and could not be synced.
        action = recovery.recover_one(self.store, sid)
        self.last_error = "session %d: %r" % (sid, e)
        self.flow.storage_full = True
        self.log("session %d stopped: the flash refused a block (%r); %s with what reached "
                 "it, the run goes on unlogged" % (sid, e, action))
        self.play(haptics.STORAGE_FULL)

    # -- what the sense task does with each frame ----------------------------------------------

    def _frame(self, effort, quality):
        now = self.board.ticks_ms()
        self.frames += 1
        if self.calibrating:
            ch = self.chain
            self.calibrator.add(ch.block_level, quality, ch.block_quiet, ch.slow_amp,
                                ch.slow_step)
            self.cal_frames += 1
        if self.writer:
            ch = self.chain
            # The slow figures go into the log too (every 10 s): the fatigue index, and the cadence
            # while a step rhythm is found (0 otherwise: before the run, standing, holding a brace,
            # rather than the step period the window keeps using).
            self.writer.add_frame(effort, quality, ch.fatigue_q8,
                                  ch.cadence_spm if ch.rhythm_found else 0)
        actions = self.flow.frame(effort, quality, now)
        if actions:
            self._apply(actions, now)
        for fn in self.listeners:
            fn(effort, quality)

    def shutdown(self):
        """Orderly stop (sim end, USB command): the open session is closed, not torn."""
        self.running = False
        self.board.stop()
        self._close_session(self.board.ticks_ms())
