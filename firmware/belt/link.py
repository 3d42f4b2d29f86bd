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
# The chunk and its frame are built in buffers allocated once. A MemoryError in the link's own
# handling loses one frame's reply or one live frame, or sends a chunk again: never the task.
import asyncio
from micropython import const

from belt import framing
from belt.commands import Commands
from belt.outbound import DATA_HEAD, EFFORT_LEN, Outbound
from belt.sessionsync import CHUNK_MAX

_RX_BUF = const(256)
_AFTER_MS = const(50)       # lets a reply leave the USB buffer before a reboot
_RETRY_MS = const(10)       # after the sender ran the heap out: a pause before it goes on


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
        self._body = memoryview(self._pkt)[DATA_HEAD:]
        self._epkt = bytearray(EFFORT_LEN)
        self._eviews = (self._epkt, self._epkt)     # OwnedLink's: plain and sealed
        self._ewire = bytearray(framing.wire_size(EFFORT_LEN))
        self.closed = False         # the host has gone (end of the byte stream)
        self.rx_failed = 0          # frames lost for want of heap in the link's own handling
        self.tx_failed = 0          # chunks that ran the heap out, read again

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
        deframer = self.deframer
        on_packet = self._on_packet         # one bound method, not one per read
        while True:
            n = await self.board.usb_read(buf)
            if not n:
                # The host has gone; what that means is the board's business (the sim ends).
                self.closed = True
                await asyncio.Event().wait()
            at = 0
            while at < n:
                try:
                    deframer.feed(buf, on_packet, at, n)
                    at = n
                except MemoryError:
                    # The heap ran out in the link's own handling of a frame: that frame is
                    # lost as on the line (the companion asks again), and what follows it in
                    # this read is still read. Raised out of the task, the rest of the read
                    # would be lost with it.
                    self.rx_failed += 1
                    if deframer.at <= at:
                        break               # not even the frame's end was reached
                    at = deframer.at
            after = self.commands.after
            if after is not None:           # reboot: the reply is out, nothing more is read
                self.commands.after = None
                await self.board.sleep_ms(_AFTER_MS)
                after()
                await asyncio.Event().wait()

    def _on_packet(self, pkt):
        try:
            reply = self.commands.handle(pkt)       # a refusal, never a raise
            if reply is not None:
                # Framed in the sender's buffer (made once, room for any packet): no task
                # runs between the framing and the write.
                self.board.usb_write(self._wire, framing.encode_into(reply, self._wire))
        finally:
            # Even when the reply was lost, a read it started must be sent.
            if self.commands.download.due():
                self._wake.set()

    # -- sending ---------------------------------------------------------------------------------

    def _seal(self, pkt, n):
        """The packet's length once it is ready to go (OwnedLink seals it in place)."""
        return n

    def _send_live(self):
        pkt = self._epkt
        while self.out.pack_effort(pkt):
            n = self._seal(pkt, EFFORT_LEN)
            k = framing.encode_into(self._eviews[0 if n == EFFORT_LEN else 1], self._ewire)
            self.board.usb_write(self._ewire, k)

    async def tx(self):
        out = self.out
        pkt = self._pkt
        body = self._body
        dl = self.commands.download
        while True:
            await self._wake.wait()
            at = -1
            try:
                self._send_live()
                while out.chunk_due():
                    at = dl.sent
                    n = out.pack_chunk(pkt, body)
                    if n:
                        n = self._seal(pkt, n)
                        k = framing.encode_into(memoryview(pkt)[:n], self._wire)
                        self.board.usb_write(self._wire, k)
                    at = -1
                    await asyncio.sleep(0)      # let the signal chain and the receiver run
                    self._send_live()
            except MemoryError:
                # The heap ran out: nothing of the chunk being made went out, so it is read
                # again after a pause; a live frame being made is lost, as the oldest are
                # when the link falls behind. Raised out of the task, the download would
                # wait for the companion to give up on it and ask again.
                self.tx_failed += 1
                if at >= 0:
                    dl.sent = at
                self._wake.set()
                await self.board.sleep_ms(_RETRY_MS)
