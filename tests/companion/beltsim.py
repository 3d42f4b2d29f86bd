"""Test doubles for the companion's client: an asyncio loop on a virtual clock, a belt that
answers the protocol (built with the firmware's belt.protocol) from memory, and two carriers for
it: in memory (no framing, as over Bluetooth LE) and a real pseudo-terminal with belt.framing."""
import asyncio
import json
import os
import selectors
import threading
import tty
import zlib

from corecue.interp import firmware_module

P = firmware_module("belt.protocol")
framing = firmware_module("belt.framing")


# -- virtual time ------------------------------------------------------------------------------

class _Selector:
    """Never sleeps: when nothing is ready, advances the loop's virtual clock to the next timer.
    With nothing ready and no timer the test would hang for ever: that is an error instead."""

    def __init__(self, loop):
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout=None):
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("deadlock: nothing to do and no timer pending")
        self._loop.now += timeout
        return []

    def __getattr__(self, name):
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        self.now = 0.0
        super().__init__(_Selector(self))

    def time(self):
        return self.now


def run_virtual(coro):
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


# -- a belt in memory --------------------------------------------------------------------------

class FakeBelt:
    """Answers requests like a belt would. Knobs: mute (request names it never answers),
    lose (data offsets dropped once), page (sessions per session_list reply), hello fields."""

    def __init__(self, sessions=None, page=4):
        self.version = P.VERSION
        self.oldest_companion = P.VERSION
        self.max_payload = P.MAX_PAYLOAD
        self.config = {"target_pm": 200, "low_pm": 150, "high_pm": 300}
        self.sessions = {sid: bytes(d) for sid, d in (sessions or {}).items()}
        self.synced = set()
        self.open_id = None
        self.wrong_crc = set()        # ids whose list entry carries a wrong CRC
        self.page = page
        self.mute = set()
        self.lose = set()
        self.live = False
        self.read = None              # [sid, next offset, acked offset, window, chunk]
        self.max_unacked = 0          # the most chunks ever in flight
        self.acks = []
        self.requests = []            # names, in order received
        self.out = None               # set by the carrier: out(packet)

    def entry(self, sid):
        d = self.sessions[sid]
        crc = zlib.crc32(d) & 0xFFFFFFFF
        if sid in self.wrong_crc:
            crc ^= 1
        flags = (P.FL_SYNCED if sid in self.synced else 0) | (P.FL_OPEN if sid == self.open_id
                                                               else 0)
        return P.encode_fields(P.ENTRY, (sid, 1000 * sid, 0, 60000, len(d), crc, flags, 1))

    def receive(self, pkt):
        try:
            t, _, rid, payload = P.parse(pkt)
        except P.ProtocolError:
            return self.out(P.error(0, P.E_MALFORMED, "bad packet"))
        name = P.name_of(t)
        self.requests.append(name)
        if name in self.mute:
            return
        try:
            fields, tail = P.decode_fields(P.request_format(t), payload)
        except P.ProtocolError as e:
            return self.out(P.error(rid, P.E_MALFORMED, e.message))
        getattr(self, "_" + name)(rid, fields, tail)

    def reply(self, name, rid, *fields, tail=b""):
        self.out(P.reply(name, rid, *fields, tail=tail))

    def _hello(self, rid, f, tail):
        if f[0] < self.oldest_companion:
            return self.out(P.error(rid, P.E_VERSION, "companion protocol %d, belt serves %d+"
                                    % (f[0], self.oldest_companion)))
        self.reply("hello", rid, self.version, self.oldest_companion, P.CAP_USB | P.CAP_LIVE,
                   bytes(range(1, 9)), self.max_payload, tail=b"0.1.0-fake")

    def _status(self, rid, f, tail):
        self.reply("status", rid, 0, 0, 3900, 1000, 900000, 12, 0, 0, 0, 0, 1, 0,
                   1 if self.live else 0, self.open_id or 0)

    def _config_get(self, rid, f, tail):
        self.reply("config_get", rid, tail=json.dumps(self.config).encode())

    def _config_set(self, rid, f, tail):
        changes = json.loads(tail)
        for k, v in changes.items():
            if k not in self.config:
                return self.out(P.error(rid, P.E_INVALID, "%s: unknown setting" % k))
            if not 0 <= v <= 1000:
                return self.out(P.error(rid, P.E_INVALID, "%s: %d above maximum 1000" % (k, v)))
        self.config.update(changes)
        self.reply("config_set", rid, tail=json.dumps(self.config).encode())

    def _live(self, rid, f, tail):
        self.live = bool(f[0])
        self.reply("live", rid)

    def _session_list(self, rid, f, tail):
        ids = sorted(s for s in self.sessions if s >= f[0])[:self.page]
        self.reply("session_list", rid, len(ids), tail=b"".join(self.entry(s) for s in ids))

    def _session_read(self, rid, f, tail):
        sid, offset, window, chunk = f
        if sid not in self.sessions:
            return self.out(P.error(rid, P.E_NOT_FOUND, "no session %d" % sid))
        self.reply("session_read", rid, sid, len(self.sessions[sid]))
        self.read = [sid, offset, offset, window, chunk]
        self._pump()

    def _session_ack(self, rid, f, tail):
        self.acks.append(f[1])
        if self.read and f[0] == self.read[0] and f[1] > self.read[2]:
            self.read[2] = f[1]
            self._pump()

    def _pump(self):
        sid, at, acked, window, chunk = self.read
        data = self.sessions[sid]
        while at < len(data) and at - acked < window * chunk:
            self.max_unacked = max(self.max_unacked, -(-(at + chunk - acked) // chunk))
            piece = data[at:at + chunk]
            if at in self.lose:
                self.lose.discard(at)
            else:
                self.out(P.event("data", sid, at, tail=piece))
            at += len(piece)
        self.read[1] = at

    def _session_confirm(self, rid, f, tail):
        sid, crc = f
        if sid not in self.sessions:
            return self.out(P.error(rid, P.E_NOT_FOUND, "no session %d" % sid))
        if sid == self.open_id:
            return self.out(P.error(rid, P.E_STATE, "session is open"))
        if crc != zlib.crc32(self.sessions[sid]) & 0xFFFFFFFF:
            return self.out(P.error(rid, P.E_CRC, "crc mismatch"))
        self.synced.add(sid)
        self.reply("session_confirm", rid)

    def _session_start(self, rid, f, tail):
        sid = max(self.sessions, default=0) + 1
        self.sessions[sid] = b""
        self.open_id = sid
        self.reply("session_start", rid, sid)

    def _session_stop(self, rid, f, tail):
        sid, self.open_id = self.open_id, None
        self.reply("session_stop", rid, sid or 0)

    def effort(self, frame, pm):
        self.out(P.event("effort", frame, pm, 0, 3, pm * 4))


class MemoryTransport:
    """The client's end of an in-memory link to a FakeBelt: packets unframed, each delivered in
    a later loop iteration, as a radio link would."""

    def __init__(self, belt):
        self.belt = belt
        self.receiver = None
        self.sent = []
        belt.out = self._from_belt

    def bind(self, receiver):
        self.receiver = receiver
        self.loop = asyncio.get_running_loop()

    def _from_belt(self, pkt):
        self.loop.call_soon(self.receiver.packet_received, pkt)

    async def send(self, pkt):
        self.sent.append(pkt)
        self.loop.call_soon(self.belt.receive, pkt)

    async def close(self):
        pass


class PtyBelt:
    """A FakeBelt on the master side of a pseudo-terminal, framed with belt.framing, in its own
    thread; `noise` is written before every reply (REPL text, garbage, a damaged frame)."""

    def __init__(self, belt=None, noise=b""):
        self.belt = belt or FakeBelt()
        self.noise = noise
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave                 # held open, so the line stays up between opens
        self.deframer = framing.Deframer()
        self.belt.out = self._write
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _write(self, pkt):
        os.write(self.master, self.noise + framing.encode(pkt))

    def _serve(self):
        import select
        while not self._stop:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            pkts = []
            self.deframer.feed(data, lambda p: pkts.append(bytes(p)))
            for p in pkts:
                self.belt.receive(p)

    def close(self):
        self._stop = True
        self._thread.join(2)
        os.close(self.master)
        os.close(self._slave)
