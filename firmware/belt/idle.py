# When the belt may deep-sleep: after sleep_ms with nothing going on. An idle belt that stays
# awake with its radio advertising lasts about 34 hours (hardware/power.md); a runner who runs
# every other day would find it flat. Asleep, it lasts months and wakes on a press.
#
# "Nothing going on" is for the app to say (busy): a run or a lie-down, an open session, a
# calibration, a live view, a pattern playing, a connected companion. Every press and every
# request counts as activity (touch), so a runner or a companion in the middle of something is
# never put to sleep under them. The core decides when; the board does the sleeping.
from belt import ticks


class Idle:
    def __init__(self, sleep_ms, now):
        self.sleep_ms = sleep_ms        # 0: never sleep
        self._since = now

    def touch(self, now):
        """Something happened: the idle time starts again."""
        self._since = now

    def due(self, now, busy):
        """True when the belt has been idle (not busy, untouched) for sleep_ms."""
        if busy:
            self._since = now
            return False
        return self.sleep_ms > 0 and ticks.diff(now, self._since) >= self.sleep_ms

    def left_ms(self, now):
        """How long until due() would say so if nothing happens (None: never)."""
        if self.sleep_ms <= 0:
            return None
        left = self.sleep_ms - ticks.diff(now, self._since)
        return left if left > 0 else 0
