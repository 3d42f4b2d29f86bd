"""The companion's side of ownership (docs/protocol.md, "Ownership"): the pairing key agreement,
the challenge and response on the pairing key, and the authenticated channel of a connection.

    pairing = Pairing(host_id)                    # a fresh X25519 key pair for this pairing
    pkt = pairing.request(rid)                    # `pair`; the belt answers with its public key
    key = pairing.key(belt_public, device_id)     # the 32-byte pairing key, kept in the history

    ch = Challenge(key, device_id, host_id)       # every connection
    pkt = ch.request(rid)                         # `auth`; the belt answers nonce and proof
    pkt = ch.answer(rid, belt_nonce, belt_proof)  # `auth_proof`, once the belt has proved itself
    channel = ch.channel()                        # seal() requests, open() what the belt sends

Over a corecue.link.client.Belt (HELLO done), the same as two calls:

    key = await pair(belt, host_id)               # USB, or inside the belt's pairing window
    await authenticate(belt, key, host_id)        # every later request and reply sealed

The cryptography is the `cryptography` package's (X25519, HKDF, HMAC, AES-CTR, AES-CMAC); the belt does the
same in MicroPython (firmware/belt/auth.py, channel.py). The message layouts and labels are the
firmware's own (belt.auth), so there is one definition of every byte, and both sides are tested
against the golden vectors of docs/protocol.md (tests/firmware/authvectors.py).
"""
import hmac as _hmac
import os
import struct

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from corecue.interp import firmware_module
from corecue.link.errors import BeltError

P = firmware_module("belt.protocol")
A = firmware_module("belt.auth")
HOST_ID_LEN = 8
TAG_LEN = 8
TRAILER = 12


class NotYourBelt(BeltError):
    """The belt could not prove it holds this computer's key."""


class ChannelRefused(BeltError):
    """A packet from the belt that the channel refuses (tag, counter, not sealed)."""


class NotPaired(BeltError):
    """This computer holds no key for the belt, or the belt no longer knows it."""


PAIR_HINT = "hold the belt's button until it buzzes twice, then `corecue pair`"


def new_host_id():
    """This computer's id towards its belts: 8 random bytes, never all zeros."""
    while True:
        h = os.urandom(HOST_ID_LEN)
        if any(h):
            return h


def _hmac256(key, *parts):
    h = chmac.HMAC(key, hashes.SHA256())
    for p in parts:
        h.update(bytes(p))
    return h.finalize()


def _hkdf(ikm, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def pair_key(shared, device_id, host_id, host_pub, belt_pub):
    return _hkdf(shared, A.PAIR_SALT, bytes(device_id) + host_id + host_pub + belt_pub, 32)


def proofs(key, device_id, host_id, host_nonce, belt_nonce):
    t = bytes(device_id) + host_id + host_nonce + belt_nonce
    return (_hmac256(key, A.BELT_PROOF, t)[:A.PROOF_LEN],
            _hmac256(key, A.HOST_PROOF, t)[:A.PROOF_LEN])


def session_keys(key, device_id, host_id, host_nonce, belt_nonce):
    return _hkdf(key, host_nonce + belt_nonce, A.SESSION_INFO + bytes(device_id) + host_id,
                 A.KEYS_LEN)


def _request(t, rid, *fields):
    fmt = next(m[2] for m in A.MESSAGES if m[1] == t)
    return P.packet(t, rid, struct.pack(fmt, *fields))


class Pairing:
    def __init__(self, host_id, private=None):
        self.host_id = bytes(host_id)
        self._private = (X25519PrivateKey.from_private_bytes(private) if private is not None
                         else X25519PrivateKey.generate())
        self.public = self._private.public_key().public_bytes_raw()

    def request(self, rid):
        return _request(A.T_PAIR, rid, self.host_id, self.public)

    def key(self, belt_public, device_id):
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(bytes(belt_public)))
        except (ValueError, InvalidKey):     # a small-order point: the secret would be public
            raise NotYourBelt("the belt's pairing key is not a usable X25519 key") from None
        return pair_key(shared, device_id, self.host_id, self.public, bytes(belt_public))


class Challenge:
    def __init__(self, key, device_id, host_id, nonce=None):
        self.key = bytes(key)
        self.device_id = bytes(device_id)
        self.host_id = bytes(host_id)
        self.nonce = nonce if nonce is not None else os.urandom(A.NONCE_LEN)
        self._belt_nonce = None

    def request(self, rid):
        return _request(A.T_AUTH, rid, self.host_id, self.nonce)

    def prove(self, belt_nonce, belt_proof):
        """This computer's proof, only if the belt's is right (NotYourBelt otherwise): it never
        proves itself to a belt that does not hold its key."""
        want, host_proof = proofs(self.key, self.device_id, self.host_id, self.nonce,
                                  bytes(belt_nonce))
        if not _hmac.compare_digest(want, bytes(belt_proof)):
            raise NotYourBelt("the belt did not prove it holds this computer's key (another "
                              "belt with the same name, or it was reset: pair again)")
        self._belt_nonce = bytes(belt_nonce)
        return host_proof

    def answer(self, rid, belt_nonce, belt_proof):
        """The auth_proof request (see prove)."""
        return _request(A.T_AUTH_PROOF, rid, self.prove(belt_nonce, belt_proof))

    def channel(self):
        if self._belt_nonce is None:
            raise ValueError("no channel before the belt has answered")
        return Channel(session_keys(self.key, self.device_id, self.host_id, self.nonce,
                                    self._belt_nonce))


def _cmac(key, data):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


class Channel:
    """The host's end: seal() what it sends (HMAC-SHA256 tags), open() what the belt sends
    (AES-CMAC tags: the belt's side must not allocate for the effort event of every frame)."""

    def __init__(self, keys):
        self._tx_mac, self._rx_mac = keys[0:32], keys[32:48]
        self._tx_enc, self._rx_enc = keys[48:64], keys[64:80]
        self.sent = 0
        self.received = 0

    @staticmethod
    def _ctr(key, counter, data):
        iv = struct.pack("<I", counter) + bytes(12)
        return Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(bytes(data))

    def seal(self, pkt):
        if self.sent >= 0xFFFFFFFF:
            raise ChannelRefused("packet counter spent: connect again")
        counter = self.sent + 1
        head = bytearray(pkt[:P.HEADER_LEN])
        head[1] |= P.F_AUTH
        body = bytes(head) + self._ctr(self._tx_enc, counter, pkt[P.HEADER_LEN:])
        body += struct.pack("<I", counter)
        self.sent = counter
        return body + _hmac256(self._tx_mac, body)[:TAG_LEN]

    def open(self, pkt):
        pkt = bytes(pkt)
        n = len(pkt) - TRAILER
        if n < P.HEADER_LEN or not pkt[1] & P.F_AUTH:
            raise ChannelRefused("the belt sent an unauthenticated packet")
        if not _hmac.compare_digest(_cmac(self._rx_mac, pkt[:n + 4])[:TAG_LEN], pkt[n + 4:]):
            raise ChannelRefused("a packet from the belt failed its tag")
        (counter,) = struct.unpack_from("<I", pkt, n)
        if counter <= self.received:
            raise ChannelRefused(f"a packet from the belt replayed or reordered (counter "
                                 f"{counter}, last {self.received})")
        self.received = counter
        head = bytearray(pkt[:P.HEADER_LEN])
        head[1] &= ~P.F_AUTH & 0xFF
        return bytes(head) + self._ctr(self._rx_enc, counter, pkt[P.HEADER_LEN:n])


async def pair(belt, host_id):
    """Pair with the belt over its client (HELLO done) and authenticate at once, which is when
    the belt keeps the key. Returns the pairing key for the companion to keep."""
    pairing = Pairing(host_id)
    (belt_public,), _ = await belt.request("pair", pairing.host_id, pairing.public)
    key = pairing.key(belt_public, belt.info.device_id)
    await authenticate(belt, key, host_id)
    return key


async def authenticate(belt, key, host_id):
    """The challenge and response on the pairing key; from then on the client seals every
    request and opens every packet from the belt (belt.sealed)."""
    ch = Challenge(key, belt.info.device_id, host_id)
    (belt_nonce, belt_proof), _ = await belt.request("auth", ch.host_id, ch.nonce)
    host_proof = ch.prove(belt_nonce, belt_proof)
    # The reply to auth_proof is the belt's first sealed packet: the channel opens it, while the
    # request itself goes plain.
    belt.sealed = ch.channel()
    try:
        await belt.request("auth_proof", host_proof, plain=True)
    except BaseException:
        belt.sealed = None
        raise

