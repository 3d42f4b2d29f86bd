# `esp32` for the twin on the unix port: the wake sources of deep sleep, as ports/esp32's esp32
# module has them (kept in silicon, as the RTC controller keeps them; machine.deepsleep() then
# ends the twin's process and records them, and silicon.wake_reason says what woke it on the next
# boot), and Partition, the flash's partitions (ports/esp32/esp32_partition.c) over the twin's
# flash chip (silicon.flash, silicon.partitions: flashchip).
import machine
import silicon

WAKEUP_ALL_LOW = 0
WAKEUP_ANY_HIGH = 1


def wake_on_ext0(pin, level):
    if pin is None:
        silicon.ext0 = None
        return
    n = machine._pin_id(pin)
    if n not in silicon.RTC_GPIOS:
        raise ValueError("invalid pin for wake")
    silicon.ext0 = (n, 1 if level else 0)


def wake_on_ext1(pins, level):
    if pins is None:
        silicon.ext1 = None
        return
    ns = tuple(machine._pin_id(p) for p in pins)
    for n in ns:
        if n not in silicon.RTC_GPIOS:
            raise ValueError("invalid pin for wake")
    if level not in (WAKEUP_ALL_LOW, WAKEUP_ANY_HIGH):
        raise ValueError("invalid level")
    silicon.ext1 = (ns, level)


def mcu_temperature():
    return 40


_NATIVE = 4096          # esp32_partition.c's NATIVE_BLOCK_SIZE_BYTES: the erase sector


class Partition:
    """One partition of the flash, with the block protocol LittleFS uses: readblocks and
    writeblocks with an offset (the extended protocol: the block erased before, through
    ioctl 6) or without one (the simple one: the blocks erased, then written). Every access must
    stay inside the partition, as esp_partition_read/write/erase_range insist. Only find() makes
    one: the belt opens no partition by name and uses no other block size."""
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, part):
        self._part = part       # (type, subtype, address, size, label)

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=_NATIVE):
        if block_size != _NATIVE:
            raise ValueError("the twin's Partition has 4096-byte blocks only")
        return [Partition(p) for p in silicon.partitions
                if p[0] == type and subtype in (0xFF, p[1]) and label in (None, p[4])]

    def info(self):
        return self._part + (False,)

    def _at(self, offset, n):
        if offset < 0 or offset + n > self._part[3]:
            raise OSError(-0x104, "ESP_ERR_INVALID_SIZE")
        return self._part[2] + offset

    def readblocks(self, block, buf, offset=0):
        silicon.flash.read(self._at(block * _NATIVE + offset, len(buf)), buf)

    def writeblocks(self, block, buf, offset=None):
        at = self._at(block * _NATIVE + (offset or 0), len(buf))
        if offset is None:
            silicon.flash.erase(at, len(buf))
        silicon.flash.program(at, buf)

    def ioctl(self, cmd, arg):
        if cmd == 4:                # block count
            return self._part[3] // _NATIVE
        if cmd == 5:                # block size
            return _NATIVE
        if cmd == 6:                # erase a block
            silicon.flash.erase(self._at(arg * _NATIVE, _NATIVE), _NATIVE)
        return 0 if cmd <= 6 else None     # 1-3: init, deinit, sync
