# The BLE link's own bookkeeping, without a radio: a stand-in for the board's BLE object that
# records what the link registers, advertises and notifies, keeps the control buffer in append
# mode and switches the IRQ handler off when it raises, as MicroPython does. (The link over a
# real Bluetooth stack is tests/companion/test_ble_link.py, on the emulated radio.)
import asyncio

import beltrig as rig
from fwtest import IS_MPY, allocated, eq, record
from belt import protocol as P
from belt.blelink import BleLink


class Radio:
    """MicroPython's bluetooth.BLE as far as BleLink uses it, recording every call."""

    def __init__(self):
        self.notified = []
        self.adverts = 0
        self.activations = 0
        self.handler = None
        self.buf = bytearray()
        self.cap = 0
        self.conn = None

    def active(self, on=None):
        if on:
            self.activations += 1
            self.conn = None
        return True

    def config(self, **kw):
        pass

    def irq(self, handler):
        self.handler = handler

    # -- what the air does ---------------------------------------------------------------------
    def event(self, event, data):
        if self.handler is None:
            return
        try:
            self.handler(event, data)
        except Exception as e:          # modbluetooth.c: printed, and the handler is switched off
            print("Unhandled exception in IRQ callback handler", repr(e))
            self.handler = None

    def connect(self, conn):
        self.conn = conn
        self.event(1, (conn, 0, memoryview(bytes(6))))

    def write(self, conn, data):
        room = self.cap - len(self.buf)
        self.buf.extend(data[:room])
        self.event(3, (conn, self.h_control))

    def gatts_register_services(self, services):
        n = [0]

        def handles(chars):
            out = []
            for _ in chars:
                n[0] += 1
                out.append(n[0])
            return tuple(out)
        got = tuple(handles(chars) for _, chars in services)
        self.h_control = got[0][0]
        return got

    def gatts_set_buffer(self, handle, size, append=False):
        self.cap = size
        self.buf = bytearray()

    def gatts_read(self, handle):
        got = bytes(self.buf)
        self.buf = bytearray()
        return got

    def gatts_write(self, handle, data):
        return len(data)

    def gap_advertise(self, interval, adv_data=None, resp_data=None):
        self.adverts += 1

    def gap_disconnect(self, conn):
        return True

    def gatts_notify(self, conn, handle, data=None):
        if conn != self.conn:
            raise OSError(107)
        self.notified.append((handle, bytes(data)))


def _uuid(x):
    # bluetooth.UUID's bytes, little-endian as MicroPython gives them; the stand-in radio keeps
    # nothing else of a UUID.
    if isinstance(x, int):
        return bytes((x & 0xFF, x >> 8))
    return bytes(reversed(bytes.fromhex(x.replace("-", ""))))


def _link(name):
    d = rig.fresh(name)
    board, app, _ = rig.boot(d)
    radio = Radio()
    return BleLink(app, radio, _uuid), radio


def test_a_reply_split_before_an_mtu_exchange_goes_on_where_it_was():
    link, radio = _link("blemtu")
    link._connected(1)
    pkt = P.reply("config_get", 7, tail=b"x" * 34)       # 40 bytes: two notifications at MTU 23
    eq(len(pkt) > 20 and len(pkt) <= 244, True, "a reply longer than MTU 23 allows")
    link._replies.append(pkt)
    first = link._next()
    handle = link._handle
    eq((handle, bytes(first)), (link.h_control, pkt[:20]), "the first 20 bytes at MTU 23")
    link._done(handle, first)
    link._set_mtu(247)                                   # the exchange lands mid-reply
    rest = link._next()
    handle = link._handle
    eq(bytes(rest), pkt[20:], "then only what is left, though the whole reply would now fit")
    link._done(handle, rest)
    eq((link._replies, link._sent), ([], 0), "the reply is done")


def test_a_short_reply_goes_whole():
    link, radio = _link("bleshort")
    link._connected(1)
    pkt = P.reply("config_get", 8, tail=b"y" * 4)
    link._replies.append(pkt)
    value = link._next()
    eq(bytes(value), pkt, "one notification")


def test_the_irq_handler_allocates_nothing():
    link, radio = _link("bleirq")
    connect = (1, 0, memoryview(bytes(6)))
    write = (1, link.h_control)
    mtu = (1, 247)
    other = (1, link.h_data)

    def events():
        link._irq(1, connect)
        link._irq(3, write)
        link._irq(3, write)             # a second write while the first waits: one event
        link._irq(21, mtu)
        link._irq(3, other)             # not ours
        link._irq(27, (1, 24, 0, 400, 0))   # new parameters: interval 30 ms, timeout 4 s
        link._ev_n = link._tail_write = 0
    events()                            # the attributes exist before measuring
    if IS_MPY:
        eq(allocated(events), 0, "bytes allocated by six events")
    link._ev_n = link._tail_write = 0
    for _ in range(20):                 # more than the ring holds: counted, not raised
        link._irq(1, connect)
    record("ble irq dropped", link.rx_dropped)
    eq(link.rx_dropped, 20 - 8, "events beyond the ring")


def test_requests_written_back_to_back_are_each_answered():
    link, radio = _link("bleappend")
    radio.connect(1)
    link._connected(1)
    radio.write(1, P.request("hello", 1, P.VERSION, 1))
    radio.write(1, P.request("status", 2))
    eq(link._ev_n, 2, "connect, then one write event for both requests")
    link._ev_head, link._ev_n = 1, 1    # the connect is handled
    link._requests(1, radio.gatts_read(link.h_control))
    eq([P.parse(r)[2] for r in link._replies], [1, 2], "both answered, in order")


def test_a_switched_off_handler_is_noticed_and_bluetooth_comes_back_keeping_the_session():
    d = rig.fresh("bledead")
    board, app, _ = rig.boot(d)
    radio = Radio()
    link = BleLink(app, radio, _uuid)

    async def body():
        await rig.advance(board, 600)
        radio.connect(1)
        radio.write(1, P.request("hello", 1, P.VERSION, 1))
        await rig.until(board, lambda: radio.notified)
        sid = app.start_session()
        adverts, activations = radio.adverts, radio.activations
        radio.event(3, ())              # a malformed event: the handler raises, MicroPython
        eq(radio.handler, None, "the handler is switched off")   # switches it off
        radio.write(1, P.request("status", 2))      # nobody hears this request
        await rig.until(board, lambda: link.restarts == 1, within_ms=3000)
        eq(radio.activations, activations + 1, "Bluetooth switched on again")
        eq(radio.handler is not None, True, "the handler is back")
        eq(radio.adverts > adverts, True, "advertising again")
        eq((link.conn, app.session_id, app.writer is not None), (None, sid, True),
           "the link starts afresh; the session is still open")
        radio.connect(2)
        radio.write(2, P.request("hello", 3, P.VERSION, 1))
        # the reply's first notification starts with its header: request id 3
        await rig.until(board, lambda: any(v[2:4] == b"\x03\x00" for _, v in radio.notified))
        record("ble restarts", link.restarts)
    rig.run(board, app, body, link.tasks())


def test_a_connection_gone_without_a_disconnect_event_brings_bluetooth_back():
    d = rig.fresh("blegone")
    board, app, _ = rig.boot(d)
    radio = Radio()
    link = BleLink(app, radio, _uuid)

    async def body():
        radio.connect(1)
        await rig.advance(board, 100)
        radio.handler = None            # switched off (as after an exception)
        radio.conn = None               # and the central goes: no event says so
        link._replies.append(P.reply("config_get", 9, tail=b"z"))
        link._tx_flag.set()
        await rig.until(board, lambda: link.restarts == 1, within_ms=3000)
        eq(link.conn, None, "the dead connection is forgotten")
    rig.run(board, app, body, link.tasks())
