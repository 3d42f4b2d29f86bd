# Faults that once lost or corrupted a run, each on a real app on the sim board (LittleFS on
# MicroPython, a folder under CPython): a session that cannot be started, a flash full at boot
# recovery, a calibration that could not be saved, damaged clock files, a wall time past 2106.
import os
import struct

from fwtest import eq, raises, skip_unless_micropython

import beltrig as rig
from belt import app as _app
from belt import config as _config
from belt import protocol as P
from belt import sessionformat as sf
from belt import sessionread, storage
from belt.commands import Commands
from belt.sessionformat import EV_BOOT
from belt.sessionlog import SessionWriter, read_session

_NEAR_2106 = 0xFFFFFFFF - 3         # 3 s before a u32 of unix seconds runs out


def _do(cmd, name, *fields):
    return rig.reply(cmd.handle(P.request(name, 7, *fields)))


def _session_files(app):
    return sorted(n for n in os.listdir(app.store.root) if n.endswith(".cs") or n.endswith(".cy"))


class _FailingWriter(SessionWriter):
    """A session writer on a flash that refuses its first write after the header (where="block")
    or the header itself (where="header")."""
    where = "block"

    def __init__(self, dest, *args, **kw):
        if _FailingWriter.where == "header":
            open(dest, "wb").close()        # the file exists, as it does when the write fails
            raise OSError(28)
        super().__init__(dest, *args, **kw)
        self._fail = True

    def _write(self, data):
        if self._fail:
            self._fail = False
            raise OSError(5)
        super()._write(data)


def test_a_session_that_cannot_be_started_does_not_leave_the_belt_stuck():
    # The store marked the session open before its writer existed: when that raised, a 0-byte
    # file stayed and every later start failed with "session N is open" until a reboot.
    for where in ("header", "block"):
        d = rig.fresh("startfail-" + where)
        board, app, _ = rig.boot(d)
        cmd = Commands(app)
        _FailingWriter.where = where
        _app.SessionWriter = _FailingWriter
        try:
            got = _do(cmd, "session_start")
        finally:
            _app.SessionWriter = SessionWriter
        eq((got[0], got[2]), ("ERROR", P.E_INTERNAL), where + ": the start is refused")
        eq("OSError" in got[3], True, where + ": and says why: " + got[3])
        eq((app.writer, app.store.open_id), (None, None), where + ": nothing is open")
        eq(_session_files(app), [], where + ": no empty session file is left")
        sid = _do(cmd, "session_start")[2][0]
        eq(sid, 2, where + ": the next start works (the failed id stays spent)")
        eq(_do(cmd, "session_stop")[2][0], sid, where + ": and its session closes")
        eq(read_session(app.store.find(sid))[4], sf.CLOSED, where + ": whole")


def test_a_wall_time_past_2106_is_time_unknown_not_1970():
    # MicroPython's struct wrapped a header's wall time to 1970; CPython's refused it, which then
    # left the store stuck. A time that does not fit is not known.
    eq(type(raises(ValueError, sf.pack_header, 100, 1, 0, 0x100000000, 0, 0, 0, 0,
                   (150, 200, 300))), ValueError, "the header refuses it on both interpreters")
    d = rig.fresh("y2106")
    board, app, _ = rig.boot(d)
    cmd = Commands(app)
    now = board.ticks_ms()
    app.clock.set(_NEAR_2106, now)
    eq(app.clock.wall_time(now + 2000), _NEAR_2106 + 2, "still representable")
    eq(app.clock.wall_time(now + 4000), 0, "one past the last second: unknown")

    async def body():
        await rig.advance(board, 5000)          # past the end of the u32
        sid = _do(cmd, "session_start")[2][0]
        await rig.advance(board, 1000)
        eq(_do(cmd, "session_stop")[2][0], sid, "the session starts and stops")
        hdr, _, _, _, status = read_session(app.store.find(sid))
        eq((status, hdr["wall_time"]), (sf.CLOSED, 0), "closed, wall time unknown (not 1970)")
    rig.run(board, app, body)


def test_a_calibration_is_adopted_only_once_it_is_saved():
    # The reply said "adopted" when the config could not be saved, and the calibration was gone
    # at the next reboot: the companion told the runner it was kept.
    d = rig.fresh("calnosave")
    board, app, _ = rig.boot(d)
    cmd = Commands(app)
    saved_path = app.config.path

    async def body():
        app.config.path = d + "/no-such-folder/corecue.cfg"     # the flash refuses the save
        f = (await rig.calibrate(board, cmd))[0]
        eq((f[7], f[8]), (0, 0), "a good calibration, not adopted: it was not saved")
        eq((app.config.cal_rest, app.config.cal_mvc, app.config.cal_mode), (0, 0, ""),
           "the config keeps what is saved")
        eq(app.calibration(), None, "and the app uses none")
        eq(_do(cmd, "status")[2][10], 0, "the belt says it is not calibrated")
        app.config.path = saved_path
        f = (await rig.calibrate(board, cmd))[0]
        eq(f[8], 1, "saved, so adopted")
        eq(_config.load(saved_path)[0].cal_mvc, f[5], "and there after a reboot")
    rig.run(board, app, body)


STORED = 60         # two months of runs between syncs


def stored_sessions(app, n=STORED):
    """n closed sessions of a minute each in the belt's store, as its own writer leaves them."""
    store = app.store
    for k in range(n):
        sid, path = store.new_session()
        w = SessionWriter(path, sid, 1000 * k, 0, 0, 0, 0, 0, (150, 200, 300))
        w.add_event(EV_BOOT, 1 + k // 3)
        for i in range(600):
            w.add_frame(150 + (i * 7 + k) % 120, 0)
        w.close()
        store.closed(sid)


def _list_all(cmd):
    first, n = 0, 0
    while True:
        got = _do(cmd, "session_list", first)
        if got[2][0] == 0:
            return n
        n += got[2][0]
        first = _last_id(got[3]) + 1


def _last_id(tail):
    return struct.unpack_from(P.ENTRY, tail, len(tail) - struct.calcsize(P.ENTRY))[0]


def test_the_first_session_list_after_boot_needs_no_buffer_per_session():
    # A new reader (a read buffer of several KB) for every session not yet cached ran the
    # ESP32-S3's 256 KB heap out in the first session_list after boot. The catalog's one reader,
    # made at boot, now serves them all; so does the store's one CRC buffer.
    d = rig.fresh("listheap")
    board, app, _ = rig.boot(d)
    stored_sessions(app)
    board, app, _ = rig.boot(d)             # a reboot: nothing cached
    cmd = Commands(app)
    made = []

    class Counted(sessionread._Reader):
        def __init__(self, f=None):
            made.append(1)
            super().__init__(f)

    plain, plain_crc = sessionread._Reader, storage.file_crc
    sessionread._Reader = Counted
    storage.file_crc = lambda path, buf=None: made.append(2) if buf is None else \
        plain_crc(path, buf)
    try:
        eq(_list_all(cmd), STORED, "every session listed")
    finally:
        sessionread._Reader, storage.file_crc = plain, plain_crc
    eq(made, [], "no reader and no CRC buffer made for the %d sessions listed" % STORED)


def _fill_until_full(w, frames):
    """Frames into the writer until the flash refuses a block (the guard then retries once, as
    the app's does); returns how many frames are in blocks that reached the flash."""
    i = 0
    while True:
        pm = 150 + (i * 7) % 90
        i += 1
        try:
            w.add_frame(pm, 0)
        except OSError:
            try:
                w.flush()
            except OSError:
                return w.stats.blocks * 100
        frames.append(pm)


def test_a_flash_full_mid_session_still_gets_its_session_closed_at_boot():
    # Only the block being written was lost (good), but boot recovery then failed with ENOSPC
    # appending the trailer, at every boot: the session was never closed.
    skip_unless_micropython("a full flash is LittleFS's, mounted through MicroPython's vfs")
    from flashsim import RamFlash, mount_ram_flash, unmount
    import vfs
    mp = "/cqfull"
    flash = mount_ram_flash(mp, 24)
    try:
        s = storage.Storage(mp + "/sessions")
        eq(s.ensure_space(16 * 1024), True, "room to start")
        sid, path = s.new_session()
        w = SessionWriter(path, sid, 0, 0, 0, 0, 0, 0, (150, 200, 300))
        kept = _fill_until_full(w, [])
        if kept < 1000:
            raise AssertionError("only %d frames before the flash was full" % kept)
        image = bytearray(flash.data)           # the power goes while the flash is full
    finally:
        unmount(mp)
    vfs.mount(vfs.VfsLfs2(RamFlash(0, image)), mp)
    try:
        s = storage.Storage(mp + "/sessions")
        line = s.recover_all()
        eq(s.recovered, [(sid, "closed")], "closed at boot: " + line)
        _, trailer, _ = sessionread.describe(s.find(sid))
        eq((trailer["closed_by"], trailer["frames"]), (sf.CLOSED_BY_RECOVERY, kept),
           "closed, with every block that reached the flash")
        eq(s.recover_all(), "sessions: 1 ok, 0 closed, 0 truncated, 0 removed, 0 unreadable",
           "and the next boot has nothing to do")
    finally:
        vfs.umount(mp)


def test_both_clock_files_damaged_is_time_unknown_never_a_wrong_date():
    # Boot ids started again at 1, and a session of the old boot 1 got the new boot 1's time
    # anchor: a date that was never true.
    d = rig.fresh("clocklost")
    board, app, _ = rig.boot(d)                 # boot 1: a session before the time was known
    cmd = Commands(app)
    sid = _do(cmd, "session_start")[2][0]
    _do(cmd, "session_stop")
    old_boot = app.clock.boot_id
    root = app.store.root
    for name in ("clock", "clock.2"):
        with open(root + "/" + name, "wb") as f:
            f.write(b"\xff" * 40)               # erased flash where the files were
    board, app, _ = rig.boot(d)
    cmd = Commands(app)
    eq(app.clock.boot_id > old_boot, True, "boot id %d, above the %d a session names" % (
        app.clock.boot_id, old_boot))
    _do(cmd, "time_set", 1767225600)
    got = _do(cmd, "session_list", 0)
    e = struct.unpack_from(P.ENTRY, got[3], 0)
    eq((e[0], e[2], e[7]), (sid, 0, old_boot), "the old session: time unknown, its boot kept")


def test_a_damaged_data_area_is_formatted_anew_and_the_belt_boots():
    # The sim board stopped at boot with OSError 84 on an erased, zeroed or garbled image.
    skip_unless_micropython("the data area is LittleFS, mounted through MicroPython's vfs")
    from boards import simflash
    from belt.dataarea import FORMATTED as sf_formatted, NEW as sf_new
    for what, fill in (("erased", b"\xff"), ("zeroed", b"\x00"), ("garbled", None)):
        d = rig.fresh("area-" + what)
        block = bytearray(fill * simflash.BLOCK if fill else
                          bytes(((j * 131) ^ (j >> 3)) & 0xFF for j in range(simflash.BLOCK)))
        with open(d + "/flash.img", "wb") as f:
            for i in range(simflash.BLOCKS):
                if not fill:
                    block[0] = i & 0xFF     # no two blocks alike
                f.write(block)
        board = rig.Board(d, image=True)
        # Erased is blank, a new area: formatted quietly; the others lost what was on them.
        words, code = ("blank", sf_new) if what == "erased" else ("formatted anew", sf_formatted)
        eq(board.flash_note is not None and words in board.flash_note, True,
           what + ": says what it did: %r" % board.flash_note)
        eq(board.data_area, code, what + ": and its code")
        board, app, _ = rig.boot(d)
        eq(board.flash_note, None, what + ": the next boot mounts it as it is")
        cmd = Commands(app)
        sid = _do(cmd, "session_start")[2][0]
        eq(_do(cmd, "session_stop")[2][0], sid, what + ": and a session is kept on it")
        eq(read_session(app.store.find(sid))[4], sf.CLOSED, what + ": whole")


def test_a_request_refused_for_want_of_memory_still_gets_its_refusal():
    # A heap that ran out during a request is often still full when the refusal is built: the
    # handler raised MemoryError to its link, which lost the request's answer and restarted.
    # The bare refusal made at boot now goes out instead (tests/faults/memfail.py tries this at
    # every allocation site of the sync path).
    d = rig.fresh("nomem")
    board, app, _ = rig.boot(d)
    cmd = Commands(app)
    plain_status, plain_error = cmd._status, P.error

    def full(*_):
        raise MemoryError("memory allocation failed")
    cmd._handlers[P.type_of("status")] = full
    P.error = full
    try:
        for req in (7, 0x1234):
            out = cmd.handle(P.request("status", req))
            t, _, got, payload = P.parse(out)
            eq((t, got, bytes(payload)), (P.T_ERROR, req, bytes((P.E_INTERNAL,))),
               "request %d: the bare refusal, its id and code" % req)
    finally:
        P.error = plain_error
        cmd._handlers[P.type_of("status")] = plain_status
    eq(rig.reply(cmd.handle(P.request("status", 8)))[0], P.type_of("status") | P.REPLY,
       "and the next request is answered")


def test_a_full_session_list_page_needs_no_kilobyte_of_heap():
    # A page of 60 sessions is a 1 KB reply, which was copied four times on its way out (the
    # entries, their bytes, the payload, the packet): on a 256 KB heap in pieces the copies
    # failed to allocate and the belt could not list, so could not sync. The page is now built
    # in a buffer made at boot. Here the heap is left with holes of under 800 bytes only.
    skip_unless_micropython("the heap's holes are MicroPython's")
    import gc
    d = rig.fresh("listpage")
    board, app, _ = rig.boot(d)
    stored_sessions(app)
    cmd = Commands(app)
    eq(_list_all(cmd), STORED, "listed with the heap whole")
    gc.collect()
    blocks = [None] * (gc.mem_free() // 760 + 16)    # made first: its own growth leaves no hole
    i = 0
    try:
        while True:
            blocks[i] = bytearray(760)
            i += 1
    except MemoryError:
        pass
    for j in range(1, i, 2):
        blocks[j] = None        # every other block free again: holes of 760 bytes (and headers)
    gc.collect()
    out = cmd.handle(P.request("session_list", 9, 0))
    blocks = None
    gc.collect()
    got = rig.reply(out)
    eq(got[0], P.type_of("session_list") | P.REPLY, "a page listed in a heap in pieces: %r"
       % (got[:4],))
    entry = struct.calcsize(P.ENTRY)
    eq(len(got[3]) + entry > 1020, True, "a full page (%d entries)" % got[2][0])
