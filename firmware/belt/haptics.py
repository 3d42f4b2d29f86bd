# Vibration patterns as data, and a non-blocking player for them.
#
# A pattern is an on/off list in milliseconds that starts and ends "on": (150, 100, 150) is on
# 150, off 100, on 150. Each pattern also has a strength (motor duty, 1..100 %) and a priority.
# The runner has to tell the cues apart by feel alone, mid-stride, so each family has its own
# rhythm rather than its own strength: "brace more" is quick taps (tighten), "ease off" is long
# slow pulses (let go), "back in band" two soft ticks, "check sensor" short-short-long. Escalated
# levels add a pulse and some duty, so a stronger cue still has its family's rhythm.
#
# The player owns no motor: update(now) returns the level (0..100) the board's motor should run at,
# and next_deadline(now) the tick of the next edge, so the caller can sleep until then.
#
# When a pattern arrives while another is playing:
#   - same or higher priority: it preempts. A coaching cue describes the runner's state now; the
#     rest of an older cue is stale (the runner who braced after "brace more" should feel "back in
#     band", not the tail of "brace more").
#   - lower priority: it waits in a single slot (a newer waiting pattern replaces an older one) and
#     plays when the current one ends. A protocol signal ("go", "storage full") must be felt whole.
# A new pattern never starts less than gap_ms after the motor was last on, otherwise a preempted
# pulse and the new pattern's first pulse fuse into one long buzz that means neither.
from micropython import const

from belt import ticks

PRIO_CUE = const(1)     # coaching during the run
PRIO_FLOW = const(2)    # the run protocol and device conditions

_GAP_MS = const(300)

# Pattern ids: small ints so actions and session logs carry a number, not a string. Levels of a
# family are consecutive, so level n of brace_more is BRACE_MORE_1 + n - 1.
BRACE_MORE_1 = const(0)
BRACE_MORE_2 = const(1)
BRACE_MORE_3 = const(2)
EASE_OFF_1 = const(3)
EASE_OFF_2 = const(4)
EASE_OFF_3 = const(5)
BACK_IN_BAND = const(6)
CHECK_SENSOR = const(7)
GO = const(8)
WARMUP_NEXT = const(9)
LIE_DOWN_DONE = const(10)
STORAGE_FULL = const(11)
CALIBRATE_PHASE = const(12)
ACK = const(13)
BATTERY_LOW = const(14)
BATTERY_EMPTY = const(15)
PAIRING = const(16)
KEYS_RESET = const(17)
AWAKE = const(18)
DATA_FORMATTED = const(19)
SYNC_WINDOW = const(20)

# id: (name, priority, duty %, on/off ms)
TABLE = (
    ("brace_more_1", PRIO_CUE, 70, (150, 100, 150)),
    ("brace_more_2", PRIO_CUE, 85, (150, 100, 150, 100, 150)),
    ("brace_more_3", PRIO_CUE, 100, (150, 100, 150, 100, 150, 100, 150)),
    ("ease_off_1", PRIO_CUE, 60, (500, 300, 500)),
    ("ease_off_2", PRIO_CUE, 75, (500, 300, 500, 300, 500)),
    ("ease_off_3", PRIO_CUE, 90, (500, 300, 500, 300, 500, 300, 500)),
    ("back_in_band", PRIO_CUE, 50, (80, 120, 80)),
    ("check_sensor", PRIO_CUE, 80, (100, 100, 100, 300, 700)),
    ("go", PRIO_FLOW, 100, (1000,)),
    ("warmup_next", PRIO_FLOW, 80, (300, 200, 300)),
    ("lie_down_done", PRIO_FLOW, 80, (800, 400, 800, 400, 800)),
    # Rapid stutter, unlike anything felt during a run: the belt refuses to start a session.
    ("storage_full", PRIO_FLOW, 100, (60, 60, 60, 60, 60, 60, 60, 60, 60)),
    ("calibrate_phase", PRIO_FLOW, 70, (400, 150, 100)),
    # A button was heard and nothing else would say so.
    ("ack", PRIO_FLOW, 60, (60,)),
    # Instead of warmup_next when a run starts on a low cell: one long, two short.
    ("battery_low", PRIO_FLOW, 80, (700, 250, 120, 250, 120)),
    # The cell is nearly flat: no run starts, or the running session has just been saved.
    ("battery_empty", PRIO_FLOW, 100, (700, 250, 700, 250, 700)),
    # Two firm buzzes after a long press when idle: the pairing window is open (belt.owners);
    # "hold the button until the belt buzzes twice" is what `corecue pair` tells the runner.
    ("pairing", PRIO_FLOW, 90, (250, 250, 250)),
    # Button held at power-on: the keys are cleared (no owner; sessions kept). A slow ramp of
    # four, felt while the runner still holds the button.
    ("keys_reset", PRIO_FLOW, 100, (200, 200, 400, 200, 600, 200, 800)),
    # Woken from deep sleep by the button: ready. Three soft ticks, quicker than anything else.
    ("awake", PRIO_FLOW, 60, (60, 80, 60, 80, 60)),
    # At boot: the data area could not be read and was formatted anew (belt.dataarea), so the
    # sessions and settings on it are gone. A long buzz then shorter and shorter ones, the
    # reverse of keys_reset's ramp; the status reply and the boot log say the same.
    ("data_formatted", PRIO_FLOW, 100, (800, 200, 400, 200, 200, 200, 100)),
    # A double press while idle: the belt advertises fast for a sync. The gesture echoed, twice:
    # two taps, a pause, two taps (belt.radiowindow).
    ("sync_window", PRIO_FLOW, 70, (120, 120, 120, 400, 120, 120, 120)),
)


def pattern_id(name):
    for i in range(len(TABLE)):
        if TABLE[i][0] == name:
            return i
    raise ValueError(name)


def duration(pid):
    total = 0
    for ms in TABLE[pid][3]:
        total += ms
    return total


class Player:
    def __init__(self, gap_ms=_GAP_MS, table=None):
        # table: TABLE with the runner's own on/off lists (config.Config.haptic_table()).
        self.table = table or TABLE
        self.gap_ms = gap_ms
        self.pid = -1           # pattern playing (or waiting out the gap), -1 when idle
        self._steps = None
        self._duty = 0
        self._prio = 0
        self._i = 0             # step index; -1 while waiting out the gap before step 0
        self._end = 0           # tick at which step _i (or the gap) ends
        self._pend = -1         # the one pattern waiting behind a higher-priority one
        self._off_at = 0        # tick the motor last went off
        self._recent = False    # _off_at is less than gap_ms ago (as far as we know)

    def play(self, pid, now):
        """Start pattern pid, or queue it behind a higher-priority one. Returns True if it
        took over the motor, False if it waits."""
        self._advance(now)
        prio = self.table[pid][1]
        if self._steps is not None and prio < self._prio:
            self._pend = pid
            return False
        if self.level():
            self._off_at = now
            self._recent = True
        self._start(pid, now)
        return True

    def stop(self):
        self._steps = None
        self.pid = -1
        self._pend = -1

    def busy(self):
        return self._steps is not None

    def level(self):
        if self._steps is None or self._i < 0 or self._i & 1:
            return 0
        return self._duty

    def update(self, now):
        """The motor level for tick `now` (0 = off, else duty %)."""
        self._advance(now)
        return self.level()

    def next_deadline(self, now):
        """Tick of the next edge, or None when idle (nothing to wake up for)."""
        if self._steps is None:
            return None
        return self._end

    def _start(self, pid, now):
        entry = self.table[pid]
        self.pid = pid
        self._prio = entry[1]
        self._duty = entry[2]
        self._steps = entry[3]
        if self._recent:
            quiet = ticks.add(self._off_at, self.gap_ms)
            wait = ticks.diff(quiet, now)
            # Bounded by gap_ms: a stale _off_at from before a long idle must not read as recent.
            if 0 < wait <= self.gap_ms:
                self._i = -1
                self._end = quiet
                return
        self._recent = False
        self._i = 0
        self._end = ticks.add(now, self._steps[0])

    def _advance(self, now):
        # Steps are timed from the previous edge, not from when update() happened to run, so a
        # late caller does not stretch the pattern.
        while self._steps is not None and ticks.diff(now, self._end) >= 0:
            i = self._i + 1
            if i >= len(self._steps):
                self._off_at = self._end
                self._recent = True
                self._steps = None
                self.pid = -1
                if self._pend >= 0:
                    pid = self._pend
                    self._pend = -1
                    self._start(pid, self._end)
                continue
            if i & 1:
                self._off_at = self._end
                self._recent = True
            self._i = i
            self._end = ticks.add(self._end, self._steps[i])
        if self._steps is None and self._recent and ticks.diff(now, self._off_at) >= self.gap_ms:
            self._recent = False
