# `esp32` for the twin on the unix port: the wake sources of deep sleep, as ports/esp32's esp32
# module has them (machine.deepsleep() then ends the twin's process; silicon.wake_reason says
# what woke it on the next boot).
import machine
import silicon

WAKEUP_ALL_LOW = 0
WAKEUP_ANY_HIGH = 1

wake_ext0 = None        # (pin number, level)
wake_ext1 = None        # ((pin numbers), level)


def wake_on_ext0(pin, level):
    global wake_ext0
    if pin is None:
        wake_ext0 = None
        return
    n = machine._pin_id(pin)
    if n not in silicon.RTC_GPIOS:
        raise ValueError("invalid pin for wake")
    wake_ext0 = (n, 1 if level else 0)


def wake_on_ext1(pins, level):
    global wake_ext1
    if pins is None:
        wake_ext1 = None
        return
    ns = tuple(machine._pin_id(p) for p in pins)
    for n in ns:
        if n not in silicon.RTC_GPIOS:
            raise ValueError("invalid pin for wake")
    if level not in (WAKEUP_ALL_LOW, WAKEUP_ANY_HIGH):
        raise ValueError("invalid level")
    wake_ext1 = (ns, level)


def mcu_temperature():
    return 40
