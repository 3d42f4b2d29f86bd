# The sim board's flash: a plain host folder, or a LittleFS image in a host file so the virtual
# belt's session files live on the same filesystem (MicroPython's VfsLfs2) as on the ESP32, with
# its real rename and free-space behaviour. The image has the ESP32's 4 KiB blocks, 475 of them
# (~1.9 MB, what MicroPython leaves for files on a 4 MB flash): less than the 5 MiB data partition
# of the belt's own table (firmware/partitions-8MiB.csv), so the virtual belt fills sooner, never
# later, than the belt.
import os

from belt import dataarea

BLOCK = 4096
BLOCKS = 475
# A chip's driver erases in C with no heap; the sim erases from one small buffer made once, so
# that an erase takes no heap here either (a fresh 4 KB bytes object per erase can fail to
# allocate in a fragmented heap: a failure the belt would never see).
_ERASED = b"\xff" * 256
note = None     # what the last mount did to a damaged or blank data area (belt.dataarea), or None
area = 0        # and its code (belt.dataarea: AS_IS, NEW or FORMATTED)


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


def mount(flash_dir, image=None, create=True):
    """Mount the virtual belt's flash kept in flash_dir and return its root path.

    Two kinds, fixed when the belt is made: a LittleFS image (flash_dir/flash.img), mounted with
    MicroPython's VfsLfs2 for the ESP32's own rename and free-space behaviour; or a plain folder
    (flash_dir/flash), which both interpreters can use, so the companion's in-process virtual
    belt (CPython) and `corecue virtual run` (MicroPython) share one belt. An existing belt keeps
    its kind; a new one is a folder unless image is true. OSError when create is false and there
    is no belt; ValueError for an image under CPython, which has no LittleFS."""
    img = flash_dir + "/flash.img"
    folder = flash_dir + "/flash"
    if _exists(img) or (image and not _exists(folder)):
        return _mount_image(img, create)
    if not create and not _exists(folder):
        raise OSError(2, "no virtual belt in " + flash_dir)
    for d in (folder, folder + "/sessions"):
        try:
            os.mkdir(d)
        except OSError:
            pass
    return folder


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _mount_image(image_path, create, mount_point="/flash"):
    try:
        import vfs
    except ImportError:
        raise ValueError("this virtual belt keeps its flash in a LittleFS image (%s), which only "
                         "the MicroPython interpreter can mount" % image_path)
    global note, area
    dev = FileBlockDevice(image_path, create=create)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev)
    try:
        vfs.umount(mount_point)        # a reboot of the same virtual belt in one process
    except OSError:
        pass
    area, note = dataarea.mount(vfs, dev, mount_point)  # the belt's own: formats a damaged one
    try:
        os.mkdir(mount_point + "/sessions")
    except OSError:
        pass
    return mount_point
