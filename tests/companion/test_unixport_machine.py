"""The unix port's `machine` and `esp32` (twin/unixport) under MicroPython: the ESP32 port's
semantics for what the belt's board uses, checked inside the MicroPython process, one printed line
each; only silicon.py (the world at the pins) is set by the checks."""
import os
import subprocess

from corecue.interp import micropython_path
from corecue.twin.mpble import UNIXPORT

_CHECKS = r'''
import asyncio, time
import machine, esp32, silicon

def show(name, fn):
    try:
        print(name, repr(fn()))
    except Exception as e:
        print(name, type(e).__name__)

show("freq", machine.freq)
show("freq-bad", lambda: machine.freq(100000000))
machine.freq(80000000)
show("freq-80", machine.freq)
show("pin-bad", lambda: machine.Pin(22))
up = machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP)
down = machine.Pin(5, machine.Pin.IN, machine.Pin.PULL_DOWN)
show("pull-up", up.value)
show("pull-down", down.value)
silicon.drive(4, 0)
show("driven", up.value)
silicon.drive(4, None)
out = machine.Pin(7, machine.Pin.OUT, value=1)
show("out-read-back", out.value)
show("adc-bad-pin", lambda: machine.ADC(machine.Pin(40)))
show("adc-unconnected", lambda: machine.ADC(machine.Pin(3)).read_u16())
silicon.sources[1] = lambda: 3000000
adc = machine.ADC(machine.Pin(1), atten=machine.ADC.ATTN_11DB)
show("adc-clipped", adc.read_u16)
silicon.sources[1] = lambda: 1225000
show("adc-mid-u16", adc.read_u16)
show("adc-mid-uv", adc.read_uv)
adc.init(atten=machine.ADC.ATTN_0DB)
show("adc-0db-clips", adc.read_u16)
pwm = machine.PWM(machine.Pin(3), freq=20000, duty_u16=0)
show("pwm-bad-duty", lambda: pwm.duty_u16(70000))
pwm.duty_u16(32768)
show("pwm-seen", lambda: silicon.pwm[3])
show("timer-bad", lambda: machine.Timer(4))
show("wake-bad-pin", lambda: esp32.wake_on_ext0(machine.Pin(26), esp32.WAKEUP_ALL_LOW))
esp32.wake_on_ext0(machine.Pin(4), 0)
show("wake-ext0", lambda: silicon.ext0)
show("cause", machine.reset_cause)

async def main():
    edges, ticks = [], []
    up.irq(lambda p: edges.append(p.value()), machine.Pin.IRQ_FALLING)
    silicon.drive(4, 0)                  # falling: the soft IRQ runs, scheduled
    silicon.drive(4, 1)                  # rising: not asked for
    await asyncio.sleep_ms(5)
    print("irq-edges", edges)
    t = machine.Timer(0)
    t0 = time.ticks_ms()
    t.init(freq=1000, mode=machine.Timer.PERIODIC, callback=lambda _: ticks.append(1))
    await asyncio.sleep_ms(200)
    t.deinit()
    ms = time.ticks_diff(time.ticks_ms(), t0)
    n = len(ticks)
    await asyncio.sleep_ms(20)
    # Every alarm of the elapsed time is called, however late the scheduler came to it.
    print("timer-one-per-ms", abs(n - ms) <= 3, "stopped", len(ticks) == n)
    machine.WDT(timeout=50)              # never fed: the chip would reset
    await asyncio.sleep_ms(500)
    print("not reached")

asyncio.run(main())
'''


def test_the_unix_ports_machine_keeps_the_esp32_ports_semantics():
    p = subprocess.run([micropython_path(), "-c", _CHECKS], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, MICROPYPATH=UNIXPORT + ":.frozen"))
    got = dict(line.split(" ", 1) for line in p.stdout.splitlines())
    assert got == {
        "freq": "160000000",
        "freq-bad": "ValueError",               # 20, 40, 80, 160 or 240 MHz
        "freq-80": "80000000",
        "pin-bad": "ValueError",                # GPIO22-25 do not exist on an ESP32-S3
        "pull-up": "1",
        "pull-down": "0",
        "driven": "0",                          # the outside driver beats the pull
        "out-read-back": "1",
        "adc-bad-pin": "ValueError",            # GPIO40 has no ADC
        "adc-unconnected": "OSError",           # nothing wired to the input: louder than a chip
        "adc-clipped": "65535",                 # above 11 dB's range
        "adc-mid-u16": str(((1225000 * 4095 // 2450000) << 4) | ((1225000 * 4095 // 2450000) >> 8)),
        "adc-mid-uv": "1225000",
        "adc-0db-clips": "65535",
        "pwm-bad-duty": "ValueError",
        "pwm-seen": "(20000, 32768)",
        "timer-bad": "ValueError",              # four hardware timers
        "wake-bad-pin": "ValueError",           # not an RTC GPIO
        "wake-ext0": "(4, 0)",
        "cause": "1",                           # PWRON_RESET
        "irq-edges": "[0]",
        "timer-one-per-ms": "True stopped True",
    }, p.stdout + p.stderr
    assert p.returncode == 81 and "watchdog" in p.stderr      # machine.EXIT_WDT: a reset
