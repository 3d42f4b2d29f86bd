# The button: press edges from an interrupt, classified into short, long and double presses by a
# task.
#
# edge(pressed, now_ms) is interrupt-safe (stores two ints, no allocation) and wakes the task;
# poll(now, doubles) turns the stored edges into SHORT, LONG or DOUBLE. A press shorter than
# _DEBOUNCE_MS is contact bounce; one held for _LONG_MS or more is LONG, reported when released,
# so a long press cannot also end as a short one. Runners press with gloves and mid-stride: the
# thresholds are generous.
#
# DOUBLE (two short presses, the second pressed within _DOUBLE_MS of the first's release) asks
# for a sync: the belt advertises fast for a window (belt.radiowindow). It is told apart only
# where the caller says a double press means something (doubles: the run flow idle or done,
# where a short press starts the warm-up or returns to idle); there a short press is reported
# _DOUBLE_MS after its release, once no second press has come. Elsewhere (a warm-up, a run, a
# lie-down) every short press is reported at once, as before: two quick presses are two presses.
# A short press followed within _DOUBLE_MS by a long one counts as the long one.
from micropython import const

from belt import ticks

NONE = const(0)
SHORT = const(1)
LONG = const(2)
DOUBLE = const(3)

_DEBOUNCE_MS = const(40)
_LONG_MS = const(1500)
_DOUBLE_MS = const(400)


class Button:
    def __init__(self, wake=None):
        self._wake = wake
        self._down_at = -1
        self._up_at = -1
        self._pending = 0       # edges recorded since the last poll (interrupt writes only)
        self._seen = 0          # edges handled (task writes only)
        self._first = -1        # release tick of a short press that may begin a double
        self._released = -1     # release tick of the last press classified

    def edge(self, pressed, now_ms):
        """Interrupt context: the button went down (pressed) or up at now_ms."""
        if pressed:
            self._down_at = now_ms
        else:
            self._up_at = now_ms
        self._pending += 1
        if self._wake:
            self._wake()

    def poll(self, now=0, doubles=False):
        """Task context: the press that just ended, if any (doubles: see above)."""
        kind = self._press()
        first = self._first
        if kind == NONE:
            if first >= 0 and not self._down() and ticks.diff(now, first) >= _DOUBLE_MS:
                self._first = -1            # no second press came: it was a short one
                return SHORT
            return NONE
        if first >= 0:
            self._first = -1
            return DOUBLE if kind == SHORT else kind
        if kind == SHORT and doubles:
            self._first = self._released
            return NONE
        return kind

    def wait_ms(self, now):
        """How long until poll() may report a waiting short press (None: nothing waits)."""
        if self._first < 0 or self._down():
            return None                     # a second press is down: its release wakes the task
        left = _DOUBLE_MS - ticks.diff(now, self._first)
        return left if left > 0 else 0

    def _down(self):
        """The button is down now, as far as the edges tell."""
        return self._down_at >= 0 and (self._up_at < 0 or ticks.diff(self._up_at,
                                                                     self._down_at) < 0)

    def _press(self):
        if self._pending == self._seen:
            return NONE
        self._seen = self._pending
        if self._up_at < 0 or self._down_at < 0:
            return NONE
        held = ticks.diff(self._up_at, self._down_at)
        if held < _DEBOUNCE_MS:
            return NONE
        self._released = self._up_at
        self._down_at = -1
        self._up_at = -1
        return LONG if held >= _LONG_MS else SHORT
