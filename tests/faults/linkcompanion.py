# The companion's side of a sync as tests/faults/memlink.py drives it through a link's own code:
# over USB (belt.link: framed bytes on the sim board's serial line) or Bluetooth LE (belt.blelink
# on tests/firmware/test_blelink.py's stand-in radio), the belt the real app with its tasks
# running, three closed sessions (one confirmed) and one open. The companion's codec and
# deframer are taken before the firmware's modules are made sites, and the injector is on only
# while the belt's tasks run.
import binascii
import struct

import beltrig as rig
from allocsites import INJ
from belt import framing as _framing
from belt import protocol as P
from belt import sessionsync as _sessionsync
from belt.sessionformat import EV_BOOT
from belt.sessionlog import SessionWriter

_CHUNK = 300                # the companion's chunk size: a session takes several chunks
_WINDOW = 2
_WAIT_MS = 300              # how long the companion waits for a reply before asking again
_TRIES = 4
_FRAMES = 600             # frames per closed session: its file takes several chunks

# The companion's own codec and deframer: never sites (taken before instrument()).
_parse, _decode, _request, _reply_format = P.parse, P.decode_fields, P.request, P.reply_format
_T_DATA = P.type_of("data")
_encode = _framing.encode
_Deframer = _framing.Deframer
_feed, _finish = _Deframer.feed, _Deframer._finish


class _HostDeframer(_Deframer):
    # The methods as they were before instrument() wrapped the class's.
    feed = _feed
    _finish = _finish


def _sessions(app):
    # Three closed sessions, one confirmed, and one open, as tests/faults/cmdbelt.py makes them
    # (but longer).
    store = app.store
    for k in range(3):
        sid, path = store.new_session()
        w = SessionWriter(path, sid, 1000 * k, 0, 0, 0, 0, 0, (150, 200, 300))
        w.add_event(EV_BOOT, 1)
        x = k + 1
        for i in range(_FRAMES):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF     # levels a coder cannot squeeze
            w.add_frame(100 + (x >> 8) % 300, 0)
        w.close()
        store.closed(sid)
    store.confirm(1, store.crc(1))
    app.start_session()


class Usb:
    """The serial line: framed requests in, framed replies and events out."""

    def __init__(self, name):
        from belt.link import Link
        self.line = rig.Line()
        self.board, self.app, _ = rig.boot(rig.fresh(name), line=self.line)
        _sessions(self.app)
        self.link = Link(self.app)
        self.deframer = _HostDeframer()
        self._seen = 0

    async def connect(self):
        pass

    def send(self, pkt):
        self.line.send(_encode(pkt))

    def poll(self, packets):
        out = self.line.out
        if self._seen < len(out):
            self.deframer.feed(bytes(out[self._seen:]), lambda p: packets.append(bytes(p)))
            self._seen = len(out)


class UsbOwned(Usb):
    """The serial line with ownership on (belt.ownedlink), paired over it before anything is
    injected (tests/firmware/test_owned.py's pairing, by hand): every request sealed, every
    reply and data event opened with the companion's own channel."""

    def __init__(self, name):
        from belt import auth as A
        from belt.keystore import KeyStore
        from belt.ownedlink import OwnedLink
        from test_owned import _pair
        self.line = rig.Line()
        self.board, self.app, _ = rig.boot(rig.fresh(name), line=self.line)
        _sessions(self.app)
        # The belt's id, keys and nonces fixed: every trial then frames the same sealed bytes,
        # so each site is called as often as in the counting run.
        with open(self.board.root + "/device_id", "wb") as f:
            f.write(b"memlink!")
        owner = A.Owner(KeyStore(self.board.root + "/keys"), self.board.device_id(),
                        lambda n: bytes((i * 37 + 11) & 0xFF for i in range(n)))
        self.link = OwnedLink(self.app, owner)
        self.host = _pair(self.link.owned, self.board.ticks_ms())
        self.deframer = _HostDeframer()
        self._seen = 0
        self.problem = None

    def send(self, pkt):
        self.line.send(_encode(self.host.seal(pkt)))

    def poll(self, packets):
        got = []
        Usb.poll(self, got)
        for p in got:
            try:
                packets.append(bytes(self.host.open(p)))
            except Exception as e:
                self.problem = self.problem or "a packet that does not open: %r" % e


class Ble:
    """The radio as tests/firmware/test_blelink.py stands it in: requests written to the
    control characteristic's buffer (the IRQ announces them), replies notified on it (joined by
    their headers' lengths), session data on the data characteristic. One connection, its MTU
    exchanged to 247 before the sync."""

    def __init__(self, name):
        from belt.blelink import BleLink
        from test_blelink import Radio, _uuid
        self.board, self.app, _ = rig.boot(rig.fresh(name))
        _sessions(self.app)
        self.radio = Radio()
        self.link = BleLink(self.app, self.radio, _uuid)
        self._seen = 0
        self._control = b""

    async def connect(self):
        self.radio.connect(1)
        self.radio.event(21, (1, 247))
        await rig.advance(self.board, 20)

    def send(self, pkt):
        self.radio.write(1, pkt)

    def poll(self, packets):
        got = self.radio.notified
        for n in got[self._seen:]:
            handle, value = n[-2], n[-1]
            if handle != self.link.h_control:
                self._take(packets, value)
                continue
            c = self._control + value
            while len(c) >= P.HEADER_LEN:
                end = P.HEADER_LEN + (c[4] | c[5] << 8) + (P.AUTH_LEN if c[1] & P.F_AUTH else 0)
                if len(c) < end:
                    break
                self._take(packets, bytes(c[:end]))
                c = c[end:]
            self._control = c
        self._seen = len(got)

    def _take(self, packets, pkt):
        packets.append(pkt)


class BleOwned(Ble):
    """Bluetooth LE with ownership on, as main.py builds it (belt.owners): paired over the air
    in the wearer's window (a long press) before anything is injected, as
    tests/firmware/test_blelink_owned.py's central does it; requests sealed, what the belt sends
    opened. (No framing here: which bytes the keys give changes no site's count.)"""

    def __init__(self, name):
        from belt import owners
        from belt.blelink import BleLink
        from test_blelink import _uuid
        from test_blelink_owned import OwnedRadio
        self.board, self.app, _ = rig.boot(rig.fresh(name))
        _sessions(self.app)
        self.radio = OwnedRadio()
        self.link = BleLink(self.app, self.radio, _uuid, owner=owners.setup(self.app,
                                                                             self.board.root))
        self._control = b""
        self.problem = None

    async def connect(self):
        from belt import button
        from test_blelink_owned import Central
        self.app.press(button.LONG)
        self.central = Central(self.board, self.link, self.radio, 1)
        await self.central.pair(self.board.device_id())
        self._seen = len(self.radio.notified)

    def send(self, pkt):
        self.radio.write(1, self.central.channel.seal(pkt))

    def _take(self, packets, pkt):
        try:
            packets.append(bytes(self.central.channel.open(pkt)))
        except Exception as e:
            self.problem = self.problem or "a packet that does not open: %r" % e


class Companion:
    """The companion's side of a sync over a link, as corecue.link does it: list, read
    each unsynced closed session with a window of acknowledgements, confirm it with the CRC of
    what it holds. A request unanswered in _WAIT_MS is sent again; it never raises for what the
    belt does."""

    def __init__(self, transport):
        self.board = transport.board
        self.transport = transport
        self.packets = []
        self.held = {}
        self.req = 0
        self.armed = False
        self.problem = None

    async def _turn(self):
        # The belt's tasks run (and may fail) only while the companion waits.
        INJ.on = self.armed
        try:
            await rig.advance(self.board, 5)
        finally:
            INJ.on = INJ.full = False
        self.transport.poll(self.packets)

    def _answer(self, req):
        for p in self.packets:
            t, _, r, payload = _parse(p)
            if r == req and (t & P.REPLY or t == P.T_ERROR):
                self.packets.remove(p)
                if t == P.T_ERROR:
                    msg = bytes(payload[1:]).decode()
                    if "\n" in msg:
                        self.problem = self.problem or "an error of more than one line"
                    return None, msg
                return _decode(_reply_format(t), payload)
        return None

    async def call(self, name, *fields):
        for _ in range(_TRIES):
            self.req += 1
            req = self.req
            self.transport.send(_request(name, req, *fields))
            for _ in range(_WAIT_MS // 5):
                await self._turn()
                got = self._answer(req)
                if got is not None:
                    return got
        return None, "no answer"

    def _data(self, sid, data):
        keep = []
        for p in self.packets:
            t, _, _, payload = _parse(p)
            if t != _T_DATA:
                if not t & P.REPLY and t != P.T_ERROR:
                    continue        # live effort events: not this sync's
                keep.append(p)
                continue
            (got, off), tail = _decode(_reply_format(_T_DATA), payload)
            if got == sid and off == len(data):
                data.extend(tail)
        self.packets = keep

    async def read(self, sid, size):
        data = bytearray()
        for _ in range(4 * (size // _CHUNK + 2)):
            fields, _ = await self.call("session_read", sid, len(data), _WINDOW, _CHUNK)
            if fields is None:
                continue
            idle = 0
            while len(data) < size and idle < 20:
                before = len(data)
                await self._turn()
                self._data(sid, data)
                if len(data) > before:
                    idle = 0
                    self.transport.send(_request("session_ack", 0, sid, len(data)))
                else:
                    idle += 1
            if len(data) == size:
                return bytes(data)
        return None

    async def sync(self):
        fields, tail = await self.call("session_list", 0)
        if fields is None:
            return
        entries = [struct.unpack_from(P.ENTRY, tail, i * _sessionsync.ENTRY_LEN)
                   for i in range(fields[0])]
        for e in entries:
            sid, size, flags = e[0], e[4], e[6]
            if flags & (P.FL_OPEN | P.FL_SYNCED):
                continue
            data = self.held.get(sid) or await self.read(sid, size)
            if data is None:
                continue
            self.held[sid] = data
            await self.call("session_confirm", sid, binascii.crc32(data) & 0xFFFFFFFF)
