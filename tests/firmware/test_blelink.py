# The BLE link's own bookkeeping, without a radio: a stand-in for the board's BLE object that
# records what the link registers, advertises and notifies. (The link over a real Bluetooth
# stack is tests/companion/test_ble_link.py, on the emulated radio.)
import beltrig as rig
from fwtest import eq
from belt import protocol as P
from belt.blelink import BleLink


class Radio:
    """MicroPython's bluetooth.BLE as far as BleLink uses it, recording every call."""

    def __init__(self):
        self.notified = []
        self.adverts = 0

    def active(self, on=None):
        return True

    def config(self, **kw):
        pass

    def irq(self, handler):
        self.handler = handler

    def gatts_register_services(self, services):
        n = [0]

        def handles(chars):
            out = []
            for _ in chars:
                n[0] += 1
                out.append(n[0])
            return tuple(out)
        return tuple(handles(chars) for _, chars in services)

    def gatts_set_buffer(self, handle, size):
        pass

    def gatts_write(self, handle, data):
        pass

    def gap_advertise(self, interval, adv_data=None, resp_data=None):
        self.adverts += 1

    def gatts_notify(self, conn, handle, data=None):
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
    handle, first = link._next()
    eq((handle, bytes(first)), (link.h_control, pkt[:20]), "the first 20 bytes at MTU 23")
    link._done(handle, first)
    link._set_mtu(247)                                   # the exchange lands mid-reply
    handle, rest = link._next()
    eq(bytes(rest), pkt[20:], "then only what is left, though the whole reply would now fit")
    link._done(handle, rest)
    eq((link._replies, link._sent), ([], 0), "the reply is done")


def test_a_short_reply_goes_whole():
    link, radio = _link("bleshort")
    link._connected(1)
    pkt = P.reply("config_get", 8, tail=b"y" * 4)
    link._replies.append(pkt)
    handle, value = link._next()
    eq(bytes(value), pkt, "one notification")
