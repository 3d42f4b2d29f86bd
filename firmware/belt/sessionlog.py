"""Crash-safe, append-only session log: one file per run, on the belt's LittleFS.

    bufs = SessionBuffers()          # at boot: every buffer a writer works in (the block
                                     # buffer, 2,052 bytes, most of it)
    w = SessionWriter(path_or_file, session_id, start_ticks, wall_time=0, mode=0, cal_rest=0,
                      cal_mvc=0, placement=0, band=(low, target, high), bufs=bufs)
                                     # one writer at a time on bufs; without bufs it makes its own
    w.add_frame(effort_pm, quality, fatigue=0, cadence=0)
                                     # 10 Hz; effort 0..2000 (0.1 %MVC) or -1; quality 0..15;
                                     # the chain's fatigue index (x256) and cadence (steps/min),
                                     # kept after every 100th frame (0: none)
    w.add_event(kind, arg)           # EV_* kind 0..15, arg 0..65535, between two frames
    w.flush()                        # make everything so far durable (writes a short block)
    w.close(end_ticks=None)          # last block and the trailer; returns the trailer dict
    w.summary()                      # the trailer's figures so far

    read_session(path_or_bytes, signal=None) -> (header, frames, events, trailer, status)
        frames  [(effort_pm, quality)]: effort at 0.5 %MVC resolution (a multiple of 5) or -1
        signal  a list, if given, gets (frame, fatigue, cadence) for every signal pair: taken
                with that frame (index from 0); none in a version-1 file
        events  [(frame, kind, arg)]: the event came after `frame` frames (0 = before the first)
        trailer dict (TRAILER_KEYS) or None; status CLOSED, OPEN, TORN, SHORT or BAD_HEADER
    recover(path) -> (action, trailer), at boot for every session file; action is
        "ok" (was closed), "closed" (trailer appended), "truncated" (torn tail cut, then closed),
        "removed" (shorter than a header: nothing in it) or "unreadable" (left alone)

File (all little-endian; docs/session-format.md has every byte and a worked example):
    header   40 bytes: "CQSL", version 2 (1 is read too), lengths and rates, session id, start
             ticks, wall time, sensor mode, placement, rest and MVC levels, band; CRC32 of the
             36 before it
    block    varint L | seq & 0xFF | range-coded payload (L - 1 bytes) | CRC32 seeded with the
             full block number over varint, seq and payload. 100 frames, or fewer when flushed.
    trailer  0x00 | 49-byte summary (who closed it, its own offset, the figures) | CRC32
A power cut while appending leaves whole records followed by at most one torn one: at most the
block being written (10 s of frames) is lost.

Blocks are written whole and synced (f.flush(), which on LittleFS commits the file). add_frame()
and add_event() only store into preallocated buffers; coding, CRC and the write happen when a
block fills, every 10 s.
"""
import array
import struct

from belt import ticks
from belt.sessioncodec import CAD_MAX, FAT_MAX, MAX_EFFORT, NONE, SIG_EVERY, Encoder
from belt.sessionformat import *  # noqa: F401,F403  (constants are part of this API)
from belt.sessionformat import (BLOCK_FRAMES, CLOSED_BY_WRITER, FRAME_MS, HEADER_LEN,
                                MAX_BLOCK_FRAMES, MAX_EVENTS, Summary, block_crc, pack_header,
                                pack_trailer, payload_bound)
from belt.sessionread import read_session, recover  # noqa: F401


class SessionBuffers:
    """Everything a writer works in (the 2,052-byte block buffer most of it), made once at
    boot and handed to each session's writer: on a heap in pieces after hours of running, a
    2 KB block could no longer be had when a session started. One writer at a time uses them."""

    def __init__(self, block_frames=BLOCK_FRAMES):
        if not 1 <= block_frames <= MAX_BLOCK_FRAMES:
            raise ValueError("block_frames")
        self.block_frames = block_frames
        pairs = block_frames // SIG_EVERY + 1
        self.eff = array.array("h", bytes(2 * block_frames))
        self.q = bytearray(block_frames)
        self.ev_slot = bytearray(MAX_EVENTS)
        self.ev_kind = bytearray(MAX_EVENTS)
        self.ev_arg = array.array("H", bytes(2 * MAX_EVENTS))
        self.fat = array.array("H", bytes(2 * pairs))
        self.cad = bytearray(pairs)
        self.out = bytearray(payload_bound(block_frames) + 8)
        self.enc = Encoder()
        self.stats = Summary(0, 0)
        self.user = None        # the writer using them, until it is closed or abandoned

    def take(self, writer, block_frames, band_low, band_high):
        """For a new session's writer: refused while another writer still writes with them
        (its frames would go into this session's file)."""
        if block_frames > self.block_frames:
            raise ValueError("block_frames")
        u = self.user
        if u is not None and u is not writer and u._f is not None:
            raise ValueError("session buffers in use")
        self.user = writer
        self.enc.reset()
        # The trailer's figures start again in place (the writer's stats, as before).
        self.stats.__init__(band_low, band_high)


class SessionWriter:
    def __init__(self, dest, session_id, start_ticks, wall_time=0, mode=0, cal_rest=0,
                 cal_mvc=0, placement=0, band=(0, 0, 2000), block_frames=BLOCK_FRAMES,
                 bufs=None):
        """dest: a path (opened and closed here) or a binary file object (left open). bufs: the
        SessionBuffers made at boot (the belt's app hands them in); without, the writer makes
        its own."""
        if not 1 <= block_frames <= MAX_BLOCK_FRAMES:
            raise ValueError("block_frames")
        if bufs is None:
            bufs = SessionBuffers(block_frames)
        self._f = None
        bufs.take(self, block_frames, band[0], band[2])
        self._bufs = bufs
        self._own = isinstance(dest, str)
        try:
            self._f = open(dest, "wb") if self._own else dest
        except BaseException:
            bufs.user = None
            raise
        self.start_ticks = start_ticks
        self._full = block_frames
        # The buffers are reached through _bufs, not copied into attributes of their own: each
        # attribute widens the writer's own table, which a session start must allocate whole.
        self._ns = 0
        self._n = self._nev = 0
        self._torn = False      # a write failed: the file may hold part of a record at its end
        self.stats = bufs.stats
        try:
            self._f.write(pack_header(block_frames, session_id, start_ticks, wall_time, mode,
                                      placement, cal_rest, cal_mvc, band))
            self._f.flush()
        except BaseException:
            self.abandon()
            raise
        self.data_bytes = HEADER_LEN

    def add_frame(self, effort_pm, quality, fatigue=0, cadence=0):
        """One 100 ms frame: effort in 0.1 %MVC (-1 when uncalibrated), quality flags Q_*; the
        chain's fatigue index (x256) and cadence (steps/min), kept with every 100th frame."""
        if self._f is None:
            raise ValueError("closed")
        if effort_pm < 0:
            hp = NONE
        else:
            hp = (effort_pm + 2) // 5
            if hp > MAX_EFFORT:
                hp = MAX_EFFORT
        n = self._n
        b = self._bufs
        b.eff[n] = hp
        b.q[n] = quality & 15
        self._n = n + 1
        self.stats.frame(hp, quality & 15)
        if self.stats.frames % SIG_EVERY == 0:
            k = self._ns
            # Stored at x64 and in 2 steps/min: finer would be the figures' own jitter (about
            # +-2 of x256 and +-1.5 steps/min), which costs bits and tells nothing.
            f = (fatigue + 2) >> 2
            c = (cadence + 1) >> 1
            b.fat[k] = f if 0 <= f <= FAT_MAX else (0 if f < 0 else FAT_MAX)
            b.cad[k] = c if 0 <= c <= CAD_MAX else (0 if c < 0 else CAD_MAX)
            self._ns = k + 1
        if n + 1 >= self._full:
            self.flush()

    def add_event(self, kind, arg=0):
        """An event between frames: it is stamped with the number of frames so far."""
        if not (0 <= kind <= 15 and 0 <= arg <= 0xFFFF):
            raise ValueError("event")
        if self._nev >= MAX_EVENTS:
            self.flush()
        j = self._nev
        b = self._bufs
        b.ev_slot[j] = self._n
        b.ev_kind[j] = kind
        b.ev_arg[j] = arg
        self._nev = j + 1
        self.stats.event(kind)

    def flush(self):
        """Write the frames and events taken since the last block as one block, and sync."""
        if self._f is None:
            raise ValueError("closed")
        if self._n == 0 and self._nev == 0:
            return
        b = self._bufs
        out = b.out
        enc = b.enc
        # The model moves on as the block is coded. Until the block is on the flash it may have
        # to be coded again (the guard flushes after a failed write), and a block coded from a
        # moved-on model would carry a good CRC over the wrong frames: so the model goes back
        # on anything raised before the write is done, an I/O error as much as a MemoryError.
        enc.save()
        try:
            # payload at 3: room before it for a 2-byte length and the sequence byte
            end = enc.encode(out, 3, self._n, self._full, b.eff, b.q, self._nev, b.ev_slot,
                             b.ev_kind, b.ev_arg, b.fat, b.cad)
            seq = self.stats.blocks
            out[2] = seq & 0xFF
            size = end - 2
            if size < 0x80:
                start = 1
                out[1] = size
            else:
                start = 0
                out[0] = 0x80 | (size & 0x7F)
                out[1] = size >> 7
            struct.pack_into("<I", out, end, block_crc(seq, memoryview(out)[start:end]))
            self._write(memoryview(out)[start:end + 4])
        except BaseException:
            enc.restore()
            raise
        self.data_bytes += end + 4 - start
        self.stats.blocks = seq + 1
        self._n = self._nev = self._ns = 0

    def _write(self, data):
        # After a write that failed, part of it may be in the file: the next one starts again
        # where the last whole record ended, over whatever that left.
        f = self._f
        if self._torn:
            f.seek(self.data_bytes)
        self._torn = True
        f.write(data)
        f.flush()
        self._torn = False

    def abandon(self):
        """Stop writing without a trailer (a session that could not be started): the file is
        closed if it was opened here."""
        f, self._f = self._f, None
        self._release()
        if f is not None and self._own:
            try:
                f.close()
            except OSError:
                pass

    def summary(self, closed_by=0, end_ticks=None):
        """The trailer's figures for what has been taken so far."""
        s = self.stats
        dur = s.frames * FRAME_MS
        if end_ticks is not None and ticks.diff(end_ticks, self.start_ticks) >= 0:
            dur = ticks.diff(end_ticks, self.start_ticks)
        return s.trailer(closed_by, self.data_bytes, dur)

    def close(self, end_ticks=None):
        """Write the last block and the trailer. end_ticks, if given, sets the duration from the
        clock (pauses included) instead of from the frame count."""
        self.flush()
        t = self.summary(CLOSED_BY_WRITER, end_ticks)
        self._write(pack_trailer(t))
        if self._own:
            self._f.close()
        self._f = None
        self._release()
        return t

    def _release(self):
        b = self._bufs
        if b.user is self:
            b.user = None
