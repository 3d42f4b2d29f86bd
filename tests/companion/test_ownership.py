"""The companion's ownership codec (corecue.link.auth, on the `cryptography` package) against the
golden vectors the belt's own code is tested with, and against the belt's code itself: a pairing
and a connection between corecue.link.auth and firmware/belt/auth.py with fresh random keys."""
import importlib.util
import os

import pytest

from corecue.link import auth as O
from corecue.interp import ROOT, firmware_module

P = firmware_module("belt.protocol")
A = firmware_module("belt.auth")
KS = firmware_module("belt.keystore")

_spec = importlib.util.spec_from_file_location(
    "authvectors", os.path.join(ROOT, "tests", "firmware", "authvectors.py"))
_vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_vectors)
b = _vectors.b


def _challenge():
    key = O.Pairing(b("host_id"), b("host_private")).key(b("belt_public"), b("device_id"))
    return O.Challenge(key, b("device_id"), b("host_id"), b("host_nonce"))


def test_the_codec_makes_the_golden_vectors():
    pairing = O.Pairing(b("host_id"), b("host_private"))
    assert pairing.public == b("host_public")
    assert pairing.request(1) == b("pair_request")
    assert pairing.key(b("belt_public"), b("device_id")) == b("pair_key")
    ch = _challenge()
    assert ch.request(2) == b("auth_request")
    assert ch.answer(3, b("belt_nonce"), b("belt_proof")) == b("auth_proof_request")
    assert O.session_keys(b("pair_key"), b("device_id"), b("host_id"), b("host_nonce"),
                          b("belt_nonce")) == b("session_keys")
    channel = ch.channel()
    assert channel.open(b("auth_proof_reply")) == P.packet(A.T_AUTH_PROOF | P.REPLY, 3)
    assert channel.seal(P.request("status", 4)) == b("status_request")
    assert channel.seal(P.request("live", 5, 1)) == b("live_request")
    assert channel.open(b("live_reply")) == P.reply("live", 5)
    assert channel.open(b("effort_event")) == P.event("effort", 1234, 200, 0, 0, 500)


def test_a_belt_that_cannot_prove_the_key_gets_no_proof():
    ch = _challenge()
    bad = bytearray(b("belt_proof"))
    bad[0] ^= 1
    with pytest.raises(O.NotYourBelt, match="pair again"):
        ch.answer(3, b("belt_nonce"), bytes(bad))
    with pytest.raises(ValueError):
        ch.channel()
    with pytest.raises(O.NotYourBelt):
        O.Pairing(b("host_id")).key(bytes(32), b("device_id"))     # small-order point


def test_the_codec_refuses_what_the_belt_never_sent():
    channel = _challenge()
    channel.answer(3, b("belt_nonce"), b("belt_proof"))
    channel = channel.channel()
    reply = b("auth_proof_reply")
    with pytest.raises(O.ChannelRefused, match="tag"):
        channel.open(reply[:-1] + bytes([reply[-1] ^ 1]))
    channel.open(reply)
    with pytest.raises(O.ChannelRefused, match="replayed"):
        channel.open(reply)
    with pytest.raises(O.ChannelRefused, match="unauthenticated"):
        channel.open(P.reply("live", 5))


def test_pairing_and_a_connection_with_the_belts_own_code(tmp_path):
    """Fresh keys on both sides, no vector: the two implementations agree on every byte."""
    device = os.urandom(8)
    owner = A.Owner(KS.KeyStore(str(tmp_path / "keys")), device)
    belt = A.Session(owner, usb=True)
    host_id = O.new_host_id()

    def exchange(pkt):
        out = belt.handle(A.EV_PACKET, 0, pkt)
        sent = [a[1] for a in out if a[0] == A.A_SEND]
        assert len(sent) == 1, out
        return sent[0]

    pairing = O.Pairing(host_id)
    _, _, _, payload = P.parse(exchange(pairing.request(1)))
    key = pairing.key(payload, device)
    for _ in range(2):                       # the pairing, then a later connection
        ch = O.Challenge(key, device, host_id)
        _, _, _, payload = P.parse(exchange(ch.request(2)))
        reply = exchange(ch.answer(3, payload[:16], payload[16:]))
        channel = ch.channel()
        assert channel.open(reply) == P.packet(A.T_AUTH_PROOF | P.REPLY, 3)
        out = belt.handle(A.EV_PACKET, 0, channel.seal(P.request("config_set", 4,
                                                                 tail=b'{"low_pm":150}')))
        assert out == [(A.A_REQUEST, P.request("config_set", 4, tail=b'{"low_pm":150}'))]
        big = P.reply("config_get", 4, tail=os.urandom(1000))
        assert channel.open(belt.seal(big)) == big
        belt = A.Session(owner)
        belt.handle(A.EV_CONNECT, 0)
    assert owner.keys.key(host_id) == key
