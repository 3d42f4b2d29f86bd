# Ownership in front of the real command handler, on a real app on the sim board: a client that
# has not authenticated tries every message of the protocol table with values the belt would
# otherwise act on (confirm an unsynced session with its right CRC, move the band, start and
# stop sessions, reboot...). Every one is refused, and the belt's state and every byte of its
# flash stay as they were. The owner, paired over USB, then does the same things.
import os
import struct

from fwtest import eq, record

import beltrig as rig
from belt import auth as A
from belt import protocol as P
from belt.channel import Channel
from belt.commands import Commands
from belt.keystore import KeyStore
from belt.owned import Owned
from belt.x25519 import public_key, shared_secret

HOST = b"\x42" * 8


def _flash(root):
    """Every file under root and its bytes."""
    out = {}
    for name in sorted(os.listdir(root)):
        p = root + "/" + name
        if os.stat(p)[0] & 0x4000:
            for k, v in _flash(p).items():
                out[name + "/" + k] = v
        else:
            with open(p, "rb") as f:
                out[name] = f.read()
    return out


def _belt(name):
    d = rig.fresh(name)
    board, app, _ = rig.boot(d)
    cmd = Commands(app)
    owner = A.Owner(KeyStore(board.root + "/keys"), board.device_id())
    return board, app, cmd, owner


def _attacks(app, sid):
    """One request of every type in the table, with values that would act."""
    crc = app.store.crc(sid)
    return [
        ("status", ()), ("config_get", ()), ("config_set", (), b'{"low_pm":600,"high_pm":800,'
                                                             b'"target_pm":700}'),
        ("time_set", (1767225600,)), ("calibrate", (P.CAL_BEGIN, 1)), ("live", (1,)),
        ("session_list", (0,)), ("session_read", (sid, 0, 8, 200)), ("session_ack", (sid, 100)),
        ("session_confirm", (sid, crc)), ("session_start", ()), ("session_stop", ()),
        ("buzz", (0,)), ("reboot", ()),
    ]


def _pair(owned, now):
    """The companion's side of a USB pairing and its first authentication, by hand."""
    priv = bytes(range(100, 132))
    pub = public_key(priv)
    out, _ = owned.handle(P.packet(A.T_PAIR, 1, HOST + pub), now)
    belt_pub = P.parse(out[0])[3]
    key = A.pair_key(shared_secret(priv, belt_pub), owned.session.owner.device_id, HOST, pub,
                     belt_pub)
    nonce = bytes(16)
    out, _ = owned.handle(P.packet(A.T_AUTH, 2, HOST + nonce), now)
    belt_nonce, belt_proof = P.parse(out[0])[3][:16], P.parse(out[0])[3][16:]
    mine, host_proof = A.proofs(key, owned.session.owner.device_id, HOST, nonce, belt_nonce)
    eq(belt_proof, mine, "the belt proved it holds the key")
    out, _ = owned.handle(P.packet(A.T_AUTH_PROOF, 3, host_proof), now)
    host = Channel(A.session_keys(key, owned.session.owner.device_id, HOST, nonce, belt_nonce),
                   belt=False)
    eq(host.open(out[0])[0], A.T_AUTH_PROOF | P.REPLY, "authenticated")
    return host


def test_an_unauthenticated_client_changes_nothing():
    board, app, cmd, owner = _belt("owned1")
    owned = Owned(cmd, owner)
    tried = []

    async def body():
        sid = rig.reply(cmd.handle(P.request("session_start", 1)))[2][0]
        await rig.advance(board, 2000)
        cmd.handle(P.request("session_stop", 2))
        rig.reply(cmd.handle(P.request("session_start", 3)))       # and one open
        await rig.advance(board, 500)
        owned.connected(board.ticks_ms())
        before, flash = rig.state(app, cmd), _flash(board.root)
        for i, attack in enumerate(_attacks(app, sid)):
            name, fields = attack[0], attack[1]
            tail = attack[2] if len(attack) > 2 else b""
            out, drop = owned.handle(P.request(name, 10 + i, *fields, tail=tail),
                                     board.ticks_ms())
            eq(len(out), 1, name + ": one answer")
            got = rig.reply(out[0])
            eq((got[0], got[2]), ("ERROR", P.E_AUTH), name + ": refused")
            eq(drop, None, name + ": refusing a stranger's request does not count against it")
            await rig.advance(board, 100)
            eq(rig.state(app, cmd), before, name + ": state unchanged")
            tried.append(name)
        eq(owned.commands.after, None, "no reboot pending")
        app.stop_session()
        eq(_flash(board.root) == flash, False, "closing the open session does change the flash")
    rig.run(board, app, body)
    eq(sorted(tried + ["hello"]), sorted(m[0] for m in P.MESSAGES), "the whole table")
    record("owned_refused", len(tried))


def test_flash_is_byte_identical_after_the_attacks():
    board, app, cmd, owner = _belt("owned2")
    owned = Owned(cmd, owner)

    async def body():
        sid = rig.reply(cmd.handle(P.request("session_start", 1)))[2][0]
        await rig.advance(board, 2000)
        cmd.handle(P.request("session_stop", 2))
        await rig.advance(board, 200)
        owned.connected(board.ticks_ms())
        flash = _flash(board.root)
        for i, attack in enumerate(_attacks(app, sid)):
            owned.handle(P.request(attack[0], 10 + i, *attack[1],
                                   tail=attack[2] if len(attack) > 2 else b""), board.ticks_ms())
        await rig.advance(board, 500)
        eq(_flash(board.root), flash, "every byte of the flash")
        eq(app.store.list()[0][2], False, "the session is still unsynced")
    rig.run(board, app, body)


def test_the_owner_paired_over_usb_is_served_sealed():
    board, app, cmd, owner = _belt("owned3")
    paired = []
    owned = Owned(cmd, owner, usb=True, on_paired=paired.append)

    async def body():
        sid = rig.reply(cmd.handle(P.request("session_start", 1)))[2][0]
        await rig.advance(board, 2000)
        cmd.handle(P.request("session_stop", 2))
        await rig.advance(board, 200)
        host = _pair(owned, board.ticks_ms())
        eq(paired, [HOST], "paired once")
        hello, _ = owned.handle(host.seal(P.request("hello", 4, P.VERSION, 1)), 0)
        caps = rig.reply(host.open(hello[0]))[2][2]
        eq(caps & P.CAP_AUTH, P.CAP_AUTH, "HELLO announces ownership")
        crc = app.store.crc(sid)
        out, _ = owned.handle(host.seal(P.request("session_confirm", 5, sid, crc)), 0)
        eq(rig.reply(host.open(out[0]))[0], P.type_of("session_confirm") | P.REPLY, "confirmed")
        eq(app.store.list()[0][2], True, "synced by its owner")
        out, _ = owned.handle(host.seal(P.request("live", 6, 1)), 0)
        eq(cmd.live, True, "live on")
        # A live frame as the link packs it, sealed in place.
        ev = P.event("effort", 1, 200, 0, 0, 500)
        buf = bytearray(len(ev) + P.AUTH_LEN)
        buf[:len(ev)] = ev
        n = owned.seal_into(buf, len(ev))
        eq(host.open(bytes(buf[:n])), ev, "the live frame, sealed")
        # Three refused packets end it: over USB, back to unauthenticated, live off.
        for i in range(A.MAX_FAILURES):
            bad = bytearray(host.seal(P.request("status", 7)))
            bad[-1] ^= 1                        # the tag's last bit: the keys are random here
            out, drop = owned.handle(bytes(bad), 0)
        eq((drop is not None, owned.authenticated, cmd.live), (True, False, False), "reset")
        out, _ = owned.handle(P.request("status", 8), 0)
        eq(rig.reply(out[0])[2], P.E_AUTH, "authenticate again")
    rig.run(board, app, body)
    eq(KeyStore(board.root + "/keys").hosts(), [HOST], "the key is on the belt's flash")


def test_a_packet_that_runs_the_heap_out_below_the_handler_gets_a_sealed_refusal():
    # Opening, checking or sealing ran the heap out and MemoryError went up to the link, whose
    # task started over with the request unanswered. The refusal made at boot now goes out
    # sealed in place; if even sealing fails, nothing does, and nothing is raised.
    # tests/faults/memfail.py (owned) tries this at every allocation site of a sync.
    board, app, cmd, owner = _belt("owned4")
    owned = Owned(cmd, owner, usb=True)
    host = _pair(owned, board.ticks_ms())
    session = owned.session
    plain_seal, plain_into = session.seal, owned.seal_into

    def full(*_):
        raise MemoryError("memory allocation failed")
    session.seal = full
    try:
        out, drop = owned.handle(host.seal(P.request("status", 0x2345)), 0)
        got = rig.reply(host.open(bytes(out[0])))
        eq((got[0], got[1], got[2], drop), ("ERROR", 0x2345, P.E_INTERNAL, None),
           "the sealed refusal, its request id and code")
        owned.seal_into = full
        eq(owned.handle(host.seal(P.request("status", 0x2346)), 0), ([], None),
           "nothing goes out when even the refusal cannot be sealed")
    finally:
        session.seal, owned.seal_into = plain_seal, plain_into
    out, _ = owned.handle(host.seal(P.request("status", 0x2347)), 0)
    eq(rig.reply(host.open(out[0]))[0], P.type_of("status") | P.REPLY, "then served as before")
