# HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869) over the interpreter's hashlib.sha256, the
# one hash both MicroPython's unix and ESP32 ports build in (MICROPY_PY_HASHLIB_SHA256); its
# objects have update() and digest() but no copy(), so each tag starts two fresh hashes.
#
# Key holds a key's padded inner and outer blocks, made once per key (per connection for the
# packet keys) rather than on every packet.
import hashlib

from micropython import const

_BLOCK = const(64)
DIGEST_LEN = const(32)


class Key:
    def __init__(self, key):
        key = bytes(key)
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + bytes(_BLOCK - len(key))
        self._inner = bytes([b ^ 0x36 for b in key])
        self._outer = bytes([b ^ 0x5C for b in key])

    def digest(self, *parts):
        """HMAC-SHA256 of the concatenated parts (any bytes-like objects), 32 bytes."""
        h = hashlib.sha256(self._inner)
        for p in parts:
            h.update(p)
        o = hashlib.sha256(self._outer)
        o.update(h.digest())
        return o.digest()


def hmac_sha256(key, *parts):
    return Key(key).digest(*parts)


def hkdf(ikm, salt, info, length):
    """HKDF-SHA256: `length` bytes (at most 255 x 32) from input keying material, salt and info."""
    if length > 255 * DIGEST_LEN:
        raise ValueError("hkdf: %d bytes is too long" % length)
    prk = Key(hmac_sha256(salt if salt else bytes(DIGEST_LEN), ikm))
    out = b""
    t = b""
    i = 1
    while len(out) < length:
        t = prk.digest(t, info, bytes((i,)))
        out += t
        i += 1
    return out[:length]


def equal(a, b):
    """a == b for tags, in a time that does not depend on where they first differ."""
    if len(a) != len(b):
        return False
    acc = 0
    for i in range(len(a)):
        acc |= a[i] ^ b[i]
    return acc == 0
