# The session writer's buffers, made once at boot (belt.sessionlog.SessionBuffers): a session
# started on a heap in pieces, hours after boot, needs no block of several hundred bytes. On the
# reference board's twin a start once failed allocating 2,052 bytes, the writer's block buffer.
import io

from fwtest import IS_MPY, eq, raises

import heapholes

import beltrig as rig
from belt import sessioncodec, sessionformat as sf, sessionlog
from belt.sessionlog import SessionBuffers, SessionWriter, read_session

HOLE = 256          # the largest free hole the heap is left with (bytes)


class _Pieces:
    """The heap in holes of at most HOLE bytes while it is held, as hours of BLE traffic, runs
    and syncs leave it. MicroPython: the heap itself, filled, then every other HOLE-byte piece
    freed. CPython has no such heap: there the session modules' bytearray and array refuse
    anything over HOLE bytes (the same allocations MicroPython's heap would be asked for)."""

    def __enter__(self):
        import gc
        gc.collect()
        if IS_MPY:
            self._held = heapholes.pieces(HOLE)
        else:
            self._saved = [(m, getattr(m, "array"), m.__dict__.get("bytearray"))
                           for m in (sessionlog, sessioncodec)]
            for m in (sessionlog, sessioncodec):
                m.array = _SmallArrayModule
                m.bytearray = _small_bytearray
        return self

    def __exit__(self, *exc):
        import gc
        if IS_MPY:
            self._held = None
        else:
            for m, arr, ba in self._saved:
                m.array = arr
                if ba is None:
                    del m.bytearray
                else:
                    m.bytearray = ba
        gc.collect()
        return False


def _small_bytearray(*args):
    b = bytearray(*args)
    if len(b) > HOLE:
        raise MemoryError("memory allocation failed, allocating %d bytes" % len(b))
    return b


class _SmallArrayModule:
    @staticmethod
    def array(typecode, init=()):
        import array
        a = array.array(typecode, init)
        if len(a) * a.itemsize > HOLE:
            raise MemoryError("memory allocation failed, allocating %d bytes"
                              % (len(a) * a.itemsize))
        return a


def test_a_session_starts_and_writes_its_blocks_on_a_heap_in_pieces():
    d = rig.fresh("heappieces")
    board, app, _ = rig.boot(d)
    with _Pieces():
        # The test's own check that the heap is as bad as it says: no hole for twice HOLE.
        if IS_MPY:
            raises(MemoryError, bytearray, 2 * HOLE)
        else:
            raises(MemoryError, sessionlog.bytearray, 2 * HOLE)
        sid = app.start_session()
        w = app.writer
        for i in range(250):
            w.add_frame(150 + (i * 7) % 90, 0)
        blocks = w.stats.blocks
    eq((sid, blocks), (1, 3), "started, its boot block and two blocks of frames written")
    eq(app.stop_session(), sid, "and closed")
    header, frames, events, trailer, status = read_session(app.store.find(sid))
    eq((status, len(frames), trailer["frames"]), (sf.CLOSED, 250, 250), "every frame in the file")
    eq([f[0] for f in frames[:3]], [150, 155, 165], "as written (0.5 %MVC steps)")


def test_the_app_hands_every_session_the_buffers_made_at_boot():
    d = rig.fresh("bootbufs")
    board, app, _ = rig.boot(d)
    bufs = app.session_buffers
    for n in (1, 2):
        sid = app.start_session()
        eq(app.writer._bufs is bufs and bufs.user is app.writer, True,
           "session %d writes with the boot's buffers" % n)
        app.stop_session()
        eq(bufs.user, None, "given back when session %d closed" % n)


def _session(bufs, sid, frames):
    f = io.BytesIO()
    w = SessionWriter(f, sid, 1000 * sid, 1767225600, 0, 120, 2400, 1, (150, 200, 300),
                      bufs=bufs)
    w.add_event(sf.EV_BOOT, 3)
    w.flush()
    for i in range(frames):
        w.add_frame(100 + (i * 13 + sid) % 300, i & 1, 900 + i, 170)
        if i % 37 == 0:
            w.add_event(sf.EV_CUE_OVER, i)
    w.close(1000 * sid + 100 * frames)
    return f.getvalue()


def test_a_session_written_with_used_buffers_is_byte_for_byte_a_fresh_writers():
    # The range coder's model, the counts and the block buffer all carry the last session's
    # state; a session must not see any of it.
    bufs = SessionBuffers()
    first = _session(bufs, 1, 777)
    second = _session(bufs, 2, 431)
    eq(first == _session(None, 1, 777), True, "the first session as a fresh writer writes it")
    eq(second == _session(None, 2, 431), True, "the second too, after the first's state")
    eq(read_session(second)[4], sf.CLOSED, "and it reads back closed")


def test_buffers_in_use_are_refused_to_a_second_writer():
    bufs = SessionBuffers()
    f = io.BytesIO()
    w = SessionWriter(f, 1, 0, bufs=bufs)
    w.add_frame(200, 0)
    e = raises(ValueError, SessionWriter, io.BytesIO(), 2, 0, 0, 0, 0, 0, 0, (0, 0, 2000),
               sf.BLOCK_FRAMES, bufs)
    eq(str(e), "session buffers in use", "the second writer is refused")
    w.close()
    got = read_session(f.getvalue())
    eq((got[1], got[2], got[4]), ([(200, 0)], [], sf.CLOSED), "the first session is untouched")
    SessionWriter(io.BytesIO(), 2, 0, bufs=bufs).abandon()    # free again once it closed
    eq(bufs.user, None, "an abandoned writer gives them back too")
    raises(ValueError, SessionWriter, io.BytesIO(), 3, 0, 0, 0, 0, 0, 0, (0, 0, 2000),
           sf.BLOCK_FRAMES + 1, bufs)
