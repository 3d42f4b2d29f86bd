import binascii
import os

from fwtest import IS_MPY, eq, record, skip_unless_micropython
from belt import sessionformat as sf
from belt import sessionlog as sl
from belt import atomicfile as af
from belt import storage as st
from flashsim import BLOCK as _BS, RamFlash, clear_dir, mount_ram_flash, tmp_dir, unmount  # noqa: F401
from flashsim import read_bytes as _read, write_bytes as _write  # noqa: F401

BAND = (150, 200, 300)
_BODY = []


def _session_bytes(sid):
    """A closed session of 20000 random frames (about 26 KB), with sid in its header. The frames
    are coded once; each copy gets its own header."""
    if not _BODY:
        class Tape:
            data = bytearray()

            def write(self, b):
                self.data += b

            def flush(self):
                pass
        t = Tape()
        w = sl.SessionWriter(t, 1, 0, band=BAND)
        x = 12345
        for i in range(20000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            w.add_frame((x >> 8) % 2001, 0)
        w.close()
        _BODY.append(bytes(t.data[sf.HEADER_LEN:]))
    return sf.pack_header(sf.BLOCK_FRAMES, sid, 0, 0, 0, 0, 0, 0, BAND) + _BODY[0]


def _new_closed(store):
    sid, path = store.new_session()
    _write(path, _session_bytes(sid))
    store.closed(sid)
    return sid


def _ids(store):
    return [e[0] for e in store.list()]


def _synced(store):
    return [e[0] for e in store.list() if e[2]]


def _confirm(store, sid):
    eq(store.confirm(sid, binascii.crc32(_read(store.path(sid))) & 0xFFFFFFFF), st.OK,
       "confirm %d" % sid)


def test_ids_are_never_reused():
    d = tmp_dir("ids")
    s = st.Storage(d)
    got = [_new_closed(s) for i in range(3)]
    eq(got, [1, 2, 3], "first ids")
    _confirm(s, 3)
    eq(s.remove(3), st.OK, "the newest session deleted")
    eq(_ids(s), [1, 2], "left")
    s = st.Storage(d)                       # reboot
    eq(s.next_id(), 4, "after a reboot")
    sid, path = s.new_session()             # power cut before the session file is created
    eq(sid, 4, "next")
    s = st.Storage(d)
    eq(s.next_id(), 5, "an id handed out is spent even without its file")
    # One damaged id file: the other still knows that 4 was spent.
    _write(d + "/next_id", b"7 00000000\n")
    s = st.Storage(d)
    eq((s.next_id(), s.id_note), (5, "next_id: bad id file"), "one id file damaged")
    # A save of an id file cut before its rename: the old file stands, the temp goes.
    _write(d + "/next_id.2.tmp", b"9")
    s = st.Storage(d)
    eq(s.next_id(), 5, "temp file ignored")
    eq(_new_closed(s), 5, "next session")
    eq(sorted(os.listdir(d)), ["00000001.cs", "00000002.cs", "00000005.cs", "next_id",
                               "next_id.2"], "files, no temp")
    # Both damaged: never below the ids on the flash (the deleted 3 and the spent 4 are not
    # known any more; this is the last resort).
    _write(d + "/next_id", b"x")
    _write(d + "/next_id.2", b"")
    s = st.Storage(d)
    eq((s.next_id(), s.id_note), (6, "next_id: bad id file, next_id.2: bad id file"),
       "both damaged")
    record("ids", _ids(s))


def test_confirm_needs_the_file_crc():
    d = tmp_dir("confirm")
    s = st.Storage(d)
    a = _new_closed(s)
    b = _new_closed(s)
    crc = binascii.crc32(_read(s.path(a))) & 0xFFFFFFFF
    before = s.list()
    eq([e[3] for e in before], [None, None], "CRCs are computed only when asked for")
    eq(s.confirm(a, crc ^ 1), st.E_CRC, "wrong CRC")
    eq(s.list(), [(a, before[0][1], False, crc), before[1]], "only the CRC cached")
    eq(_read(s.path(a)), _session_bytes(a), "file untouched")
    eq(sorted(os.listdir(d)), ["00000001.cs", "00000002.cs", "next_id", "next_id.2"],
       "names untouched")
    eq(s.confirm(99, crc), st.E_UNKNOWN, "unknown id")
    eq(s.confirm(a, crc), st.OK, "right CRC")
    eq(s.list(crcs=True)[0], (a, len(_session_bytes(a)), True, crc), "synced")
    eq(_read(s.path(a, True)), _session_bytes(a), "same bytes under the synced name")
    eq(s.confirm(a, crc), st.OK, "confirming again is harmless")
    eq(s.remove(b), st.E_UNSYNCED, "unsynced sessions are not deleted")
    c, path = s.new_session()
    _write(path, _session_bytes(c)[:500])
    eq(s.confirm(c, binascii.crc32(_read(path)) & 0xFFFFFFFF), st.E_OPEN, "open session")
    eq(s.remove(c), st.E_OPEN, "open session")
    eq(s.list(crcs=True)[2][3], None, "no CRC for the open session")
    s.closed(c)
    eq(s.crc(c), binascii.crc32(_read(path)) & 0xFFFFFFFF, "closed: CRC of the whole file")
    record("confirm_codes", [st.ERRORS[k] for k in (st.E_CRC, st.E_UNKNOWN, st.OK)])


def _reclaim_scenario(s):
    """Fill the store, then check what ensure_space() deletes. Same steps on LittleFS and on a
    budgeted host directory; returns the ids it reclaimed at each step."""
    size = len(_session_bytes(1))
    while s.ensure_space():
        _new_closed(s)
    n = len(_ids(s))
    if n < 6:
        raise AssertionError("only %d sessions fit" % n)
    eq(s.reclaimed, [], "nothing synced: nothing deleted")
    if s.free() >= st.DEFAULT_NEED:
        raise AssertionError("refused with %d bytes free" % s.free())
    all_ids = list(range(1, n + 1))
    eq(_ids(s), all_ids, "all sessions kept")
    for sid in (2, 3, 5):
        _confirm(s, sid)
    # One session's worth does not cover 1.5 sessions: exactly the two oldest synced go.
    eq(s.ensure_space(s.free() + size * 3 // 2), True, "room made")
    first = s.reclaimed
    eq(first, [2, 3], "oldest synced first, no more than needed")
    eq(_ids(s), [i for i in all_ids if i not in (2, 3)], "the rest kept")
    # More than the synced sessions can give: the last synced one goes, unsynced ones stay.
    eq(s.ensure_space(s.free() + 10 * size), False, "refused")
    second = s.reclaimed
    eq(second, [5], "every synced session, only those")
    eq(_ids(s), [i for i in all_ids if i not in (2, 3, 5)], "unsynced sessions all kept")
    eq(_synced(s), [], "no synced session left")
    # The open session is neither confirmed nor reclaimed.
    sid, path = s.new_session()
    _write(path, _session_bytes(sid))
    eq(s.confirm(sid, binascii.crc32(_read(path)) & 0xFFFFFFFF), st.E_OPEN, "open")
    eq(s.ensure_space(s.free() + size), False, "nothing to reclaim")
    eq(s.reclaimed, [], "open session untouched")
    s.closed(sid)
    return first, second


def test_reclaims_oldest_synced_first():
    # MicroPython: a real LittleFS of 128 blocks of 4 KB, free space from its statvfs.
    # CPython: a host directory with a 512 KB budget.
    if IS_MPY:
        mp = "/cqstore"
        mount_ram_flash(mp, 128)
        try:
            s = st.Storage(mp + "/sessions")
            eq(s.budget, None, "the file system's own free space")
            v = os.statvfs(mp)
            eq(s.free(), v[1] * v[4], "free space is statvfs")
            got = _reclaim_scenario(s)
        finally:
            unmount(mp)
    else:
        s = st.Storage(tmp_dir("reclaim"), budget=128 * _BS)
        eq(s.free(), 128 * _BS - s.used(), "free space is the budget")
        got = _reclaim_scenario(s)
    record("reclaimed", got)


def test_reserve_holds_a_marathon_on_littlefs():
    # At the edge of the reserve (the store just agrees to start a session), 8 hours at the
    # 12 KB/hour budget, written as the logger writes it: a small record and a sync every 10 s.
    skip_unless_micropython("LittleFS is mounted through MicroPython's vfs")
    mp = "/cqmarathon"
    mount_ram_flash(mp, 128)
    try:
        s = st.Storage(mp + "/sessions")
        while s.ensure_space():
            _new_closed(s)
        for sid in _ids(s)[:3]:
            _confirm(s, sid)
        eq(s.ensure_space(), True, "a synced session makes room")
        # Fill what is left over the reserve, so the session starts with the least room that
        # ensure_space() accepts.
        with open(mp + "/filler", "wb") as f:
            while s.free() >= st.DEFAULT_NEED + 2 * _BS:
                f.write(b"\0" * 1024)
                f.flush()
        free = s.free()
        if not st.DEFAULT_NEED <= free < st.DEFAULT_NEED + 2 * _BS:
            raise AssertionError("%d bytes free, not at the edge" % free)
        eq(s.ensure_space(), True, "the session may start")
        eq(s.reclaimed, [], "without reclaiming")
        sid, path = s.new_session()
        rec = b"\x55" * (st.BYTES_PER_HOUR // 360)     # one 10 s block
        with open(path, "wb") as f:
            f.write(b"H" * sf.HEADER_LEN)
            f.flush()
            for i in range(st.RESERVE_HOURS * 360):
                f.write(rec)
                f.flush()
            f.write(b"T" * sf.TRAILER_LEN)
            f.flush()
        s.closed(sid)
        eq(os.stat(path)[6], sf.HEADER_LEN + st.RESERVE_HOURS * 360 * len(rec) + sf.TRAILER_LEN,
           "8 hours written")
        used = free - s.free()
        if used > st.DEFAULT_NEED:
            raise AssertionError("8 hours took %d bytes of flash, over the reserve" % used)
    finally:
        unmount(mp)


def test_recover_all_reports_and_never_deletes_unreadable():
    d = tmp_dir("recover")
    s = st.Storage(d)
    for i in range(6):
        _new_closed(s)
    whole = _session_bytes(2)
    blocks = whole[:len(whole) - sf.TRAILER_LEN]
    _write(s.path(2), blocks)                       # cut between two records: no trailer
    _write(s.path(3), _session_bytes(3)[:5000])     # cut inside a block
    bad = bytearray(_session_bytes(4))
    bad[9] ^= 1                                     # header damaged: not readable
    _write(s.path(4), bad)
    _write(s.path(5), _session_bytes(5)[:30])       # shorter than a header: nothing in it
    _write(s.path(1) + ".tmp", b"a rewrite cut short")
    os.rename(s.path(6), s.path(6) + ".tmp")        # a complete rewrite whose rename was cut
    _write(d + "/notes.txt", b"not a session")
    lines = []
    s = st.Storage(d)
    line = s.recover_all(lines.append)
    eq(line, "sessions: 2 ok, 1 closed, 1 truncated, 1 removed, 1 unreadable (4 unreadable)",
       "report")
    eq(lines, [line], "logged")
    eq(s.recovered, [(1, "ok"), (2, "closed"), (3, "truncated"), (4, "unreadable"),
                     (5, "removed"), (6, "ok")], "per file")
    eq(_read(s.path(4)), bytes(bad), "unreadable file left as it was")
    eq(sorted(os.listdir(d)), ["00000001.cs", "00000002.cs", "00000003.cs", "00000004.cs",
                               "00000006.cs", "next_id", "next_id.2", "notes.txt"], "files")
    eq(_read(s.path(6)), _session_bytes(6), "adopted rewrite")
    eq(sl.read_session(s.path(2))[4], sl.CLOSED, "closed")
    eq(sl.read_session(s.path(3))[4], sl.CLOSED, "truncated and closed")
    eq(s.recover_all(), "sessions: 4 ok, 0 closed, 0 truncated, 0 removed, 1 unreadable "
                        "(4 unreadable)", "again: nothing more to do")
    record("recover_report", line)


def test_write_atomic_replaces_and_cleans():
    d = tmp_dir("atomic")
    p = d + "/f"
    af.write_atomic(p, b"one")
    af.write_atomic(p, "two")
    eq(_read(p), b"two", "replaced")
    eq(os.listdir(d), ["f"], "no temp left")

    def parse(b):
        return (b, None) if b in (b"one", b"two", b"three") else (None, "bad")
    _write(p + ".tmp", b"three")           # complete, but its rename never happened
    eq(af.read_atomic(p, parse), (b"two", None), "the file stands")
    eq(os.listdir(d), ["f"], "temp removed")
    os.remove(p)
    _write(p + ".tmp", b"three")           # the old file removed first, then the cut
    eq(af.read_atomic(p, parse), (b"three", None), "complete temp adopted")
    eq(os.listdir(d), ["f"], "adopted under the real name")
    _write(p, b"thr")
    eq(af.read_atomic(p, parse), (None, "bad"), "damaged and no temp")
    os.remove(p)
    eq(af.read_atomic(p, parse), (None, "missing"), "missing")


def test_rename_replaces_on_littlefs():
    # write_atomic() relies on this for its single-step replace (it copes without it too).
    skip_unless_micropython("LittleFS is mounted through MicroPython's vfs")
    mp = "/cqrename"
    mount_ram_flash(mp, 16)
    try:
        _write(mp + "/a", b"old")
        _write(mp + "/b", b"new")
        os.rename(mp + "/b", mp + "/a")
        eq((os.listdir(mp), _read(mp + "/a")), (["a"], b"new"), "replaced")
    finally:
        unmount(mp)
