# The cell's state of charge as the run flow needs it: may a run start, should the runner be
# warned, must the session close now while it still can. hardware/power.md gives the thresholds:
# a LiPo under the belt's running load reads about 3.80 V with a marathon still in it; near 3.45 V
# it has minutes left, and the XIAO's regulator drops out near 3.3 V, so the session log is closed
# well before that (a cut would lose the block being written and leave the session torn).
#
# Each reading comes with the load it was taken under (the caller knows it: the motor on, the
# radio connected). The two kinds are averaged apart, each as the median of its last five readings
# (two stray readings either way move nothing):
# - readings at rest (the belt's steady running load, no motor, no radio traffic) give the state
#   of charge against LOW_MV, CRITICAL_MV and EMPTY_MV;
# - readings under load (taken at the end of a motor pulse, or with the radio connected) tell how
#   close the next pulse takes the cell to the regulator's drop-out: below LOAD_CRITICAL_MV no new
#   run starts, below LOAD_EMPTY_MV the running session closes. A worn cell whose pulses take it to
#   3.30-3.44 V (mostly under 3.40 V) while it recovers to 3.47 V at rest is therefore EMPTY, not
#   CRITICAL: its next cue could brown the belt out in the middle of a block.
# The level is the worse of the two. After _LOAD_STALE judgements without a loaded reading the
# loaded ones are forgotten (a cell charged since reads better).
#
# A level changes only after three judgements in a row (15 s at the app's pace) lie on the same
# side of it, so a motor pulse or a radio burst never ends a run on its own. The level adopted is
# the least extreme of the run (the least severe of worse judgements, the least improved of better
# ones). A judgement at the current level ends the run; better ones are judged with the
# hysteresis below. The first judgement counts at once, so a belt switched on with a flat cell
# refuses from the start. Integer arithmetic, no allocation: called every few seconds.
from array import array

from micropython import const

OK = const(0)
LOW = const(1)          # a run starts, with a warning: it may not last a long run
CRITICAL = const(2)     # no new run; a running one goes on
EMPTY = const(3)        # a running session closes now

LOW_MV = const(3800)
CRITICAL_MV = const(3500)   # a run started here would end within minutes: refuse it
EMPTY_MV = const(3450)
FULL_MV = const(4100)       # at rest: the word "full" (the level is OK)
# Under load (the motor at full strength, ~80 mA, or a radio connection): the regulator needs
# ~3.3 V. A sound cell is assumed to sag well under 50 mV at these currents (a few hundred
# milliohms with its protection circuit; hardware/power.md asks for a measurement), a worn one
# 100 mV and more.
LOAD_CRITICAL_MV = const(3450)
LOAD_EMPTY_MV = const(3400)
_HYSTERESIS_MV = const(30)  # a level is left upwards only this far above its edge
_CONFIRM = const(3)         # judgements in a row that must agree before the level changes
_WINDOW = const(5)          # readings averaged per kind
_LOAD_STALE = const(360)    # judgements (30 min at 5 s) after which loaded readings are forgotten
_EDGES = (LOW_MV, CRITICAL_MV, EMPTY_MV)

# Loads a reading was taken under (bits).
REST = const(0)
MOTOR = const(1)
RADIO = const(2)

# Level codes as the status reply and the sessions' battery events carry them (docs/protocol.md,
# docs/session-format.md): OK..EMPTY, FULL for OK at or above FULL_MV, UNKNOWN before a reading.
FULL = const(4)
UNKNOWN = const(255)


def _level_of(mv):
    level = OK
    for edge in _EDGES:
        if mv < edge:
            level += 1
    return level


def _load_level(mv):
    return EMPTY if mv < LOAD_EMPTY_MV else (CRITICAL if mv < LOAD_CRITICAL_MV else OK)


class _Window:
    """The last _WINDOW readings of one kind; mid() is their median (of an even count, the mean
    of the middle two), so up to two stray readings of five move nothing."""

    def __init__(self):
        self.v = array("H", [0] * _WINDOW)
        self.n = 0
        self._i = 0

    def add(self, mv):
        self.v[self._i] = mv if mv < 0xFFFF else 0xFFFF
        self._i = (self._i + 1) % _WINDOW
        if self.n < _WINDOW:
            self.n += 1

    def clear(self):
        self.n = 0
        self._i = 0

    # Small functions with few locals, and while loops rather than for over range() (whose
    # counters take stack slots): MicroPython keeps a call's state on the C stack only up to a
    # few words and allocates a larger one on the heap (measured: 136 bytes a call).
    def _below(self, x):
        v = self.v
        n = self.n
        c = j = 0
        while j < n:
            if v[j] < x:
                c += 1
            j += 1
        return c

    def _rank(self, r):
        # The reading with r others below it, counting ties.
        v = self.v
        i = 0
        while i < self.n:
            if self._below(v[i]) <= r < self._below(v[i] + 1):
                return v[i]
            i += 1
        return 0

    def mid(self):
        n = self.n
        if not n:
            return 0
        if n & 1:
            return self._rank(n >> 1)
        return (self._rank((n >> 1) - 1) + self._rank(n >> 1)) >> 1


class Battery:
    def __init__(self):
        self.mv = 0             # the rest estimate (mV); 0 until the first reading (or no gauge)
        self.load_mv = 0        # the estimate under load; 0 until three loaded readings
        self.level = OK
        self._rest = _Window()
        self._loaded = _Window()
        self._since_load = 0    # judgements since the last loaded reading
        self._judged = False    # the first judgement counts at once
        self._pending = OK      # the least extreme level of the current run (meaningless at 0)
        self._count = 0         # judgements in a row on the same side of self.level

    def code(self):
        """The level as the status reply and the sessions' battery events carry it."""
        if not self.mv:
            return UNKNOWN
        if self.level == OK and self.mv >= FULL_MV:
            return FULL
        return self.level

    def judged_mv(self):
        """The lower of the estimates at rest and under load: what the level stands on, as the
        status reply and the log give it."""
        mv = self.mv
        return self.load_mv if 0 < self.load_mv < mv else mv

    def reading(self, mv, load=REST):
        """Record one reading (mV; 0 or less: the board cannot tell) without judging it: the
        motor task's, at the end of a pulse, between the battery task's judgements."""
        if mv <= 0:
            return
        if load:
            self._loaded.add(mv)
            self._since_load = 0
            if self._loaded.n >= 3:
                self.load_mv = self._loaded.mid()
        else:
            self._rest.add(mv)
            self.mv = self._rest.mid()

    def _judge(self, hysteresis):
        level = _level_of(self.mv - hysteresis) if self._rest.n else OK
        if self._loaded.n >= 3:
            worse = _load_level(self.load_mv - hysteresis)
            if worse > level:
                level = worse
        return level

    def update(self, mv, load=REST):
        """Take one reading (as reading()) and judge the level; returns it."""
        if mv <= 0:
            return self.level
        first = not self._judged
        self._judged = True
        self.reading(mv, load)
        if not self.mv:
            self.mv = mv        # no rest reading yet: the loaded one is all there is
        self._since_load += 1
        if self._since_load > _LOAD_STALE:
            self._loaded.clear()
            self.load_mv = 0
        level = self.level
        if first:
            # A loaded first reading is all there is: taken as it is, the cautious way.
            self.level = self._judge(0) if self._rest.n else _level_of(mv)
            self._count = 0
            return self.level
        raw = self._judge(0)
        if raw < level:
            # Recovering (a cell rests after a load): only once clearly above the edge, so the
            # level does not flicker around it.
            raw = self._judge(_HYSTERESIS_MV)
        if raw == level:
            self._count = 0
            return level
        # A run continues only on the same side; a switch of side starts a new one.
        if self._count and (raw > level) == (self._pending > level):
            if raw > level:
                if raw < self._pending:
                    self._pending = raw     # worse: keep the least severe
            elif raw > self._pending:
                self._pending = raw         # better: keep the least improved
        else:
            self._pending = raw
            self._count = 0
        self._count += 1
        if self._count >= _CONFIRM:
            self.level = self._pending
            self._count = 0
        return self.level
