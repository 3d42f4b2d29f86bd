# The twin's first stage: what the ESP32-S3's ROM and MicroPython's start-up do before /main.py,
# on the unix port. The flash is the whole chip (8 MiB, flashchip.Chip) in a host file, laid out
# by a partition table: --table CSV (the belt's, firmware/partitions-8MiB.csv), or MicroPython's
# own, where its start-up gives the rest of the flash to one "vfs". MicroPython's _boot.py then
# mounts "vfs" at / as on the chip, with what its inisetup.py does when it cannot: a blank one is
# formatted, anything else prints "The filesystem appears to be corrupted" every 3 s, forever,
# and main.py never runs. --install copies a built firmware tree into it first, as
# `corecue flash` does (keeping what the belt wrote); /main.py then runs with no arguments.
#
#   micropython rom.py --flash IMAGE [--table CSV] [--install DIR] [--effort PCT] [--mac HEX]
#                      [--cause N] [--wake N] [--down MS] [--press MS] [--hold MS]
#                      [--pwm-log FILE] [--sleep-log FILE] [--stuck LABEL] [--hang MS]
#
# The modules a chip has built in (machine, esp32, bluetooth: this folder) are imported first;
# after the root changes, only the flash is there to import from. --effort sets the wearer's
# brace on the sensor input (percent of maximal), --mac the chip's MAC, --cause the reset cause
# main.py sees (machine.reset_cause()), --wake what woke the chip from deep sleep
# (machine.wake_reason()), --down the button already down at boot (the press that woke the chip)
# and let go MS milliseconds after the firmware starts listening to it, --press a short press of
# the button MS milliseconds after the firmware starts listening to it, --hold a long one (2 s:
# the pairing window when idle),
# --pwm-log a file that gets every change of a PWM output's duty ("ms,pin,duty": the motor),
# --sleep-log a file that gets a line per deep sleep (what was armed: silicon.went_to_sleep),
# --stuck a partition whose flash has worn out: every erase and program in it fails, --hang the
# sensor's conversion never completing MS milliseconds after its first (the CPU stuck in it,
# silicon.hang: only the watchdog gets it out). --cause is what Esp32Twin gives a boot after a
# reset (twin/chipreset.py) or a wake; the chip's RTC memory, which would survive either, the
# twin does not have (the belt uses none).
import os
import sys
import time

import silicon
import machine
import esp32
import bluetooth

_SENSOR_PIN = 1             # the board's pin map (boards/xiao_esp32s3.py)
_BATTERY_PIN = 2
_BUTTON_PIN = 4


class _Emg:
    """A MyoWare's RAW output at 11 dB: mid-supply with noise whose SD follows the effort
    (the sim board's law, boards/simsignal.py), one conversion per call."""

    def __init__(self, effort, hang_ms=None):
        self.sd_uv = 300 * effort // 100 * 598 + 2400     # 598 uV a count, a 4-count floor
        self.s = 1
        self.hang_ms = hang_ms
        self.first = None

    def __call__(self):
        if self.hang_ms is not None:
            now = time.ticks_ms()
            if self.first is None:
                self.first = now
            elif time.ticks_diff(now, self.first) >= self.hang_ms:
                silicon.hang()
        acc = 0
        for _ in range(4):
            self.s = (self.s * 1664525 + 1013904223) & 0x3FFFFFFF
            acc += (self.s >> 15) & 0x7FFF
        return 1225000 + (acc - 65534) * self.sd_uv // 18918


def _args(argv):
    opts = {"flash": None, "table": None, "install": None, "effort": "0", "mac": None,
            "cause": "1", "wake": "0", "down": None, "press": None, "hold": None,
            "pwm-log": None, "sleep-log": None, "stuck": None, "hang": None}
    i = 0
    while i + 1 < len(argv) and argv[i][2:] in opts:
        opts[argv[i][2:]] = argv[i + 1]
        i += 2
    if i != len(argv) or opts["flash"] is None:
        print("usage: rom.py --flash IMAGE [--table CSV] [--install DIR] [--effort PCT] "
              "[--mac HEX] [--cause N] [--wake N] [--down MS] [--press MS] [--hold MS] "
              "[--pwm-log FILE] [--sleep-log FILE] [--stuck LABEL] [--hang MS]")
        sys.exit(2)
    return opts


def _flash(opts):
    import flashchip
    import partitiontable
    silicon.flash = flashchip.Chip(opts["flash"])
    text = partitiontable.STOCK_TABLE
    if opts["table"]:
        with open(opts["table"]) as f:
            text = f.read()
    silicon.partitions = partitiontable.table(text)
    if opts["stuck"]:
        at, n = partitiontable.find(silicon.partitions, opts["stuck"])
        silicon.flash.stuck = (at, at + n)
    del sys.modules["partitiontable"]       # read in C on the chip: no heap kept for it


def _boot_py():
    """MicroPython's frozen _boot.py with inisetup.py (ports/esp32/modules): the "vfs" partition
    as a file system, formatted when blank; a damaged one stops here for good."""
    bdev = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")[0]
    try:
        return os.VfsLfs2(bdev)
    except OSError:
        pass
    buf = bytearray(bdev.ioctl(5, 0))
    bdev.readblocks(0, buf)
    for b in buf:
        if b != 0xFF:
            _fs_corrupted()
    print("Performing initial setup")
    os.VfsLfs2.mkfs(bdev)
    return os.VfsLfs2(bdev)


def _fs_corrupted():
    import time
    while 1:
        print("""\
The filesystem appears to be corrupted. If you had important data there, you
may want to make a flash snapshot to try to recover it. Otherwise, perform
factory reprogramming of MicroPython firmware (completely erase flash, followed
by firmware programming).
""")
        time.sleep(3)


def _copy(src, dst):
    for name, kind, *_ in os.ilistdir(src):
        s, d = src + "/" + name, dst + "/" + name
        if kind == 0x4000:
            try:
                os.mkdir(d)
            except OSError:
                pass
            _copy(s, d)
        else:
            with open(s, "rb") as fi, open(d, "wb") as fo:
                fo.write(fi.read())


def boot(argv):
    opts = _args(argv)
    if opts["mac"]:
        silicon.mac = bytes.fromhex(opts["mac"])
    silicon.reset_cause = int(opts["cause"])
    silicon.wake_reason = int(opts["wake"])
    hang = opts["hang"]
    silicon.sources[_SENSOR_PIN] = _Emg(int(opts["effort"]), int(hang) if hang else None)
    silicon.sources[_BATTERY_PIN] = lambda: 1950000          # 3.9 V through the 1:2 divider
    if opts["down"]:
        silicon.drive(_BUTTON_PIN, 0)
        silicon.scripts[_BUTTON_PIN] = [(int(opts["down"]), None)]
    if opts["press"]:
        at = int(opts["press"])
        silicon.scripts[_BUTTON_PIN] = [(at, 0), (at + 200, None)]     # to GND, then let go
    if opts["hold"]:
        at = int(opts["hold"])
        silicon.scripts[_BUTTON_PIN] = [(at, 0), (at + 2000, None)]
    if opts["pwm-log"]:
        silicon.pwm_log = open(opts["pwm-log"], "a")
    if opts["sleep-log"]:
        silicon.sleep_log = open(opts["sleep-log"], "a")    # before / is the flash's
    _flash(opts)
    fs = _boot_py()
    if opts["install"]:
        os.mount(fs, "/flash")
        _copy(opts["install"], "/flash")
        os.umount("/flash")
    os.umount("/")
    os.mount(fs, "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    sys.argv[:] = []
    import main             # noqa: F401  (runs the belt, as the chip runs /main.py)


boot(sys.argv[1:])
