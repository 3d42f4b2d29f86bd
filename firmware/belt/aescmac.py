# AES-128-CMAC (RFC 4493, NIST SP 800-38B) on cryptolib's ECB, without heap allocation once the
# Cmac exists: the tag of everything the belt sends on an authenticated connection, including
# the live effort event of every frame. HMAC-SHA256 (belt.mac) cannot be had without allocating
# here: MicroPython's hashlib objects have no copy(), so every tag would build two new hash
# objects and two digests (about 740 bytes per packet, bench/ownership_cost.py).
import cryptolib
import micropython
from micropython import const

_ECB = const(1)
BLOCK = const(16)


@micropython.viper
def _xor_in(x: ptr8, buf: ptr8, start: int, n: int):
    i = 0
    while i < n:
        x[i] ^= buf[start + i]
        i += 1


@micropython.viper
def _double(dst: ptr8, src: ptr8):
    # dst = src * x in GF(2^128): shift left by one bit, reduce by 0x87 (RFC 4493, 2.3).
    carry = src[0] >> 7
    i = 0
    while i < 15:
        dst[i] = ((src[i] << 1) | (src[i + 1] >> 7)) & 0xFF
        i += 1
    dst[15] = (src[15] << 1) & 0xFF
    if carry:
        dst[15] ^= 0x87


@micropython.viper
def _clear(x: ptr8):
    i = 0
    while i < 16:
        x[i] = 0
        i += 1


@micropython.viper
def _copy(out: ptr8, at: int, x: ptr8, n: int):
    i = 0
    while i < n:
        out[at + i] = x[i]
        i += 1


class Cmac:
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128 key of %d bytes" % len(key))
        self._aes = cryptolib.aes(bytes(key), _ECB)
        self._x = bytearray(BLOCK)
        self._k1 = bytearray(BLOCK)
        self._k2 = bytearray(BLOCK)
        self._aes.encrypt(self._x, self._x)         # L = AES(0)
        _double(self._k1, self._x)
        _double(self._k2, self._k1)

    def tag_into(self, buf, n, out, at, size):
        """CMAC of buf[:n], its first `size` bytes written to out[at:]."""
        self._mac(buf, n)
        _copy(out, at, self._x, size)

    # Few locals per method: MicroPython gives a bytecode function with a large frame a heap
    # allocation on every call.
    def _mac(self, buf, n):
        _clear(self._x)
        start = 0
        while n - start > BLOCK:
            _xor_in(self._x, buf, start, BLOCK)
            self._aes.encrypt(self._x, self._x)
            start += BLOCK
        self._last(buf, start, n - start)

    def _last(self, buf, start, k):
        x = self._x
        _xor_in(x, buf, start, k)
        if k == BLOCK:
            _xor_in(x, self._k1, 0, BLOCK)
        else:
            x[k] ^= 0x80                            # the padding 10...0
            _xor_in(x, self._k2, 0, BLOCK)
        self._aes.encrypt(x, x)

    def tag(self, data):
        """The whole 16-byte CMAC of data (bytes)."""
        out = bytearray(BLOCK)
        self.tag_into(data, len(data), out, 0, BLOCK)
        return bytes(out)
