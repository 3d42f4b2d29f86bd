# The protocol link over a byte stream: bytes from the board's USB serial line go through the
# deframer to the command handler (belt.commands); replies, live effort frames and session data
# go back framed (belt.framing). The board owns the stream (board.usb_read / board.usb_write), so
# the same link runs on the ESP32's USB CDC port, on the sim board's stdin/stdout and in tests.
#
# Two tasks, both under the app's guard:
#   rx  reads what has arrived, answers each request at once;
#   tx  sends what the belt volunteers: effort events (queued by a frame listener, which only
#       copies five numbers into a ring, so the signal chain never waits for the USB line) and
#       session data chunks, as far as the companion's window allows, one chunk per turn of the
#       scheduler so sampling and coaching keep running during a download.
# The chunk and its frame are built in buffers allocated once.
import struct
from array import array

import asyncio
from micropython import const

from belt import framing
from belt import protocol as P
from belt.commands import Commands
from belt.sessionsync import CHUNK_MAX

_RX_BUF = const(256)
_RING = const(16)           # effort frames waiting for the sender (1.6 s)
_AFTER_MS = const(50)       # lets a reply leave the USB buffer before a reboot
# The two events the link packs in place, by the protocol's table (belt.protocol.packet's
# header, then the event's fields).
_HEADER = "<BBHH"
_T_EFFORT = P.type_of("effort")
_T_DATA = P.type_of("data")
_EFFORT = P.reply_format(_T_EFFORT)
_DATA = P.reply_format(_T_DATA)[:-1]            # then the file's bytes
_EFFORT_LEN = P.HEADER_LEN + struct.calcsize(_EFFORT)
_DATA_HEAD = P.HEADER_LEN + struct.calcsize(_DATA)


class Link:
    def __init__(self, app, commands=None):
        self.app = app
        self.board = app.board
        self.commands = commands or Commands(app)
        self.deframer = framing.Deframer()
        self._rx = bytearray(_RX_BUF)
        self._wake = app.board.flag()
        self._pkt = bytearray(_DATA_HEAD + CHUNK_MAX)
        self._wire = bytearray(framing.wire_size(_DATA_HEAD + CHUNK_MAX))
        self._epkt = bytearray(_EFFORT_LEN)
        self._ewire = bytearray(framing.wire_size(_EFFORT_LEN))
        self._frame = array("i", [0] * _RING)
        self._effort = array("h", [0] * _RING)
        self._quality = bytearray(_RING)
        self._state = bytearray(_RING)
        self._level = array("H", [0] * _RING)
        self._head = 0
        self._queued = 0
        self.live_dropped = 0       # effort frames the sender could not keep up with
        self.closed = False         # the host has gone (end of the byte stream)
        app.listeners.append(self._on_frame)

    def tasks(self):
        """(name, coroutine function) pairs for App.start(extra=...)."""
        return (("link-rx", self.rx), ("link-tx", self.tx))

    # -- receiving -------------------------------------------------------------------------------

    async def rx(self):
        buf = self._rx
        mv = memoryview(buf)
        while True:
            n = await self.board.usb_read(buf)
            if not n:
                # The host has gone; what that means is the board's business (the sim ends).
                self.closed = True
                await asyncio.Event().wait()
            self.deframer.feed(mv[:n], self._on_packet)
            after = self.commands.after
            if after is not None:           # reboot: the reply is out, nothing more is read
                self.commands.after = None
                await self.board.sleep_ms(_AFTER_MS)
                after()
                await asyncio.Event().wait()

    def _on_packet(self, pkt):
        reply = self.commands.handle(pkt)
        if reply is not None:
            self.board.usb_write(framing.encode(reply))
        if self.commands.download.due():
            self._wake.set()

    # -- sending ---------------------------------------------------------------------------------

    def _on_frame(self, effort, quality):
        # Called by the signal-chain task every frame: copy, never send from here.
        if not self.commands.live:
            return
        a = self.app
        if self._queued == _RING:
            self._head = (self._head + 1) % _RING
            self._queued -= 1
            self.live_dropped += 1
        i = (self._head + self._queued) % _RING
        self._frame[i] = a.frames
        self._effort[i] = effort
        self._quality[i] = quality
        self._state[i] = a.flow.state
        level = a.chain.block_level
        self._level[i] = level if 0 <= level < 0xFFFF else (0 if level < 0 else 0xFFFF)
        self._queued += 1
        self._wake.set()

    def _send_live(self):
        pkt = self._epkt
        while self._queued:
            i = self._head
            struct.pack_into(_HEADER, pkt, 0, _T_EFFORT, 0, 0, _EFFORT_LEN - P.HEADER_LEN)
            struct.pack_into(_EFFORT, pkt, P.HEADER_LEN, self._frame[i], self._effort[i],
                             self._quality[i], self._state[i], self._level[i])
            self._head = (i + 1) % _RING
            self._queued -= 1
            k = framing.encode_into(pkt, self._ewire)
            self.board.usb_write(memoryview(self._ewire)[:k])

    async def tx(self):
        dl = self.commands.download
        pkt = self._pkt
        body = memoryview(pkt)[_DATA_HEAD:]
        while True:
            await self._wake.wait()
            self._send_live()
            while dl.due():
                off, n = dl.read_into(body)
                if n:
                    struct.pack_into(_HEADER, pkt, 0, _T_DATA, 0, 0, _DATA_HEAD - P.HEADER_LEN + n)
                    struct.pack_into(_DATA, pkt, P.HEADER_LEN, dl.sid, off)
                    k = framing.encode_into(memoryview(pkt)[:_DATA_HEAD + n], self._wire)
                    self.board.usb_write(memoryview(self._wire)[:k])
                await asyncio.sleep(0)      # let the signal chain and the receiver run
                self._send_live()
