# The data area: the LittleFS file system the sessions, the config and the clock live on. The
# boot path mounts it itself; one it cannot mount (erased, zeroed, garbled: a flash that was
# wiped, or whose superblock a fault destroyed) is formatted anew, so the belt keeps running and
# says what it did, instead of stopping at boot. Nothing on such a file system can be read any
# more, so formatting it loses nothing the belt still had.
#
#   note = mount(vfs, block_device, "/flash")   # None, or one line saying what was done
#
# vfs is MicroPython's module, handed in: the core imports no board module. A board says what its
# mount found in `board.data_area`, one of the codes below; the app plays DATA_FORMATTED's
# pattern at boot for FORMATTED, and the status reply carries the code (docs/protocol.md).
from micropython import const

AS_IS = const(0)        # the belt's own data area, mounted as it was
FORMATTED = const(1)    # its own, formatted anew at this boot: it could not be mounted
SHARED = const(2)       # none of its own: the files share the code's file system (the ESP32
                        # without the belt's partition table), which the belt cannot check

_ERRNO = const(-1)


def mount(vfs, dev, mount_point):
    """Mount LittleFS (vfs.VfsLfs2) on dev at mount_point; format it first when it cannot be
    mounted. Returns None, or the line to log when the data area was formatted anew."""
    try:
        vfs.mount(vfs.VfsLfs2(dev), mount_point)
        return None
    except OSError as e:
        why = e.args[0] if e.args and type(e.args[0]) is int else _ERRNO
    vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), mount_point)
    return "data area unreadable (errno %d): formatted anew" % why
