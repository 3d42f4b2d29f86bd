# A belt on the sim board for the protocol tests: real App, Storage (LittleFS on MicroPython, a
# folder under CPython), config and clock, a person who follows the belt, and a USB line that the
# test writes to and reads from. Everything runs in the sim's virtual time: a test waits for
# virtual milliseconds or for a condition, never for the wall clock.
import os

import asyncio
from flashsim import clear_dir
from fwtest import SCRATCH

from belt import config as _config
from belt import framing
from belt import protocol as P
from belt.app import App
from belt.storage import Storage
from boards.scenarios import Responsive
from boards.sim import Board

_TMP = SCRATCH + "-proto"


def fresh(name):
    """An empty folder for a new virtual belt."""
    d = _TMP + "-" + name
    try:
        os.mkdir(d)
    except OSError:
        pass
    clear_dir(d)
    return d


class Line:
    """The USB line as the belt's board sees it: bytes the test sends, bytes the belt wrote."""

    def __init__(self):
        self._chunks = []
        self._ev = asyncio.Event()
        self.eof = False
        self.out = bytearray()

    def send(self, data):
        self._chunks.append(bytes(data))
        self._ev.set()

    def close(self):
        self.eof = True
        self._ev.set()

    async def readinto(self, buf):
        while not self._chunks:
            if self.eof:
                return 0
            self._ev.clear()
            await self._ev.wait()
        c = self._chunks[0]
        n = min(len(c), len(buf))
        buf[:n] = c[:n]
        if n < len(c):
            self._chunks[0] = c[n:]
        else:
            self._chunks.pop(0)
        return n

    def write(self, data):
        self.out.extend(data)


def boot(d, person=None, line=None):
    """(board, app, log lines) of a belt booted on folder d."""
    board = Board(d, person or Responsive(), usb=line)
    lines = []
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = App(board, cfg, Storage(board.root + "/sessions"), lines.append)
    return board, app, lines


def run(board, app, body, extra=()):
    """Start the app's tasks (and extra ones), run `await body()`, stop everything."""
    async def main():
        tasks = app.start(extra)
        try:
            await body()
        finally:
            for t in tasks:
                t.cancel()
            board.stop()
    asyncio.run(main())


async def advance(board, ms):
    """Let ms of virtual time pass."""
    until = board.elapsed_ms + ms
    while board.elapsed_ms < until and not board.finished():
        await asyncio.sleep(0)


async def until(board, cond, within_ms=5000):
    """Run until cond() holds; fails after within_ms of virtual time."""
    limit = board.elapsed_ms + within_ms
    while not cond():
        if board.elapsed_ms > limit:
            raise AssertionError("not within %d ms of virtual time" % within_ms)
        await asyncio.sleep(0)


async def calibrate(board, cmd, evaluated=None):
    """The companion's calibration routine over the protocol: rest 10 s, three 5 s braces with
    5 s pauses, evaluate (its reply fields and tail appended to `evaluated`, a list), commit.
    Returns the commit's reply fields and tail."""
    def do(op, phase):
        return reply(cmd.handle(P.request("calibrate", 1, op, phase)))
    do(P.CAL_BEGIN, 0)
    await advance(board, 10000)
    for _ in range(3):
        do(P.CAL_BEGIN, 1)
        await advance(board, 5000)
        do(P.CAL_BEGIN, 2)
        await advance(board, 5000)
    if evaluated is not None:
        evaluated.append(do(P.CAL_EVALUATE, 0)[2:])
    return do(P.CAL_COMMIT, 0)[2:]


def reply(pkt):
    """(type, request id, fields, tail) of a reply, or ("ERROR", request id, code, message)."""
    t, _, req, payload = P.parse(pkt)
    if t == P.T_ERROR:
        return "ERROR", req, payload[0], bytes(payload[1:]).decode()
    fields, tail = P.decode_fields(P.reply_format(t), payload)
    return t, req, fields, tail


def state(app, commands=None):
    """Everything a refused request must leave as it was."""
    s = app.store
    cal = app.calibrator
    files = []
    for sid, size, synced, crc in s.list(crcs=True):
        files.append((sid, size, synced, crc))
    st = (app.config.as_dict(), files, s.next_id(), app.calibrating, cal.phase, cal.active,
          cal._trials, app.calibration(), app.writer is not None, app.session_id,
          app.flow.state, app.player.pid, app.clock.boot_id, list(app.clock.anchors),
          app.config.dumps())
    if commands is not None:
        dl = commands.download
        st += (commands.live, dl.active, dl.sid, dl.sent, dl.acked, commands.after)
    return st


class Host:
    """The companion's end of the line: frames requests, deframes what the belt sent."""

    def __init__(self, line):
        self.line = line
        self.deframer = framing.Deframer()
        self.packets = []
        self._seen = 0
        self.req = 0

    def send(self, name, *fields, tail=b"", noise=b""):
        self.req += 1
        self.line.send(noise + framing.encode(P.request(name, self.req, *fields, tail=tail)))
        return self.req

    def poll(self):
        out = self.line.out
        if self._seen < len(out):
            self.deframer.feed(bytes(out[self._seen:]), lambda p: self.packets.append(bytes(p)))
            self._seen = len(out)
        return self.packets

    def take(self, t):
        """Remove and return the received packets of type t."""
        self.poll()
        got = [p for p in self.packets if p[0] == t]
        self.packets = [p for p in self.packets if p[0] != t]
        return got

    def answer(self, req):
        """The reply (or ERROR) to request req, if it has arrived."""
        for p in self.poll():
            if p[2] | p[3] << 8 == req and (p[0] & P.REPLY or p[0] == P.T_ERROR):
                self.packets.remove(p)
                return reply(p)
        return None

    async def call(self, board, name, *fields, tail=b"", within_ms=2000):
        req = self.send(name, *fields, tail=tail)
        got = []

        def arrived():
            r = self.answer(req)
            if r is not None:
                got.append(r)
            return bool(got)
        await until(board, arrived, within_ms)
        return got[0]
