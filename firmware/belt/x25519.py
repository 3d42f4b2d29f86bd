# X25519 key agreement (RFC 7748) in plain Python integers, for the belt's side of pairing.
#
# It runs once per pairing, inside the pairing window or over USB, never on the per-frame path, so
# clarity wins over speed: the Montgomery ladder of RFC 7748 section 5 on Python's arbitrary
# precision integers (MicroPython's mpz), the inverse by Fermat (three-argument pow, which the
# ESP32 port has: MICROPY_PY_BUILTINS_POW3 comes with its EXTRA_FEATURES ROM level).
# bench/x25519_cost.py measures it; docs/performance.md has the figures.
#
# The swap in the ladder is arithmetic, not a branch. That is not a constant-time guarantee (the
# interpreter's integers take time that depends on their values), which is acceptable here
# because every belt key pair is ephemeral: made for one pairing, used once, then dropped.
from micropython import const

_P = (1 << 255) - 19
_A24 = const(121665)
_U_MASK = (1 << 255) - 1
BASE = b"\x09" + bytes(31)      # the base point, u = 9
KEY_LEN = const(32)


def _clamp(k):
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


def x25519(k, u):
    """The X25519 function of RFC 7748: scalar k (32 bytes) times the point with u-coordinate u
    (32 bytes), as 32 bytes. ValueError for inputs of the wrong size."""
    if len(k) != KEY_LEN or len(u) != KEY_LEN:
        raise ValueError("x25519 takes 32-byte scalars and points")
    p = _P
    n = _clamp(k)
    x1 = int.from_bytes(bytes(u), "little") & _U_MASK     # the top bit is ignored (5.)
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    t = 254
    while t >= 0:
        bit = (n >> t) & 1
        swap ^= bit
        d = (x2 ^ x3) * swap
        x2 ^= d
        x3 ^= d
        d = (z2 ^ z3) * swap
        z2 ^= d
        z3 ^= d
        swap = bit
        a = x2 + z2
        aa = a * a % p
        b = x2 - z2
        bb = b * b % p
        e = aa - bb
        c = x3 + z3
        dd = x3 - z3
        da = dd * a % p
        cb = c * b % p
        s = da + cb
        x3 = s * s % p
        s = da - cb
        z3 = x1 * (s * s % p) % p
        x2 = aa * bb % p
        z2 = e * (aa + _A24 * e) % p
        t -= 1
    d = (x2 ^ x3) * swap
    x2 ^= d
    d = (z2 ^ z3) * swap
    z2 ^= d
    r = x2 * pow(z2, p - 2, p) % p
    return r.to_bytes(KEY_LEN, "little")


def public_key(private):
    """The public key (32 bytes) of a 32-byte private key."""
    return x25519(private, BASE)


def shared_secret(private, peer_public):
    """The shared secret with a peer's public key; ValueError when it is all zeros (a peer key of
    small order, which would make the secret known to anyone: RFC 7748 section 6.1)."""
    z = x25519(private, peer_public)
    acc = 0
    for b in z:
        acc |= b
    if not acc:
        raise ValueError("peer public key of small order")
    return z
