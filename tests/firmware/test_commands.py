# The belt's side of the device protocol, request by request (docs/protocol.md), on a real app on
# the sim board: each command's reply, each refusal, and that nothing refused changes anything.
import binascii
import json
import struct

from fwtest import eq, record

import beltrig as rig
from belt import FIRMWARE_VERSION, protocol as P
from belt import config as _config
from belt import haptics
from belt.app import App
from belt.clock import Clock
from belt.commands import Commands
from belt.sessionformat import EV_BOOT
from belt.sessionlog import read_session
from belt.storage import Storage, file_crc

_JAN_2026 = 1767225600


def _belt(name, person=None):
    d = rig.fresh(name)
    board, app, lines = rig.boot(d, person)
    return d, board, app, Commands(app), lines


def _do(cmd, name, *fields, tail=b"", req=7):
    return rig.reply(cmd.handle(P.request(name, req, *fields, tail=tail)))


def _size(path):
    with open(path, "rb") as f:
        return len(f.read())


def _error(got, code, what):
    eq(got[0], "ERROR", what + ": an ERROR")
    eq(got[2], code, "%s: code (%s)" % (what, got[3]))
    return got[3]


def test_hello_reports_the_belt_and_refuses_incompatible_companions():
    d, board, app, cmd, _ = _belt("hello")
    t, req, f, tail = _do(cmd, "hello", P.VERSION, P.VERSION, req=1)
    eq((t, req), (0x81, 1), "hello reply to request 1")
    eq(f[:3], (P.VERSION, P.MIN_COMPATIBLE, P.CAP_USB | P.CAP_LIVE), "versions, capabilities")
    eq(len(f[3]), 8, "device id of 8 bytes")
    eq((f[4], tail), (P.MAX_PAYLOAD, FIRMWARE_VERSION.encode()), "max payload, firmware")
    # The same flash is the same belt.
    board2, app2, _ = rig.boot(d)
    eq(_do(Commands(app2), "hello", 2, 2)[2][3], f[3], "device id kept across boots")
    # Version 1 companions cannot authenticate: version 2 belts do not serve them.
    msg = _error(_do(cmd, "hello", 1, 1), P.E_VERSION, "companion too old")
    eq(("companion 1" in msg, "belt 2" in msg), (True, True), "both numbers: " + msg)
    msg = _error(_do(cmd, "hello", 3, 3), P.E_VERSION, "belt too old for the companion")
    eq(("accepts belts from 3" in msg, "belt 2" in msg), (True, True), "both numbers: " + msg)
    eq(_do(cmd, "hello", 4, 2)[0], 0x81, "a newer companion that still speaks 2 is served")


def test_status_follows_the_belt():
    d, board, app, cmd, _ = _belt("status")

    async def body():
        await rig.advance(board, 2000)
        f = _do(cmd, "status")[2]
        eq(f[0], 0, "idle")
        eq(f[1], 0, "sensor mode code of emg_raw")
        eq(f[2] > 3000, True, "battery mV")
        eq(f[4] > 0, True, "flash free")
        eq(abs(f[5] - 20) <= 1, True, "frames in 2 s: %d" % f[5])
        eq(f[10:14], (0, 0, 0, 0), "not calibrated, not calibrating, live off, no session")
        eq(f[14], 0, "battery level: the sim board's 3.90 V is ok")
        _do(cmd, "live", 1)
        sid = _do(cmd, "session_start")[2][0]
        _do(cmd, "calibrate", P.CAL_ABORT, 0)
        f = _do(cmd, "status")[2]
        eq((f[12], f[13]), (1, sid), "live on, the open session's id")
        _do(cmd, "session_stop")
        _do(cmd, "calibrate", P.CAL_BEGIN, 0)
        eq(_do(cmd, "status")[2][11], 1, "calibrating")
        board.battery = 3300
        await rig.advance(board, 40000)
        f = _do(cmd, "status")[2]
        eq((f[2], f[14]), (3300, 3), "the belt's own estimate and level: empty")
    rig.run(board, app, body)


def test_config_get_and_set_all_or_nothing_saved_atomically():
    d, board, app, cmd, _ = _belt("config")
    t, _, _, js = _do(cmd, "config_get")
    eq(json.loads(js.decode())["target_pm"], 200, "config as JSON")
    eq(js, app.config.to_json().encode(), "the config's own JSON")
    t, _, _, js = _do(cmd, "config_set", tail=b'{"low_pm": 170, "target_pm": 230}')
    got = json.loads(js.decode())
    eq((got["low_pm"], got["target_pm"]), (170, 230), "the whole config comes back")
    eq((app.coach.low_pm, app.coach.target_pm), (170, 230), "the coach took it up (idle)")
    saved, why = _config.load(app.config.path)
    eq((why, saved.target_pm), (None, 230), "saved")
    before = rig.state(app)
    for bad, want in ((b'{"low_pm": 240}', "low_pm: 240 not below target_pm 230"),
                      (b'{"target_pm": 220, "repeat_ms": 1}', "repeat_ms: 1 below minimum 2000"),
                      (b'{"frobnicate": 1}', "frobnicate: unknown field"),
                      (b'[1, 2]', "config: [1, 2] is not an object of field: value")):
        eq(_error(_do(cmd, "config_set", tail=bad), P.E_INVALID, bad.decode()), want, "message")
    for bad in (b'{"low_pm": ', b'\xff\xfe', b'', b'[' * 600):
        _error(_do(cmd, "config_set", tail=bad), P.E_MALFORMED, repr(bad[:10]))
    # A set of overrides whose JSON would not fit one packet is refused as a whole.
    big = {"patterns": dict((n, [2000] * 9) for n in ("go", "ack", "brace_more_1", "ease_off_1",
                                                      "warmup_next", "lie_down_done",
                                                      "back_in_band", "check_sensor",
                                                      "storage_full", "calibrate_phase",
                                                      "brace_more_2", "ease_off_2"))}
    msg = _error(_do(cmd, "config_set", tail=json.dumps(big).encode()), P.E_INVALID, "too big")
    eq(msg.startswith("patterns: the config would take"), True, msg)
    eq(rig.state(app), before, "refused changes change nothing, in RAM or on flash")


def test_a_new_sensor_mode_waits_for_the_reboot():
    d, board, app, cmd, _ = _belt("mode")
    js = _do(cmd, "config_set", tail=b'{"mode": "emg_env"}')[3]
    eq(json.loads(js.decode())["mode"], "emg_env", "reply")
    eq(app.chain.mode, "emg_raw", "still sampling in the old mode")
    eq(_do(cmd, "status")[2][1], 0, "status: the mode running")
    board2, app2, _ = rig.boot(d)
    eq(app2.chain.mode, "emg_env", "after the reboot")


def test_time_set_anchors_this_boot_and_sessions_get_wall_time():
    d, board, app, cmd, _ = _belt("time")
    boot = app.clock.boot_id

    async def body():
        await rig.advance(board, 3000)
        early = _do(cmd, "session_start")[2][0]       # before the belt knows the time
        await rig.advance(board, 2000)
        _do(cmd, "session_stop")
        now = board.ticks_ms()
        f = _do(cmd, "time_set", _JAN_2026)[2]
        eq(f, (boot, now, _JAN_2026), "boot id, ticks now, unix")
        await rig.advance(board, 4000)
        late = _do(cmd, "session_start")[2][0]
        await rig.advance(board, 1000)
        _do(cmd, "session_stop")
        t, _, f, tail = _do(cmd, "session_list", 0)
        e0, e1 = [struct.unpack_from(P.ENTRY, tail, i * 27) for i in range(f[0])]
        eq((e0[0], e1[0]), (early, late), "ids")
        eq((e0[7], e1[7]), (boot, boot), "boot ids")
        eq(e0[2], _JAN_2026 - 2, "before the anchor: placed by it (started 2 s before)")
        eq(e1[2], _JAN_2026 + 4, "after the anchor: stamped at start")
        eq(read_session(app.store.find(late))[0]["wall_time"], _JAN_2026 + 4, "in the header")
        eq(read_session(app.store.find(early))[0]["wall_time"], 0, "header: unknown then")
        _error(_do(cmd, "time_set", 1000), P.E_INVALID, "a clock never set")
    rig.run(board, app, body)
    # The next boot counts up and still holds this boot's anchor.
    board2, app2, _ = rig.boot(d)
    eq(app2.clock.boot_id, boot + 1, "boot id counted up")
    eq(app2.clock.anchor(boot)[1], _JAN_2026, "the anchor survived the reboot")
    eq(Clock(app2.store.root).boot_id, boot + 2, "every boot counts")


def test_calibration_over_the_protocol():
    d, board, app, cmd, _ = _belt("cal")

    async def body():
        f = _do(cmd, "calibrate", P.CAL_BEGIN, 0)[2]
        eq(f[:2], (P.CAL_BEGIN, 0), "begin rest")
        await rig.advance(board, 10000)
        f = _do(cmd, "calibrate", P.CAL_STATUS, 0)[2]
        eq((f[0], f[1]), (P.CAL_STATUS, 0), "status in rest")
        eq(abs(f[3] - 100) <= 1, True, "frames of rest: %d" % f[3])
        _do(cmd, "calibrate", P.CAL_ABORT, 0)
        evaluated = []
        f, tail = await rig.calibrate(board, cmd, evaluated)
        (ef, etail), = evaluated
        eq((ef[0], ef[7], ef[8]), (P.CAL_EVALUATE, 0, 0), "evaluate: good, not adopted")
        eq(ef[4:7] + (etail,), f[4:7] + (tail,), "commit adopts what evaluate showed")
        op, phase, level, frames, rest, mvc, spread, reasons, adopted = f
        eq((op, reasons, adopted), (P.CAL_COMMIT, 0, 1), "a good calibration, adopted")
        eq(mvc > 3 * rest > 0, True, "rest %d, mvc %d" % (rest, mvc))
        trials = [tail[i] | tail[i + 1] << 8 for i in range(0, len(tail), 2)]
        eq(len(trials), 3, "three trials")
        eq(spread <= 150, True, "spread %d" % spread)
        eq((app.config.cal_rest, app.config.cal_mvc), (rest, mvc), "in the config")
        eq(_config.load(app.config.path)[0].cal_mvc, mvc, "saved")
        eq(_do(cmd, "status")[2][10:12], (1, 0), "calibrated, not calibrating")
        record("cal_trials", len(trials))
        _error(_do(cmd, "calibrate", P.CAL_COMMIT, 0), P.E_STATE, "commit without a calibration")
        _error(_do(cmd, "calibrate", P.CAL_EVALUATE, 0), P.E_STATE, "evaluate neither")
        # Evaluating adopts nothing, good or bad; abort then leaves the saved calibration.
        _do(cmd, "calibrate", P.CAL_BEGIN, 0)
        await rig.advance(board, 3000)
        f = _do(cmd, "calibrate", P.CAL_EVALUATE, 0)[2]
        eq((f[0], f[7] != 0, f[8]), (P.CAL_EVALUATE, True, 0), "a short rest: refused")
        eq(app.calibrating, True, "still calibrating after evaluate")
        _do(cmd, "calibrate", P.CAL_ABORT, 0)
        eq((app.config.cal_rest, app.config.cal_mvc), (rest, mvc), "the saved one stays")
        _error(_do(cmd, "calibrate", 9, 0), P.E_INVALID, "unknown op")
        _error(_do(cmd, "calibrate", P.CAL_BEGIN, 3), P.E_INVALID, "unknown phase")
        _do(cmd, "calibrate", P.CAL_BEGIN, 0)
        _error(_do(cmd, "session_start"), P.E_STATE, "no session while calibrating")
        eq(_do(cmd, "calibrate", P.CAL_ABORT, 0)[2][0], P.CAL_ABORT, "abort")
        eq(app.calibrating, False, "aborted")
        _do(cmd, "session_start")
        _error(_do(cmd, "calibrate", P.CAL_BEGIN, 0), P.E_STATE, "no calibration in a session")
        _error(_do(cmd, "calibrate", P.CAL_STATUS, 0), P.E_STATE, "status neither")
        eq(app.calibrating, False, "still not calibrating")
    rig.run(board, app, body)


def test_a_refused_calibration_is_reported_and_not_adopted():
    d, board, app, cmd, _ = _belt("calbad")

    async def body():
        _do(cmd, "calibrate", P.CAL_BEGIN, 0)
        await rig.advance(board, 3000)          # too short a rest, and no braces at all
        f = _do(cmd, "calibrate", P.CAL_COMMIT, 0)[2]
        eq(f[8], 0, "not adopted")
        eq(f[7] != 0, True, "reasons given")
        eq(app.config.cal_mvc, 0, "the config keeps no calibration")
    rig.run(board, app, body)


def test_a_sixth_brace_is_refused_and_changes_nothing():
    d, board, app, cmd, _ = _belt("braces")
    for i in range(5):
        _do(cmd, "calibrate", P.CAL_BEGIN, 1)
        _do(cmd, "calibrate", P.CAL_BEGIN, 2)
    before = rig.state(app, cmd)
    _error(_do(cmd, "calibrate", P.CAL_BEGIN, 1), P.E_STATE, "a sixth brace")
    eq(rig.state(app, cmd), before, "refused: nothing changed")


def test_sessions_start_stop_and_carry_the_boot_id():
    d, board, app, cmd, _ = _belt("sessions")

    async def body():
        sid = _do(cmd, "session_start")[2][0]
        eq(sid, 1, "first id")
        _error(_do(cmd, "session_start"), P.E_STATE, "one at a time")
        _error(_do(cmd, "session_confirm", sid, 0), P.E_STATE, "confirm of the open one")
        _error(_do(cmd, "session_read", sid, 0, 4, 512), P.E_STATE, "read of the open one")
        t, _, f, tail = _do(cmd, "session_list", 0)
        eq(f[0], 1, "listed")
        e = struct.unpack(P.ENTRY, tail)
        eq((e[0], e[5], e[6], e[7]), (sid, 0, P.FL_OPEN, app.clock.boot_id), "open entry")
        await rig.advance(board, 3000)
        eq(_do(cmd, "session_stop")[2][0], sid, "stop")
        _error(_do(cmd, "session_stop"), P.E_STATE, "nothing to stop")
        hdr, frames, events, trailer, status = read_session(app.store.find(sid))
        eq(status, "closed", "closed")
        eq(events[0], (0, EV_BOOT, app.clock.boot_id), "the boot id comes first")
        eq(abs(len(frames) - 30) <= 1, True, "3 s of frames: %d" % len(frames))
    rig.run(board, app, body)


def test_session_list_pages_and_entries():
    d, board, app, cmd, _ = _belt("list")

    async def body():
        for i in range(40):
            _do(cmd, "session_start")
            await rig.advance(board, 200)
            _do(cmd, "session_stop")
        t, _, f, tail = _do(cmd, "session_list", 0)
        per_page = (P.MAX_PAYLOAD - 2) // 27
        eq(f[0], per_page, "a full page")
        eq(len(tail), 27 * per_page, "entries")
        ids = [struct.unpack_from(P.ENTRY, tail, i * 27)[0] for i in range(f[0])]
        eq(ids, list(range(1, per_page + 1)), "oldest first")
        t, _, f2, tail2 = _do(cmd, "session_list", ids[-1] + 1)
        eq(f2[0], 40 - per_page, "the rest")
        eq(_do(cmd, "session_list", 41)[2][0], 0, "then none")
        e = struct.unpack_from(P.ENTRY, tail2, 0)
        path = app.store.find(e[0])
        hdr, frames, events, trailer, status = read_session(path)
        eq(e[1], hdr["start_ticks"], "start ticks")
        eq(e[2], 0, "no wall time known")
        eq(e[3], trailer["duration_ms"], "duration")
        eq(e[4], _size(path), "size")
        eq(e[5], file_crc(path), "crc of the file")
        eq((e[6], e[7]), (0, app.clock.boot_id), "not synced, boot id")
        _do(cmd, "session_confirm", e[0], e[5])
        e = struct.unpack_from(P.ENTRY, _do(cmd, "session_list", e[0])[3], 0)
        eq(e[6], P.FL_SYNCED, "synced")
        record("list_page", per_page)
    rig.run(board, app, body)


def test_session_confirm_and_read_refusals():
    d, board, app, cmd, _ = _belt("confirm")

    async def body():
        sid = _do(cmd, "session_start")[2][0]
        await rig.advance(board, 1000)
        _do(cmd, "session_stop")
        crc = file_crc(app.store.find(sid))
        size = _size(app.store.find(sid))
        before = rig.state(app, cmd)
        _error(_do(cmd, "session_confirm", sid, crc ^ 1), P.E_CRC, "wrong crc")
        _error(_do(cmd, "session_confirm", 99, crc), P.E_NOT_FOUND, "no such session")
        _error(_do(cmd, "session_read", 99, 0, 4, 512), P.E_NOT_FOUND, "read unknown")
        _error(_do(cmd, "session_read", sid, size + 1, 4, 512), P.E_INVALID, "beyond the end")
        _error(_do(cmd, "session_read", sid, 0, 0, 512), P.E_INVALID, "window 0")
        _error(_do(cmd, "session_read", sid, 0, 4, 0), P.E_INVALID, "chunk 0")
        eq(rig.state(app, cmd), before, "nothing changed")
        eq(_do(cmd, "session_read", sid, 0, 4, 5000)[2], (sid, size), "read: id and size")
        eq(cmd.download.chunk, P.MAX_PAYLOAD - 8, "chunk capped to fit a data event")
        eq(_do(cmd, "session_confirm", sid, crc)[0], 0x8B, "confirmed")
        eq(_do(cmd, "session_confirm", sid, crc)[0], 0x8B, "again: still OK")
        eq(app.store.list()[0][2], True, "synced")
    rig.run(board, app, body)


def test_buzz_reboot_live_and_unknown_types():
    d, board, app, cmd, _ = _belt("misc")

    async def body():
        eq(_do(cmd, "buzz", 8)[0], 0x8E, "buzz go")
        await rig.advance(board, 100)
        eq([lvl for _, lvl in board.motor_edges][:1], [100], "the motor ran the go pattern")
        _error(_do(cmd, "buzz", len(haptics.TABLE)), P.E_INVALID, "no such pattern")
        eq(_do(cmd, "live", 1)[0], 0x87, "live on")
        eq(cmd.live, True, "on")
        _error(_do(cmd, "live", 2), P.E_INVALID, "live 2")
        eq(cmd.live, True, "still on")
        _do(cmd, "live", 0)
        eq(cmd.live, False, "off")
        sid = _do(cmd, "session_start")[2][0]
        eq(_do(cmd, "reboot")[0], 0x8F, "reboot: the reply first")
        eq(board.rebooting, False, "not yet")
        cmd.after()
        eq(board.rebooting, True, "then the board reboots")
        eq(read_session(app.store.find(sid))[4], "closed", "the open session was closed first")
    rig.run(board, app, body)
    for t in (0x00, 0x10, 0x3F, 0x40, 0x41, 0x42, 0x81, 0x7E, 0xFF):
        _error(rig.reply(cmd.handle(P.packet(t, 5))), P.E_UNKNOWN, "type 0x%02x" % t)
    pkt = P.packet(0x02, 5, flags=P.F_AUTH) + bytes(P.AUTH_LEN)
    got = rig.reply(cmd.handle(pkt))
    _error(got, P.E_AUTH, "an authenticated status")
    eq(got[1], 5, "the error answers the request id")
    _error(rig.reply(cmd.handle(b"\x02\x00\x05")), P.E_MALFORMED, "short packet")


class _Rand:
    """The same numbers under both interpreters (their `random` modules differ)."""

    def __init__(self, seed):
        self.s = seed

    def __call__(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 4) % n

    def bytes(self, n):
        return bytes(self(256) for _ in range(n))


def _wrong_sizes(fmt):
    """Payload lengths a request of this format must refuse."""
    if fmt.endswith("*"):
        fixed = struct.calcsize(fmt[:-1] or "<")
        return list(range(fixed))
    size = struct.calcsize(fmt or "<")
    return [n for n in range(size + 4) if n != size] + [P.MAX_PAYLOAD]


def test_fuzz_nothing_malformed_changes_anything():
    d, board, app, cmd, _ = _belt("fuzz")
    codes = {}
    rnd = _Rand(20260101)

    def check(pkt, want=None):
        before = rig.state(app, cmd)
        got = cmd.handle(pkt)
        r = rig.reply(got)
        eq(r[0], "ERROR", "an ERROR for %s" % binascii.hexlify(pkt[:16]))
        if want is not None:
            eq(r[2], want, "code for %s: %s" % (binascii.hexlify(pkt[:16]), r[3]))
        codes[r[2]] = codes.get(r[2], 0) + 1
        eq(rig.state(app, cmd), before, "state after %s" % binascii.hexlify(pkt[:16]))

    async def body():
        sid = _do(cmd, "session_start")[2][0]         # one closed and one open session
        await rig.advance(board, 2000)
        _do(cmd, "session_stop")
        _do(cmd, "session_start")
        await rig.advance(board, 500)
        # Every message with every wrong payload size, random contents.
        for name, t, req_fmt, _ in P.MESSAGES:
            for n in _wrong_sizes(req_fmt):
                check(P.packet(t, 1 + rnd(65535), rnd.bytes(n)), P.E_MALFORMED)
        # Valid requests cut short or run long: the header's length no longer matches.
        for name, t, req_fmt, _ in P.MESSAGES:
            pkt = P.packet(t, 3, rnd.bytes(struct.calcsize(req_fmt.rstrip("*") or "<")))
            for cut in range(len(pkt)):
                check(pkt[:cut], P.E_MALFORMED)
            check(pkt + b"\x00", P.E_MALFORMED)
            check(pkt[:1] + bytes((2 + rnd(254),)) + pkt[2:], P.E_MALFORMED)   # flag bits
            check(P.packet(t, 3, pkt[6:], flags=P.F_AUTH) + rnd.bytes(P.AUTH_LEN), P.E_AUTH)
        # config_set with bytes that are not JSON.
        for _ in range(40):
            body_ = rnd.bytes(rnd(60))
            try:
                json.loads(body_.decode())
                continue
            except Exception:
                pass
            check(P.packet(0x04, 9, body_), P.E_MALFORMED)
        # Random packets: whatever they are, none may be a request that acts.
        for i in range(600):
            if i % 3 == 0:
                pkt = rnd.bytes(rnd(40))
            else:                       # a header that parses more often than not
                n = rnd(20)
                pkt = bytes((rnd(256), 0 if rnd(4) else rnd(256))) + struct.pack(
                    "<HH", rnd(65536), n if rnd(4) else rnd(40)) + rnd.bytes(n)
            try:
                t, flags, req, payload = P.parse(pkt)
                fmt = P.request_format(t)
                if not flags and fmt is not None:
                    P.decode_fields(fmt, payload)
                    continue            # happens to be a well-formed request: not fuzz
            except P.ProtocolError:
                pass
            check(pkt)
        app.stop_session()
        eq(read_session(app.store.find(sid))[4], "closed", "the sessions are whole")
    rig.run(board, app, body)
    record("fuzz_codes", sorted(codes))
    eq(sorted(codes), [P.E_MALFORMED, P.E_UNKNOWN, P.E_AUTH], "codes %r" % codes)


def test_config_changed_during_a_run_waits_for_idle():
    d, board, app, cmd, _ = _belt("cfgrun")

    async def body():
        app.press(1)                    # a short press: the warm-up starts, a session opens
        eq(app.flow.state, 1, "warm-up")
        _do(cmd, "config_set", tail=b'{"target_pm": 250}')
        eq((app.config.target_pm, app.coach.target_pm), (250, 200), "saved, the run unchanged")
        app.press(2)                    # a long press aborts the warm-up: idle again
        eq((app.flow.state, app.coach.target_pm), (0, 250), "taken up once idle")
    rig.run(board, app, body)


def test_the_clock_survives_a_damaged_file():
    d = rig.fresh("clock")
    board, app, _ = rig.boot(d)
    root = app.store.root
    c = Clock(root)
    c.set(_JAN_2026, 1234)
    with open(root + "/clock", "wb") as f:
        f.write(b"garbage\n")
    c2 = Clock(root)
    eq(c2.boot_id, c.boot_id + 1, "the second copy counts on")
    eq(c2.anchor(c.boot_id), (1234, _JAN_2026), "and keeps the anchor")
    eq(c2.note is not None, True, "the damaged copy is reported")
    eq(c2.wall_time(5000, c.boot_id), _JAN_2026 + 3, "ticks mapped through the anchor")
    eq(c2.wall_time(5000), 0, "this boot has no anchor")
    eq(App(board, app.config, Storage(root), lambda m: None).clock.boot_id, c2.boot_id + 1,
       "an app is a boot")
