"""The reference board's own deep sleep (boards/xiao_esp32s3.py, unchanged) on the unix port's
`machine` and `esp32` (twin/unixport), under MicroPython: what it arms before the chip stops, and
how the next boot knows the button woke it."""
import os
import subprocess

from corecue.interp import FIRMWARE, micropython_path
from corecue.twin.mpble import UNIXPORT

_SLEEP = r'''
import sys
import machine, esp32, silicon
silicon.sources[1] = lambda: 1225000
silicon.sources[2] = lambda: 1950000
if "woken" in sys.argv:
    silicon.reset_cause = machine.DEEPSLEEP_RESET
    silicon.wake_reason = machine.EXT0_WAKE
    silicon.drive(4, 0)             # the waking press is still down while the chip boots
from boards.xiao_esp32s3 import Board
b = Board()
print("woke", b.woke_by_button(), "held-at-power-on", b.button_held(),
      "pad-held", silicon.held.get(4))
if "woken" not in sys.argv:
    try:
        b.deep_sleep()
        print("returned")
    except SystemExit as e:
        print("exit", e.args[0], "ext0", silicon.ext0, "pad-held", silicon.held.get(4),
              "pull", silicon._pulls.get(4), "motor", b.motor.duty_u16())
'''


def _run(*argv):
    env = dict(os.environ, MICROPYPATH=UNIXPORT + ":" + FIRMWARE + ":.frozen")
    p = subprocess.run([micropython_path(), "-c", _SLEEP] + list(argv), capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout.split("\n")


def test_the_board_arms_the_button_and_stops_the_chip():
    out = _run("power-on")
    assert out[0] == "woke False held-at-power-on False pad-held False"
    # The chip stops (the twin's process exits with the deep-sleep status), woken by GPIO4 low,
    # its pull-up held through the sleep; the motor is off.
    assert out[1] == "exit 82 ext0 (4, 0) pad-held True pull up motor 0"


def test_a_boot_woken_by_the_button_knows_it_and_is_not_the_factory_reset():
    out = _run("woken")
    # The pad is released for the running firmware; the press still down is a wake.
    assert out[0] == "woke True held-at-power-on False pad-held False"
