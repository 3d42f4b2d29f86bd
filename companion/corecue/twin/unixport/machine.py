# `machine` for the MicroPython unix port, as the ESP32 port has it, for the parts the belt's
# board file uses: Pin (modes, pulls, value, soft IRQs on edges), ADC (atten, read_u16, read_uv),
# PWM (freq, duty_u16), Timer (soft callbacks), WDT, unique_id, freq, reset, deepsleep and the
# reset and wake causes. The world outside the pins is silicon.py.
#
# Faithful to ports/esp32 (machine_pin.c, machine_adc.c, machine_pwm.c, machine_timer.c,
# machine_wdt.c, modmachine.c) where the board could tell; where the twin cannot match the chip
# it is harsher: a floating input reads a random bit, a timer callback runs only when the
# asyncio scheduler gets a turn (on the chip, at the next bytecode), a watchdog that is not fed
# ends the process, an ADC input nothing is connected to raises.
import sys
import time

import asyncio
import micropython

import silicon

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
PIN_WAKE = EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
# Exit statuses the twin's process ends with where the chip would reset (twin/chipreset.py):
# Esp32Twin boots the same flash again after a reset or the watchdog (reset_cause() HARD_RESET,
# WDT_RESET, as MicroPython's ESP32 port gives them), after deep sleep on a wake. A soft reset
# restarts only the interpreter on the chip, pins and watchdog running on: not simulated.
EXIT_RESET = 80
EXIT_WDT = 81
EXIT_DEEPSLEEP = 82
EXIT_SOFT_RESET = 83

_FREQS = (20, 40, 80, 160, 240)
_freq = 160000000            # the ESP32-S3 port's default CPU clock


def freq(*args):
    global _freq
    if not args:
        return _freq
    mhz = int(args[0]) // 1000000
    if mhz not in _FREQS:
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _freq = mhz * 1000000


def unique_id():
    return silicon.chip_mac()


def reset_cause():
    return silicon.reset_cause


def wake_reason():
    return silicon.wake_reason


def reset():
    print("machine.reset()", file=sys.stderr)
    sys.exit(EXIT_RESET)


def soft_reset():
    print("machine.soft_reset(): not simulated", file=sys.stderr)
    sys.exit(EXIT_SOFT_RESET)


def deepsleep(time_ms=0):
    """The chip stops; it comes back through reset, with DEEPSLEEP_RESET as the cause, when one
    of the wake sources armed fires (silicon.went_to_sleep records them for whoever holds the
    twin: esp32twin wakes it) or never."""
    print("machine.deepsleep(%d)" % time_ms, file=sys.stderr)
    silicon.went_to_sleep(time_ms)
    sys.exit(EXIT_DEEPSLEEP)


def lightsleep(time_ms=0):
    time.sleep_ms(time_ms)


def idle():
    pass


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def _pin_id(pin):
    n = pin._id if isinstance(pin, Pin) else pin
    if not isinstance(n, int) or n not in silicon.GPIOS:
        raise ValueError("invalid pin")
    return n


def _soft(handler, arg):
    # ESP32: mp_sched_schedule; a full queue loses the call there as here.
    try:
        micropython.schedule(handler, arg)
    except RuntimeError:
        pass


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_DOWN = 1
    PULL_UP = 2
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        self._id = _pin_id(id)
        self._mode = None
        self._handler = None
        self._trigger = 0
        self.init(mode, pull, value=value, hold=hold)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        if hold is not None:
            # machine_pin.c: gpio_hold_dis, then gpio_hold_en if asked: the pad keeps its
            # configuration (pull included) through deep sleep until released.
            silicon.held[self._id] = bool(hold)
        if value is not None:
            silicon._outputs[self._id] = 1 if value else 0
        if mode != -1:
            if mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
                raise ValueError("invalid pin mode")
            self._mode = mode
            if mode == Pin.IN:
                silicon._outputs.pop(self._id, None)
            elif self._id not in silicon._outputs:
                silicon._outputs[self._id] = 0
        if pull != -1:
            if pull not in (None, Pin.PULL_UP, Pin.PULL_DOWN):
                raise ValueError("invalid pull")
            silicon._pulls[self._id] = {Pin.PULL_UP: "up", Pin.PULL_DOWN: "down"}.get(pull)

    def value(self, *args):
        if args:
            if self._mode == Pin.IN:
                return None               # no output driver: the value waits for OUT mode
            silicon._outputs[self._id] = 1 if args[0] else 0
            return None
        level = silicon.level_of(self._id)
        if level is None:                 # floating: anything
            import os
            level = os.urandom(1)[0] & 1
        return level

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, *, wake=None, hard=False):
        if hard:
            raise ValueError("hard IRQs are not simulated")    # the board uses soft ones
        if wake is not None:
            # On the chip this arms ext0 or ext1 as well; the twin arms them only through
            # esp32.wake_on_ext0/ext1 (the board's way), never silently not at all.
            raise ValueError("Pin.irq(wake=) is not simulated: use esp32.wake_on_ext0")
        self._handler = handler
        self._trigger = trigger
        if handler is None:
            silicon.listeners.pop(self._id, None)
        else:
            silicon.listeners[self._id] = self._edge
            if self._id in silicon.scripts:
                asyncio.create_task(silicon.play(self._id))
        return self

    def _edge(self, level):
        want = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
        if self._handler is not None and self._trigger & want:
            _soft(self._handler, self)

    def __repr__(self):
        return "Pin(%d)" % self._id


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 12
    # Full scale in microvolts per attenuation (the ESP32 quick reference's ranges).
    _FULL_UV = (950000, 1250000, 1750000, 2450000)
    _BITS = 12

    def __init__(self, pin, *, atten=0):
        self._id = _pin_id(pin)
        if self._id not in silicon.ADC1 and self._id not in silicon.ADC2:
            raise ValueError("invalid pin for ADC")
        self.init(atten=atten)

    def init(self, *, atten=None):
        if atten is not None:
            if atten not in (0, 1, 2, 3):
                raise ValueError("invalid atten")
            self._atten = atten

    def _uv(self):
        src = silicon.sources.get(self._id)
        if src is None:
            raise OSError(5, "ADC input %d is not connected in the twin" % self._id)
        uv = src()
        full = ADC._FULL_UV[self._atten]
        return 0 if uv < 0 else (full if uv > full else uv)

    def read(self):
        return self._uv() * 4095 // ADC._FULL_UV[self._atten]

    def read_u16(self):
        raw = self.read()
        return raw << 4 | raw >> 8             # machine_adc.c: u16 from the block's 12 bits

    def read_uv(self):
        return self._uv() // 1000 * 1000        # calibrated, millivolt resolution


class PWM:
    def __init__(self, pin, *, freq=None, duty_u16=None, duty_ns=None):
        self._id = _pin_id(pin)
        self._freq = 5000
        self._duty = 0
        self.init(freq=freq, duty_u16=duty_u16)

    def init(self, *, freq=None, duty_u16=None, duty_ns=None):
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def freq(self, *args):
        if not args:
            return self._freq
        f = int(args[0])
        if not 1 <= f <= 40000000:
            raise ValueError("frequency must be from 1Hz to 40MHz")
        self._freq = f

    def duty_u16(self, *args):
        if not args:
            return self._duty
        d = int(args[0])
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 must be from 0 to 65535")
        if d != self._duty:
            silicon.pwm_changed(self._id, d)
        self._duty = d
        silicon.pwm[self._id] = (self._freq, d)

    def deinit(self):
        if self._duty:
            silicon.pwm_changed(self._id, 0)
        self._duty = 0
        silicon.pwm.pop(self._id, None)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1
    _COUNT = 4                  # SOC_TIMER_GROUP_TOTAL_TIMERS on the ESP32-S3

    def __init__(self, id, **kw):
        if not isinstance(id, int) or not 0 <= id < Timer._COUNT:
            raise ValueError("Timer(%r) doesn't exist, there are only %d hardware timers"
                             % (id, Timer._COUNT))
        self._id = id
        self._task = None
        if kw:
            self.init(**kw)

    def init(self, *, mode=PERIODIC, freq=-1, period=-1, callback=None):
        self.deinit()
        if freq > 0:
            self._period_us = 1000000 // freq
        elif period > 0:
            self._period_us = period * 1000
        else:
            raise ValueError("period or freq needed")
        self._mode = mode
        self._callback = callback
        self._task = asyncio.create_task(self._run())

    def deinit(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self):
        # The chip's alarm fires every period whatever the CPU does, and the callback runs at
        # the next bytecode. Here the alarms are counted from the clock whenever the scheduler
        # gives this task a turn, and each due one is called then: later than on the chip, so
        # the sampler sees late samples where the chip would have none, never the reverse.
        due = time.ticks_add(time.ticks_us(), self._period_us)
        while True:
            wait = time.ticks_diff(due, time.ticks_us())
            if wait > 0:
                await asyncio.sleep_ms(wait // 1000)
            while time.ticks_diff(time.ticks_us(), due) >= 0:
                if self._callback is not None:
                    try:
                        self._callback(self)
                    except Exception as e:      # mp_sched runs callbacks protected
                        sys.print_exception(e)
                due = time.ticks_add(due, self._period_us)
                if self._mode == Timer.ONE_SHOT:
                    self._task = None
                    return
            await asyncio.sleep_ms(0)


class WDT:
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError()
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        self._timeout = timeout
        self._fed = time.ticks_ms()
        silicon.watchdog = self._check      # a timer of its own: it fires in a hang too
        asyncio.create_task(self._watch())

    def feed(self):
        self._check()
        self._fed = time.ticks_ms()

    def _check(self):
        if time.ticks_diff(time.ticks_ms(), self._fed) > self._timeout:
            print("watchdog: not fed for %d ms: reset" % self._timeout, file=sys.stderr)
            sys.exit(EXIT_WDT)

    async def _watch(self):
        while True:
            await asyncio.sleep_ms(self._timeout // 4 + 1)
            self._check()
