# The flash chip of the twin: a host file as the LittleFS partition, through MicroPython's
# extended block protocol (the sim board's own image, boards/simflash.py, has the same layout).
BLOCK = 4096
BLOCKS = 475
# The chip's driver erases in C with no heap; the twin erases from one small buffer made once, so
# that it takes no heap per erase either (a fresh 4 KB bytes object per erase failed to allocate
# in a fragmented 288 KB heap: a failure of the twin's own, which the belt would never see).
_ERASED = b"\xff" * 256


class FileBlockDevice:
    """MicroPython's extended block protocol (readblocks/writeblocks with offsets, ioctl)."""

    def __init__(self, path, blocks=BLOCKS, create=True):
        self.blocks = blocks
        try:
            self.f = open(path, "r+b")
            self.fresh = False
        except OSError:
            if not create:
                raise
            self.f = open(path, "w+b")
            for _ in range(blocks * BLOCK // len(_ERASED)):
                self.f.write(_ERASED)
            self.f.flush()
            self.fresh = True

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * BLOCK + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        # With an offset LittleFS has erased the block first (ioctl 6); without one, the
        # simple protocol, the write replaces whole blocks.
        self.f.seek(n * BLOCK + (off or 0))
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:            # block count
            return self.blocks
        if op == 5:            # block size
            return BLOCK
        if op == 6:            # erase
            self.f.seek(arg * BLOCK)
            for _ in range(BLOCK // len(_ERASED)):
                self.f.write(_ERASED)
            return 0
        return 0


