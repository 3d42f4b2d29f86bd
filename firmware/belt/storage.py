# The session store on the belt's flash: one directory, one file per run, and the rules for what
# may be deleted when the flash fills up.
#
#   s = Storage("/sessions", budget=None)
#   sid, path = s.new_session()     # id never used before, even across reboots and deletions
#   ... SessionWriter(path, sid, ...) ... close ...
#   s.closed(sid)                   # the session may now be confirmed (and, once synced, reclaimed)
#   s.list(crcs=False)              # [(id, size, synced, crc or None)], oldest first
#   s.find(sid)                     # the path of its file now, or None
#   s.confirm(sid, crc)             # OK, or E_* when unknown, open, or the CRC differs
#   s.ensure_space(need)            # True when `need` bytes are free, reclaiming synced sessions
#   s.recover_all(log)              # at boot: belt.recovery on every file; one-line report
#
# The synced flag lives in the file name ("00000042.cs" -> "00000042.cy"), so marking a session
# synced is one rename, which LittleFS commits atomically: a power cut leaves one name or the
# other, never a session that is half synced or gone. Only synced sessions are ever deleted, and
# only when space is needed, oldest first: the companion holds a copy of each, so keeping them
# costs nothing until the flash is needed, and a lost phone can still re-download them.
#
# The session-id files are kept with belt.atomicfile's crash-safe pair.
import binascii
import os
from array import array

from micropython import const

from belt.atomicfile import read_atomic, write_atomic
from belt.idcache import IdCache
from belt import recovery

# confirm() and remove() results.
OK = const(0)
E_UNKNOWN = const(1)
E_OPEN = const(2)
E_CRC = const(3)
E_UNSYNCED = const(4)
ERRORS = ("ok", "no such session", "session is open", "crc mismatch", "session not synced")

# A whole marathon must fit when a session starts: 8 hours at the measured 12 KB per hour
# (docs/session-format.md), plus 4 blocks of 4 KB for the file system itself: the session's last,
# partly filled block, the skip-list pointers LittleFS keeps in each data block, a directory
# metadata pair being rewritten, and the id file.
BYTES_PER_HOUR = const(12288)
RESERVE_HOURS = const(8)
DEFAULT_NEED = const(RESERVE_HOURS * BYTES_PER_HOUR + 4 * 4096)

# Closed sessions whose CRC, header and trailer the belt remembers (belt.idcache). Two months of
# daily runs between syncs is 60; past 128 a list reads some files again, never a wrong answer.
CACHED = const(128)

_UNSYNCED = ".cs"
_SYNCED = ".cy"
_ID_FILES = ("next_id", "next_id.2")


def file_crc(path, buf=None):
    """CRC32 (zlib, as binascii.crc32) of a whole file, read len(buf) (512) bytes at a time."""
    if buf is None:
        buf = bytearray(512)
    mv = memoryview(buf)
    c = 0
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            c = binascii.crc32(mv[:n], c)
    return c & 0xFFFFFFFF


def _parse_id(data):
    parts = data.split()
    if len(parts) != 2:
        return None, "bad id file"
    n = int(parts[0].decode())
    if n < 1 or binascii.crc32(parts[0]) & 0xFFFFFFFF != int(parts[1].decode(), 16):
        return None, "bad id file"
    return n, None


def _mkdirs(path):
    at = 0
    while at >= 0:
        at = path.find("/", at + 1)
        part = path if at < 0 else path[:at]
        if part:
            try:
                os.mkdir(part)
            except OSError:
                pass            # exists, or a mount point: os.stat below says if it is usable
    os.stat(path)


class Storage:
    def __init__(self, root="/sessions", budget=None):
        """root: the session directory (created if missing). budget: cap on the bytes the store
        may occupy, for hosts whose disk is far larger than the belt's flash; None on the belt,
        where free space is the file system's own."""
        self.root = root.rstrip("/") or "/"
        self.budget = budget
        _mkdirs(self.root)
        self.open_id = None
        self.reclaimed = []     # ids the last ensure_space() deleted, in order
        self.recovered = []     # (id, action) from the last recover_all()
        self._crcs = IdCache(CACHED, 1)     # id -> (size, crc), for closed sessions
        self._crc_out = array("I", [0])
        # What each closed file's header and trailer say, for belt.sessionsync's list
        self.described = IdCache(CACHED, 4)
        self._crc_buf = bytearray(512)  # one read buffer for every CRC computed
        self.id_note = None     # why an id file was refused, when one was
        # The next id is kept in two files, each replaced atomically: one damaged file (a bit
        # flipped in flash) still leaves the other to say which ids are spent.
        n = 1
        for name in _ID_FILES:
            got, why = read_atomic(self.root + "/" + name, _parse_id)
            if why is None:
                if got > n:
                    n = got
            elif why != "missing":
                note = "%s: %s" % (name, why)
                self.id_note = note if self.id_note is None else self.id_note + ", " + note
        # Never below an id on the flash, whatever the id files say.
        for sid, _, _ in self._scan():
            if sid >= n:
                n = sid + 1
        self._next = n

    def path(self, sid, synced=False):
        return "%s/%08d%s" % (self.root, sid, _SYNCED if synced else _UNSYNCED)

    def _scan(self):
        """[(id, synced, name)] of the session files, oldest first."""
        out = []
        for name in os.listdir(self.root):
            if name.endswith(_UNSYNCED):
                synced = False
            elif name.endswith(_SYNCED):
                synced = True
            else:
                continue
            stem = name[:-3]
            if stem and stem.isdigit():
                out.append((int(stem), synced, name))
        out.sort()
        return out

    def _find(self, sid):
        for e in self._scan():
            if e[0] == sid:
                return e
        return None

    def find(self, sid):
        """The path of session sid's file as it is named now (synced or not), or None."""
        e = self._find(sid)
        return self.root + "/" + e[2] if e else None

    def _size(self, name):
        return os.stat(self.root + "/" + name)[6]

    def next_id(self):
        return self._next

    def new_session(self):
        """Allocate the next id and return (id, path of its unsynced file). The id is stored
        before the file exists, so a cut anywhere skips an id rather than reusing one."""
        if self.open_id is not None:
            raise ValueError("session %d is open" % self.open_id)
        sid = self._next
        nxt = b"%d" % (sid + 1)
        data = b"%s %08x\n" % (nxt, binascii.crc32(nxt) & 0xFFFFFFFF)
        for name in _ID_FILES:
            write_atomic(self.root + "/" + name, data)
        self._next = sid + 1
        self.open_id = sid
        return sid, self.path(sid)

    def abandon(self, sid):
        """The open session sid could not be started: its file (nothing of a run in it yet) is
        removed and no session is open any more. Its id stays spent."""
        if self.open_id == sid:
            self.open_id = None
        try:
            os.remove(self.path(sid))
        except OSError:
            pass

    def new_session_path(self):
        return self.new_session()[1]

    def closed(self, sid):
        """The session's writer has closed it: from now on it may be confirmed."""
        if self.open_id == sid:
            self.open_id = None
        self._crcs.drop(sid)
        self.described.drop(sid)

    def _cached(self, sid, size):
        out = self._crc_out
        return out[0] if self._crcs.get(sid, size, out) else None

    def crc(self, sid):
        """CRC32 of the whole session file, or None for an open or unknown session. Cached: the
        companion asks for every session each time it syncs."""
        e = self._find(sid)
        if e is None or sid == self.open_id:
            return None
        return self.crc_of(sid, e[1], self._size(e[2]))

    def crc_of(self, sid, synced, size):
        """crc(sid) for an entry list() gave, without looking the file up again."""
        c = self._cached(sid, size)
        if c is None:
            c = file_crc(self.path(sid, synced), self._crc_buf)
            self._crcs.put(sid, size, (c,))
        return c

    def list(self, crcs=False):
        """[(id, size, synced, crc)] oldest first; crc is None unless asked for or cached, and
        always None for the open session."""
        out = []
        for sid, synced, name in self._scan():
            size = self._size(name)
            c = None
            if sid != self.open_id:
                c = self.crc_of(sid, synced, size) if crcs else self._cached(sid, size)
            out.append((sid, size, synced, c))
        return out

    def confirm(self, sid, crc):
        """The companion holds a copy of session sid whose CRC32 is crc: mark it synced, only if
        crc is this file's. Returns OK (also when it was synced already) or E_*."""
        e = self._find(sid)
        if e is None:
            return E_UNKNOWN
        if sid == self.open_id:
            return E_OPEN
        if self.crc(sid) != crc & 0xFFFFFFFF:
            return E_CRC
        if not e[1]:
            os.rename(self.root + "/" + e[2], self.path(sid, True))
        return OK

    def remove(self, sid):
        """Delete a synced session now. Unsynced ones are never deleted by the store."""
        e = self._find(sid)
        if e is None:
            return E_UNKNOWN
        if sid == self.open_id:
            return E_OPEN
        if not e[1]:
            return E_UNSYNCED
        os.remove(self.root + "/" + e[2])
        self._crcs.drop(sid)
        self.described.drop(sid)
        return OK

    def used(self):
        """Bytes in the store's directory (sessions, id file, leftovers)."""
        total = 0
        for name in os.listdir(self.root):
            total += self._size(name)
        return total

    def free(self):
        """Bytes free for the store: the file system's free blocks, capped by the budget."""
        st = os.statvfs(self.root)
        fs = st[1] * st[4]      # fragment size x blocks available (LittleFS: both the block)
        if self.budget is not None:
            left = self.budget - self.used()
            if left < fs:
                return left
        return fs

    def ensure_space(self, need=DEFAULT_NEED):
        """Make `need` bytes free by deleting synced sessions, oldest first. Unsynced sessions
        are never deleted. Returns False when even that is not enough: the belt then refuses to
        start a session (runflow's storage_full). Boot recovery's reserve block is made first
        (belt.recovery)."""
        self.reclaimed = []
        recovery.keep_reserve(self.root, self._crc_buf)
        if self.free() >= need:
            return True
        for sid, synced, name in self._scan():
            if not synced or sid == self.open_id:
                continue
            os.remove(self.root + "/" + name)
            self._crcs.drop(sid)
            self.described.drop(sid)
            self.reclaimed.append(sid)
            if self.free() >= need:
                return True
        return False

    def recover_all(self, log=None):
        """At boot: make every session file whole (belt.recovery). Returns a one-line report;
        log(line) if given."""
        self._crcs.clear()
        self.described.clear()
        return recovery.recover_all(self, log)
