# The belt's answer to a received packet with ownership on: belt.auth's Session first, then
# belt.commands for the requests it lets through, and everything the belt sends sealed once the
# connection has authenticated. One Owned per connection. The links (belt.link over USB,
# belt.blelink over Bluetooth LE) hand it their packets instead of handing them to Commands:
#
#   out, drop = owned.handle(pkt, now)      # packets to send, in order; why to end, or None
#   drop = owned.tick(now)                  # the 5 s limit for authenticating (Bluetooth)
#   n = owned.seal_into(buf, n)             # a live or data packet the link packed in place
#
# A connection that must end (too many refused packets, an idle stranger, this computer's key
# revoked) ends what it was doing, live view and download; over USB, where nothing can be
# disconnected, it is back to unauthenticated instead.
from belt import auth as A
from belt import protocol as P

_HELLO = P.type_of("hello")


class Owned:
    def __init__(self, commands, owner, usb=False, on_paired=None):
        self.commands = commands
        self.session = A.Session(owner, usb)
        self.on_paired = on_paired      # on_paired(host id): buzz, log
        commands.caps |= P.CAP_AUTH
        # The refusal for a packet that ran the heap out here, made now: plain, and with room to
        # be sealed in place.
        self._bare = bytearray(P.error(0, P.E_INTERNAL))
        self._bare_sealed = bytearray(len(self._bare) + P.AUTH_LEN)

    @property
    def authenticated(self):
        return self.session.authenticated

    def connected(self, now):
        self.session.handle(A.EV_CONNECT, now)

    def handle(self, pkt, now):
        try:
            return self._handle(pkt, now)
        except MemoryError:
            # Below the handler (which answers its own): opening, checking or sealing ran the
            # heap out. The refusal made at boot goes out, sealed in place once authenticated;
            # when even that fails, nothing does, as with a packet lost on the way, and the
            # companion asks again. Never raised to the link, whose task would start over.
            try:
                return [self._refusal(pkt)], None
            except MemoryError:
                return [], None

    def _refusal(self, pkt):
        plain = self._bare
        plain[2] = pkt[2] if len(pkt) > 3 else 0
        plain[3] = pkt[3] if len(pkt) > 3 else 0
        if self.session.channel is None:
            return plain
        buf = self._bare_sealed
        buf[:len(plain)] = plain
        self.seal_into(buf, len(plain))
        return buf

    def _handle(self, pkt, now):
        out = []
        drop = None
        if (self.session.usb and self.session.authenticated and len(pkt) >= 2
                and pkt[0] == _HELLO and not pkt[1] & P.F_AUTH):
            # A cable has no connect event: a plain HELLO is the next companion on the line
            # (holding the belt, so it may pair). The last one's session, live view and
            # download end here, as a Bluetooth disconnect ends them.
            self._end(now)
        for kind, value in self.session.handle(A.EV_PACKET, now, pkt):
            if kind == A.A_SEND:
                out.append(value)
            elif kind == A.A_REQUEST:
                reply = self.commands.handle(value)
                if reply is not None:
                    out.append(self.session.seal(reply))
            elif kind == A.A_DROP:
                drop = value
            elif kind == A.A_PAIRED and self.on_paired is not None:
                self.on_paired(value)
        if drop is not None:
            self._end(now)
        return out, drop

    def tick(self, now):
        for kind, value in self.session.handle(A.EV_TICK, now):
            if kind == A.A_DROP:
                self._end(now)
                return value
        return None

    def seal_into(self, buf, n):
        """Seal the packet in buf[:n] in place once authenticated (buf has protocol.AUTH_LEN
        bytes of room after it); returns its length on the wire."""
        ch = self.session.channel
        return ch.seal_into(buf, n) if ch is not None else n

    def _end(self, now):
        self.commands.live = False
        self.commands.download.active = False
        self.session.handle(A.EV_CONNECT, now)
