# The world outside the ESP32-S3's pins, for the twin's `machine` module on the MicroPython unix
# port: what each pin is driven to from outside, what voltage each ADC input sees, the chip's
# MAC, why it last reset. Only the silicon and its surroundings are here; the board file and the
# firmware above it run unchanged. Whoever starts the twin (rom.py, a test) sets these.
import os

# GPIO numbers the ESP32-S3 has (22-25 do not exist), and which ADC unit each analog pin is on.
GPIOS = tuple(range(0, 22)) + tuple(range(26, 49))
ADC1 = tuple(range(1, 11))
ADC2 = tuple(range(11, 21))
RTC_GPIOS = tuple(range(0, 22))   # the ESP32-S3 RTC domain: only these wake it from deep sleep

driven = {}          # pin -> 0/1 driven from outside (a button to GND pressed is 0); absent: open
sources = {}         # pin -> callable() giving the input voltage in microvolts for one conversion
mac = None           # 6 bytes; made up once if nobody sets it
reset_cause = 1      # machine.PWRON_RESET unless the twin's boot says otherwise
wake_reason = 0
listeners = {}       # pin -> callable(level) registered by machine.Pin.irq: an edge happened
pwm = {}             # pin -> (freq, duty_u16) of a running PWM output
scripts = {}         # pin -> [(ms after the pin's IRQ is set, level or None)]: the world's hand
held = {}            # pin -> True while its pad configuration is held (Pin(hold=True))
flash = None         # the flash chip (flashchip.Chip) and its partition table (flashchip.table)
partitions = ()
pwm_log = None       # a file the PWM outputs' duty changes go to ("ms,pin,duty" lines), or None
# The RTC controller's wake sources (esp32.wake_on_ext0, wake_on_ext1 set them): what still
# listens while the chip is in deep sleep.
ext0 = None          # (pin, level)
ext1 = None          # ((pins), esp32.WAKEUP_ALL_LOW or WAKEUP_ANY_HIGH)
sleep_log = None     # an open file that gets one line per deep sleep (went_to_sleep), or None
watchdog = None      # the running watchdog's check (machine.WDT): it resets the chip when due


def pwm_changed(pin, duty):
    """What an oscilloscope on the pin would see: the moment its duty changed."""
    if pwm_log is not None:
        import time
        pwm_log.write("%d,%d,%d\n" % (time.ticks_ms(), pin, duty))
        pwm_log.flush()


def drive(pin, level):
    """Drive pin from outside (None lets it go: pulls or floating decide). Edges reach the pin's
    IRQ as on the chip."""
    old = level_of(pin)
    if level is None:
        driven.pop(pin, None)
    else:
        driven[pin] = 1 if level else 0
    new = level_of(pin)
    if new is not None and old != new and pin in listeners:
        listeners[pin](new)


_pulls = {}          # pin -> "up", "down" or None, as machine.Pin configured it
_outputs = {}        # pin -> level, while the chip drives it


def level_of(pin):
    """What the pin reads: an outside driver wins over a weak pull; the chip's own output is read
    back; an open input with no pull floats (None: the reader picks a random bit)."""
    if pin in _outputs:
        return _outputs[pin]
    if pin in driven:
        return driven[pin]
    p = _pulls.get(pin)
    if p == "up":
        return 1
    if p == "down":
        return 0
    return None


def chip_mac():
    global mac
    if mac is None:
        mac = bytes((0x30, 0x30, 0xF9)) + os.urandom(3)   # an Espressif OUI
    return mac


async def play(pin):
    """Carry out scripts[pin] (started when firmware first listens to the pin)."""
    import asyncio
    import time
    t0 = time.ticks_ms()
    for at, level in scripts.pop(pin, ()):
        wait = time.ticks_diff(time.ticks_add(t0, at), time.ticks_ms())
        if wait > 0:
            await asyncio.sleep_ms(wait)
        drive(pin, level)


def hang():
    """The CPU stops in a call that never returns (rom.py --hang: a sensor conversion that never
    completes). Nothing else runs; the watchdog, a timer of its own on the chip, still counts and
    resets the chip when it is due (machine.WDT). Without one the chip stays hung, as here."""
    import time
    while True:
        time.sleep_ms(20)
        if watchdog is not None:
            watchdog()


def went_to_sleep(timer_ms):
    """The chip enters deep sleep (machine.deepsleep): one line to sleep_log, a Python literal,
    of what whoever holds the twin needs to know to wake it as the chip would wake: the wake
    sources armed (ext0, ext1, the timer: the only ones the twin's chip has; none armed, it
    sleeps until power is cut), the pads held through the sleep with their pull, and the levels
    and PWM duties the chip drove just before it stopped."""
    if sleep_log is None:
        return
    held_pads = {}
    for pin, on in held.items():
        if on:
            held_pads[pin] = _pulls.get(pin)
    record = {"ext0": ext0, "ext1": ext1, "timer_ms": timer_ms if timer_ms > 0 else None,
              "held": held_pads, "outputs": dict(_outputs),
              "pwm": {pin: duty for pin, (_, duty) in pwm.items()}}
    sleep_log.write(repr(record) + "\n")
    sleep_log.flush()
