# AES-128 in counter mode (NIST SP 800-38A) on cryptolib's ECB, in place and without heap
# allocation once the Ctr exists.
#
# Why not cryptolib's own CTR mode: it exists only where the firmware was built with
# MICROPY_PY_CRYPTOLIB_CTR, which py/mpconfig.h leaves off and neither the ESP32 port nor the unix
# port (the one the tests run on) turns on; ECB is in every build that has cryptolib. A
# cryptolib object may only ever encrypt or only ever decrypt, and counter mode only ever
# encrypts counter blocks, so one ECB object serves a key for the whole connection.
#
# The counter block is 16 bytes: an initial value whose last four bytes count up big-endian per
# block (SP 800-38A's standard incrementing function on 32 bits, as GCM's inc32). Packets use
# packet_iv(): the packet counter, which never repeats under one key.
import cryptolib
import micropython
from micropython import const

_ECB = const(1)
BLOCK = const(16)


@micropython.viper
def _xor(buf: ptr8, start: int, ks: ptr8, n: int):
    i = 0
    while i < n:
        buf[start + i] ^= ks[i]
        i += 1


@micropython.viper
def _inc32(ctr: ptr8):
    # SP 800-38A's incrementing function on the last four bytes, big-endian, wrapping.
    i = 15
    while i >= 12:
        v = (ctr[i] + 1) & 0xFF
        ctr[i] = v
        if v:
            break
        i -= 1


@micropython.viper
def _packet_iv(ctr: ptr8, counter: int):
    ctr[0] = counter & 0xFF
    ctr[1] = (counter >> 8) & 0xFF
    ctr[2] = (counter >> 16) & 0xFF
    ctr[3] = (counter >> 24) & 0xFF
    i = 4
    while i < 16:
        ctr[i] = 0
        i += 1


# Every method keeps few locals: MicroPython gives a bytecode function with a large frame a heap
# allocation on each call, and these run for every packet.
class Ctr:
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128 key of %d bytes" % len(key))
        self._aes = cryptolib.aes(bytes(key), _ECB)
        self._ctr = bytearray(BLOCK)
        self._ks = bytearray(BLOCK)

    def crypt(self, buf, start, n, iv):
        """XOR n bytes of buf from start with the key stream that starts at counter block iv
        (16 bytes). Encrypts and decrypts alike."""
        self._ctr[:] = iv
        self._run(buf, start, n)

    def crypt_packet(self, buf, start, n, counter):
        """crypt() with the counter block of packet number `counter` (see packet_iv)."""
        _packet_iv(self._ctr, counter)
        self._run(buf, start, n)

    def _run(self, buf, start, n):
        while n > 0:
            self._aes.encrypt(self._ctr, self._ks)
            _xor(buf, start, self._ks, n if n < BLOCK else BLOCK)
            _inc32(self._ctr)
            start += BLOCK
            n -= BLOCK


def packet_iv(counter):
    """The first counter block of a packet: its u32 counter little-endian (as in the packet's
    auth trailer), then 12 zero bytes; the last four count the packet's 16-byte blocks."""
    return bytes((counter & 0xFF, (counter >> 8) & 0xFF, (counter >> 16) & 0xFF,
                  (counter >> 24) & 0xFF)) + bytes(12)
