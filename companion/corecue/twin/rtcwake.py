"""What wakes the reference board's chip (an ESP32-S3) from deep sleep, as its RTC controller
decides, over the record the twin's chip writes as it goes to sleep (unixport/silicon.py,
went_to_sleep: ext0, ext1, timer_ms, held, outputs, pwm). corecue.twin.esp32twin applies it: a
press wakes the twin only where it would wake the chip.
"""
from __future__ import annotations

# The reset cause and the wake reasons of the boot that follows a deep sleep, as the twin's
# `machine` (unixport/machine.py) has them: ESP-IDF's esp_sleep_wakeup_cause_t, which is what
# MicroPython's machine.wake_reason() gives on the ESP32.
DEEPSLEEP_RESET = 4
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
WAKEUP_ALL_LOW = 0           # esp32.WAKEUP_ALL_LOW, WAKEUP_ANY_HIGH
WAKEUP_ANY_HIGH = 1


def wake_reason(asleep, pin, level):
    """What the RTC controller of a chip asleep as `asleep` says (silicon.went_to_sleep's record)
    does when the world holds `pin` at `level`: the wake reason, or 0 (it sleeps on). ext0 wakes on
    its one pin at its level; ext1 ANY_HIGH when one of its pins is high, ALL_LOW when all of them
    are low (the others by the pull held on their pads; an open pad is no low). Nothing armed:
    nothing wakes it."""
    if asleep["ext0"] == (pin, level):
        return EXT0_WAKE
    ext1 = asleep["ext1"]
    if ext1 is not None and pin in ext1[0]:
        pins, mode = ext1
        if mode == WAKEUP_ANY_HIGH and level == 1:
            return EXT1_WAKE
        others_low = all(p == pin or asleep["held"].get(p) == "down" for p in pins)
        if mode == WAKEUP_ALL_LOW and level == 0 and others_low:
            return EXT1_WAKE
    return 0


def wakes_by_itself(asleep):
    """Whether the chip asleep as `asleep` says would wake at once with nobody touching it: ext0
    is a level, and in deep sleep a pad keeps only a pull that was held (Pin(hold=True)); an
    armed pad held at the wake level, or left floating (the twin's floating pad reads anything),
    fires as soon as the chip sleeps."""
    if asleep["ext0"] is None:
        return False
    pin, level = asleep["ext0"]
    pull = asleep["held"].get(pin)
    return pull is None or (pull == "up") == (level == 1)
