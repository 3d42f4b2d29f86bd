# Wall time for a belt without a backed-up clock.
#
# Every boot gets a number, the boot id: counted up and stored at boot, before anything is logged.
# The belt's millisecond ticks start again at every boot, so (boot id, ticks) names a moment. The
# companion tells the belt the time (protocol time_set); the belt keeps that as an anchor, "at
# ticks T of boot B it was unix U", and from then on stamps new sessions with wall time. A session
# that started before the anchor of its boot (or in a boot the companion never saw) still carries
# its boot id, so whoever holds that boot's anchor can place it: wall = U + (ticks - T) / 1000.
# Tick differences are exact within 2**29 ms (6.2 days) of the anchor.
#
# Kept in two files in the session directory, each replaced atomically (atomicfile.write_atomic):
#   "<boot id> <boot>:<ticks>:<unix> ... <crc32 of the text before it, 8 hex digits>\n"
# with the anchors of the latest boots, oldest first. A damaged first file leaves the second.
import binascii

from micropython import const

from belt import ticks
from belt.atomicfile import read_atomic, write_atomic

BOOT_MAX = const(0xFFFF)    # boot ids are u16 in the protocol; 0 means "not known"
_UNIX_MAX = const(0xFFFFFFFF)
_KEEP = const(8)            # anchors kept: the latest boots a companion may still ask about
_FILES = ("clock", "clock.2")


def _parse(data):
    cut = data.rfind(b" ")
    if cut < 1 or not data.endswith(b"\n"):
        return None, "bad clock file"
    body = data[:cut]
    if "%08x" % (binascii.crc32(body) & 0xFFFFFFFF) != data[cut + 1:-1].decode():
        return None, "bad clock file"
    parts = body.split()
    boot = int(parts[0].decode())
    anchors = []
    for p in parts[1:]:
        b, t, u = p.split(b":")
        anchors.append((int(b.decode()), int(t.decode()), int(u.decode())))
    if not 1 <= boot <= BOOT_MAX:
        return None, "bad clock file"
    return (boot, anchors), None


class Clock:
    def __init__(self, folder, fallback=None, log=None, boots_seen=None):
        """Count this boot. folder: where the clock files live (the session directory).
        fallback(): wall time from the board when there is no anchor (0 when it has no clock).
        boots_seen(): the highest boot id any session on the flash names, asked only when
        neither clock file can be read."""
        self._paths = tuple(folder + "/" + name for name in _FILES)
        self._fallback = fallback
        boot, self.anchors = 0, []
        self.note = None
        found = False
        for path in self._paths:
            got, why = read_atomic(path, _parse)
            if why is None:
                boot, self.anchors = got
                found = True
                break
            if why != "missing":
                self.note = "%s: %s" % (path, why)
        if not found and boots_seen is not None:
            # Counting from 1 again would give a boot id an old session already names, and
            # that session the new boot's time anchor: a wrong date. Above every id in use, the
            # old sessions' time is unknown (their anchors went with the files), never wrong.
            boot = boots_seen()
        self.boot_id = boot % BOOT_MAX + 1
        if self.note and log:
            # Said at boot, as the config's and the id files' damage is: a damaged clock file
            # is otherwise only seen as a time that went missing.
            log("clock: %s; %s" % (self.note, "the other copy used" if found else
                                   "boot id %d, above every session's; time unknown until "
                                   "the companion sets it" % self.boot_id))
        self.saved = self._save(log)

    def _save(self, log=None):
        body = "%d" % self.boot_id
        for a in self.anchors:
            body += " %d:%d:%d" % a
        data = body.encode()
        data += b" %08x\n" % (binascii.crc32(data) & 0xFFFFFFFF)
        try:
            for path in self._paths:
                write_atomic(path, data)
        except OSError as e:        # a full flash must not stop the boot: the id holds in RAM
            if log:
                log("clock not saved: %r" % e)
            return False
        return True

    def anchor(self, boot=None):
        """(ticks, unix) of the anchor of a boot (this one by default), or None."""
        b = self.boot_id if boot is None else boot
        for a in self.anchors:
            if a[0] == b:
                return a[1], a[2]
        return None

    def set(self, unix, now, log=None):
        """The companion says it is `unix` at belt ticks `now` (this boot). Returns whether the
        anchor reached the flash; it is in use for this boot either way."""
        kept = [a for a in self.anchors if a[0] != self.boot_id]
        kept.append((self.boot_id, now, unix))
        self.anchors = kept[-_KEEP:]
        return self._save(log)

    def wall_time(self, t, boot=None):
        """Unix seconds at ticks t of a boot (this one by default); 0 when not known, or when
        it does not fit the u32 the session header and the protocol carry (past 2106)."""
        a = self.anchor(boot)
        w = 0
        if a is not None:
            w = a[1] + ticks.diff(t, a[0]) // 1000
        elif (boot is None or boot == self.boot_id) and self._fallback:
            w = self._fallback()
        return w if 0 < w <= _UNIX_MAX else 0
