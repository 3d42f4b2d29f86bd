"""Ownership tried as an attacker would, over the USB serial line: firmware/main.py on the sim board
with --serial, under MicroPython and under CPython (test_sim_serial's Belt). The owner paired over
the cable; then a stranger on the line tries every message of the protocol table, and recorded
requests of the owner are replayed, reordered, truncated and bit-flipped. Each must be refused
with an error reply and change nothing. docs/reliability.md's attack table cites these tests."""
import os

import pytest

from test_sim_serial import Belt, P, framing
from corecue.link import auth


def flash_bytes(flash):
    out = {}
    for root, _, files in os.walk(os.path.join(str(flash), "flash")):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, str(flash))] = f.read()
    return out


def _zeros(fmt):
    import struct
    f = fmt.rstrip("*") or "<"
    return P.decode_fields(f, bytes(struct.calcsize(f)))[0]


def _send(b, pkt):
    os.write(b.wfd, framing.encode(pkt))
    return b._answer(pkt[2] | pkt[3] << 8, 30)


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_a_stranger_on_the_line_is_refused_every_message_and_changes_nothing(tmp_path, interp):
    owner = Belt(tmp_path, "--speed", "0", interp=interp)
    owner.pair()
    sid = owner.call("session_start")[0][0]
    owner.call("session_stop")
    before = flash_bytes(tmp_path)
    # The stranger (no key): HELLO is answered, everything else refused.
    stranger = owner
    stranger.channel = None
    assert stranger.call("hello", P.VERSION, P.VERSION)[0][0] == P.VERSION
    tried = 0
    for name, _t, req_fmt, reply_fmt in P.MESSAGES:
        if name == "hello" or reply_fmt is None:
            continue
        got = stranger.call(name, *_zeros(req_fmt), tail=b"{}")
        assert got[:2] == ("ERROR", P.E_AUTH), (name, got)
        tried += 1
    os.write(stranger.wfd, framing.encode(P.request("session_ack", stranger._next(), sid, 9)))
    got = _send(stranger, P.packet(0x13, stranger._next(), bytes(8)))        # unpair
    assert got[:2] == ("ERROR", P.E_AUTH)
    assert stranger.call("session_list", 0)[:2] == ("ERROR", P.E_AUTH)      # after the ack
    assert tried == len(P.MESSAGES) - 2
    assert flash_bytes(tmp_path) == before, "the flash is byte-identical"
    rc, err = owner.close_input()
    assert rc == 0 and "Traceback" not in err, err


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_replayed_reordered_truncated_and_flipped_requests_are_refused(tmp_path, interp):
    import json
    b = Belt(tmp_path, "--speed", "0", interp=interp)
    b.pair()
    low = json.loads(b.call("config_get")[1])["low_pm"]
    assert low not in (151, 161, 171)
    ch = b.channel
    # Replayed: the same sealed session_start twice.
    start = ch.seal(P.request("session_start", b._next()))
    sid = _send(b, start)[0][0]
    assert _send(b, start)[:2] == ("ERROR", P.E_AUTH), "replay refused"
    # Reordered: a later request first, then the earlier one.
    first = ch.seal(P.request("config_set", b._next(), tail=b'{"low_pm": 151}'))
    second = ch.seal(P.request("session_stop", b._next()))
    assert _send(b, second)[0] == (sid,)
    assert _send(b, first)[:2] == ("ERROR", P.E_AUTH), "the older one after the newer refused"
    b.authenticate()                        # the third refusal ends the session: prove it again
    ch = b.channel
    # Truncated: the last byte of the tag missing; bit-flipped: one bit of the payload.
    cut = ch.seal(P.request("config_set", b._next(), tail=b'{"low_pm": 161}'))
    assert _send(b, cut[:-1])[:2] == ("ERROR", P.E_MALFORMED), "truncated refused"
    flip = bytearray(ch.seal(P.request("config_set", b._next(), tail=b'{"low_pm": 171}')))
    flip[8] ^= 0x04
    assert _send(b, bytes(flip))[:2] == ("ERROR", P.E_AUTH), "bit flip refused"
    assert json.loads(b.call("config_get")[1])["low_pm"] == low, "no refused change took"
    lst = b.call("session_list", 0)
    assert lst[0][0] == 1, "one session: the replay started none"
    # A passive recording: what went over the line never holds the pairing key.
    assert b.key not in bytes(b.text)
    rc, err = b.close_input()
    assert rc == 0 and "Traceback" not in err, err


def test_a_second_computer_pairs_over_the_cable_only_and_the_owner_stays(tmp_path):
    first = Belt(tmp_path, "--speed", "0", interp="micropython")
    first.pair()
    key, host = first.key, first.host
    first.channel = None
    # Another computer on the cable (holding the belt): it may pair, as a second owner.
    first.host = auth.new_host_id()
    first.pair()
    # The first owner is still known.
    first.host, first.key = host, key
    first.authenticate()
    assert first.call("status")[0][0] == 0
    rc, err = first.close_input()
    assert rc == 0, err
