# The authenticated channel of one connection, after the handshake (belt.auth): every packet's
# payload encrypted with AES-128-CTR, then the packet tagged with a truncated HMAC-SHA256 over
# its header, encrypted payload and counter (encrypt-then-MAC). docs/protocol.md, "Ownership",
# specifies the bytes; the companion's codec is tested against the same vectors.
#
#   u8 type | u8 flags (F_AUTH set) | u16 request id | u16 n | n bytes encrypted payload |
#   u32 counter | 8-byte tag = HMAC-SHA256(mac key, everything before the tag)[:8]
#
# Each direction has its own MAC key, its own cipher key and its own counter, which starts at 1
# on every connection (the keys are new on every connection, so a counter value never repeats
# under one key). A receiver accepts only a counter above the last one it accepted: a recorded
# packet played again, or played out of order, is refused, and so is one whose tag does not
# match. A refused packet changes nothing, the counter included.
import struct

from micropython import const

from belt import protocol as P
from belt.aesctr import Ctr
from belt.mac import Key, equal

KEYS_LEN = const(96)        # the session key material: 2 MAC keys of 32, 2 cipher keys of 16
TAG_LEN = const(8)
TRAILER = const(12)         # u32 counter + tag (protocol.AUTH_LEN)
COUNTER_MAX = 0xFFFFFFFF


class ChannelError(Exception):
    """A packet the channel refuses: str(e) says why, in one line."""


class Channel:
    def __init__(self, keys, belt=True):
        """keys: the 96 bytes of session key material (host-to-belt MAC key, belt-to-host MAC
        key, host-to-belt cipher key, belt-to-host cipher key). belt: which end this is."""
        if len(keys) != KEYS_LEN:
            raise ValueError("session keys of %d bytes" % len(keys))
        hb_mac, bh_mac = Key(keys[0:32]), Key(keys[32:64])
        hb_enc, bh_enc = Ctr(keys[64:80]), Ctr(keys[80:96])
        if belt:
            self._tx_mac, self._rx_mac, self._tx_enc, self._rx_enc = bh_mac, hb_mac, bh_enc, hb_enc
        else:
            self._tx_mac, self._rx_mac, self._tx_enc, self._rx_enc = hb_mac, bh_mac, hb_enc, bh_enc
        self.sent = 0           # the counter of the last packet sealed
        self.received = 0       # the counter of the last packet accepted

    @property
    def spent(self):
        """No counter is left for sending: the connection must end and authenticate again."""
        return self.sent >= COUNTER_MAX

    def seal_into(self, buf, n):
        """Seal the plain packet in buf[:n] in place; buf must have TRAILER bytes of room after
        it. Returns the sealed length, n + TRAILER."""
        if self.sent >= COUNTER_MAX:
            raise ChannelError("counter spent")
        counter = self.sent + 1
        buf[1] |= P.F_AUTH
        self._tx_enc.crypt_packet(buf, P.HEADER_LEN, n - P.HEADER_LEN, counter)
        struct.pack_into("<I", buf, n, counter)
        tag = self._tx_mac.digest(memoryview(buf)[:n + 4])
        for i in range(TAG_LEN):
            buf[n + 4 + i] = tag[i]
        self.sent = counter
        return n + TRAILER

    def seal(self, pkt):
        """The sealed copy of a plain packet (bytes)."""
        n = len(pkt)
        buf = bytearray(n + TRAILER)
        buf[:n] = pkt
        self.seal_into(buf, n)
        return bytes(buf)

    def open(self, pkt):
        """The plain packet (F_AUTH cleared, no trailer) of a sealed one; ChannelError when it
        is not sealed, its tag is wrong, or its counter is not above the last accepted one."""
        n = len(pkt) - TRAILER
        if n < P.HEADER_LEN or not pkt[1] & P.F_AUTH:
            raise ChannelError("not an authenticated packet")
        mv = memoryview(pkt)
        if not equal(self._rx_mac.digest(mv[:n + 4])[:TAG_LEN], mv[n + 4:]):
            raise ChannelError("tag does not match")
        counter = struct.unpack_from("<I", pkt, n)[0]
        if counter <= self.received:
            raise ChannelError("counter %d not above %d: replayed or reordered"
                               % (counter, self.received))
        self.received = counter
        buf = bytearray(mv[:n])
        buf[1] &= ~P.F_AUTH & 0xFF
        self._rx_enc.crypt_packet(buf, P.HEADER_LEN, n - P.HEADER_LEN, counter)
        return bytes(buf)
