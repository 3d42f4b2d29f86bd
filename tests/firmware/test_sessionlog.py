import array
import binascii
import gc
import io
import os
import struct

import micropython

from flashsim import RamFlash
from fwtest import SCRATCH, eq, raises, record, skip_unless_micropython
from belt import sessioncodec, sessionformat
from belt import sessionlog as sl

BAND = (150, 200, 250)
HOUR = 36000


class _Rng:
    """Integer LCG: both interpreters draw the same numbers."""

    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


class _Tape:
    """A file that remembers what was durable at each sync, to cut sessions after the fact."""

    def __init__(self):
        self.data = bytearray()
        self.writer = None
        self.syncs = []         # (bytes, frames, events) durable at each flush()

    def write(self, b):
        self.data += b
        return len(b)

    def flush(self):
        s = self.writer.stats if self.writer else None
        self.syncs.append((len(self.data), s.frames if s else 0, s.events if s else 0))


def _writer(dest, **kw):
    w = sl.SessionWriter(dest, 42, 1000, 1767225600, 1, 310, 4120, 3, BAND, **kw)
    if isinstance(dest, _Tape):
        dest.writer = w
    return w


def _q(pm):
    """The frame as stored: effort at 0.5 %MVC, or -1."""
    if pm < 0:
        return -1
    return min((pm + 2) // 5, 400) * 5


def _stored(v, shift, top):
    """A fatigue index (x256) or cadence as stored: x64, 2 steps/min, within the field."""
    return min(max((v + (1 << (shift - 1))) >> shift, 0), top) << shift


def _expected_trailer(frames, events, blocks, closed_by, duration_ms, data_bytes):
    cal = [e for e, _ in frames if e >= 0]
    return {
        "closed_by": closed_by, "data_bytes": data_bytes, "frames": len(frames), "blocks": blocks,
        "duration_ms": duration_ms, "calibrated": len(cal),
        "in_band": len([e for e in cal if BAND[0] <= e <= BAND[2]]),
        "under": len([e for e in cal if e < BAND[0]]),
        "over": len([e for e in cal if e > BAND[2]]),
        "flagged": len([q for _, q in frames if q]),
        "cues": len([k for _, k, _ in events if 1 <= k <= 4]),
        "events": len(events), "peak_pm": max(cal) if cal else 0,
        "mean_pm": sum(cal) // len(cal) if cal else 0,
    }


def _tmpdir():
    d = SCRATCH + "-sessionlog"
    try:
        os.mkdir(d)
    except OSError:
        pass
    return d


def _write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _mixed_session(tape):
    """A short session touching every path of the format: uncalibrated frames, escapes, quality
    changes, events before the first frame, several in one slot, an events-only block, an early
    flush, and an event after the last frame. Returns (writer, frames as stored, events)."""
    r = _Rng(99)
    w = _writer(tape)
    frames, events, signal = [], [], []

    def ev(kind, arg):
        events.append((len(frames), kind, arg))
        w.add_event(kind, arg)

    def fr(pm, q):
        frames.append((_q(pm), q & 15))
        # a fatigue index and cadence that wander, jump, go out of range (clamped) and to 0
        n = len(frames)
        fat = (n * 37) % 1200 - 50 if n % 7 == 0 else 180 + n % 5
        cad = 0 if n < 60 else (300 if n == 350 else 150 + n % 9)
        if n % 100 == 0:
            signal.append((n - 1, _stored(fat, 2, 255), _stored(cad, 1, 127)))
        w.add_frame(pm, q, fat, cad)

    ev(sl.EV_STATE, 1)
    for i in range(6):
        fr(-1, sl.Q_CONTACT)
    e = 180
    for i in range(120):
        e += (r.below(7) - 3) * 5 + r.below(5) - 2
        if i == 45:
            e += 400
        if i == 70:
            ev(sl.EV_CUE_OVER, 0)
            ev(sl.EV_CUE_UNDER, 0)
            ev(sl.EV_BUTTON, 65535)
        if i % 37 == 0:
            ev(sl.EV_MARK, i)
        fr(e, sl.Q_ARTEFACT if i % 50 < 4 else 0)
    w.flush()
    ev(sl.EV_CHECK_SENSOR, 2)
    w.flush()
    for i in range(200):
        fr(r.below(2200) - 100, r.below(16) if i % 3 else 0)
        if i % 2:
            ev(r.below(16), r.below(65536))
    for i in range(30):
        e += (r.below(3) - 1) * 5
        fr(e, 0)
    ev(sl.EV_BACK_IN_BAND, 7)
    return w, frames, events, signal


def test_roundtrip_mixed_session():
    tape = _Tape()
    w, frames, events, signal = _mixed_session(tape)
    t = w.close(end_ticks=1000 + 43210)
    got_sig = []
    header, got, got_ev, trailer, status = sl.read_session(tape.data, got_sig)
    eq(status, sl.CLOSED, "status")
    eq(got, frames, "frames")
    eq(got_ev, events, "events")
    eq(len(signal), len(frames) // 100, "a signal pair every 100 frames")
    eq(got_sig, signal, "signal pairs, at their frames, across short and events-only blocks")
    eq(trailer, t, "trailer as written")
    eq(trailer, _expected_trailer(frames, events, len(tape.syncs) - 2, sl.CLOSED_BY_WRITER, 43210,
                                  len(tape.data) - sl.TRAILER_LEN), "trailer from the frames")
    for k, v in (("session_id", 42), ("start_ticks", 1000), ("wall_time", 1767225600),
                 ("mode", 1), ("cal_rest", 310), ("cal_mvc", 4120), ("placement", 3),
                 ("band_low", 150), ("band_target", 200), ("band_high", 250),
                 ("block_frames", 100), ("frame_ms", 100), ("version", 2)):
        eq(header[k], v, k)
    record("mixed_session_bytes", len(tape.data))
    record("mixed_session_crc", binascii.crc32(tape.data) & 0xFFFFFFFF)


def test_effort_is_stored_at_half_percent():
    b = io.BytesIO()
    w = _writer(b)
    ins = [-1, -7, 0, 1, 2, 3, 4, 5, 7, 8, 1997, 1998, 2000, 2003, 2600, 600]
    for pm in ins:
        w.add_frame(pm, 0)
    w.close()
    got = [e for e, _ in sl.read_session(b.getvalue())[1]]
    eq(got, [-1, -1, 0, 0, 0, 5, 5, 5, 5, 10, 1995, 2000, 2000, 2000, 2000, 600], "quantised")


def test_duration_across_tick_wrap():
    b = io.BytesIO()
    w = sl.SessionWriter(b, 1, (1 << 30) - 500, 0, band=BAND)
    for i in range(30):
        w.add_frame(200, 0)
    eq(w.close(end_ticks=2600)["duration_ms"], 3100, "ticks wrapped during the session")


def test_bad_events_are_refused():
    w = _writer(io.BytesIO())
    raises(ValueError, w.add_event, 16, 0)
    raises(ValueError, w.add_event, sl.EV_CUE_OVER, 65536)
    raises(ValueError, w.add_event, sl.EV_CUE_OVER, -1)


def test_writer_refuses_frames_after_close():
    w = _writer(io.BytesIO())
    w.add_frame(100, 0)
    w.close()
    raises(ValueError, w.add_frame, 100, 0)


def test_worst_case_blocks_fit_and_round_trip():
    # Random effort over the full range, random quality, a full event table in every block:
    # nothing for the model to learn. The payload buffer must hold it, the decoder get it back.
    r = _Rng(7)
    tape = _Tape()
    w = _writer(tape)
    frames, events, signal = [], [], []
    for i in range(1000):
        if i % 100 < sl.MAX_EVENTS:
            kind, arg = r.below(16), r.below(65536)
            events.append((len(frames), kind, arg))
            w.add_event(kind, arg)
        pm = r.below(2002) - 1
        q = r.below(16)
        fat, cad = r.below(1024), r.below(256)
        frames.append((_q(pm), q))
        if len(frames) % 100 == 0:
            signal.append((len(frames) - 1, _stored(fat, 2, 255), _stored(cad, 1, 127)))
        w.add_frame(pm, q, fat, cad)
    w.close()
    got_sig = []
    _, got, got_ev, trailer, status = sl.read_session(tape.data, got_sig)
    eq(status, sl.CLOSED, "status")
    eq(got, frames, "frames")
    eq(got_ev, events, "events")
    eq(got_sig, signal, "signal pairs")
    ends = [s[0] for s in tape.syncs]
    biggest = max(ends[i + 1] - ends[i] for i in range(len(ends) - 2))
    record("worst_block_bytes", biggest)


def test_every_byte_cut_recovers_a_prefix():
    # A power cut after `cut` bytes: every record ending at or before it is whole. Recovery must
    # keep exactly those, and close the file with a trailer recomputed from them.
    tape = _Tape()
    w, frames, events, signal = _mixed_session(tape)
    written = w.close()
    data = bytes(tape.data)
    syncs = tape.syncs
    eq(syncs[-1][0], len(data), "last sync is the end of the file")
    path = _tmpdir() + "/cut.cqs"
    actions = {}
    recovered = {}              # durable length -> the file recovery must produce from it
    for cut in range(len(data) + 1):
        _write_file(path, data[:cut])
        action, trailer = sl.recover(path)
        actions[action] = actions.get(action, 0) + 1
        durable = [s for s in syncs if s[0] <= cut]
        what = "cut at %d" % cut
        if not durable:
            eq((action, trailer, _exists(path)), ("removed", None, False), what)
            continue
        nbytes, nframes, nevents = durable[-1]
        taken = [s[1] for s in syncs if s[0] > cut]
        if cut == len(data):
            eq(action, "ok", what)
        else:
            eq(action, "closed" if cut == nbytes else "truncated", what)
            if taken[0] - trailer["frames"] > sl.BLOCK_FRAMES:
                raise AssertionError(what + ": lost more than the block being written")
        got_file = _read_file(path)
        if nbytes not in recovered:
            # Decode each distinct outcome fully once; other cuts must produce the same bytes.
            got_sig = []
            header, got, got_ev, t, status = sl.read_session(got_file, got_sig)
            eq(status, sl.CLOSED, what)
            eq(got, frames[:nframes], what + ": frames")
            eq(got_sig, [x for x in signal if x[0] < nframes], what + ": signal pairs")
            eq(got_ev, events[:nevents], what + ": events")
            if cut == len(data):
                eq(t, written, what)
            else:
                eq(t, _expected_trailer(got, got_ev, len(durable) - 1, sl.CLOSED_BY_RECOVERY,
                                        100 * nframes, nbytes), what + ": recomputed trailer")
                eq(got_file[:nbytes], data[:nbytes], what + ": whole records kept as they were")
            recovered[nbytes] = (got_file, t)
        eq((got_file, trailer), recovered[nbytes], what + ": same outcome as its block")
        eq(sl.recover(path)[0], "ok", what + ": recovering again changes nothing")
    # With every block whole, the recomputed summary is the writer's (bar who closed it, and
    # the clock-based duration).
    t = recovered[syncs[-2][0]][1]
    for k in written:
        if k != "closed_by":
            eq(t[k], written[k], "recovered summary: " + k)
    os.remove(path)
    record("cut_offsets", len(data) + 1)
    record("cut_actions", sorted(actions.items()))


def test_damaged_block_ends_the_readable_prefix():
    tape = _Tape()
    w = _writer(tape)
    for i in range(350):
        w.add_frame(200 + (i % 5) * 5, 0)
    w.close()
    data = bytearray(tape.data)
    data[tape.syncs[1][0] + 5] ^= 0x10          # inside the second block
    _, got, _, trailer, status = sl.read_session(data)
    eq((status, len(got), trailer), (sl.TORN, 100, None), "read up to the damage")
    path = _tmpdir() + "/damaged.cqs"
    # A closed file is trusted: power cuts only ever tear the end of an append-only file.
    _write_file(path, data)
    eq(sl.recover(path)[0], "ok", "closed file")
    eq(_read_file(path), bytes(data), "left as it was")
    # Without its trailer the file is scanned, and cut before the damage.
    _write_file(path, data[:tape.syncs[-2][0]])
    eq(sl.recover(path)[0], "truncated", "open file")
    _, got, _, trailer, status = sl.read_session(path)
    eq((status, len(got), trailer["frames"], trailer["closed_by"]),
       (sl.CLOSED, 100, 100, sl.CLOSED_BY_RECOVERY), "recovered")
    os.remove(path)


def test_whole_block_the_reader_cannot_hold_is_torn():
    # CRC-clean but with more events than a block may carry (another writer's limits): the
    # reader must stop there, not fail.
    tape = _Tape()
    _writer(tape)
    nev = sl.MAX_EVENTS + 8
    out = bytearray(4096)
    end = sessioncodec.Encoder().encode(
        out, 3, 1, 100, array.array("h", [40]), bytearray(1), nev, bytearray(nev),
        bytearray([sl.EV_MARK] * nev), array.array("H", [1] * nev), array.array("H", [0]),
        bytearray(1))
    out[1], out[2] = end - 2, 0
    rec = bytes(out[1:end])
    data = bytes(tape.data) + rec + struct.pack("<I", sessionformat.block_crc(0, rec))
    _, frames, events, trailer, status = sl.read_session(data)
    eq((frames, events, trailer, status), ([], [], None, sl.TORN), "read")
    path = _tmpdir() + "/overfull.cqs"
    _write_file(path, data)
    eq(sl.recover(path)[0], "truncated", "recover")
    eq(sl.read_session(path)[4], sl.CLOSED, "recovered")
    os.remove(path)


def test_bad_header_is_left_alone_and_stale_temp_removed():
    tape = _Tape()
    w = _writer(tape)
    w.add_frame(100, 0)
    w.close()
    data = bytearray(tape.data)
    data[9] ^= 1
    eq(sl.read_session(data)[4], sl.BAD_HEADER, "status")
    path = _tmpdir() + "/badheader.cqs"
    _write_file(path, data)
    _write_file(path + ".tmp", b"half a rewrite")
    eq(sl.recover(path), ("unreadable", None), "recover")
    eq(_read_file(path), bytes(data), "file untouched")
    eq(_exists(path + ".tmp"), False, "stale temporary removed")
    os.remove(path)


def _synthetic_hour(w):
    """An hour of running: effort wandering around 40 half-percent units (20 %MVC), noise moving
    it +-1 on most frames and +-2..3 on some; motion or contact flags a few times a minute; about
    four events a minute (cues mostly, some state changes and button presses). Returns the
    histogram of frame-to-frame steps, |step| 0, 1, 2, 3+."""
    r = _Rng(5)
    rs = _Rng(6)            # the slow figures draw apart: the frames stay the documented hour
    target, noise, prev = 40, 0, None
    qleft, qv = 0, 0
    steps = [0, 0, 0, 0]
    for i in range(HOUR):
        if i % 50 == 0:
            target = min(50, max(30, target + r.below(5) - 2))
        noise = noise - (noise >> 3) + r.below(45) - 22      # AR(1) in 1/16 units
        hp = target + (noise + 8) // 16
        if qleft == 0 and r.below(400) == 0:
            qleft = 3 + r.below(8)
            qv = sl.Q_ARTEFACT if r.below(4) else sl.Q_CONTACT
        q = qv if qleft else 0
        if qleft:
            qleft -= 1
        if r.below(150) == 0:
            k = r.below(10)
            if k < 8:
                w.add_event((sl.EV_CUE_UNDER, sl.EV_CUE_OVER, sl.EV_BACK_IN_BAND)[k % 3], 0)
            else:
                w.add_event(sl.EV_STATE if k == 8 else sl.EV_BUTTON, r.below(4))
        # the chain's slow figures: a fatigue index drifting down by a tenth over the hour with
        # the jitter of its 6.4 s means, and a cadence found after two minutes, wandering +-2
        fat = 210 - i * 21 // HOUR + rs.below(7) - 3
        cad = 0 if i < 1200 else 162 + rs.below(5) - 2
        w.add_frame(hp * 5 + r.below(5) - 2, q, fat, cad)
        if prev is not None:
            d = hp - prev
            steps[min(3, d if d >= 0 else -d)] += 1
        prev = hp
    return steps


def test_an_hour_fits_the_storage_budget():
    b = io.BytesIO()
    w = _writer(b)
    steps = _synthetic_hour(w)
    t = w.close()
    data = b.getvalue()
    record("bytes_per_hour", len(data))
    record("hour_steps_0_1_2_3plus", steps)
    record("hour_events", t["events"])
    record("hour_flagged_frames", t["flagged"])
    record("hour_crc", binascii.crc32(data) & 0xFFFFFFFF)
    if steps[1] * 2 < HOUR or steps[3] == 0:
        raise AssertionError("the synthetic hour is not the specified signal: %r" % steps)
    if len(data) > 12288:
        raise AssertionError("%d bytes per hour, budget 12288" % len(data))
    sig = []
    del b, w
    gc.collect()            # the hour's 36,000 frames as a list need one large block
    _, frames, events, trailer, status = sl.read_session(data, sig)
    eq((status, len(frames), len(events)), (sl.CLOSED, HOUR, t["events"]), "decoded")
    eq(trailer, t, "trailer")
    eq(len(sig), HOUR // 100, "a signal pair every 10 s")


# The worked example of docs/session-format.md as version-1 firmware wrote it: sessions on belts
# and in histories from before the signal pairs must still decode, with no pairs.
_V1_EXAMPLE = (
    "43 51 53 4c 01 28 64 64 2a 00 00 00 40 e2 01 00 00 b9 55 69 01 03 36 01 00 00 18 10 00 00 "
    "96 00 c8 00 fa 00 05 80 82 5b 0b 00 83 4f 36 12 c5 8b 69 b8 a1 78 91 2b 61 c1 00 01 38 00 "
    "00 00 06 00 00 00 01 00 00 00 8a 02 00 00 05 00 00 00 04 00 00 00 00 00 00 00 01 00 00 00 "
    "01 00 00 00 01 00 00 00 02 00 00 00 04 01 d8 00 57 f7 6b b2")


def _unhex(text):
    return bytes([int(h, 16) for h in text.split()])


def test_a_version_1_file_still_decodes():
    data = _unhex(_V1_EXAMPLE)
    eq(len(data), 110, "the documented example")
    sig = []
    header, frames, events, trailer, status = sl.read_session(data, sig)
    eq((status, header["version"], header["session_id"]), (sl.CLOSED, 1, 42), "header")
    eq(frames, [(-1, 0), (200, 0), (205, 0), (205, 0), (210, 0), (260, 4)], "frames")
    eq(events, [(0, sl.EV_STATE, 2), (5, sl.EV_CUE_OVER, 0)], "events")
    eq((trailer["frames"], trailer["peak_pm"], trailer["mean_pm"]), (6, 260, 216), "trailer")
    eq(sig, [], "no signal pairs in version 1")
    # A longer one, blocks coded as version 1 coded them (no pairs after the 100th frames).
    h = bytearray(sessionformat.pack_header(100, 7, 0, 0, 0, 0, 0, 0, BAND))
    h[4] = 1
    struct.pack_into("<I", h, 36, sessionformat.crc(h[:36]))
    enc = sessioncodec.Encoder()
    enc.sig = False
    longer = bytes(h)
    want = []
    for b in range(3):
        eff = array.array("h", [40 + (i + b) % 3 for i in range(100)])
        want += [(e * 5, 0) for e in eff]
        out = bytearray(2000)
        end = enc.encode(out, 3, 100, 100, eff, bytearray(100), 0, bytearray(1), bytearray(1),
                         array.array("H", [0]), array.array("H", [0]), bytearray(1))
        out[0], out[1], out[2] = 0x80 | ((end - 2) & 0x7F), (end - 2) >> 7, b
        longer += bytes(out[:end]) + struct.pack("<I", sessionformat.block_crc(b, out[:end]))
    header, frames, events, trailer, status = sl.read_session(longer, sig)
    eq((status, header["version"], frames, sig), (sl.OPEN, 1, want, []), "three v1 blocks")
    path = _tmpdir() + "/v1.cqs"
    _write_file(path, data[:-sl.TRAILER_LEN])
    action, t = sl.recover(path)
    eq((action, t["frames"], t["mean_pm"]), ("closed", 6, 216), "a v1 file recovered at boot")
    os.remove(path)


def test_add_frame_does_not_allocate():
    skip_unless_micropython("heap_lock is only enforced on MicroPython")
    w = _writer(io.BytesIO())
    w.add_frame(200, 0)
    ok = False
    micropython.heap_lock()
    try:
        try:
            bytearray(4)
        except MemoryError:
            ok = True
        for i in range(98):
            w.add_frame(150 + i, i & 3, 200 + i, 165)
            if i % 20 == 0:
                w.add_event(sl.EV_CUE_OVER, i)
    finally:
        micropython.heap_unlock()
    eq(ok, True, "heap_lock refuses allocation")
    eq((w.stats.frames, w.stats.events, w.stats.blocks), (99, 5, 0), "frames taken, block open")
    w.add_frame(200, 0)
    eq(w.stats.blocks, 1, "the 100th frame writes the block")


class _Sink:
    def write(self, b):
        return len(b)

    def flush(self):
        pass


def test_block_write_allocates_little():
    skip_unless_micropython("gc.mem_alloc counts MicroPython's heap")
    import gc
    w = _writer(_Sink())
    for i in range(299):
        w.add_frame(150 + (i % 7) * 5, 0)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        w.add_frame(200, 0)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    eq(w.stats.blocks, 3, "the frame completed a block")
    if used > 256:
        raise AssertionError("writing a block allocated %d bytes" % used)


def test_littlefs_session_survives_a_power_cut():
    skip_unless_micropython("LittleFS is mounted through MicroPython's vfs")
    import vfs
    disk = RamFlash(48)
    vfs.VfsLfs2.mkfs(disk)
    vfs.mount(vfs.VfsLfs2(disk), "/cqlfs")
    try:
        w = sl.SessionWriter("/cqlfs/s0001.cqs", 1, 5, 0, 2, 300, 4000, 1, BAND)
        frames = []
        for i in range(250):
            pm = 160 + (i % 11) * 5
            frames.append((pm, 0))
            w.add_frame(pm, 0)
        frozen = bytearray(disk.data)   # power cut: 2 blocks synced, 50 frames in RAM
        w.add_event(sl.EV_BUTTON, 1)
        t = w.close()
        header, got, events, trailer, status = sl.read_session("/cqlfs/s0001.cqs")
        eq((status, got, events, trailer), (sl.CLOSED, frames, [(250, sl.EV_BUTTON, 1)], t),
           "read back from LittleFS")
        eq(sl.recover("/cqlfs/s0001.cqs")[0], "ok", "closed file left alone")
        closed = _read_file("/cqlfs/s0001.cqs")
    finally:
        vfs.umount("/cqlfs")
    vfs.mount(vfs.VfsLfs2(RamFlash(0, frozen)), "/cqcut")
    try:
        action, trailer = sl.recover("/cqcut/s0001.cqs")
        eq((action, trailer["frames"]), ("closed", 200), "recovered after the cut")
        _, got, _, _, status = sl.read_session("/cqcut/s0001.cqs")
        eq((status, got), (sl.CLOSED, frames[:200]), "the synced blocks survive")
        # A tail torn inside the last block: rewritten, then renamed over the original.
        _write_file("/cqcut/s0002.cqs", closed[:len(closed) - sl.TRAILER_LEN - 6])
        eq(sl.recover("/cqcut/s0002.cqs")[0], "truncated", "torn tail on LittleFS")
        eq(sl.read_session("/cqcut/s0002.cqs")[1], frames[:200], "whole blocks kept")
        eq(sorted(os.listdir("/cqcut")), ["s0001.cqs", "s0002.cqs"], "no leftovers")
    finally:
        vfs.umount("/cqcut")


class _FailingTape:
    """A seekable file whose write number `at` (counting from 1, header included) raises `exc`
    after writing `part` of its bytes, as a flash that fails mid-program does."""

    def __init__(self, at, exc, part=0.0):
        self.data = bytearray()
        self.pos = 0
        self.writes = 0
        self.at, self.exc, self.part = at, exc, part

    def write(self, b):
        self.writes += 1
        b = bytes(b)
        if self.writes == self.at:
            b = b[:int(len(b) * self.part)]
        self.data[self.pos:self.pos + len(b)] = b
        self.pos += len(b)
        if self.writes == self.at:
            raise self.exc
        return len(b)

    def seek(self, pos):
        self.pos = pos

    def flush(self):
        pass


def _guarded_session(tape, frames_n=450):
    """Frames written as the app does: a failed block write is retried by the guard's flush."""
    w = sl.SessionWriter(tape, 9, 0, 0, 1, 300, 4000, 0, BAND)
    frames = []
    failed = 0
    for i in range(frames_n):
        pm = 150 + (i * 7) % 90
        frames.append((_q(pm), 0))
        try:
            w.add_frame(pm, 0)
        except (OSError, MemoryError):
            failed += 1
            try:
                w.flush()           # what the task guard does after a failure
            except (OSError, MemoryError):
                failed += 1
    w.close()
    return frames, failed


def test_a_failed_block_write_loses_nothing_and_codes_no_wrong_frame():
    # Without restoring the coder's model, the retried block was coded from the state the failed
    # one left: its CRC was good and the frames from there on were wrong.
    for exc in (OSError(5), MemoryError()):
        for at in (2, 3, 5):
            for part in (0.0, 0.5):
                tape = _FailingTape(at, exc, part)
                frames, failed = _guarded_session(tape)
                eq(failed, 1, "the injected failure was met")
                _, got, _, trailer, status = sl.read_session(tape.data)
                what = "%s at write %d, %d%% written" % (type(exc).__name__, at, part * 100)
                eq(status, sl.CLOSED, what + ": status")
                eq(len(got), len(frames), what + ": frames read back")
                eq(got, frames, what + ": every frame as given")
                eq(trailer["frames"], len(frames), what + ": trailer")


def test_a_header_with_frame_period_0_is_no_session():
    # Its CRC was good, so it passed for a session; the companion then divided by zero.
    tape = _Tape()
    w = _writer(tape)
    for i in range(150):
        w.add_frame(200, 0)
    w.close()
    raw = bytearray(tape.data)
    raw[6] = 0
    struct.pack_into("<I", raw, 36, binascii.crc32(bytes(raw[:36])) & 0xFFFFFFFF)
    eq(sl.read_session(bytes(raw))[4], sl.BAD_HEADER, "refused")
    p = _tmpdir() + "/period0.cs"
    _write_file(p, raw)
    eq(sl.recover(p), ("unreadable", None), "left alone at boot, as any header it cannot read")
