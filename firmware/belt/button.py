# The button: press edges from an interrupt, classified into short and long presses by a task.
#
# edge(pressed, now_ms) is interrupt-safe (stores two ints, no allocation) and wakes the task;
# poll(now) turns the stored edges into SHORT or LONG. A press shorter than _DEBOUNCE_MS is contact
# bounce; one held for _LONG_MS or more is LONG, reported when released, so a long press cannot
# also end as a short one. Runners press with gloves and mid-stride: the thresholds are generous.
from micropython import const

from belt import ticks

NONE = const(0)
SHORT = const(1)
LONG = const(2)

_DEBOUNCE_MS = const(40)
_LONG_MS = const(1500)


class Button:
    def __init__(self, wake=None):
        self._wake = wake
        self._down_at = -1
        self._up_at = -1
        self._pending = 0       # edges recorded since the last poll (interrupt writes only)
        self._seen = 0          # edges handled (task writes only)

    def edge(self, pressed, now_ms):
        """Interrupt context: the button went down (pressed) or up at now_ms."""
        if pressed:
            self._down_at = now_ms
        else:
            self._up_at = now_ms
        self._pending += 1
        if self._wake:
            self._wake()

    def poll(self):
        """Task context: the press that just ended, if any."""
        if self._pending == self._seen:
            return NONE
        self._seen = self._pending
        if self._up_at < 0 or self._down_at < 0:
            return NONE
        held = ticks.diff(self._up_at, self._down_at)
        if held < _DEBOUNCE_MS:
            return NONE
        self._down_at = -1
        self._up_at = -1
        return LONG if held >= _LONG_MS else SHORT
