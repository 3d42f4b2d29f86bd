# What the companion needs to copy sessions off the belt (docs/protocol.md): the session list as
# protocol ENTRYs, and one session's file streamed in chunks under a window of acknowledgements.
#
# A session file never changes once it is closed (only its name does, when it is confirmed), so a
# download that breaks off resumes from any offset and gets the same bytes. The file is opened for
# each chunk and closed again: between chunks a confirm may rename it or a full flash reclaim it
# (once synced), and neither must meet an open file.
import os
import struct
from array import array

from micropython import const

from belt import protocol as P
from belt import ticks
from belt.sessionformat import EV_BOOT
from belt.sessionread import describe, reader

_ENOENT = const(2)
ENTRY_LEN = struct.calcsize(P.ENTRY)
CHUNK_MAX = P.MAX_PAYLOAD - struct.calcsize(P.reply_format(P.type_of("data"))[:-1])   # 1016
_LIST_HEAD = P.HEADER_LEN + struct.calcsize(P.reply_format(P.type_of("session_list") |
                                                            P.REPLY)[:-1])           # 8
_PAGE_ROOM = P.MAX_PAYLOAD + P.HEADER_LEN - _LIST_HEAD                               # 1022
_T_LIST = P.type_of("session_list") | P.REPLY


_READER = []
_PAGE = []


def _shared_reader():
    if not _READER:
        _READER.append(reader())
    return _READER[0]


def _shared_page():
    if not _PAGE:
        _PAGE.append(bytearray(_LIST_HEAD + _PAGE_ROOM))
    return _PAGE[0]


class Catalog:
    """The session list. What a closed session's file says (start, wall time, duration, boot id)
    is read once per (id, size) and cached, as the store caches CRCs: the companion lists every
    session each time it syncs."""

    def __init__(self, app):
        self.app = app
        # id -> (size; start ticks, wall time in the header, duration, boot): the store's, made
        # at boot, dropped with the file
        self._info = app.store.described
        self._hit = array("I", [0] * 4)
        # One reader for every file described, made at boot while the heap is whole: a new
        # one per session not yet cached ran a 256 KB heap out during the first list. Shared by
        # the links' catalogs (describe() runs to its end without yielding, so one at a time).
        self._reader = _shared_reader()
        self._page = _shared_page()

    def _about(self, sid, path, size):
        hit = self._hit
        if not self._info.get(sid, size, hit):
            hdr, trailer, events = describe(path, self._reader)
            boot = 0
            for kind, arg in events:
                if kind == EV_BOOT:
                    boot = arg
                    break
            if hdr is None:
                hit[0] = hit[1] = hit[2] = 0
            else:
                hit[0] = hdr["start_ticks"]
                hit[1] = hdr["wall_time"]
                hit[2] = trailer["duration_ms"] if trailer else 0
            hit[3] = boot
            self._info.put(sid, size, hit)
        return size, hit[0], hit[1], hit[2], hit[3]

    def reply(self, req, first):
        """The session_list reply (a packet) for the sessions with id >= first, oldest first, as
        many as fit: built in the page buffer made at boot, shared by the links' catalogs like
        the reader. A 1 KB reply copied four times on its way out failed to allocate in a
        fragmented 256 KB heap. The memoryview is good until the next page is built."""
        buf = self._page
        n, end = self._fill(buf, first)
        struct.pack_into("<BBHHH", buf, 0, _T_LIST, 0, req, end - P.HEADER_LEN, n)
        return memoryview(buf)[:end]

    def _fill(self, buf, first):
        """ENTRYs packed into buf from _LIST_HEAD, as many as fit; (count, end offset)."""
        app = self.app
        store = app.store
        at = _LIST_HEAD
        n = 0
        for sid, size, synced, _ in store.list():
            if sid < first:
                continue
            if at + ENTRY_LEN > len(buf):
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
            struct.pack_into(P.ENTRY, buf, at, sid, start, wall, dur if dur > 0 else 0, size,
                             crc, flags, boot)
            at += ENTRY_LEN
            n += 1
        return n, at


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
