# The flash chip of the twin: the ESP32-S3's SPI NOR flash as a host file of the chip's size. As
# strict as the chip: an erase is of
# whole 4 KiB sectors and sets them to 0xFF, a program can only clear bits (bytes programmed
# without an erase keep the AND of old and new, as on NOR), and an access outside the chip is an
# error. esp32.Partition (this folder) is the firmware's window on it, over the partitions
# partitiontable.py reads.
SIZE = 8 * 1024 * 1024          # the XIAO ESP32S3's 8 MiB
SECTOR = 4096
_CHUNK = 256
# The chip's driver erases in C with no heap; the twin erases from one small buffer made once, so
# that it takes no heap per erase either (a fresh 4 KB bytes object per erase failed to allocate
# in a fragmented 288 KB heap: a failure of the twin's own, which the belt would never see).
_ERASED = b"\xff" * _CHUNK


class Chip:
    """The flash in a host file (created erased when missing)."""

    def __init__(self, path):
        self.stuck = None       # (start, end): a worn-out region, every erase or program fails
        self._old = bytearray(_CHUNK)        # what a program meets on the flash
        self._view = memoryview(self._old)
        try:
            self.f = open(path, "r+b")
        except OSError:
            self.f = open(path, "w+b")
            self.erase(0, SIZE)

    def read(self, addr, buf):
        _check(addr, len(buf))
        self.f.seek(addr)
        self.f.readinto(buf)

    def program(self, addr, data):
        """NOR programming: each byte becomes old AND new."""
        n = len(data)
        self._writable(addr, n)
        old = self._old
        done = 0
        while done < n:
            k = min(_CHUNK, n - done)
            view = self._view if k == _CHUNK else self._view[:k]
            self.f.seek(addr + done)
            self.f.readinto(view)
            for i in range(k):
                old[i] &= data[done + i]
            self.f.seek(addr + done)
            self.f.write(view)
            done += k
        self.f.flush()

    def erase(self, addr, n):
        """Whole sectors only, as esp_partition_erase_range."""
        self._writable(addr, n)
        if addr % SECTOR or n % SECTOR:
            raise OSError(-0x102, "ESP_ERR_INVALID_ARG")
        self.f.seek(addr)
        for _ in range(n // _CHUNK):
            self.f.write(_ERASED)
        self.f.flush()


    def _writable(self, addr, n):
        _check(addr, n)
        if self.stuck and addr < self.stuck[1] and addr + n > self.stuck[0]:
            raise OSError(-0x6001, "ESP_ERR_FLASH_OP_FAIL")


def _check(addr, n):
    if addr < 0 or n < 0 or addr + n > SIZE:
        raise OSError(-0x104, "ESP_ERR_INVALID_SIZE")     # as check_esp_err says it
