"""The belt's own firmware, run in this process on the sim board, joined to the companion.

Only the board is simulated: the App, Storage, config, clock, protocol link (belt.link) and
command handler (belt.commands) are the firmware's. The belt's USB line is a test line
(tests/firmware/beltrig.Line); what the companion sends is framed with belt.framing and written to
it, and what the belt writes is deframed back into packets.

Two carriers:

  RealBelt   the client's transport in the same asyncio loop as the belt. The loop's clock is
             the sim board's virtual clock, so the client's timeouts run in the belt's time and a
             test never waits for the wall clock (run_belt).
  PtyBelt    the belt in its own thread and loop (virtual time paced at SPEED times real time),
             on the master side of a pseudo-terminal; the companion opens the slave as a serial
             port.

Fault injection lives here and only here: it is what a link does to packets (loses, delays,
reorders, damages, inserts them, goes silent, breaks), never what the belt decides. The belt's
answers, refusals, windows, CRCs and paging all come from the firmware.
"""
import asyncio
import os
import sys
import tempfile
import threading
import tty

from corecue.interp import ROOT, firmware_module

from beltsim import VirtualTimeLoop

firmware_module("belt.app")                 # puts firmware/ and the shims on sys.path
sys.path.insert(0, os.path.join(ROOT, "tests", "firmware"))
import beltrig  # noqa: E402
from belt import FIRMWARE_VERSION  # noqa: E402,F401
from belt import config as _config  # noqa: E402
from belt import framing  # noqa: E402
from belt import protocol as P  # noqa: E402
from belt.app import App  # noqa: E402
from belt.link import Link  # noqa: E402
from belt.sessionlog import SessionWriter  # noqa: E402
from belt.storage import Storage, file_crc  # noqa: E402
from boards.scenarios import Responsive  # noqa: E402
from boards.sim import Board  # noqa: E402

_T_DATA = P.type_of("data")


# -- a belt's flash with known sessions ----------------------------------------------------------

def new_folder():
    return tempfile.mkdtemp(prefix="corecue-realbelt-")


def write_sessions(folder, frames, remove=()):
    """Closed sessions written by the firmware's SessionWriter into the belt's sessions folder
    before it boots, one per entry of `frames` (its frame count); then the ids in `remove` are
    confirmed and removed through the firmware's Storage, as a synced session reclaimed. Returns
    {id: file bytes} of those left."""
    board = Board(folder, Responsive())          # mounts the flash; never started
    store = Storage(board.root + "/sessions")
    out = {}
    for n in frames:
        sid, path = store.new_session()
        w = SessionWriter(path, sid, 1000 * sid, 0, 0, 100, 2000, 3, (150, 200, 300))
        for i in range(n):
            w.add_frame(150 + (i * (7 + sid)) % 120, 1 if i % 500 == 0 else 0)
            if i % 97 == 0:
                w.add_event(7, i % 11)
        w.close(1000 * sid + n * 100)
        store.closed(sid)
        with open(path, "rb") as f:
            out[sid] = f.read()
    for sid in remove:
        assert store.confirm(sid, file_crc(store.find(sid))) == 0
        assert store.remove(sid) == 0
        del out[sid]
    return out


def write_config(folder, changes):
    """The belt's config with `changes` (field: value), saved on its flash through the
    firmware's own Config before it boots, as `corecue config set` would leave it."""
    board = Board(folder, Responsive())          # mounts the flash; never started
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    cfg.update(changes)
    cfg.save()


def boot(folder, line, speed=0, owned=False):
    """(board, app, link, log lines) of the belt on folder, `line` its USB port; speed as the
    sim board's (0: as fast as the host allows). owned: the USB link as main.py builds it, with
    ownership (a companion pairs over the line first); else the plain link under it, for the
    transport-neutral client's tests."""
    board = Board(folder, Responsive(), usb=line, speed=speed)
    lines = []
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = App(board, cfg, Storage(board.root + "/sessions"), lines.append)
    if owned:
        from belt import owners
        from belt.ownedlink import OwnedLink
        owner = owners.setup(app, board.root)
        return board, app, OwnedLink(app, owner, on_paired=owners.paired(app, "USB")), lines
    return board, app, Link(app), lines


class BeltLine(beltrig.Line):
    """The belt's USB line. `consumed(packet)` is called for every packet the belt has read off
    the line (so before it acts on it); `emitted(packet)` for every packet the belt wrote."""

    def __init__(self, consumed, emitted):
        super().__init__()
        self._in = framing.Deframer()
        self._out = framing.Deframer()
        self._consumed = consumed
        self._emitted = emitted

    async def readinto(self, buf):
        n = await super().readinto(buf)
        if n:
            self._in.feed(bytes(buf[:n]), lambda p: self._consumed(bytes(p)))
        return n

    def write(self, data):
        self._out.feed(bytes(data), lambda p: self._emitted(bytes(p)))


# -- what went over the link ---------------------------------------------------------------------

class Observer:
    """What the belt read and wrote: request names and ids in the order the belt read them,
    acks, and the most data chunks the belt ever had unacknowledged."""

    def __init__(self):
        self.requests = []          # (name, request id, fields)
        self.acks = []
        self.max_unacked = 0
        self._read = None           # [session, acked offset, chunk] of the belt's current read

    def consumed(self, pkt):
        try:
            t, _, rid, payload = P.parse(pkt)
            fmt = P.request_format(t)
            if fmt is None or pkt[1] & P.F_AUTH:
                # The handshake's own messages (belt.auth), or sealed: not read here.
                raise ValueError
            fields, _ = P.decode_fields(fmt, payload)
        except (P.ProtocolError, TypeError, ValueError):
            self.requests.append((None, pkt[2] | pkt[3] << 8 if len(pkt) >= 4 else 0, ()))
            return
        name = P.name_of(t)
        self.requests.append((name, rid, fields))
        if name == "session_read":
            self._read = [fields[0], fields[1], fields[3]]
        elif name == "session_ack":
            self.acks.append(fields[1])
            if self._read and fields[0] == self._read[0] and fields[1] > self._read[1]:
                self._read[1] = fields[1]

    def emitted(self, pkt):
        if pkt[0] == _T_DATA and self._read:
            (sid, off), data = P.decode_fields("<II*", P.parse(pkt)[3])
            if sid == self._read[0]:
                sid, acked, chunk = self._read
                n = -(-(off + len(data) - acked) // chunk)
                self.max_unacked = max(self.max_unacked, n)

    def names(self):
        return [r[0] for r in self.requests]


def data_offset(pkt):
    """The file offset of a data event, else None."""
    if pkt[0] != _T_DATA:
        return None
    return P.decode_fields("<II*", P.parse(pkt)[3])[0][1]


def is_reply(name):
    t = P.type_of(name) | P.REPLY
    return lambda pkt: pkt[0] == t


# -- in the same loop: the client's transport ----------------------------------------------------

class RealBelt:
    """A firmware belt on the sim board, and the client's transport to it (bind / send / close,
    as corecue.link.client expects). Packets cross unframed to the client, each in a later loop
    iteration, as over a radio link; on the belt's side they are framed on its USB line.

    Faults (all on the link):
      drop(pred, times)     lose packets from the belt matching pred (`times` of them, or all)
      hold(pred, until)     keep back packets from the belt matching pred; deliver them after the
                            next packet matching until, or at release()
      tamper(fn)            deliver fn(packet) instead of the packet (damage in transit)
      mute(*names)          requests of these names are lost on the way to the belt
      silent                when true, nothing from the belt arrives
      inject(pkt)           a packet arrives that the belt never sent
      send_raw(pkt)         a packet reaches the belt that the client never built
      cut(exc)              the link breaks: the client is told, the belt's line ends
    """

    def __init__(self, folder, sessions=(), remove=()):
        self.folder = str(folder)
        self.files = write_sessions(self.folder, sessions, remove) if sessions else {}
        self.seen = Observer()
        self.line = BeltLine(self.seen.consumed, self._from_belt)
        self.board, self.app, self.link, self.log = boot(self.folder, self.line)
        self.receiver = None
        self.sent = []
        self.silent = False
        self._drops = []
        self._holds = []
        self.held = []
        self._tamper = None
        self._muted = set()
        self._cut = False

    # faults
    def drop(self, pred, times=None):
        self._drops.append([pred, times])

    def hold(self, pred, until=None):
        self._holds.append((pred, until))

    def release(self):
        held, self.held = self.held, []
        for p in held:
            self._deliver(p)

    def tamper(self, fn):
        self._tamper = fn

    def mute(self, *names):
        self._muted = set(names)

    def inject(self, pkt):
        self._deliver(pkt)

    def send_raw(self, pkt):
        self.line.send(framing.encode(pkt))

    def cut(self, exc=None):
        self._cut = True
        self.line.close()
        self.loop.call_soon(self.receiver.connection_lost,
                            exc or OSError(5, "Input/output error"))

    # the transport
    def bind(self, receiver):
        self.receiver = receiver
        self.loop = asyncio.get_running_loop()

    async def send(self, pkt):
        if self._cut:
            raise OSError(5, "Input/output error")
        self.sent.append(pkt)
        if P.name_of(pkt[0]) in self._muted:
            return
        self.line.send(framing.encode(pkt))

    async def close(self):
        pass

    def _from_belt(self, pkt):
        self.seen.emitted(pkt)
        if self.silent or self._cut:
            return
        for d in self._drops:
            if d[1] != 0 and d[0](pkt):
                if d[1] is not None:
                    d[1] -= 1
                return
        for pred, _ in self._holds:
            if pred(pkt):
                self.held.append(pkt)
                return
        self._deliver(pkt)
        for _, until in self._holds:
            if until is not None and until(pkt):
                self.release()

    def _deliver(self, pkt):
        if self._tamper:
            pkt = self._tamper(pkt)
        self.loop.call_soon(self.receiver.packet_received, pkt)


class SimTimeLoop(VirtualTimeLoop):
    """An event loop whose clock is the sim board's: while the belt runs, time is its virtual
    time; once its world has ended, the loop's own virtual clock jumps to the next timer."""

    def __init__(self, board):
        self.board = board
        super().__init__()

    def time(self):
        return self.now + self.board.elapsed_ms / 1000


def run_belt(belt, body, limit_s=600):
    """Boot the belt, run `await body()` on the board's virtual clock (failing after limit_s
    virtual seconds), stop the belt. Returns what body returned."""
    async def main():
        tasks = belt.app.start(belt.link.tasks())
        try:
            return await asyncio.wait_for(body(), limit_s)
        finally:
            for t in tasks:
                t.cancel()
            belt.board.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
    loop = SimTimeLoop(belt.board)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


# -- in its own thread: a pseudo-terminal --------------------------------------------------------

SPEED = 20      # virtual ms per real ms for a belt behind a pseudo-terminal


class PtyBelt:
    """A firmware belt on the sim board in its own thread, on the master side of a
    pseudo-terminal; .port is the slave for the companion. `noise` is written before every
    packet from the belt (REPL text, garbage, a damaged frame); with `silent` true nothing from
    the belt reaches the port. `setup(belt)` runs in the belt's loop before anything is read
    from the port."""

    def __init__(self, sessions=(), noise=b"", speed=SPEED, owned=False):
        self.folder = new_folder()
        self.files = write_sessions(self.folder, sessions) if sessions else {}
        self.noise = noise
        self.silent = False
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave                 # held open, so the line stays up between opens
        self.seen = Observer()
        self.line = BeltLine(self.seen.consumed, self._from_belt)
        self.board, self.app, self.link, self.log = boot(self.folder, self.line, speed, owned)
        self._ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("the belt did not start")
        if self._error:
            raise self._error

    def _from_belt(self, pkt):
        self.seen.emitted(pkt)
        if not self.silent:
            os.write(self.master, self.noise + framing.encode(pkt))

    def _readable(self):
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return
        self.line.send(data)

    def _serve(self):
        async def main():
            self.loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                tasks = self.app.start(self.link.tasks())
            except Exception as e:      # reported to the test's thread
                self._error = e
                self._ready.set()
                return
            self.loop.add_reader(self.master, self._readable)
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                self.loop.remove_reader(self.master)
                for t in tasks:
                    t.cancel()
                self.board.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.run(main())

    def close(self):
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        os.close(self.master)
        os.close(self._slave)
        beltrig.clear_dir(self.folder)
        os.rmdir(self.folder)
