# The run protocol as device states: warm up with side planks and bird dogs, prime the brace at the
# start line, run with the coach, lie down for ten minutes, done.
#
# handle(ev, now) takes button events and timer ticks, frame(effort_pm, quality, now) takes the
# 10 Hz effort frames; both return None or a tuple of (act, arg) pairs, to be applied in order:
#   (Act.STATE, state)      entered a state; the session log writes the state code
#   (Act.PLAY, pattern)     play a belt.haptics pattern id
#   (Act.LOG_START, 0)      open a session log (frames are logged from here on)
#   (Act.LOG_STOP, 0)       close it
#   (Act.MARK, mark)        a session-log event that is not a state change (Mark codes)
#   (Act.CUE, (kind, level)) the coach cued; kind is a belt.coach CUE_* (the same numbers as the
#                           session log's cue event kinds), always followed by its PLAY
# Overdue timers are handled before the event that reveals them. next_deadline(now) is when to
# call handle(Ev.TICK, now) at the latest. During RUN a frame costs one coach.handle() call and
# allocates nothing unless a cue fires.
#
#   state     event                      next      does
#   IDLE      short, battery critical    IDLE      play battery_empty (refuses the session)
#   IDLE      short, storage full        IDLE      play storage_full (refuses the session; the
#                                                  STORAGE_FULL mark is for a status display,
#                                                  there is no log open to take it)
#   IDLE      short                      WARMUP    log start; first hold; play warmup_next
#                                                  (battery_low instead on a low battery)
#   WARMUP    hold timer / short         WARMUP    next hold (short marks HOLD_CUT); play
#                                                  warmup_next; after the last: WARMUP_DONE
#   WARMUP    short, holds done          PRIME     play brace_more_1 (the ask to brace)
#   WARMUP    long                       IDLE      abort; log stop; play ack
#   PRIME     frames in band prime_ms    RUN       play go; coach starts, early dwell
#   PRIME     remind timer, not bracing  PRIME     play brace_more_1, or ease_off_1 if over
#   PRIME     short                      RUN       play go, marked PRIME_SKIPPED
#   PRIME     long                       IDLE      abort; log stop; play ack
#   RUN       frame, coach cue           RUN       play the cue's pattern
#   RUN       long                       COOLDOWN  coach stops; lie-down timer; play warmup_next
#   COOLDOWN  short                      COOLDOWN  restart the lie-down timer; play ack
#   COOLDOWN  lie-down timer             DONE      play lie_down_done; log stop
#   COOLDOWN  long                       DONE      marked LIE_DOWN_CUT; log stop; play ack
#   DONE      short                      IDLE      play ack
#   any run   battery empty              DONE      marked BATTERY_STOP; log stop; play
#             (WARMUP..COOLDOWN)                   battery_empty (the session is saved whole)
# A short press during RUN does nothing: a runner's arm swing must not end or change the run.
from micropython import const

from belt import battery as _battery
from belt import coach as _coach
from belt import haptics
from belt import ticks

_RUN = const(3)
_PRIME = const(2)


class State:
    IDLE = 0
    WARMUP = 1
    PRIME = _PRIME
    RUN = _RUN
    COOLDOWN = 4
    DONE = 5


class Ev:
    SHORT = 1
    LONG = 2
    TICK = 3
    BATTERY = 4             # the battery is empty (belt.battery): end the run while it can


class Act:
    STATE = 1
    PLAY = 2
    LOG_START = 3
    LOG_STOP = 4
    MARK = 5
    CUE = 6


class Mark:
    SIDE_PLANK_LEFT = 1     # hold codes double as the mark that a hold has started
    SIDE_PLANK_RIGHT = 2
    BIRD_DOG = 3
    HOLD_CUT = 4
    WARMUP_DONE = 5
    PRIME_OK = 6
    PRIME_SKIPPED = 7
    LIE_DOWN = 8            # the ten minutes (re)start
    LIE_DOWN_DONE = 9
    LIE_DOWN_CUT = 10
    ABORTED = 11
    STORAGE_FULL = 12
    BATTERY_LOW = 13        # a run started on a low battery
    BATTERY_STOP = 14       # the run ended because the battery was empty


DEFAULTS = {
    # (mark code, ms) in order; the seed asks for side planks and bird dogs right before the run
    "holds": ((Mark.SIDE_PLANK_LEFT, 30000), (Mark.SIDE_PLANK_RIGHT, 30000),
              (Mark.BIRD_DOG, 30000)),
    "prime_ms": 3000,          # continuous in-band brace before "go"
    "prime_remind_ms": 10000,
    "early_ms": 60000,         # the coach's short dwell covers the first strides
    "lie_down_ms": 600000,
}

_PLAY_ACK = ((Act.PLAY, haptics.ACK),)


def cue_pattern(kind, level):
    if kind == _coach.CUE_UNDER:
        return haptics.BRACE_MORE_1 + level - 1
    if kind == _coach.CUE_OVER:
        return haptics.EASE_OFF_1 + level - 1
    if kind == _coach.CUE_BACK:
        return haptics.BACK_IN_BAND
    return haptics.CHECK_SENSOR


class Runflow:
    def __init__(self, coach, config=None):
        self.coach = coach
        self._coach_handle = coach.handle   # bound once: keeps frame() on the C stack
        for key in DEFAULTS:
            v = DEFAULTS[key]
            if config is not None:
                v = config.get(key, v) if isinstance(config, dict) else getattr(config, key, v)
            setattr(self, key, v)
        if not self.holds:
            raise ValueError("warm-up needs at least one hold")
        if self.prime_remind_ms <= 0 or self.lie_down_ms <= 0:
            raise ValueError("timers must be positive")
        self.storage_full = False   # the app keeps this current; a full log refuses a session
        self.battery = 0            # belt.battery level, kept current by the app
        self.state = State.IDLE
        self.hold = 0               # index of the current hold; len(holds) once all are done
        self._deadline = None
        self._prime_since = None
        self._prime_zone = _coach.Z_UNDER
        # One action tuple per possible cue, so a cue during the run allocates nothing either.
        self._cue_acts = [None] * 20
        for kind in (_coach.CUE_UNDER, _coach.CUE_OVER, _coach.CUE_BACK, _coach.CUE_CHECK_SENSOR):
            for level in (1, 2, 3):
                cue = _coach.cue_tuple(kind, level)
                self._cue_acts[kind * 4 + level] = (
                    (Act.CUE, cue), (Act.PLAY, cue_pattern(kind, level)))

    def next_deadline(self, now):
        return self._deadline

    def handle(self, ev, now):
        acts = self._timers(now)
        if ev == Ev.SHORT:
            return _join(acts, self._short(now))
        if ev == Ev.LONG:
            return _join(acts, self._long(now))
        if ev == Ev.BATTERY:
            return _join(acts, self._battery_empty())
        return acts

    # The per-frame methods are kept to few locals and shallow expressions: MicroPython takes a
    # bytecode function's frame from the heap once its locals and stack pass about ten slots.
    def frame(self, effort_pm, quality, now):
        if self.state == _RUN:     # no timers run during RUN
            cue = self._coach_handle(effort_pm, quality, now)
            if cue is None:
                return None
            return self._cue_acts[cue[0] * 4 + cue[1]]
        if self._due(now):
            return self._frame_after_timers(effort_pm, quality, now)
        if self.state == _PRIME:
            return self._prime(effort_pm, quality, now)
        return None

    def _due(self, now):
        return self._deadline is not None and ticks.diff(now, self._deadline) >= 0

    def _frame_after_timers(self, effort_pm, quality, now):
        acts = self._timers(now)
        if self.state == _PRIME:
            return _join(acts, self._prime(effort_pm, quality, now))
        return acts

    def _prime(self, effort_pm, quality, now):
        if quality or effort_pm < 0:
            self._prime_since = None
            return None
        self._prime_zone = self.coach.classify(effort_pm)
        if self._prime_zone != _coach.Z_IN:
            self._prime_since = None
            return None
        if self._prime_since is None:
            self._prime_since = now
            return None
        if ticks.diff(now, self._prime_since) < self.prime_ms:
            return None
        return self._run(now, Mark.PRIME_OK)

    def _timers(self, now):
        acts = None
        # A loop, so that a caller who was away for several timers catches up on all of them.
        while self._due(now):
            due = self._deadline
            st = self.state
            if st == State.WARMUP:
                acts = _join(acts, self._next_hold(due))
            elif st == State.PRIME:
                self._deadline = ticks.add(due, self.prime_remind_ms)
                if self._prime_since is None:     # not while the runner is holding a brace
                    if self._prime_zone == _coach.Z_OVER:
                        acts = _join(acts, ((Act.PLAY, haptics.EASE_OFF_1),))
                    else:
                        acts = _join(acts, ((Act.PLAY, haptics.BRACE_MORE_1),))
            elif st == State.COOLDOWN:
                acts = _join(acts, self._done(Mark.LIE_DOWN_DONE, haptics.LIE_DOWN_DONE))
            else:
                self._deadline = None
        return acts

    def _short(self, now):
        st = self.state
        if st == State.IDLE:
            if self.battery >= _battery.CRITICAL:
                return ((Act.PLAY, haptics.BATTERY_EMPTY),)
            if self.storage_full:
                return ((Act.MARK, Mark.STORAGE_FULL), (Act.PLAY, haptics.STORAGE_FULL))
            self.state = State.WARMUP
            self.hold = 0
            code, ms = self.holds[0]
            self._deadline = ticks.add(now, ms)
            if self.battery == _battery.LOW:
                return ((Act.LOG_START, 0), (Act.STATE, State.WARMUP), (Act.MARK, code),
                        (Act.MARK, Mark.BATTERY_LOW), (Act.PLAY, haptics.BATTERY_LOW))
            return ((Act.LOG_START, 0), (Act.STATE, State.WARMUP), (Act.MARK, code),
                    (Act.PLAY, haptics.WARMUP_NEXT))
        if st == State.WARMUP:
            if self.hold < len(self.holds):
                return _join(((Act.MARK, Mark.HOLD_CUT),), self._next_hold(now))
            self.state = State.PRIME
            self._prime_since = None
            self._prime_zone = _coach.Z_UNDER
            self._deadline = ticks.add(now, self.prime_remind_ms)
            return ((Act.STATE, State.PRIME), (Act.PLAY, haptics.BRACE_MORE_1))
        if st == State.PRIME:
            return self._run(now, Mark.PRIME_SKIPPED)
        if st == State.COOLDOWN:
            self._deadline = ticks.add(now, self.lie_down_ms)
            return ((Act.MARK, Mark.LIE_DOWN),) + _PLAY_ACK
        if st == State.DONE:
            self.state = State.IDLE
            return ((Act.STATE, State.IDLE),) + _PLAY_ACK
        return None

    def _long(self, now):
        st = self.state
        if st == State.WARMUP or st == State.PRIME:
            self.state = State.IDLE
            self._deadline = None
            return ((Act.MARK, Mark.ABORTED), (Act.STATE, State.IDLE),
                    (Act.LOG_STOP, 0)) + _PLAY_ACK
        if st == State.RUN:
            self.coach.stop()
            self.state = State.COOLDOWN
            self._deadline = ticks.add(now, self.lie_down_ms)
            return ((Act.STATE, State.COOLDOWN), (Act.MARK, Mark.LIE_DOWN),
                    (Act.PLAY, haptics.WARMUP_NEXT))
        if st == State.COOLDOWN:
            return self._done(Mark.LIE_DOWN_CUT, haptics.ACK)
        return None

    def _battery_empty(self):
        st = self.state
        if st == State.IDLE or st == State.DONE:
            return None
        if st == State.RUN:
            self.coach.stop()
        self.state = State.DONE
        self._deadline = None
        return ((Act.MARK, Mark.BATTERY_STOP), (Act.STATE, State.DONE), (Act.LOG_STOP, 0),
                (Act.PLAY, haptics.BATTERY_EMPTY))

    def _next_hold(self, start):
        # Timed from when the previous hold was due to end, so late timer handling does not
        # lengthen the warm-up; from the press when the runner cuts a hold short.
        self.hold += 1
        if self.hold < len(self.holds):
            code, ms = self.holds[self.hold]
            self._deadline = ticks.add(start, ms)
        else:
            code = Mark.WARMUP_DONE
            self._deadline = None
        return ((Act.MARK, code), (Act.PLAY, haptics.WARMUP_NEXT))

    def _run(self, now, mark):
        self.state = State.RUN
        self._deadline = None
        self.coach.start(now, self.early_ms)
        return ((Act.STATE, State.RUN), (Act.MARK, mark), (Act.PLAY, haptics.GO))

    def _done(self, mark, pattern):
        self.state = State.DONE
        self._deadline = None
        return ((Act.MARK, mark), (Act.STATE, State.DONE), (Act.LOG_STOP, 0), (Act.PLAY, pattern))


def _join(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b
