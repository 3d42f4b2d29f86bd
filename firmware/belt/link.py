# The protocol link over a byte stream: bytes from the board's USB serial line go through the
# deframer to the command handler (belt.commands); replies, live effort frames and session data
# go back framed (belt.framing). The board owns the stream (board.usb_read / board.usb_write), so
# the same link runs on the ESP32's USB CDC port, on the sim board's stdin/stdout and in tests.
#
# Two tasks, both under the app's guard:
#   rx  reads what has arrived, answers each request at once;
#   tx  sends what the belt volunteers (belt.outbound, shared with the BLE link): effort events
#       and session data chunks, as far as the companion's window allows, one chunk per turn of
#       the scheduler so sampling and coaching keep running during a download.
# The chunk and its frame are built in buffers allocated once.
import asyncio
from micropython import const

from belt import framing
from belt.commands import Commands
from belt.outbound import DATA_HEAD, EFFORT_LEN, Outbound
from belt.sessionsync import CHUNK_MAX

_RX_BUF = const(256)
_AFTER_MS = const(50)       # lets a reply leave the USB buffer before a reboot


class Link:
    def __init__(self, app, commands=None):
        self.app = app
        self.board = app.board
        self.commands = commands or Commands(app)
        self.deframer = framing.Deframer()
        self._rx = bytearray(_RX_BUF)
        self._wake = app.board.flag()
        self.out = Outbound(app, self.commands, self._wake.set)
        self._pkt = bytearray(DATA_HEAD + CHUNK_MAX)
        self._wire = bytearray(framing.wire_size(DATA_HEAD + CHUNK_MAX))
        self._epkt = bytearray(EFFORT_LEN)
        self._ewire = bytearray(framing.wire_size(EFFORT_LEN))
        self.closed = False         # the host has gone (end of the byte stream)

    @property
    def live_dropped(self):
        """Effort frames the sender could not keep up with."""
        return self.out.live_dropped

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

    def _send_live(self):
        pkt = self._epkt
        while self.out.pack_effort(pkt):
            k = framing.encode_into(pkt, self._ewire)
            self.board.usb_write(self._ewire, k)

    async def tx(self):
        out = self.out
        pkt = self._pkt
        body = memoryview(pkt)[DATA_HEAD:]
        while True:
            await self._wake.wait()
            self._send_live()
            while out.chunk_due():
                n = out.pack_chunk(pkt, body)
                if n:
                    k = framing.encode_into(memoryview(pkt)[:n], self._wire)
                    self.board.usb_write(self._wire, k)
                await asyncio.sleep(0)      # let the signal chain and the receiver run
                self._send_live()
