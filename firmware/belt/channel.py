# The authenticated channel of one connection, after the handshake (belt.auth): every packet's
# payload encrypted with AES-128-CTR, then the packet tagged over its header, encrypted payload
# and counter (encrypt-then-MAC). docs/protocol.md, "Ownership", specifies the bytes; the
# companion's codec is tested against the same vectors.
#
#   u8 type | u8 flags (F_AUTH set) | u16 request id | u16 n | n bytes encrypted payload |
#   u32 counter | 8-byte tag of everything before it
#
# The companion's requests carry HMAC-SHA256 truncated to 8 bytes. What the belt sends carries
# AES-128-CMAC truncated to 8 bytes: the belt seals a live effort event every frame while a
# live view is open, and only the cipher it already runs can do that without allocating
# (belt.aescmac says why HMAC cannot). Each direction has its own MAC key, its own cipher key
# and its own counter, which starts at 1 on every connection (the keys are new on every
# connection, so a counter value never repeats under one key). A receiver accepts only a
# counter above the last one it accepted: a recorded packet played again, or played out of
# order, is refused, and so is one whose tag does not match. A refused packet changes nothing,
# the counter included.
import struct

import micropython
from micropython import const

from belt import protocol as P
from belt.aescmac import Cmac
from belt.aesctr import Ctr
from belt.mac import Key, equal

KEYS_LEN = const(80)        # session key material: HMAC key 32, CMAC key 16, 2 cipher keys of 16
TAG_LEN = const(8)
TRAILER = const(12)         # u32 counter + tag (protocol.AUTH_LEN)
COUNTER_MAX = 0xFFFFFFFF


class ChannelError(Exception):
    """A packet the channel refuses: str(e) says why, in one line."""


class _Hmac:
    # HMAC-SHA256 with Cmac's interface.
    def __init__(self, key):
        self._key = Key(key)

    def tag_into(self, buf, n, out, at, size):
        d = self._key.digest(memoryview(buf)[:n])
        for i in range(size):
            out[at + i] = d[i]


@micropython.viper
def _put_u32(buf: ptr8, at: int, v: int):
    buf[at] = v & 0xFF
    buf[at + 1] = (v >> 8) & 0xFF
    buf[at + 2] = (v >> 16) & 0xFF
    buf[at + 3] = (v >> 24) & 0xFF


class Channel:
    def __init__(self, keys, belt=True):
        """keys: the 80 bytes of session key material (host-to-belt HMAC key, belt-to-host
        CMAC key, host-to-belt cipher key, belt-to-host cipher key). belt: which end this is."""
        if len(keys) != KEYS_LEN:
            raise ValueError("session keys of %d bytes" % len(keys))
        hb_mac, bh_mac = _Hmac(keys[0:32]), Cmac(keys[32:48])
        hb_enc, bh_enc = Ctr(keys[48:64]), Ctr(keys[64:80])
        if belt:
            self._tx_mac, self._rx_mac, self._tx_enc, self._rx_enc = bh_mac, hb_mac, bh_enc, hb_enc
        else:
            self._tx_mac, self._rx_mac, self._tx_enc, self._rx_enc = hb_mac, bh_mac, hb_enc, bh_enc
        self._tag = bytearray(TAG_LEN)
        self.sent = 0           # the counter of the last packet sealed
        self.received = 0       # the counter of the last packet accepted

    @property
    def spent(self):
        """No counter is left for sending: the connection must end and authenticate again."""
        return self.sent >= COUNTER_MAX

    def seal_into(self, buf, n):
        """Seal the plain packet in buf[:n] in place; buf must have TRAILER bytes of room after
        it. Returns the sealed length, n + TRAILER. Allocates nothing on the belt's side."""
        if self.sent >= COUNTER_MAX:
            raise ChannelError("counter spent")
        self.sent += 1
        buf[1] |= P.F_AUTH
        self._tx_enc.crypt_packet(buf, P.HEADER_LEN, n - P.HEADER_LEN, self.sent)
        _put_u32(buf, n, self.sent)
        self._tx_mac.tag_into(buf, n + 4, buf, n + 4, TAG_LEN)
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
        self._rx_mac.tag_into(pkt, n + 4, self._tag, 0, TAG_LEN)
        if not equal(self._tag, mv[n + 4:]):
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
