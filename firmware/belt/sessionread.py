# Reading session logs back, and making them whole after a power cut. The same code runs on the
# belt (recover() at boot, streaming: one block in RAM) and on the companion under CPython.
import array
import io
import os
import struct

from belt.sessioncodec import SIG_EVERY, Decoder, sig_slots
from belt.sessionformat import (BAD_HEADER, CLOSED, CLOSED_BY_RECOVERY, HEADER_LEN,
                                MAX_BLOCK_FRAMES, MAX_EVENTS, OPEN, SHORT, Summary, TORN,
                                TRAILER_LEN, block_crc, pack_trailer, parse_header,
                                parse_trailer, payload_bound)

_BLOCK = "block"
_TRAILER = "trailer"


class _Reader:
    def __init__(self, f=None):
        # About 4.5 KB of buffers: a belt that reads many files (the session list after boot)
        # keeps one reader and hands it each file in turn (start()), rather than one per file.
        self.eff = array.array("h", [0] * MAX_BLOCK_FRAMES)
        self.q = bytearray(MAX_BLOCK_FRAMES)
        self.ev_slot = bytearray(MAX_EVENTS)
        self.ev_kind = bytearray(MAX_EVENTS)
        self.ev_arg = array.array("H", [0] * MAX_EVENTS)
        self.fat = array.array("H", [0] * (MAX_BLOCK_FRAMES // SIG_EVERY + 1))
        self.cad = bytearray(MAX_BLOCK_FRAMES // SIG_EVERY + 1)
        self.buf = bytearray(payload_bound(MAX_BLOCK_FRAMES) + 8)
        self.dec = Decoder()
        self.start(f)

    def start(self, f):
        self.f = f
        self.pos = 0            # end of the last whole record
        self.dec.reset()
        self.header = self.trailer = self.stats = None
        self.n = self.nev = self.ns = 0

    def _read(self, at, k):
        return self.f.readinto(memoryview(self.buf)[at:at + k]) or 0

    def read_header(self):
        if self._read(0, HEADER_LEN) < HEADER_LEN:
            return SHORT
        self.header = parse_header(self.buf)
        if self.header is None:
            return BAD_HEADER
        self.stats = Summary(self.header["band_low"], self.header["band_high"])
        self.dec.sig = self.header["version"] >= 2     # version 1 has no signal pairs
        self.pos = HEADER_LEN
        return None

    def next(self):
        """Read one record: _BLOCK (frames and events now in the buffers), _TRAILER, or the
        status at the end: CLOSED, OPEN or TORN."""
        b = self.buf
        if self._read(0, 1) == 0:
            return CLOSED if self.trailer else OPEN
        if self.trailer:
            return TORN
        if b[0] == 0:
            if self._read(1, TRAILER_LEN - 1) < TRAILER_LEN - 1:
                return TORN
            self.trailer = parse_trailer(b, self.pos)
            if self.trailer is None:
                return TORN
            self.pos += TRAILER_LEN
            return _TRAILER
        size = b[0]
        head = 1
        if size & 0x80:
            if self._read(1, 1) < 1:
                return TORN
            size = (size & 0x7F) | (b[1] << 7)
            head = 2
        if head + size + 4 > len(b) or self._read(head, size + 4) < size + 4:
            return TORN
        seq = self.stats.blocks
        end = head + size
        if (b[head] != seq & 0xFF
                or block_crc(seq, memoryview(b)[:end]) != struct.unpack_from("<I", b, end)[0]):
            return TORN
        try:
            self.n, self.nev = self.dec.decode(b, head + 1, end, self.header["block_frames"],
                                               self.eff, self.q, self.ev_slot, self.ev_kind,
                                               self.ev_arg, self.fat, self.cad)
        except IndexError:
            return TORN         # whole and CRC-clean, yet more events than a block holds
        st = self.stats
        self.ns = sig_slots(st.frames, self.n) if self.dec.sig else 0
        for j in range(self.nev):
            st.event(self.ev_kind[j])
        for i in range(self.n):
            st.frame(self.eff[i], self.q[i])
        st.blocks = seq + 1
        self.pos += end + 4
        return _BLOCK


def _open(src):
    return open(src, "rb") if isinstance(src, str) else io.BytesIO(bytes(src))


def read_session(src, signal=None):
    """Decode a session from a path or bytes: (header, frames, events, trailer, status).
    signal: a list to which (frame index, fatigue index, cadence) is appended for every signal
    pair (version 2 files); the pair was taken with that frame."""
    f = _open(src)
    try:
        r = _Reader(f)
        st = r.read_header()
        if st:
            return None, [], [], None, st
        frames, events = [], []
        while True:
            st = r.next()
            if st == _BLOCK:
                base = len(frames)
                for j in range(r.nev):
                    events.append((base + r.ev_slot[j], r.ev_kind[j], r.ev_arg[j]))
                for i in range(r.n):
                    e = r.eff[i]
                    frames.append((e * 5 if e >= 0 else -1, r.q[i]))
                if signal is not None:
                    first = (base // SIG_EVERY + 1) * SIG_EVERY - 1
                    for k in range(r.ns):
                        signal.append((first + k * SIG_EVERY, r.fat[k] * 4, r.cad[k] * 2))
            elif st != _TRAILER:
                return r.header, frames, events, r.trailer, st
    finally:
        f.close()


def reader():
    """A reader to hand describe() again and again: its buffers are allocated once."""
    return _Reader()


def describe(path, r=None):
    """What a session list shows, without decoding the whole file: (header, trailer or None,
    events of the first block as [(kind, arg)]). The belt writes the boot id as an event of
    the first block. header is None when the file has no readable header. r: a reader() to
    reuse (the belt's session list), else one is made for this file."""
    size = os.stat(path)[6]
    with open(path, "rb") as f:
        if r is None:
            r = _Reader(f)
        else:
            r.start(f)
        if r.read_header():
            return None, None, []
        events = []
        if r.next() == _BLOCK:
            for j in range(r.nev):
                events.append((r.ev_kind[j], r.ev_arg[j]))
        return r.header, _closed_trailer(f, size), events


def _closed_trailer(f, size):
    # A whole trailer at the very end, naming its own offset, means the file was closed: every
    # record before it was already durable, as the file is only ever appended to.
    if size < HEADER_LEN + TRAILER_LEN:
        return None
    f.seek(size - TRAILER_LEN)
    b = f.read(TRAILER_LEN)
    return parse_trailer(b, size - TRAILER_LEN) if len(b) == TRAILER_LEN else None


def recover(path):
    """Make a session file whole after a power cut (call at boot for every session file):
    cut a torn tail and close the session with a trailer recomputed from the surviving blocks.
    Returns (action, trailer). Repeating it is harmless; a power cut during it leaves the file
    as it was, since a rewrite goes to path + ".tmp" and replaces the file by rename."""
    tmp = path + ".tmp"
    try:
        os.remove(tmp)
    except OSError:
        pass
    size = os.stat(path)[6]
    with open(path, "rb") as f:
        r = _Reader(f)
        st = r.read_header()
        if st is None:
            r.trailer = _closed_trailer(f, size)
            if r.trailer:
                return "ok", r.trailer
            f.seek(HEADER_LEN)
            while st is None or st == _BLOCK or st == _TRAILER:
                st = r.next()
    if st == BAD_HEADER:
        return "unreadable", None
    if st == SHORT:
        os.remove(path)
        return "removed", None
    trailer = r.trailer
    tail = b""
    if trailer is None:
        s = r.stats
        trailer = s.trailer(CLOSED_BY_RECOVERY, r.pos, s.frames * r.header["frame_ms"])
        tail = pack_trailer(trailer)
    if st == OPEN:
        with open(path, "ab") as f:
            f.write(tail)
        return "closed", trailer
    buf = bytearray(512)
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        left = r.pos
        while left > 0:
            k = src.readinto(memoryview(buf)[:min(left, 512)])
            if not k:
                break
            dst.write(memoryview(buf)[:k])
            left -= k
        dst.write(tail)
    try:
        os.rename(tmp, path)
    except OSError:
        os.remove(path)     # for file systems whose rename does not replace
        os.rename(tmp, path)
    return "truncated", trailer
