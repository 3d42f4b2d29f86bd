# The Bluetooth LE link with ownership on, as main.py builds it (belt.owners, BleLink with the
# Owner), on the stand-in radio of test_blelink: pairing only inside the wearer's window, the
# owner's requests and what the belt volunteers sealed, a stranger's connection replaced by a
# second central and dropped after 5 s, a second central refused while the owner is served,
# and a live effort event sealed every frame without allocating.
import beltrig as rig
from fwtest import IS_MPY, allocated, eq, record
from test_blelink import Radio, _uuid
from belt import auth as A
from belt import button
from belt import haptics
from belt import owners
from belt import protocol as P
from belt.blelink import BleLink
from belt.channel import Channel
from belt.x25519 import public_key, shared_secret

HOST = b"\x42" * 8
_EFFORT = 0x41


class OwnedRadio(Radio):
    """The stand-in radio, recording disconnects and whether it advertises."""

    def __init__(self):
        super().__init__()
        self.dropped = []
        self.advertising = False

    def gap_advertise(self, interval, adv_data=None, resp_data=None):
        self.adverts += 1
        self.advertising = interval is not None

    def gap_disconnect(self, conn):
        self.dropped.append(conn)
        return True

    def gatts_notify(self, conn, handle, data=None):
        if conn != self.conn:
            raise OSError(107)
        self.notified.append((conn, handle, bytes(data)))

    def connect(self, conn):
        self.advertising = False            # NimBLE stops advertising on a connection
        super().connect(conn)


def _setup(name):
    d = rig.fresh(name)
    board, app, _ = rig.boot(d)
    owner = owners.setup(app, board.root)
    paired = []
    radio = OwnedRadio()
    link = BleLink(app, radio, _uuid, owner=owner, on_paired=paired.append)
    return board, app, owner, link, radio, paired


class Central:
    """The companion's end over one connection, speaking ownership by hand."""

    def __init__(self, board, link, radio, conn):
        self.board, self.link, self.radio, self.conn = board, link, radio, conn
        self.channel = None
        self.seen = 0
        self.rid = 0
        radio.connect(conn)
        link._irq(21, (conn, 247))          # the MTU exchange

    def packets(self):
        got = [v for c, h, v in self.radio.notified[self.seen:] if c == self.conn]
        self.seen = len(self.radio.notified)
        return got

    async def call(self, pkt, seal=True):
        rid = pkt[2] | pkt[3] << 8
        self.radio.write(self.conn, self.channel.seal(pkt) if self.channel and seal else pkt)
        found = []

        def answered():
            for p in self.packets():
                if self.channel is not None and p[1] & P.F_AUTH:
                    p = self.channel.open(p)
                if (p[2] | p[3] << 8) == rid and p[0] != _EFFORT:
                    found.append(p)
            return bool(found)
        await rig.until(self.board, answered, 2000)
        return found[0]

    def next(self):
        self.rid += 1
        return self.rid

    async def pair(self, device):
        priv = bytes(range(3, 35))
        pub = public_key(priv)
        got = await self.call(P.packet(A.T_PAIR, self.next(), HOST + pub))
        if got[0] == P.T_ERROR:
            return got
        belt_pub = P.parse(got)[3]
        self.key = A.pair_key(shared_secret(priv, belt_pub), device, HOST, pub, belt_pub)
        return await self.authenticate(device)

    async def authenticate(self, device):
        nonce = b"\x07" * 16
        got = P.parse(await self.call(P.packet(A.T_AUTH, self.next(), HOST + nonce)))[3]
        mine, proof = A.proofs(self.key, device, HOST, nonce, got[:16])
        eq(got[16:], mine, "the belt proved it holds the key")
        self.channel = Channel(A.session_keys(self.key, device, HOST, nonce, got[:16]),
                               belt=False)
        return await self.call(P.packet(A.T_AUTH_PROOF, self.next(), proof), seal=False)


def test_pairing_over_bluetooth_needs_the_wearers_long_press():
    board, app, owner, link, radio, paired = _setup("bleownpair")
    device = board.device_id()

    async def body():
        c = Central(board, link, radio, 1)
        got = rig.reply(await c.pair(device))
        eq((got[0], got[2]), ("ERROR", P.E_AUTH), "no pairing outside the window")
        eq("buzzes twice" in got[3], True, "says what to do: " + got[3])
        eq(rig.reply(await c.call(P.request("status", c.next())))[2], P.E_AUTH, "nor status")
        app.press(button.LONG)                                  # the wearer, while idle
        eq(owner.window_open(board.ticks_ms()), True, "the window is open")
        eq(app.player.pid, haptics.PAIRING, "and the belt buzzes twice")
        got = await c.pair(device)
        eq(got[0], A.T_AUTH_PROOF | P.REPLY, "paired and authenticated")
        eq((paired, owner.window_open(board.ticks_ms())), ([HOST], False), "the window closed")
        st = await c.call(P.request("status", c.next()))
        eq(st[0], P.type_of("status") | P.REPLY, "status, sealed both ways")
        eq(radio.advertising, False, "served alone: no longer advertising")
    rig.run(board, app, body, link.tasks())
    eq(owner.keys.hosts(), [HOST], "the key kept in /keys")


def test_a_strangers_connection_does_not_lock_the_owner_out():
    board, app, owner, link, radio, paired = _setup("bleownlock")
    device = board.device_id()

    async def body():
        app.press(button.LONG)
        owner_end = Central(board, link, radio, 1)
        await owner_end.pair(device)
        radio.conn = None
        link._irq(2, (1, 0, memoryview(bytes(6))))              # the owner goes
        await rig.advance(board, 100)
        eq(radio.advertising, True, "advertising again")
        stranger = Central(board, link, radio, 2)
        await rig.advance(board, 100)
        eq((link.conn, radio.advertising), (2, True), "a stranger connected: still advertising")
        back = Central(board, link, radio, 3)                   # the owner, meanwhile
        await rig.advance(board, 100)
        eq((link.conn, radio.dropped), (3, [2]), "the unauthenticated stranger made way")
        back.key = owner_end.key
        eq((await back.authenticate(device))[0], A.T_AUTH_PROOF | P.REPLY, "the owner is in")
        eq(radio.advertising, False, "and served alone")
        Central(board, link, radio, 4)                          # anyone else: refused
        await rig.advance(board, 100)
        eq((link.conn, radio.dropped), (3, [2, 4]), "a second central while the owner is served")
        radio.conn = 3
        # An idle stranger is dropped after 5 s.
        radio.conn = None
        link._irq(2, (3, 0, memoryview(bytes(6))))
        await rig.advance(board, 100)
        Central(board, link, radio, 5)
        await rig.advance(board, 4000)
        eq(radio.dropped, [2, 4], "not before 5 s")
        await rig.advance(board, 1600)
        eq(radio.dropped, [2, 4, 5], "dropped after 5 s without authenticating")
        record("ble_owned_dropped", len(radio.dropped))
    rig.run(board, app, body, link.tasks())


def test_live_effort_goes_sealed_every_frame_without_allocating():
    board, app, owner, link, radio, paired = _setup("bleownlive")
    device = board.device_id()
    sizes = []

    async def body():
        app.press(button.LONG)
        c = Central(board, link, radio, 1)
        await c.pair(device)
        await c.call(P.request("live", c.next(), 1))
        await rig.advance(board, 1000)
        frames = []
        for p in c.packets():
            if p[0] == _EFFORT:
                sizes.append(len(p))
                frames.append(P.decode_fields("<IhBBH", c.channel.open(p)[6:])[0][0])
        eq(len(frames) >= 9, True, "a second of frames: %d" % len(frames))
        eq(frames, list(range(frames[0], frames[0] + len(frames))), "every frame, opened")
        if IS_MPY:
            out = link.out

            def one_frame():
                out._on_frame(200, 0)
                link._next()
            one_frame()
            eq(allocated(one_frame), 0, "bytes allocated to queue, pack and seal one frame")
        await c.call(P.request("live", c.next(), 0))
    rig.run(board, app, body, link.tasks())
    eq(set(sizes), {P.HEADER_LEN + 10 + P.AUTH_LEN}, "each effort event sealed: 28 bytes")


def test_a_recorded_pairing_and_session_played_again_gets_nothing():
    # A passive listener records everything of a pairing and a session over the air; then it
    # connects and plays every packet the owner wrote, in order. The belt's nonce is new on
    # every connection, so the recorded proof does not fit; nothing after it is served; and the
    # pairing key is in none of the recorded bytes.
    board, app, owner, link, radio, paired = _setup("bleownrec")
    device = board.device_id()
    written = []

    async def body():
        app.press(button.LONG)
        c = Central(board, link, radio, 1)
        write = radio.write

        def recording(conn, data):
            written.append(bytes(data))
            write(conn, data)
        radio.write = recording
        await c.pair(device)
        await c.call(P.request("session_start", c.next()))
        await c.call(P.request("session_stop", c.next()))
        radio.write = write
        heard = [v for _, _, v in radio.notified] + written
        eq(any(c.key in v for v in heard), False, "the key is not on the air")
        sessions = len(app.store.list())
        radio.conn = None
        link._irq(2, (1, 0, memoryview(bytes(6))))
        await rig.advance(board, 100)
        thief = Central(board, link, radio, 2)
        answers = []
        for pkt in written:
            answers.append(await thief.call(pkt, seal=False))
        kinds = [(rig.reply(a)[0], rig.reply(a)[2]) if a[0] == P.T_ERROR else (a[0], None)
                 for a in answers]
        eq(kinds[0], ("ERROR", P.E_AUTH), "pair: the window has closed")
        eq(kinds[1][0], A.T_AUTH | P.REPLY, "auth: answered, with a new nonce")
        eq(kinds[2], ("ERROR", P.E_AUTH), "the recorded proof refused")
        eq(kinds[3:], [("ERROR", P.E_AUTH)] * (len(kinds) - 3), "nothing sealed served")
        eq(len(app.store.list()), sessions, "no session started")
        eq(owner.keys.hosts(), [HOST], "one owner")
        record("ble_replayed", len(written))
    rig.run(board, app, body, link.tasks())
