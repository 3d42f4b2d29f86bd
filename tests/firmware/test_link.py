# The protocol link end to end on the sim board: framed bytes in through the board's USB line,
# framed bytes out, with REPL text and line noise in between; live effort frames; windowed
# session downloads that resume; confirm, then reclaim only what was confirmed.
import binascii
import struct

from fwtest import eq, record

import beltrig as rig
from belt import framing
from belt import protocol as P
from belt.link import Link
from belt.sessionlog import SessionWriter, read_session
from belt.storage import file_crc

_DATA = 0x42
_EFFORT = 0x41


def _belt(name):
    d = rig.fresh(name)
    line = rig.Line()
    board, app, lines = rig.boot(d, line=line)
    link = Link(app)
    return board, app, link, rig.Host(line), lines


def _closed_session(app, frames):
    """A closed session of `frames` frames, written the way the app writes one."""
    sid, path = app.store.new_session()
    w = SessionWriter(path, sid, 1000, 0, 0, 100, 2000, 3, (150, 200, 300))
    for i in range(frames):
        w.add_frame(150 + (i * (7 + sid)) % 120, 1 if i % 500 == 0 else 0)
        if i % 97 == 0:
            w.add_event(7, i % 11)
    w.close(1000 + frames * 100)
    app.store.closed(sid)
    with open(path, "rb") as f:
        return sid, f.read()


def _data(host):
    """[(session id, offset, bytes)] of the data events received so far."""
    out = []
    for p in host.take(_DATA):
        t, flags, req, payload = P.parse(p)
        (sid, off), tail = P.decode_fields("<II*", payload)
        out.append((sid, off, tail))
    return out


def test_requests_through_repl_text_and_noise_get_their_replies():
    board, app, link, host, _ = _belt("noise")

    async def body():
        noise = (b"MicroPython v1.28.0 on 2026-01-01; ESP32S3\r\n>>> ", b"\xff\xfe\x10garbage",
                 b"\x00\x00\x00", b"Traceback (most recent call last):\r\n", b"\x10\x10\x00")
        reqs = []
        for i, name in enumerate(("hello", "status", "config_get", "session_list", "status")):
            fields = {"hello": (P.VERSION, P.VERSION), "session_list": (0,)}.get(name, ())
            reqs.append((host.send(name, *fields, noise=noise[i]), name))
        # A frame split across reads, one byte at a time.
        wire = framing.encode(P.request("status", 99))
        for i in range(len(wire)):
            host.line.send(wire[i:i + 1])
        reqs.append((99, "status"))
        await rig.until(board, lambda: len(host.poll()) >= len(reqs))
        got = [rig.reply(p) for p in host.packets]
        eq([r[1] for r in got], [r for r, _ in reqs], "one reply per request, in order")
        eq([r[0] for r in got], [P.type_of(n) | P.REPLY for _, n in reqs], "reply types")
        eq(got[0][2][:3], (P.VERSION, P.MIN_COMPATIBLE, P.CAP_USB | P.CAP_LIVE), "hello reply")
        eq(link.deframer.received, len(reqs), "frames received")
        eq(link.deframer.dropped >= 1, True, "the noise was dropped, not acted on")
        eq(b"\x03" in host.line.out, False, "no Ctrl-C on the line")
        # A corrupted frame is dropped; the next one is answered.
        bad = bytearray(framing.encode(P.request("session_start", 50)))
        bad[4] ^= 1
        host.line.send(bytes(bad))
        r = host.send("session_stop")
        await rig.until(board, lambda: host.answer(r) is not None or app.writer is not None)
        eq(app.writer, None, "the corrupted session_start did nothing")
        record("noise_dropped", link.deframer.dropped)
    rig.run(board, app, body, link.tasks())


def test_live_effort_events_every_frame_while_on():
    board, app, link, host, _ = _belt("live")

    async def body():
        await rig.advance(board, 1000)
        eq(host.take(_EFFORT), [], "nothing volunteered before live on")
        await host.call(board, "live", 1)
        first = app.frames
        await rig.advance(board, 2000)
        await host.call(board, "live", 0)
        last = app.frames
        await rig.advance(board, 300)       # frames taken while on may still be on their way
        evs = [P.decode_fields("<IhBBH", P.parse(p)[3])[0] for p in host.take(_EFFORT)]
        eq([e[0] for e in evs], list(range(first + 1, last + 1)), "every frame, in order")
        eq(abs(len(evs) - 20) <= 1, True, "10 per second: %d" % len(evs))
        eq(evs[-1][1], -1, "uncalibrated: effort -1")
        eq(all(e[3] == 0 for e in evs), True, "run state idle")
        eq(all(e[4] > 0 for e in evs), True, "block level")
        # The link packs them in place; they are the protocol's effort events byte for byte.
        await host.call(board, "live", 1)
        await rig.advance(board, 300)
        p = host.take(_EFFORT)[0]
        eq(p, P.event("effort", *P.decode_fields("<IhBBH", P.parse(p)[3])[0]), "event bytes")
        await host.call(board, "live", 0)
        await rig.advance(board, 1000)
        host.take(_EFFORT)
        await rig.advance(board, 1000)
        eq(host.take(_EFFORT), [], "off: no more")
        eq(link.live_dropped, 0, "none dropped")
    rig.run(board, app, body, link.tasks())


def test_windowed_read_waits_for_acks_and_resumes_with_the_same_bytes():
    board, app, link, host, _ = _belt("window")
    sid, want = _closed_session(app, 6000)
    chunk = 100

    async def body():
        r = await host.call(board, "session_read", sid, 0, 3, chunk)
        eq(r[2], (sid, len(want)), "id and size")
        await rig.advance(board, 2000)
        got = _data(host)
        eq([(s, off, len(b)) for s, off, b in got], [(sid, i * chunk, chunk) for i in range(3)],
           "three chunks, then the window is full")
        # An ack of the first two lets two more go; a stale or foreign ack moves nothing.
        eq(link.commands.download.stalls, 0, "no stall yet")
        host.send("session_ack", sid, 200)
        host.send("session_ack", sid, 100)
        host.send("session_ack", sid + 1, 300)
        host.send("session_ack", sid, 5000)         # beyond what was sent: ignored
        await rig.advance(board, 2000)
        more = _data(host)
        eq([off for _, off, _ in more], [300, 400], "two more")
        eq(link.commands.download.acked, 200, "acked")
        eq(link.commands.download.stalls, 1, "the belt waited for that one ack")
        received = bytearray()
        for _, off, b in got + more:
            eq(off, len(received), "contiguous")
            received.extend(b)
        # The companion breaks off here and later resumes from what it has.
        r = await host.call(board, "session_read", sid, len(received), 8, 512)
        eq(r[2], (sid, len(want)), "resumed")
        while len(received) < len(want):
            await rig.until(board, lambda: host.poll() and host.packets[-1][0] == _DATA)
            for _, off, b in _data(host):
                eq(off, len(received), "contiguous after resuming")
                received.extend(b)
            host.send("session_ack", sid, len(received))
        eq(bytes(received), want, "the file, byte for byte")
        await rig.advance(board, 500)
        eq(_data(host), [], "nothing after the end")
        eq(link.commands.download.active, False, "download complete")
        record("window_file", len(want))
    rig.run(board, app, body, link.tasks())


def test_a_new_read_replaces_the_old_and_an_offset_read_matches():
    board, app, link, host, _ = _belt("replace")
    a, want_a = _closed_session(app, 3000)
    b, want_b = _closed_session(app, 9000)

    async def body():
        await host.call(board, "session_read", a, 0, 2, 256)
        await rig.advance(board, 500)
        eq(len(_data(host)), 2, "two chunks of a")
        r = await host.call(board, "session_read", b, 1000, 50, 256)
        eq(r[2], (b, len(want_b)), "reading b")
        await rig.advance(board, 1000)
        got = _data(host)
        eq(set(s for s, _, _ in got), set((b,)), "only b from now on")
        tail = b"".join(x for _, _, x in got)
        eq(tail, want_b[1000:], "from offset 1000 to the end")
        host.send("session_ack", a, 512)              # an ack for the replaced read
        await rig.advance(board, 500)
        eq(_data(host), [], "moves nothing")
    rig.run(board, app, body, link.tasks())


def test_confirm_then_reclaim_takes_only_confirmed_sessions():
    board, app, link, host, _ = _belt("reclaim")
    ids = [_closed_session(app, 1200)[0] for _ in range(3)]

    async def body():
        # Download the middle one, confirm it with the CRC of what arrived.
        sid = ids[1]
        size = (await host.call(board, "session_read", sid, 0, 64, 1000))[2][1]
        received = bytearray()
        while len(received) < size:
            await rig.until(board, lambda: host.poll() and host.packets[-1][0] == _DATA)
            for _, off, x in _data(host):
                received.extend(x)
        crc = binascii.crc32(bytes(received)) & 0xFFFFFFFF
        eq(crc, file_crc(app.store.find(sid)), "the copy is the file")
        r = await host.call(board, "session_confirm", ids[0], crc)
        eq(r[2], P.E_CRC, "another session's CRC does not confirm it")
        r = await host.call(board, "session_confirm", sid, crc)
        eq(r[0], 0x8B, "confirmed")
        store = app.store
        eq(store.ensure_space(store.free() + 10 ** 9), False, "not even all of them would do")
        eq(store.reclaimed, [sid], "only the confirmed session was reclaimed")
        eq([e[0] for e in store.list()], [ids[0], ids[2]], "the others stay")
        r = await host.call(board, "session_read", sid, 0, 4, 512)
        eq(r[2], P.E_NOT_FOUND, "gone")
    rig.run(board, app, body, link.tasks())


def test_sampling_goes_on_during_a_download():
    board, app, link, host, _ = _belt("busy")
    sid, want = _closed_session(app, 36000)         # an hour

    async def body():
        await host.call(board, "live", 1)
        frames0 = app.frames
        t0 = board.elapsed_ms
        await host.call(board, "session_read", sid, 0, 1000, 1016)
        await rig.until(board, lambda: sum(len(x) for _, _, x in _data_peek(host)) >= len(want),
                        within_ms=20000)
        frames = app.frames - frames0
        eq(abs(frames - (board.elapsed_ms - t0) // 100) <= 2, True, "frames kept coming")
        eq(app.sampler.overruns, 0, "no block lost")
        eq(len(host.take(_EFFORT)) >= frames - 1, True, "live frames interleaved")
        record("hour_chunks", link.commands.download.chunks)
    rig.run(board, app, body, link.tasks())


def _data_peek(host):
    host.poll()
    out = []
    for p in host.packets:
        if p[0] == _DATA:
            (sid, off), tail = P.decode_fields("<II*", P.parse(p)[3])
            out.append((sid, off, tail))
    return out


def test_end_of_stream_ends_the_sim_and_reboot_answers_first():
    board, app, link, host, _ = _belt("eof")

    async def body():
        await host.call(board, "session_start")
        req = host.send("reboot")
        await rig.until(board, lambda: board.rebooting)
        eq(host.answer(req)[0], 0x8F, "the reply went out before the reboot")
        eq(read_session(app.store.find(1))[4], "closed", "the session was closed")
    rig.run(board, app, body, link.tasks())

    board, app, link, host, _ = _belt("eof")

    async def body2():
        await rig.advance(board, 500)
        host.line.close()
        await rig.until(board, lambda: board.finished())
        eq((link.closed, board.rebooting), (True, False), "the host went away")
    rig.run(board, app, body2, link.tasks())


def test_data_events_match_the_protocol_encoder():
    board, app, link, host, _ = _belt("bytes")
    sid, want = _closed_session(app, 400)

    async def body():
        await host.call(board, "session_read", sid, 0, 8, 300)
        await rig.advance(board, 500)
        pkts = host.take(_DATA)
        eq(len(pkts), (len(want) + 299) // 300, "chunks")
        for i, p in enumerate(pkts):
            eq(p, P.event("data", sid, i * 300, tail=want[i * 300:(i + 1) * 300]), "chunk %d" % i)
        eq(struct.unpack_from("<H", pkts[0], 2)[0], 0, "events carry request id 0")
    rig.run(board, app, body, link.tasks())


def test_the_responsive_person_braces_in_practice_and_sessions_and_fades_now_and_then():
    board, app, link, host, _ = _belt("person")

    async def body():
        f, _ = await rig.calibrate(board, link.commands)
        eq(f[8], 1, "calibrated")
        await rig.advance(board, 2000)
        await host.call(board, "live", 1)
        await rig.advance(board, 3000)
        # Watching the live view without a session, the person practises the brace.
        practice = sorted(e[1] for e in _efforts(host))[10:]
        mid = practice[len(practice) // 2]
        eq(150 <= mid <= 250, True, "practising at about 20 %%: median %d" % mid)
        await host.call(board, "session_start")
        await rig.advance(board, 300000)
        held = [e[1] for e in _efforts(host)][20:]
        low = [x for x in held if x < 120]
        eq(len(low) > 50, True, "a fade of some seconds: %d frames under 12 %%" % len(low))
        mid = sorted(held)[len(held) // 2]
        eq(150 <= mid <= 250, True, "mostly about 20 %%: median %d" % mid)
        record("person_median", mid)
    rig.run(board, app, body, link.tasks())


def _efforts(host):
    return [P.decode_fields("<IhBBH", P.parse(p)[3])[0] for p in host.take(_EFFORT)]
