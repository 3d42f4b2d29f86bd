# The USB link with ownership on (docs/protocol.md, "Ownership"): every packet goes through
# belt.owned first, and what the belt volunteers, live effort and session data, is sealed in
# place in buffers with room for the auth trailer. A module of its own so that a belt without
# ownership (today's main.py) neither imports nor compiles any of it: compiled from source at
# boot, the ownership modules do not fit what a 256 KB heap has left on the unix port.
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
        try:
            out, drop = self.owned.handle(pkt, self.board.ticks_ms())
            for p in out:
                # Sealed replies fit the sender's buffer (made once) as its chunks do.
                self.board.usb_write(self._wire, framing.encode_into(p, self._wire))
            if drop is not None:
                self.app.log("usb: %s; authenticate again" % drop)
        finally:
            if self.commands.download.due():
                self._wake.set()

    def _seal(self, pkt, n):
        return self.owned.seal_into(pkt, n)
