"""The belt's pin map, read from the firmware's board file and hardware/pins.csv.

firmware/boards/xiao_esp32s3.py is the authority on pins. Nothing here keeps a copy of a GPIO
number: the schematic script and the tests read the board file's `NAME_PIN = const(N)` lines, so
a pin moved in firmware moves in the drawing too, and a pins.csv that disagrees fails the tests.

pins.csv rows have a status: `firmware` (the const exists in the board file and must agree) or
`proposed` (hardware that the board file does not drive yet; once its const appears there, it must
agree too).
"""
import csv
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BOARD_FILE = os.path.join(ROOT, "firmware", "boards", "xiao_esp32s3.py")
PINS_CSV = os.path.join(HERE, "pins.csv")

# Seeed Studio XIAO ESP32S3: the silk-screen label of each header pin and its ESP32-S3 GPIO
# (Seeed's pin-out; D4/D5 are the default I2C pair, D6/D7 UART0, D8-D10 SPI).
XIAO_GPIO = {
    "D0": 1, "D1": 2, "D2": 3, "D3": 4, "D4": 5, "D5": 6,
    "D6": 43, "D7": 44, "D8": 7, "D9": 8, "D10": 9,
}
XIAO_LABEL = {gpio: label for label, gpio in XIAO_GPIO.items()}
ADC1_GPIOS = range(1, 11)   # ESP32-S3 ADC1 channels 0-9 are GPIO1-GPIO10

_CONST = re.compile(r"^([A-Z][A-Z0-9_]*_PIN)\s*=\s*const\(\s*(\d+)\s*\)", re.M)


def board_consts(path=BOARD_FILE):
    """{'SENSOR_PIN': 1, ...}: every `*_PIN = const(N)` line of the board file."""
    with open(path) as f:
        return {name: int(num) for name, num in _CONST.findall(f.read())}


def pin_rows(path=PINS_CSV):
    """pins.csv as a list of dicts (gpio as int, or None for power/ground rows)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["gpio"] = int(r["gpio"]) if r["gpio"].strip() else None
    return rows


def pin_map(board_path=BOARD_FILE, csv_path=PINS_CSV):
    """{const name: (xiao label, gpio, status)} for every signal pin the drawing needs.

    GPIOs come from the board file; a proposed pin that the board file does not define yet takes
    its number from pins.csv and is marked 'proposed'."""
    consts = board_consts(board_path)
    out = {}
    for name, gpio in consts.items():
        out[name] = (XIAO_LABEL.get(gpio, "GPIO%d" % gpio), gpio, "firmware")
    for r in pin_rows(csv_path):
        name = r["const"].strip()
        if name and name not in out and r["gpio"] is not None:
            out[name] = (XIAO_LABEL.get(r["gpio"], "GPIO%d" % r["gpio"]), r["gpio"], "proposed")
    return out
