# How often the belt advertises, and when: fast in a window when a computer is likely to look for
# it, slowly (or not at all) the rest of the time it is awake.
#
# A window of fast advertising (adv_fast_ms, for adv_window_s) opens when the belt boots or wakes,
# when the radio comes back after a run (the lie-down has ended, or the warm-up was given up),
# when the runner asks for a sync (a double press while idle: belt.button, belt.app) and when the
# pairing window opens. Outside a window the belt advertises every adv_slow_ms, or not at all when
# that is 0: then it is found only in its windows. During a run the radio is off whatever this
# says (belt.blelink). An advertising event costs roughly the same charge whatever the interval,
# so the radio's average current falls with the interval (hardware/power.md: the arithmetic and
# what it assumes); a computer's scan finds a belt advertising every 200 ms within a fraction of
# a second, one every 2 s within a few seconds (corecue sync --watch listens 5 s a look).
#
# A sync asked for also counts in `asked` (1 to 255, then 1 again; 0: none since boot), which the
# advertisement carries (belt.blelink, docs/protocol.md): a computer that already hears the belt,
# advertising slowly, cannot tell a double press from the belt merely being in range by the
# interval alone, and may have missed the window's start; a count that changes tells it once per
# press. It starts again at 0 with each boot and says nothing of the runner.
#
# Pure: open(now) and interval_us(now) on the board's tick, no radio, no asyncio, so the policy is
# tested on an injected clock under both interpreters (tests/firmware/test_radiowindow.py).
# Who chooses what on a connection (interval, latency, timeout) is the central's choice, not the
# belt's: MicroPython's `bluetooth` gives a peripheral no call to ask for other parameters. The
# belt logs what it was given (_IRQ_CONNECTION_UPDATE); docs/device-config.md says who chooses.
from micropython import const

from belt import ticks

# What docs/device-config.md lists; configschema checks them against its limits.
DEFAULTS = {
    "adv_fast_ms": 200,      # in a window: found within a fraction of a second
    "adv_window_s": 60,      # two of sync --watch's looks (every 30 s) fall in it
    "adv_slow_ms": 1000,     # outside one; 0: no advertising outside the windows
}
_US_PER_MS = const(1000)


class RadioWindow:
    def __init__(self, config, now):
        self.fast_ms = 0
        self.window_ms = 0
        self.slow_ms = 0
        self.configure(config)
        self.opened = 0             # windows opened since boot (the boot's own included)
        self.asked = 0              # syncs asked for since boot, 1..255 round again (0: none)
        self._until = now
        self.open(now)              # boot or wake: the first window

    def configure(self, config):
        """Take up the config's adv_* settings (a window already open keeps its end)."""
        get = config.get        # belt.config.Config, or a plain dict in the tests
        self.fast_ms = get("adv_fast_ms", DEFAULTS["adv_fast_ms"])
        self.window_ms = get("adv_window_s", DEFAULTS["adv_window_s"]) * 1000
        self.slow_ms = get("adv_slow_ms", DEFAULTS["adv_slow_ms"])

    def open(self, now):
        """A window of fast advertising from now (one already open is lengthened to end
        window_ms from now)."""
        self._until = ticks.add(now, self.window_ms)
        self.opened += 1

    def ask(self, now):
        """The runner asks for a sync: a window, and the count the advertisement carries."""
        self.asked = self.asked % 255 + 1       # never 0 again: 0 says no request since boot
        self.open(now)

    def fast(self, now):
        return ticks.diff(self._until, now) > 0

    def interval_us(self, now):
        """The advertising interval wanted now, in us (gap_advertise's unit); 0: none."""
        if self.fast(now):
            return self.fast_ms * _US_PER_MS
        return self.slow_ms * _US_PER_MS

    def left_ms(self, now):
        """How long the window open now has to go (0: none open)."""
        left = ticks.diff(self._until, now)
        return left if left > 0 else 0
