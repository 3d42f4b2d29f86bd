# The cell's state of charge as the run flow needs it: may a run start, should the runner be
# warned, must the session close now while it still can. hardware/power.md gives the thresholds:
# a LiPo under the belt's load reads about 3.80 V with a marathon still in it; near 3.45 V it has
# minutes left, and the XIAO's regulator drops out near 3.3 V, so the session log is closed well
# before that (a cut would lose the block being written and leave the session torn).
#
# A level changes only after three readings in a row lie on the same side of it (15 s at the
# app's pace): a motor pulse or a radio burst sags the cell for milliseconds, and one or two such
# readings must not end a run. The three need not agree with each other: a worn cell sags under
# load and recovers at rest, so its readings straddle an edge (3440, 3470, 3440, ...), and asking
# for three equal levels would keep the belt at LOW until the regulator drops out. The level
# adopted is the least extreme of the run (the least severe of worse readings, the least improved
# of better ones), so a level is never reached on fewer than three readings that show it. A
# reading at the current level ends the run; better readings are judged with the hysteresis below.
# The first reading counts at once, so a belt switched on with a flat cell refuses from the start.
# Integer arithmetic, no allocation: called every few seconds.
from micropython import const

OK = const(0)
LOW = const(1)          # a run starts, with a warning: it may not last a long run
CRITICAL = const(2)     # no new run; a running one goes on
EMPTY = const(3)        # a running session closes now

LOW_MV = const(3800)
CRITICAL_MV = const(3500)   # a run started here would end within minutes: refuse it
EMPTY_MV = const(3450)
_HYSTERESIS_MV = const(30)  # a level is left upwards only this far above its edge
_CONFIRM = const(3)         # readings in a row that must agree before the level changes
_EDGES = (LOW_MV, CRITICAL_MV, EMPTY_MV)


def _level_of(mv):
    level = OK
    for edge in _EDGES:
        if mv < edge:
            level += 1
    return level


class Battery:
    def __init__(self):
        self.mv = 0             # the latest reading; 0 until the first one (or no gauge)
        self.level = OK
        self._pending = OK      # the least extreme level of the current run (meaningless at 0)
        self._count = 0         # readings in a row on the same side of self.level

    def update(self, mv):
        """Take one reading (mV; 0 or less: the board cannot tell) and return the level."""
        if mv <= 0:
            return self.level
        first = self.mv == 0
        self.mv = mv
        level = self.level
        raw = _level_of(mv)
        if first:
            self.level = raw
            self._count = 0
            return raw
        if raw < level:
            # Recovering (a cell rests after a load): only once clearly above the edge, so the
            # level does not flicker around it.
            raw = _level_of(mv - _HYSTERESIS_MV)
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
