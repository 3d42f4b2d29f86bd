# The heap running out in a link's own code (tests/faults/memlink.py sweeps every site): over USB
# and Bluetooth LE, a request whose reply cannot be made loses that reply alone, the requests
# after it are answered, and a data chunk that cannot be made goes out again; the link's tasks
# never raise to the app's guard, which would restart them with the rest of what was read (or
# the download's next chunk) lost.
import beltrig as rig
from fwtest import eq
from test_blelink import Radio, _uuid
from test_link import _closed_session, _data

from belt import blelink
from belt import framing
from belt import protocol as P
from belt.blelink import BleLink
from belt.link import Link

_DATA = 0x42


def _once(real):
    """real, but the first call raises MemoryError as an allocation in it would."""
    calls = []

    def f(*a):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("memory allocation failed")
        return real(*a)
    return f


def _after_once(real):
    """real, but its first call raises MemoryError once it has done its work (the heap ran out
    right after the chunk was read)."""
    calls = []

    def f(*a):
        out = real(*a)
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("memory allocation failed")
        return out
    return f


def test_a_frame_whose_handling_raised_is_not_handed_on_again():
    d = framing.Deframer()
    got = []

    def on_packet(p):
        got.append(bytes(p))
        if len(got) == 1:
            raise MemoryError("memory allocation failed")
    wire = framing.encode(b"first") + framing.encode(b"second")
    try:
        d.feed(wire, on_packet)
    except MemoryError:
        pass
    eq(d.at, len(framing.encode(b"first")), "stopped right after the first frame")
    d.feed(wire, on_packet, d.at)
    d.feed(framing.encode(b"third"), on_packet)
    eq(got, [b"first", b"second", b"third"], "each frame once, the rest of the read read on")


def test_usb_a_reply_that_cannot_be_framed_loses_that_reply_alone():
    line = rig.Line()
    board, app, _ = rig.boot(rig.fresh("memusb"), line=line)
    link = Link(app)
    host = rig.Host(line)
    real = framing.encode_into

    async def body():
        await rig.advance(board, 100)
        # Two requests in one read: the first reply's framing runs the heap out.
        wire = framing.encode(P.request("status", 1)) + \
            framing.encode(P.request("hello", 2, P.VERSION, 1))
        framing.encode_into = _once(real)
        try:
            line.send(wire)
            await rig.until(board, lambda: host.answer(2) is not None)
        finally:
            framing.encode_into = real
        eq(host.answer(1), None, "the first reply is lost, as on the line")
        eq((app.task_restarts, link.rx_failed), (0, 1), "the receiver went on")
        r = await host.call(board, "status")
        eq(r[0], P.type_of("status") | P.REPLY, "the next request is served")
    rig.run(board, app, body, link.tasks())


def test_usb_a_chunk_that_runs_the_heap_out_goes_out_again():
    line = rig.Line()
    board, app, _ = rig.boot(rig.fresh("memusbtx"), line=line)
    link = Link(app)
    host = rig.Host(line)
    sid, want = _closed_session(app, 3000)

    async def body():
        link.out.pack_chunk = _after_once(link.out.pack_chunk)
        r = await host.call(board, "session_read", sid, 0, 2, 200)
        eq(r[2], (sid, len(want)), "id and size")
        got = bytearray()
        while len(got) < len(want):
            await rig.until(board, lambda: any(p[0] == _DATA for p in host.poll()))
            for _, off, b in _data(host):
                eq(off, len(got), "contiguous: no chunk lost")
                got.extend(b)
            host.send("session_ack", sid, len(got))
        eq(bytes(got), want, "the file, byte for byte, without reading again")
        eq((app.task_restarts, link.tx_failed), (0, 1), "the sender went on")
    rig.run(board, app, body, link.tasks())


def _ble(name):
    board, app, _ = rig.boot(rig.fresh(name))
    radio = Radio()
    link = BleLink(app, radio, _uuid)
    return board, app, link, radio


def _replies(link, radio):
    return [P.parse(v)[2] for h, v in radio.notified if h == link.h_control]


def test_ble_a_reply_that_cannot_be_kept_loses_that_reply_alone():
    board, app, link, radio = _ble("memble")

    async def body():
        radio.connect(1)
        radio.event(21, (1, 247))
        await rig.advance(board, 50)
        blelink.bytes = _once(bytes)        # the reply's copy for the queue
        try:
            radio.write(1, P.request("status", 1))
            radio.write(1, P.request("hello", 2, P.VERSION, 1))
            await rig.until(board, lambda: 2 in _replies(link, radio))
        finally:
            del blelink.bytes
        eq(_replies(link, radio), [2], "the first reply is lost, as on the air")
        eq((app.task_restarts, link.rx_failed), (0, 1), "the receiver went on")
        radio.write(1, P.request("status", 3))
        await rig.until(board, lambda: 3 in _replies(link, radio))
    rig.run(board, app, body, link.tasks())


def test_ble_a_chunk_that_runs_the_heap_out_goes_out_again():
    board, app, link, radio = _ble("membletx")
    sid, want = _closed_session(app, 3000)

    async def body():
        radio.connect(1)
        radio.event(21, (1, 247))
        await rig.advance(board, 50)
        link.out.pack_chunk = _after_once(link.out.pack_chunk)
        radio.write(1, P.request("session_read", 1, sid, 0, 2, 200))
        got = bytearray()
        seen = 0
        while len(got) < len(want):
            await rig.until(board, lambda: len(radio.notified) > seen)
            for h, v in radio.notified[seen:]:
                if h == link.h_data:
                    (s, off), tail = P.decode_fields("<II*", P.parse(v)[3])
                    eq(off, len(got), "contiguous: no chunk lost")
                    got.extend(tail)
            seen = len(radio.notified)
            radio.write(1, P.request("session_ack", 2, sid, len(got)))
        eq(bytes(got), want, "the file, byte for byte, without reading again")
        eq((app.task_restarts, link.tx_failed), (0, 1), "the sender went on")
    rig.run(board, app, body, link.tasks())


def test_ble_a_control_buffer_that_cannot_be_read_unannounced_is_read_at_the_next_look():
    """With the stack's handler switched off, the radio task reads the control buffer itself;
    the heap running out in that copy is looked at again, not raised to the app's guard."""
    board, app, link, radio = _ble("memblegone")

    async def body():
        radio.connect(1)
        radio.event(21, (1, 247))               # an MTU that holds each reply whole
        await rig.advance(board, 50)
        radio.write(1, P.request("hello", 1, P.VERSION, 1))
        await rig.until(board, lambda: radio.notified)
        radio.event(3, ())                      # a malformed event: the handler is switched off
        eq(radio.handler, None, "the premise: the handler is off")
        real = radio.gatts_read
        radio.gatts_read = _once(real)
        try:
            radio.write(1, P.request("status", 2))      # unannounced
            await rig.until(board, lambda: link.restarts == 1, within_ms=4000)
        finally:
            radio.gatts_read = real
        eq(app.task_restarts, 0, "the radio task went on")
        eq(2 in _replies(link, radio), True, "the request was read at the next look")
    rig.run(board, app, body, link.tasks())
