# Ownership at the protocol layer: pairing, the mutual challenge and response, and which packets
# an unauthenticated connection may send. docs/protocol.md, "Ownership", is the specification.
#
# Pure: no asyncio, no radio. A link owns one Session per connection and feeds it events,
#   actions = session.handle(EV_PACKET, now, pkt)
# and carries out what comes back: (A_SEND, packet) to send as it is, (A_REQUEST, packet) a
# plain request that passed every check, for belt.commands (its reply then goes out through
# session.seal()), (A_DROP, why) to end the connection, (A_PAIRED, host id) a computer was
# added (the belt buzzes; the window has closed).
#
# Owner is the belt-wide part: the key store (belt.keystore), the pairing window the wearer
# opens, the device id and the random source. Pairing (X25519 with fresh keys on both sides,
# so a passive listener learns nothing) is taken over USB at any time and over Bluetooth only
# while the window is open; the new key is stored only once the computer has proved it holds it
# (its first successful auth), and the window closes then.
import os

from micropython import const

from belt import protocol as P
from belt import ticks
from belt.channel import KEYS_LEN, Channel, ChannelError
from belt.keystore import BROKEN, KeyStoreFull
from belt.mac import Key, equal, hkdf

T_PAIR = const(0x10)
T_AUTH = const(0x11)
T_AUTH_PROOF = const(0x12)
T_UNPAIR = const(0x13)
# name, type, request fields, reply fields (as protocol.MESSAGES)
MESSAGES = (
    ("pair", T_PAIR, "<8s32s", "<32s"),          # host id, host public key | belt public key
    ("auth", T_AUTH, "<8s16s", "<16s16s"),       # host id, host nonce | belt nonce, belt proof
    ("auth_proof", T_AUTH_PROOF, "<16s", ""),    # host proof | (sealed: the first packet)
    ("unpair", T_UNPAIR, "<8s", "<B"),           # host id | computers still paired
)
_FORMATS = {m[1]: m for m in MESSAGES}
_HELLO = const(0x01)

PAIR_SALT = b"corecue pair v2"
BELT_PROOF = b"corecue belt proof v2"
HOST_PROOF = b"corecue host proof v2"
SESSION_INFO = b"corecue session v2"
PROOF_LEN = const(16)
NONCE_LEN = const(16)
WINDOW_MS = const(60000)        # the pairing window, from the wearer's long press
AUTH_TIMEOUT_MS = const(5000)   # an unauthenticated connection is dropped after this
MAX_FAILURES = const(3)         # wrong proofs or refused sealed packets, then the link drops

EV_CONNECT = const(1)
EV_PACKET = const(2)
EV_TICK = const(3)
A_SEND = const(1)
A_REQUEST = const(2)
A_DROP = const(3)
A_PAIRED = const(4)

_OPEN = const(0)                # connected, nothing proved
_CHALLENGED = const(1)          # the belt has answered auth; its proof is out
_AUTHENTICATED = const(2)
_PAIR_HINT = "hold the belt's button until it buzzes twice, then corecue pair"


def pair_key(shared, device_id, host_id, host_pub, belt_pub):
    return hkdf(shared, PAIR_SALT, bytes(device_id) + host_id + host_pub + belt_pub, 32)


def proofs(key, device_id, host_id, host_nonce, belt_nonce):
    """(belt proof, host proof) of one challenge: each a truncated HMAC-SHA256 on the key."""
    k = Key(key)
    t = bytes(device_id) + host_id + host_nonce + belt_nonce
    return k.digest(BELT_PROOF, t)[:PROOF_LEN], k.digest(HOST_PROOF, t)[:PROOF_LEN]


def session_keys(key, device_id, host_id, host_nonce, belt_nonce):
    return hkdf(key, host_nonce + belt_nonce, SESSION_INFO + bytes(device_id) + host_id,
                KEYS_LEN)


class Owner:
    def __init__(self, keys, device_id, random=os.urandom):
        self.keys = keys
        self.device_id = bytes(device_id)
        self.random = random
        self._window_at = None      # ticks when the wearer opened the pairing window
        self._next = None           # (private, public) key pair for the next pairing

    def prepare(self):
        """Make the next pairing's key pair now, so that answering `pair` costs one X25519
        instead of two (each holds the scheduler; docs/performance.md)."""
        if self._next is None:
            private = self.random(32)
            # X25519 is imported only when a pairing may come: its code is heap the belt needs
            # for nothing else (on the ESP32's 256 KB, with the links, it does not fit at boot).
            from belt.x25519 import public_key
            self._next = (private, public_key(private))

    def take_key_pair(self):
        """The prepared key pair (made now if there is none), used for one pairing only."""
        self.prepare()
        pair, self._next = self._next, None
        return pair

    def open_window(self, now):
        """The wearer's long press: pairing over Bluetooth is allowed for WINDOW_MS."""
        self._window_at = now
        self.prepare()

    def close_window(self):
        self._window_at = None

    def window_open(self, now):
        w = self._window_at
        if w is not None and ticks.diff(now, w) >= WINDOW_MS:
            self._window_at = w = None
        return w is not None


class Session:
    def __init__(self, owner, usb=False):
        self.owner = owner
        self.usb = usb              # a cable: physical possession lets a computer pair
        self._reset(None)

    def _reset(self, now):
        self._state = _OPEN
        self._since = now
        self._failures = 0
        self._pending = None        # (host id, key) of a pairing not yet proved
        self._challenge = None      # (host id, key, host nonce, belt nonce, host proof)
        self.channel = None
        self.host_id = None

    @property
    def authenticated(self):
        return self._state == _AUTHENTICATED

    def seal(self, pkt):
        """What goes out for a packet the belt sends: sealed once authenticated."""
        return self.channel.seal(pkt) if self.channel is not None else pkt

    def handle(self, event, now, pkt=None):
        if event == EV_CONNECT:
            self._reset(now)
            return []
        if event == EV_TICK:
            if (self._state != _AUTHENTICATED and not self.usb and self._since is not None
                    and ticks.diff(now, self._since) >= AUTH_TIMEOUT_MS):
                self._since = None
                return [(A_DROP, "not authenticated within %d s" % (AUTH_TIMEOUT_MS // 1000))]
            return []
        req = pkt[2] | pkt[3] << 8 if len(pkt) >= 4 else 0
        try:
            t, flags, req, payload = P.parse(pkt)
            if self._state == _AUTHENTICATED:
                return self._sealed(pkt, t, req)
            if flags & P.F_AUTH:
                raise P.ProtocolError(P.E_AUTH, "not authenticated")
            if t == _HELLO:
                return [(A_REQUEST, bytes(pkt))]
            m = _FORMATS.get(t)
            if m is None or t == T_UNPAIR:
                raise P.ProtocolError(P.E_AUTH, "authenticate first (%s)" % _PAIR_HINT)
            fields, _ = P.decode_fields(m[2], payload)
            return getattr(self, "_" + m[0])(now, req, fields)
        except P.ProtocolError as e:
            out = [(A_SEND, self.seal(P.error(req, e.code, e.message)))]
            if self._failures >= MAX_FAILURES:
                out.append((A_DROP, "%d refused packets" % self._failures))
            return out

    # -- before authentication -------------------------------------------------------------------

    def _reply(self, t, req, *fields):
        return P.packet(t | P.REPLY, req, P.encode_fields(_FORMATS[t][3], fields))

    def _pair(self, now, req, f):
        host_id, host_pub = f
        o = self.owner
        if not self.usb and not o.window_open(now):
            raise P.ProtocolError(P.E_AUTH, "pairing window closed: " + _PAIR_HINT)
        if host_id == bytes(8):
            raise P.ProtocolError(P.E_INVALID, "host id: all zeros")
        if not o.keys.can_add(host_id):
            raise P.ProtocolError(P.E_STATE, "%d computers are paired: forget one first"
                                  % len(o.keys.slots))
        priv, belt_pub = o.take_key_pair()
        try:
            from belt.x25519 import shared_secret
            shared = shared_secret(priv, host_pub)
        except ValueError as e:
            raise P.ProtocolError(P.E_INVALID, "host key: %s" % e)
        self._pending = (host_id, pair_key(shared, o.device_id, host_id, host_pub, belt_pub))
        self._challenge = None
        self._state = _OPEN
        return [(A_SEND, self._reply(T_PAIR, req, belt_pub))]

    def _auth(self, now, req, f):
        host_id, host_nonce = f
        key = None
        if self._pending is not None and self._pending[0] == host_id:
            key = self._pending[1]
        if key is None:
            key = self.owner.keys.key(host_id)
        if key is None:
            if self.owner.keys.state == BROKEN:
                raise P.ProtocolError(P.E_AUTH, "the belt's keys are damaged: pair again ("
                                      + _PAIR_HINT + ")")
            raise P.ProtocolError(P.E_AUTH, "this computer is not paired with the belt ("
                                  + _PAIR_HINT + ")")
        belt_nonce = self.owner.random(NONCE_LEN)
        belt_proof, host_proof = proofs(key, self.owner.device_id, host_id, host_nonce,
                                        belt_nonce)
        self._challenge = (host_id, key, host_nonce, belt_nonce, host_proof)
        self._state = _CHALLENGED
        return [(A_SEND, self._reply(T_AUTH, req, belt_nonce, belt_proof))]

    def _auth_proof(self, now, req, f):
        c = self._challenge
        if self._state != _CHALLENGED or c is None:
            raise P.ProtocolError(P.E_STATE, "auth_proof without auth")
        self._challenge = None
        self._state = _OPEN
        host_id, key, host_nonce, belt_nonce, want = c
        if not equal(f[0], want):
            self._failures += 1
            raise P.ProtocolError(P.E_AUTH, "proof refused")
        out = []
        pending = self._pending
        if pending is not None and pending[0] == host_id:
            o = self.owner
            if not self.usb and not o.window_open(now):
                raise P.ProtocolError(P.E_AUTH, "pairing window closed: " + _PAIR_HINT)
            try:
                o.keys.add(host_id, key)
            except KeyStoreFull as e:
                raise P.ProtocolError(P.E_STATE, str(e))
            except OSError as e:
                raise P.ProtocolError(P.E_INTERNAL, "key not saved: %r" % e)
            self._pending = None
            o.close_window()
            out.append((A_PAIRED, host_id))
        self.channel = Channel(session_keys(key, self.owner.device_id, host_id, host_nonce,
                                            belt_nonce))
        self._state = _AUTHENTICATED
        self.host_id = host_id
        self._failures = 0
        out.insert(0, (A_SEND, self.channel.seal(self._reply(T_AUTH_PROOF, req))))
        return out

    # -- authenticated ---------------------------------------------------------------------------

    def _sealed(self, pkt, t, req):
        try:
            plain = self.channel.open(pkt)
        except ChannelError as e:
            self._failures += 1
            raise P.ProtocolError(P.E_AUTH, str(e))
        if t in _FORMATS:
            if t != T_UNPAIR:
                raise P.ProtocolError(P.E_STATE, "already authenticated")
            fields, _ = P.decode_fields(_FORMATS[t][2], plain[P.HEADER_LEN:])
            return self._unpair(req, fields[0])
        out = [(A_REQUEST, plain)]
        if self.channel.spent:
            out.append((A_DROP, "packet counter spent"))
        return out

    def _unpair(self, req, host_id):
        keys = self.owner.keys
        try:
            if not keys.remove(host_id):
                raise P.ProtocolError(P.E_NOT_FOUND, "no computer %s is paired"
                                      % bytes(host_id).hex())
        except OSError as e:
            raise P.ProtocolError(P.E_INTERNAL, "keys not saved: %r" % e)
        out = [(A_SEND, self.seal(self._reply(T_UNPAIR, req, len(keys.slots))))]
        if host_id == self.host_id:
            out.append((A_DROP, "this computer's key was revoked"))
        return out
