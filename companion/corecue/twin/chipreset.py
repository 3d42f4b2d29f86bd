"""What the reference board's chip (an ESP32-S3) does when the firmware resets it or its watchdog
expires: it boots again from its flash, and machine.reset_cause() says why. The twin's process
ends with an exit status where the chip would reset (unixport/machine.py); Esp32Twin
(twin/esp32twin.py) boots the same flash again with the cause given here.

The causes are MicroPython's on the ESP32 (v1.29, ports/esp32/modmachine.c), which maps ESP-IDF's
esp_reset_reason(): machine.reset() is esp_restart(), ESP_RST_SW, given as HARD_RESET (SOFT_RESET
is only the interpreter's own soft reboot, Ctrl-D or machine.soft_reset(), on a chip that goes on
running with its pins and its watchdog as they were: the twin does not boot again from that).
machine.WDT is ESP-IDF's task watchdog with a panic: ESP_RST_TASK_WDT, given as WDT_RESET.
Across either reset the chip keeps its flash and its RTC memory (the belt uses none, and the twin
has none), and a pad held with Pin(hold=True) stays as it was held (the belt holds the button's
only for deep sleep, and lets it go at boot; the twin does not carry it over). Its RAM and the rest
of its pins and peripherals start anew, as the twin's new process does.
"""
from __future__ import annotations

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

# unixport/machine.py's exit statuses.
EXIT_RESET = 80             # machine.reset()
EXIT_WDT = 81               # the watchdog expired
EXIT_DEEPSLEEP = 82         # machine.deepsleep(): a wake boots it (rtcwake), not a reset
EXIT_SOFT_RESET = 83        # machine.soft_reset(): not simulated

_AFTER = {EXIT_RESET: HARD_RESET, EXIT_WDT: WDT_RESET}


def cause_after(status):
    """The reset cause of the boot that follows a twin process that ended with `status`, or None
    when the chip does not boot again by itself (deep sleep; anything else is a failure)."""
    return _AFTER.get(status)
