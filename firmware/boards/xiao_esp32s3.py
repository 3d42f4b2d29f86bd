# Seeed Studio XIAO ESP32S3: the belt's reference board (LiPo charger on board).
#
# Pin map (hardware/ documents the wiring; keep the two in step):
#   D0 / GPIO1  sensor input: MyoWare 2.0 RAW or ENV, or the stretch-cord divider (ADC1, 11 dB)
#   D1 / GPIO2  battery voltage through a 2 x 100 kOhm divider (ADC1, 11 dB)
#   D2 / GPIO3  vibration motor driver transistor gate/base (PWM)
#   D3 / GPIO4  push button to GND (internal pull-up)
#   D8 / GPIO7  sensor supply switch, active low (P-MOSFET; pulled up, so off in deep sleep)
# ADC1 only: ADC2 is unusable while the radio is on.
# The companion talks to the belt over the USB serial port (USB CDC, the REPL's port), through
# stdin and stdout (boards/stdio.py).
#
# The data area: with the belt's partition table (firmware/partitions-8MiB.csv) the sessions,
# config, clock and keys live on a LittleFS partition of their own, labelled "data", which the
# board mounts at /data itself (belt.dataarea: formatted anew, and said, when it cannot be
# mounted; formatted quietly when it is blank, as at the first boot after the table is
# flashed), apart from the code on MicroPython's "vfs". Without that partition (MicroPython's
# stock table) they stay on the code's file system at the root, which stock _boot.py mounts before
# main.py runs and cannot repair (docs/reliability.md, "The data area on the ESP32").
import time

import asyncio
import machine
from micropython import const

from belt import dataarea
from boards.stdio import StdioPort

SENSOR_PIN = const(1)
BATTERY_PIN = const(2)
MOTOR_PIN = const(3)
BUTTON_PIN = const(4)
SENSOR_POWER_PIN = const(7)
_SAMPLE_TIMER = const(0)
_BATTERY_READS = const(8)     # ADC conversions averaged per battery reading
DATA_LABEL = "data"           # the data partition's label in firmware/partitions-8MiB.csv
DATA_ROOT = "/data"           # where it is mounted: the belt's root for every data file


class Board:
    name = "xiao_esp32s3"

    def __init__(self):
        self._mount_data()
        # The sensor draws its ~10 mA only while the belt samples (hardware/power.md).
        self.sensor_power = machine.Pin(SENSOR_POWER_PIN, machine.Pin.OUT, value=0)
        self.adc = machine.ADC(machine.Pin(SENSOR_PIN), atten=machine.ADC.ATTN_11DB)
        self.battery_adc = machine.ADC(machine.Pin(BATTERY_PIN), atten=machine.ADC.ATTN_11DB)
        self.motor = machine.PWM(machine.Pin(MOTOR_PIN), freq=20000, duty_u16=0)
        # hold=False: the pad was held through a deep sleep (deep_sleep) and must follow again.
        self.button = machine.Pin(BUTTON_PIN, machine.Pin.IN, machine.Pin.PULL_UP, hold=False)
        self._timer = None
        self._sampler = None
        self._tick = self._on_timer      # bind once: creating a bound method allocates
        self.wdt = machine.WDT(timeout=8000)
        self._usb = StdioPort()

    def _mount_data(self):
        """Mount the data partition at DATA_ROOT (root, data_area and flash_note say what was
        found; main.py logs the note). No partition, or one that cannot even be formatted: the
        files stay on the code's file system, so the belt still runs."""
        import esp32
        import vfs
        self.root = ""
        self.data_area = dataarea.SHARED
        found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=DATA_LABEL)
        if not found:
            self.flash_note = ("data area: no '%s' partition (MicroPython's own table): sessions "
                               "and settings share the code's file system" % DATA_LABEL)
            return
        try:
            vfs.umount(DATA_ROOT)       # mounted already by an earlier boot of this process
        except OSError:
            pass
        try:
            area, self.flash_note = dataarea.mount(vfs, found[0], DATA_ROOT)
        except OSError as e:
            self.flash_note = ("data area: the '%s' partition cannot be mounted or formatted "
                               "(%r): sessions and settings on the code's file system" % (
                                   DATA_LABEL, e))
            return
        self.root = DATA_ROOT
        self.data_area = area

    def button_held(self):
        """The button is down now (pulled to GND); main reads it at boot: held at power-on is
        the factory reset of the keys. A press that woke the chip from deep sleep may still be
        down while it boots: that is a wake, never the reset."""
        return self.button.value() == 0 and not self.woke_by_button()

    def start_sampling(self, sampler, rate_hz):
        """Feed sampler.record() at rate_hz from a timer. On the ESP32 the callback is soft
        (scheduled), so GC pauses delay it; the sampler counts what that costs."""
        self._sampler = sampler
        self.sensor_power.value(0)
        self._timer = machine.Timer(_SAMPLE_TIMER)
        self._timer.init(freq=rate_hz, mode=machine.Timer.PERIODIC, callback=self._tick)

    def stop_sampling(self):
        if self._timer:
            self._timer.deinit()
            self._timer = None
        self.sensor_power.value(1)

    def _on_timer(self, _t):
        self._sampler.record(self.adc.read_u16() >> 4, time.ticks_us())

    def ticks_ms(self):
        return time.ticks_ms()

    def flag(self):
        return asyncio.ThreadSafeFlag()     # set from interrupt handlers

    async def sleep_ms(self, ms):
        await asyncio.sleep_ms(ms)

    def wall_time(self):
        return 0                            # no backed-up clock: the companion anchors time

    def log(self, msg):
        print(msg)

    def feed_watchdog(self):
        self.wdt.feed()

    def start(self, app):
        self.start_sampling(app.sampler, app.chain.rate_hz)
        self.button.irq(self._on_button, machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING)
        self._button = app.button

    def stop(self):
        self.stop_sampling()

    def deep_sleep(self):
        """Sleep until the button is pressed; the chip then boots again (main.py, from the top).
        The sensor rail's gate pull-up keeps the sensor off, the motor gate's pull-down the motor;
        the button's pull-up is held through the sleep (it wakes the chip on a low level)."""
        import esp32
        self.stop_sampling()
        self.motor.duty_u16(0)
        self.button.init(machine.Pin.IN, machine.Pin.PULL_UP, hold=True)
        esp32.wake_on_ext0(pin=self.button, level=esp32.WAKEUP_ALL_LOW)
        machine.deepsleep()

    def usb_powered(self):
        """Whether USB power is present. The XIAO ESP32S3 routes VBUS to no GPIO and MicroPython
        does not expose the USB-Serial/JTAG connection, so it cannot tell: a belt on the cable
        sleeps like any other, and a press wakes it (hardware/power.md: a VBUS divider to a
        free GPIO would let it know)."""
        return False

    def reset_note(self):
        """Why this boot follows a reset, for the boot log; None after power-on or a wake. A
        belt reset mid-run by its watchdog says so, so a log read later tells a hang from a
        flat battery."""
        cause = machine.reset_cause()
        if cause == machine.WDT_RESET:
            return "boot: reset by the watchdog (a task stopped feeding it)"
        if cause == machine.HARD_RESET:
            return "boot: reset (asked, or the chip's own restart after a fault)"
        return None

    def woke_by_button(self):
        """This boot is the button waking the belt from deep sleep."""
        return (machine.reset_cause() == machine.DEEPSLEEP_RESET
                and machine.wake_reason() == machine.EXT0_WAKE)

    def _on_button(self, pin):
        self._button.edge(pin.value() == 0, time.ticks_ms())

    def set_motor(self, level_pct):
        self.motor.duty_u16(level_pct * 655)

    def battery_mv(self):
        # Several conversions averaged (each well under a millisecond): the ADC's own noise is a
        # few LSB, and a single conversion in a radio burst's ripple would read the ripple.
        adc = self.battery_adc
        total = 0
        n = 0
        while n < _BATTERY_READS:
            total += adc.read_uv()
            n += 1
        return total * 2 // (1000 * _BATTERY_READS)

    async def usb_read(self, buf):
        return await self._usb.readinto(buf)

    def usb_write(self, data, n=None):
        self._usb.write(data, n)

    def device_id(self):
        """The chip's unique id (its 6-byte MAC), zero-padded to the protocol's 8 bytes."""
        uid = machine.unique_id()
        return (uid + bytes(8))[:8]

    def ble(self):
        """(BLE object, UUID type) for belt.blelink: the core never imports `bluetooth`."""
        import bluetooth
        return bluetooth.BLE(), bluetooth.UUID

    def reboot(self):
        machine.reset()
