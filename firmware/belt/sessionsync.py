# What the companion needs to copy sessions off the belt (docs/protocol.md): the session list as
# protocol ENTRYs, and one session's file streamed in chunks under a window of acknowledgements.
#
# A session file never changes once it is closed (only its name does, when it is confirmed), so a
# download that breaks off resumes from any offset and gets the same bytes. The file is opened for
# each chunk and closed again: between chunks a confirm may rename it or a full flash reclaim it
# (once synced), and neither must meet an open file.
import os
import struct

from micropython import const

from belt import protocol as P
from belt import ticks
from belt.sessionformat import EV_BOOT
from belt.sessionread import describe, reader

_ENOENT = const(2)
ENTRY_LEN = struct.calcsize(P.ENTRY)
CHUNK_MAX = P.MAX_PAYLOAD - struct.calcsize(P.reply_format(P.type_of("data"))[:-1])   # 1016
_PAGE_ROOM = P.MAX_PAYLOAD - struct.calcsize(P.reply_format(P.type_of("session_list") |
                                                             P.REPLY)[:-1])          # 1022


_READER = []


def _shared_reader():
    if not _READER:
        _READER.append(reader())
    return _READER[0]


class Catalog:
    """The session list. What a closed session's file says (start, wall time, duration, boot id)
    is read once per (id, size) and cached, as the store caches CRCs: the companion lists every
    session each time it syncs."""

    def __init__(self, app):
        self.app = app
        self._info = {}     # id -> (size, start ticks, wall time in the header, duration, boot)
        # One reader for every file described, made at boot while the heap is whole: a new
        # one per session not yet cached ran a 256 KB heap out during the first list. Shared by
        # the links' catalogs (describe() runs to its end without yielding, so one at a time).
        self._reader = _shared_reader()

    def _about(self, sid, path, size):
        hit = self._info.get(sid)
        if hit is not None and hit[0] == size:
            return hit
        hdr, trailer, events = describe(path, self._reader)
        boot = 0
        for kind, arg in events:
            if kind == EV_BOOT:
                boot = arg
                break
        if hdr is None:
            info = (size, 0, 0, 0, boot)
        else:
            info = (size, hdr["start_ticks"], hdr["wall_time"],
                    trailer["duration_ms"] if trailer else 0, boot)
        self._info[sid] = info
        return info

    def page(self, first, room=_PAGE_ROOM):
        """(count, ENTRY bytes) for the sessions with id >= first, oldest first, as many as fit
        in room bytes."""
        app = self.app
        store = app.store
        out = bytearray()
        n = 0
        for sid, size, synced, _ in store.list():
            if sid < first:
                continue
            if len(out) + ENTRY_LEN > room:
                break
            if sid == store.open_id and app.writer:
                start = app.writer.start_ticks
                wall = app.session_wall
                dur = ticks.diff(app.board.ticks_ms(), start)
                crc, flags, boot = 0, P.FL_OPEN, app.clock.boot_id
            else:
                try:
                    _, start, wall, dur, boot = self._about(sid, store.path(sid, synced), size)
                    crc = store.crc_of(sid, synced, size)
                except OSError as e:
                    if e.args and e.args[0] == _ENOENT:
                        continue        # reclaimed since list()
                    raise               # any other failure is not a missing session
                flags = P.FL_SYNCED if synced else 0
            if not wall and boot:       # started before the belt knew the time: the anchor
                wall = app.clock.wall_time(start, boot)
            out.extend(struct.pack(P.ENTRY, sid, start, wall, dur if dur > 0 else 0, size, crc,
                                   flags, boot))
            n += 1
        return n, bytes(out)


class Download:
    """The one session being read. The companion asks from an offset with a window (chunks in
    flight) and a chunk size, and acknowledges what it has received contiguously from 0; chunks
    go out while fewer than `window` are unacknowledged."""

    def __init__(self, store):
        self.store = store
        self.active = False
        self.sid = 0
        self.size = 0
        self.sent = 0           # file offset of the next chunk
        self.acked = 0          # the companion has every byte before this
        self.window = 0
        self.chunk = 0
        self.chunks = 0         # data chunks read, all downloads
        self.stalls = 0         # acks the belt sat waiting for (window full, data left): the
                                # download's real round trips, all downloads
        self.cap = CHUNK_MAX    # the most one data event carries on this link (BLE: the MTU's)

    def start(self, sid, size, offset, window, chunk):
        """A new read replaces the one before."""
        self.active = True
        self.sid = sid
        self.size = size
        self.sent = offset
        self.acked = offset
        self.window = window
        self.chunk = chunk if chunk < self.cap else self.cap

    def limit(self, cap):
        """The link can carry at most cap bytes of file per chunk from now on (a new MTU). The
        window counts chunks of this size, so the companion's acks keep pace with what is sent."""
        self.cap = cap if cap < CHUNK_MAX else CHUNK_MAX
        if self.chunk > self.cap:
            self.chunk = self.cap

    def ack(self, sid, received):
        """The companion has bytes 0..received of session sid. Acks of another session, older
        ones and ones beyond what was sent change nothing."""
        if not self.active or sid != self.sid or received <= self.acked or received > self.sent:
            return False
        if self.sent < self.size and not self.due():
            self.stalls += 1
        self.acked = received
        if received >= self.size:
            self.active = False
        return True

    def due(self):
        """A chunk may go out now."""
        if not self.active or self.sent >= self.size:
            return False
        in_flight = (self.sent - self.acked + self.chunk - 1) // self.chunk
        return in_flight < self.window

    def read_into(self, buf):
        """Read the next chunk into buf (at least `chunk` bytes); returns (offset, length), or
        (offset, 0) when the file is gone or shorter than it was (the download then stops)."""
        at = self.sent
        path = self.store.find(self.sid)
        n = 0
        if path is not None:
            want = self.size - at
            if want > self.chunk:
                want = self.chunk
            with open(path, "rb") as f:
                f.seek(at)
                n = f.readinto(memoryview(buf)[:want]) or 0
        if n == 0:
            self.active = False
            return at, 0
        self.sent = at + n
        self.chunks += 1
        return at, n


def file_size(path):
    return os.stat(path)[6]
