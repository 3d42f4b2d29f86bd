# The USB link with ownership on (docs/protocol.md, "Ownership"): every packet goes through
# belt.owned first, and what the belt volunteers, live effort and session data, is sealed in
# place in buffers with room for the auth trailer. A module of its own so that a belt without
# ownership (today's main.py) neither imports nor compiles any of it: compiled from source at
# boot, the ownership modules do not fit what a 256 KB heap has left on the unix port.
import asyncio

from belt import framing
from belt import protocol as P
from belt.link import Link
from belt.outbound import DATA_HEAD, EFFORT_LEN
from belt.owned import Owned
from belt.sessionsync import CHUNK_MAX


class OwnedLink(Link):
    def __init__(self, app, owner, commands=None, on_paired=None):
        super().__init__(app, commands)
        self.owned = Owned(self.commands, owner, True, on_paired)
        self._pkt = bytearray(DATA_HEAD + CHUNK_MAX + P.AUTH_LEN)
        self._body = memoryview(self._pkt)[DATA_HEAD:DATA_HEAD + CHUNK_MAX]
        self._wire = bytearray(framing.wire_size(DATA_HEAD + CHUNK_MAX + P.AUTH_LEN))
        self._epkt = bytearray(EFFORT_LEN + P.AUTH_LEN)
        # Both lengths of an effort event as views made once: slicing per frame would allocate.
        self._eviews = (memoryview(self._epkt)[:EFFORT_LEN],
                        memoryview(self._epkt)[:EFFORT_LEN + P.AUTH_LEN])
        self._ewire = bytearray(framing.wire_size(EFFORT_LEN + P.AUTH_LEN))

    def _on_packet(self, pkt):
        out, drop = self.owned.handle(pkt, self.board.ticks_ms())
        for p in out:
            self.board.usb_write(framing.encode(p))
        if drop is not None:
            self.app.log("usb: %s; authenticate again" % drop)
        if self.commands.download.due():
            self._wake.set()

    def _send_live(self):
        pkt = self._epkt
        while self.out.pack_effort(pkt):
            n = self.owned.seal_into(pkt, EFFORT_LEN)
            k = framing.encode_into(self._eviews[0 if n == EFFORT_LEN else 1], self._ewire)
            self.board.usb_write(self._ewire, k)

    async def tx(self):
        # Link.tx with each chunk sealed before it is framed.
        out = self.out
        pkt = self._pkt
        body = self._body
        while True:
            await self._wake.wait()
            self._send_live()
            while out.chunk_due():
                n = out.pack_chunk(pkt, body)
                if n:
                    n = self.owned.seal_into(pkt, n)
                    k = framing.encode_into(memoryview(pkt)[:n], self._wire)
                    self.board.usb_write(self._wire, k)
                await asyncio.sleep(0)      # let the signal chain and the receiver run
                self._send_live()
