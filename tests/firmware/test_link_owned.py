# The USB link with ownership on (belt.ownedlink), end to end on the sim board: framed
# bytes in and out of the board's USB line. A stranger on the line is refused; the owner pairs
# over the cable (possession), then its requests, the replies, the live effort of every frame
# and the session data all travel sealed, and a recorded request played again is refused.
from fwtest import IS_MPY, allocated, eq, record

import beltrig as rig
from belt import auth as A
from belt import framing
from belt import protocol as P
from belt.channel import Channel
from belt.keystore import KeyStore
from belt.ownedlink import OwnedLink
from belt.x25519 import public_key, shared_secret

HOST = b"\x24" * 8
_EFFORT = 0x41
_DATA = 0x42


class Owner:
    """The companion's end of the USB line, speaking ownership by hand."""

    def __init__(self, line, device_id):
        self.line = line
        self.device_id = device_id
        self.host = rig.Host(line)
        self.channel = None
        self.inbox = []

    def send(self, pkt):
        self.line.send(framing.encode(self.channel.seal(pkt) if self.channel else pkt))

    def drain(self):
        """Open what arrived, in order (each counter once), into the inbox; return the inbox."""
        for p in self.host.poll():
            eq(bool(p[1] & P.F_AUTH), self.channel is not None, "sealed once authenticated")
            self.inbox.append(self.channel.open(p) if self.channel else p)
        self.host.packets = []
        return self.inbox

    def take(self, t):
        got = [p for p in self.drain() if p[0] == t]
        self.inbox = [p for p in self.inbox if p[0] != t]
        return got

    async def call(self, board, pkt):
        """Send pkt, return its answer."""
        req = pkt[2] | pkt[3] << 8
        self.send(pkt)
        got = []

        def arrived():
            for q in self.drain():
                if q[0] != _EFFORT and q[0] != _DATA and (q[2] | q[3] << 8) == req:
                    got.append(q)
            return bool(got)
        await rig.until(board, arrived, 2000)
        self.inbox.remove(got[0])
        return got[0]

    async def pair(self, board):
        priv = bytes(range(7, 39))
        pub = public_key(priv)
        belt_pub = P.parse(await self.call(board, P.packet(A.T_PAIR, 1, HOST + pub)))[3]
        key = A.pair_key(shared_secret(priv, belt_pub), self.device_id, HOST, pub, belt_pub)
        nonce = b"\x11" * 16
        reply = P.parse(await self.call(board, P.packet(A.T_AUTH, 2, HOST + nonce)))[3]
        belt_nonce, belt_proof = reply[:16], reply[16:]
        mine, proof = A.proofs(key, self.device_id, HOST, nonce, belt_nonce)
        eq(belt_proof, mine, "the belt proved it holds the key")
        self.channel = Channel(A.session_keys(key, self.device_id, HOST, nonce, belt_nonce),
                               belt=False)
        pkt = P.packet(A.T_AUTH_PROOF, 3, proof)
        self.line.send(framing.encode(pkt))             # the handshake's last request: plain
        await rig.until(board, lambda: self.drain(), 2000)
        eq(self.inbox.pop(0)[0], A.T_AUTH_PROOF | P.REPLY, "authenticated")


def _sink(data, n=None):
    pass


def test_usb_link_with_ownership():
    d = rig.fresh("linkowned")
    line = rig.Line()
    board, app, log = rig.boot(d, line=line)
    owner = A.Owner(KeyStore(board.root + "/keys"), board.device_id())
    paired = []
    link = OwnedLink(app, owner, on_paired=paired.append)
    me = Owner(line, board.device_id())
    counts = {}

    def one_frame():
        link.out._on_frame(200, 0)
        link._send_live()

    async def body():
        sid = rig.reply(link.commands.handle(P.request("session_start", 1)))[2][0]
        await rig.advance(board, 3000)
        link.commands.handle(P.request("session_stop", 2))
        await rig.advance(board, 200)
        # A stranger on the line: hello yes, anything else no.
        eq(rig.reply(await me.call(board, P.request("hello", 4, P.VERSION, 1)))[0], 0x81, "hello")
        got = rig.reply(await me.call(board, P.request("session_confirm", 5, sid,
                                                       app.store.crc(sid))))
        eq((got[0], got[2]), ("ERROR", P.E_AUTH), "confirm refused")
        eq(app.store.list()[0][2], False, "still unsynced")
        await me.pair(board)
        eq(paired, [HOST], "paired over the cable")
        status = P.request("status", 6)
        eq(rig.reply(await me.call(board, status))[0], 0x82, "status, sealed both ways")
        # Live effort: every frame sealed, each opens with the next counter.
        await me.call(board, P.request("live", 7, 1))
        await rig.advance(board, 1000)
        if IS_MPY:
            # The live path's cost per frame: queue, pack, seal, frame and hand to the board
            # (its own write is the board's: a sink here).
            usb_write = board.usb_write
            board.usb_write = _sink
            one_frame()
            eq(allocated(one_frame), 0, "bytes allocated per live frame on USB")
            board.usb_write = usb_write
        await me.call(board, P.request("live", 8, 0))
        await rig.advance(board, 300)
        efforts = [P.decode_fields("<IhBBH", q[6:])[0][0] for q in me.take(_EFFORT)]
        eq(len(efforts) >= 9, True, "a second of frames: %d" % len(efforts))
        eq(efforts, list(range(efforts[0], efforts[0] + len(efforts))), "every frame, in order")
        # A session download, sealed, byte for byte the file.
        with open(app.store.find(sid), "rb") as f:
            want = f.read()
        size = rig.reply(await me.call(board, P.request("session_read", 9, sid, 0, 64, 200)))[2][1]
        data = bytearray()

        def all_in():
            for q in me.take(_DATA):
                data.extend(q[6 + 8:])
            return len(data) >= size
        await rig.until(board, all_in, 5000)
        eq(bytes(data), want, "the session, decrypted")
        got = await me.call(board, P.request("session_confirm", 10, sid, app.store.crc(sid)))
        eq(got[0], P.type_of("session_confirm") | P.REPLY, "the owner confirms")
        # The same sealed packet again: refused, nothing done.
        sealed = me.channel.seal(P.request("session_start", 11))
        me.channel.sent -= 1
        line.send(framing.encode(sealed))
        await rig.advance(board, 200)
        line.send(framing.encode(sealed))
        await rig.until(board, lambda: len(me.drain()) >= 2, 2000)
        got = [rig.reply(q) for q in me.inbox]
        eq(got[0][0], P.type_of("session_start") | P.REPLY, "taken once")
        eq((got[1][0], got[1][2]), ("ERROR", P.E_AUTH), "replay refused")
        counts["efforts"] = len(efforts) > 0
        app.stop_session()
        # The next companion on the cable: its plain HELLO starts afresh (a cable has no
        # connect event), and the last one's channel is gone with its session.
        old, me.channel = me.channel, None
        me.inbox = []
        eq(rig.reply(await me.call(board, P.request("hello", 12, P.VERSION, P.VERSION)))[0],
           0x81, "a new companion's hello")
        line.send(framing.encode(old.seal(P.request("status", 13))))
        await rig.until(board, lambda: me.drain(), 2000)
        got = rig.reply(me.inbox.pop(0))
        eq((got[0], got[2]), ("ERROR", P.E_AUTH), "the old channel refused, plainly")
    rig.run(board, app, body, link.tasks())
    eq(app.store.list()[0][2], True, "synced by its owner")
    record("usb_owned", counts["efforts"])
