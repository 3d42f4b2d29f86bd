# The data area: the LittleFS file system the sessions, the config and the clock live on. The
# boot path mounts it itself; one it cannot mount (erased, zeroed, garbled: a flash that was
# wiped, or whose superblock a fault destroyed) is formatted anew, so the belt keeps running and
# says what it did, instead of stopping at boot. Nothing on such a file system can be read any
# more, so formatting it loses nothing the belt still had.
#
#   code, note = mount(vfs, block_device, "/flash")   # a code below, and None or the line to log
#
# A blank one (every byte 0xFF: what esptool leaves when it flashes the partition table or erases
# a region, so a new belt's first boot) held nothing: it is formatted quietly and called NEW. Any
# other it cannot mount held something that is now lost: FORMATTED, which the belt warns of.
#
# vfs is MicroPython's module, handed in: the core imports no board module. A board says what its
# mount found in `board.data_area`, one of the codes below; the app plays DATA_FORMATTED's
# pattern at boot for FORMATTED (never for NEW), and the status reply carries the code
# (docs/protocol.md).
from micropython import const

AS_IS = const(0)        # the belt's own data area, mounted as it was
FORMATTED = const(1)    # its own, formatted anew at this boot: it could not be mounted
SHARED = const(2)       # none of its own: the files share the code's file system (the ESP32
                        # without the belt's partition table), which the belt cannot check
NEW = const(3)          # its own, blank (all 0xFF) at this boot and formatted: nothing was on it

_ERRNO = const(-1)
_CHUNK = const(512)     # bytes read at a time to tell a blank area: a 5 MiB one is never in RAM


def blank(dev):
    """True when every byte of the block device dev reads 0xFF. Reads _CHUNK bytes at a time
    (the extended block protocol LittleFS needs anyway) and stops at the first other byte, so a
    used or damaged area costs a read or two and only a blank one is read to its end."""
    count = dev.ioctl(4, 0)
    size = dev.ioctl(5, 0)
    step = _CHUNK if size % _CHUNK == 0 else size
    buf = bytearray(step)
    erased = b"\xff" * step
    for block in range(count):
        off = 0
        while off < size:
            dev.readblocks(block, buf, off)
            if buf != erased:
                return False
            off += step
    return True


def mount(vfs, dev, mount_point):
    """Mount LittleFS (vfs.VfsLfs2) on dev at mount_point; format it first when it cannot be
    mounted. Returns (code, note): AS_IS and None when it mounted; NEW or FORMATTED and the
    line to log when it was formatted."""
    try:
        vfs.mount(vfs.VfsLfs2(dev), mount_point)
        return AS_IS, None
    except OSError as e:
        why = e.args[0] if e.args and type(e.args[0]) is int else _ERRNO
    try:
        new = blank(dev)
    except OSError:
        new = False         # it cannot even be read: not known to be blank, so warn
    vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), mount_point)
    if new:
        return NEW, "data area blank (a new partition): formatted"
    return FORMATTED, "data area unreadable (errno %d): formatted anew" % why
