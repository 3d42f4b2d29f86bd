# The sim board's flash: a LittleFS image in a host file, so the virtual belt's session files live
# on the same filesystem (MicroPython's VfsLfs2) as on the ESP32, with its real rename and
# free-space behaviour. Block size and count match a 4 MB ESP32 board's ~1.9 MB data partition.
import os

BLOCK = 4096
BLOCKS = 475


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
            erased = b"\xff" * BLOCK
            for _ in range(blocks):
                self.f.write(erased)
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
            self.f.write(b"\xff" * BLOCK)
            return 0
        return 0


def mount(image_path, mount_point="/flash", create=True):
    """Mount (formatting a new image) and return the mount point. Under CPython, which has no
    LittleFS, the flash is a plain folder beside where the image would be: the firmware's file
    code is the same, only the file system underneath differs."""
    try:
        import vfs
    except ImportError:
        root = image_path.rsplit("/", 1)[0] + "/flash"
        for d in (root, root + "/sessions"):
            try:
                os.mkdir(d)
            except OSError:
                if not create:
                    raise
        return root
    dev = FileBlockDevice(image_path, create=create)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev)
    try:
        vfs.umount(mount_point)        # a reboot of the same virtual belt in one process
    except OSError:
        pass
    vfs.mount(vfs.VfsLfs2(dev), mount_point)
    try:
        os.mkdir(mount_point + "/sessions")
    except OSError:
        pass
    return mount_point
