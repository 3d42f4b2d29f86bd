# Test support for files and flash: a flash chip in RAM for MicroPython's LittleFS, and
# temporary folders of the host, one set per interpreter so both can run side by side.
import os

from fwtest import SCRATCH

BLOCK = 4096


class RamFlash:
    """A flash chip in RAM for vfs.VfsLfs2 (readblocks/writeblocks/ioctl). With log=True every
    erase and program is also kept, so a test can rebuild the chip as a power cut after any
    number of them would have left it."""

    def __init__(self, nblocks, data=None, log=False):
        self.data = data if data is not None else bytearray(nblocks * BLOCK)
        self.nblocks = len(self.data) // BLOCK
        self.ops = [] if log else None

    def readblocks(self, n, buf, off=0):
        a = n * BLOCK + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, n, buf, off=None):
        a = n * BLOCK + (off or 0)
        self.data[a:a + len(buf)] = buf
        if self.ops is not None:
            self.ops.append((a, bytes(buf)))

    def ioctl(self, op, arg):
        if op == 4:
            return self.nblocks
        if op == 5:
            return BLOCK
        if op == 6:
            self.data[arg * BLOCK:(arg + 1) * BLOCK] = b"\xff" * BLOCK
            if self.ops is not None:
                self.ops.append((arg * BLOCK, b"\xff" * BLOCK))
        return 0


def mount_ram_flash(mount_point, nblocks=128, data=None, log=False, fresh=True):
    import vfs
    flash = RamFlash(nblocks, data, log)
    if fresh:
        vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), mount_point)
    return flash


def unmount(mount_point):
    import vfs
    vfs.umount(mount_point)


def clear_dir(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for name in names:
        p = d + "/" + name
        if os.stat(p)[0] & 0x4000:
            clear_dir(p)
            os.rmdir(p)
        else:
            os.remove(p)


def tmp_dir(name):
    """An empty directory of the host's temporary space, one per interpreter."""
    base = SCRATCH + "-tmp"
    for d in (base, base + "/" + name):
        try:
            os.mkdir(d)
        except OSError:
            pass
    clear_dir(base + "/" + name)
    return base + "/" + name


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
