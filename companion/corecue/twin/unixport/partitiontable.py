# The partition table of the twin's flash, as ESP-IDF reads it at start-up: the partitions of a
# table in ESP-IDF's CSV, checked as the chip's tools check them, and MicroPython's automatic
# "vfs" (ports/esp32/main.c). rom.py reads it once and lets the module go (the chip does this in
# C, with no heap); Esp32Twin (CPython) reads the same table to find a partition in the image.
SIZE = 8 * 1024 * 1024          # the XIAO ESP32S3's 8 MiB
SECTOR = 4096
# MicroPython's own table for ESP32_GENERIC_S3 (ports/esp32/partitions-4MiBplus.csv). Its start-up
# (ports/esp32/main.c) adds a "vfs" partition over the rest of the flash when the table has no
# "vfs" or "ffat" (table() does the same).
STOCK_TABLE = """nvs,      data, nvs,     0x9000,  0x6000,
phy_init, data, phy,     0xf000,  0x1000,
factory,  app,  factory, 0x10000, 0x1F0000,
"""
TYPE_APP = 0
TYPE_DATA = 1
_SUBTYPES = ({"factory": 0x00, "ota_0": 0x10, "ota_1": 0x11, "test": 0x20},
             {"ota": 0x00, "phy": 0x01, "nvs": 0x02, "coredump": 0x03, "fat": 0x81,
              "spiffs": 0x82, "littlefs": 0x83})
_SUBTYPE_FAT = 0x81


def _number(text):
    t = text.strip().lower()
    scale = 1
    if t.endswith("k"):
        t, scale = t[:-1], 1024
    elif t.endswith("m"):
        t, scale = t[:-1], 1024 * 1024
    return (int(t[2:], 16) if t.startswith("0x") else int(t)) * scale


def table(text=STOCK_TABLE, size=SIZE):
    """[(type, subtype, address, size, label)] of a partition table in ESP-IDF's CSV (name, type,
    subtype, offset, size, flags; every offset given), with MicroPython's automatic "vfs" after
    the last partition when there is no "vfs" or "ffat". ValueError for a table the chip would
    not take: an unknown type or subtype, a partition not on 4 KiB, overlapping another or
    beyond the flash."""
    parts = []
    for line in text.split("\n"):
        line = line.split("#")[0].strip()
        if not line:
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 5:
            raise ValueError("partition table: %r: name, type, subtype, offset, size" % line)
        label, kind, sub, off, n = cols[:5]
        if kind not in ("app", "data"):
            raise ValueError("partition table: %s: type %r" % (label, kind))
        t = TYPE_APP if kind == "app" else TYPE_DATA
        if sub not in _SUBTYPES[t]:
            raise ValueError("partition table: %s: subtype %r" % (label, sub))
        parts.append((t, _SUBTYPES[t][sub], _number(off), _number(n), label))
    end = 0
    for t, _, addr, n, label in sorted(parts, key=lambda p: p[2]):
        if addr % SECTOR or n % SECTOR or n <= 0 or addr < end or addr + n > size:
            raise ValueError("partition table: %s at 0x%x, 0x%x bytes: misplaced" % (
                label, addr, n))
        end = addr + n
    if not [p for p in parts if p[0] == TYPE_DATA and p[4] in ("vfs", "ffat")] and end < size:
        parts.append((TYPE_DATA, _SUBTYPE_FAT, end, size - end, "vfs"))
    return parts


def find(parts, label):
    """(address, size) of the partition labelled label; KeyError if there is none."""
    for p in parts:
        if p[4] == label:
            return p[2], p[3]
    raise KeyError(label)
