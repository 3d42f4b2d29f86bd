# Ownership on the belt: the handshake against the golden vectors (the companion's codec is
# tested against the same ones), the pairing window, what an unauthenticated connection may do,
# and packets replayed, reordered, tampered with or truncated.
import os

from fwtest import eq, raises, record
from flashsim import tmp_dir
from authvectors import b
from belt import auth as A
from belt import protocol as P
from belt.channel import Channel, ChannelError
from belt.keystore import BROKEN, OWNED, UNPAIRED, KeyStore


class Random:
    """The belt's random source with chosen bytes: the vectors' private key, then nonces."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)

    def __call__(self, n):
        c = self.chunks.pop(0) if self.chunks else bytes(range(n))
        assert len(c) == n
        return c


def _owner(name, *chunks):
    keys = KeyStore(tmp_dir(name) + "/keys")
    return A.Owner(keys, b("device_id"), Random(*chunks))


def _file(owner):
    try:
        with open(owner.keys.path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _one(actions, kind):
    got = [a[1] for a in actions if a[0] == kind]
    eq(len(got), 1, "one action %d in %r" % (kind, actions))
    return got[0]


def _error(actions):
    pkt = _one(actions, A.A_SEND)
    eq(pkt[0], P.T_ERROR, "an ERROR")
    return pkt[6], bytes(pkt[7:]).decode()


def _host():
    """The companion's end of the vectors' connection, after the vectors' own packets: it has
    opened the sealed auth_proof reply and sent status (counter 1) and live (counter 2)."""
    host = Channel(b("session_keys"), belt=False)
    host.open(b("auth_proof_reply"))
    host.seal(P.request("status", 4))
    host.seal(P.request("live", 5, 1))
    return host


def _sealed_error(host, actions):
    return _error([(A.A_SEND, host.open(_one(actions, A.A_SEND)))])


def _paired(name="auth", usb=True):
    """A session through the vectors' pairing and handshake, over USB."""
    o = _owner(name, b("belt_private"), b("belt_nonce"))
    s = A.Session(o, usb=usb)
    s.handle(A.EV_CONNECT, 0)
    if not usb:
        o.open_window(0)
    eq(_one(s.handle(A.EV_PACKET, 10, b("pair_request")), A.A_SEND), b("pair_reply"), "pair")
    eq(_one(s.handle(A.EV_PACKET, 20, b("auth_request")), A.A_SEND), b("auth_reply"), "auth")
    out = s.handle(A.EV_PACKET, 30, b("auth_proof_request"))
    eq(_one(out, A.A_SEND), b("auth_proof_reply"), "auth_proof reply, sealed")
    eq(_one(out, A.A_PAIRED), b("host_id"), "paired")
    eq(s.authenticated, True, "authenticated")
    return o, s


def test_handshake_matches_the_golden_vectors():
    o, s = _paired()
    eq(o.keys.key(b("host_id")), b("pair_key"), "the stored pairing key")
    eq(o.keys.state, OWNED, "owned")
    eq(_one(s.handle(A.EV_PACKET, 40, b("status_request")), A.A_REQUEST),
       P.request("status", 4), "status, opened")
    eq(_one(s.handle(A.EV_PACKET, 50, b("live_request")), A.A_REQUEST),
       P.request("live", 5, 1), "live on, decrypted")
    eq(s.seal(P.reply("live", 5)), b("live_reply"), "reply sealed")
    eq(s.seal(P.event("effort", 1234, 200, 0, 0, 500)), b("effort_event"), "live effort sealed")
    record("auth_vectors", "ok")


def test_a_second_connection_authenticates_with_the_stored_key():
    o, _ = _paired("auth2")
    o.random = Random(b("belt_nonce"))
    s = A.Session(o)
    s.handle(A.EV_CONNECT, 0)
    eq(_one(s.handle(A.EV_PACKET, 1, b("auth_request")), A.A_SEND), b("auth_reply"), "auth")
    out = s.handle(A.EV_PACKET, 2, b("auth_proof_request"))
    eq(_one(out, A.A_SEND), b("auth_proof_reply"), "sealed reply")
    eq([a for a in out if a[0] == A.A_PAIRED], [], "no new pairing")
    eq(KeyStore(o.keys.path).key(b("host_id")), b("pair_key"), "the key survives a reload")


def test_the_belt_proves_first_and_a_wrong_host_proof_gets_nothing():
    o, _ = _paired("auth3")
    s = A.Session(o)
    s.handle(A.EV_CONNECT, 0)
    for i in range(A.MAX_FAILURES):
        s.handle(A.EV_PACKET, 1, b("auth_request"))
        bad = bytearray(b("auth_proof_request"))
        bad[-1] ^= 1
        out = s.handle(A.EV_PACKET, 2, bytes(bad))
        eq(_error(out)[0], P.E_AUTH, "refused")
        eq(s.authenticated, False, "not authenticated")
        drops = [a for a in out if a[0] == A.A_DROP]
        eq(len(drops), 1 if i == A.MAX_FAILURES - 1 else 0, "dropped after %d" % A.MAX_FAILURES)
    code, why = _error(s.handle(A.EV_PACKET, 3, b("auth_proof_request")))
    eq(code, P.E_STATE, "a proof with no challenge: " + why)


def test_unauthenticated_connections_may_send_hello_and_nothing_else():
    o, _ = _paired("auth4")
    before = _file(o)
    s = A.Session(o)
    s.handle(A.EV_CONNECT, 0)
    hello = P.request("hello", 1, P.VERSION, 1)
    eq(_one(s.handle(A.EV_PACKET, 1, hello), A.A_REQUEST), hello, "hello passes")
    tried = 0
    for name, t, req, _ in P.MESSAGES + A.MESSAGES:
        if t in (0x01, A.T_PAIR, A.T_AUTH, A.T_AUTH_PROOF):
            continue
        size = 0
        fmt = req.rstrip("*")
        if fmt:
            import struct
            size = struct.calcsize(fmt)
        out = s.handle(A.EV_PACKET, 2, P.packet(t, 9, bytes(size)))
        eq([a for a in out if a[0] == A.A_REQUEST], [], name + " reached the commands")
        eq(_error(out)[0], P.E_AUTH, name + " refused")
        tried += 1
    # A sealed packet from someone who never authenticated, and unknown types, fare no better.
    eq(_error(s.handle(A.EV_PACKET, 3, b("status_request")))[0], P.E_AUTH, "sealed")
    eq(_error(s.handle(A.EV_PACKET, 3, P.packet(0x30, 9)))[0], P.E_AUTH, "unknown")
    eq(_file(o), before, "key file unchanged")
    record("unauthenticated_refused", tried)


def test_pairing_over_bluetooth_needs_the_window():
    o = _owner("auth5", b("belt_private"), b("belt_nonce"))
    s = A.Session(o)
    s.handle(A.EV_CONNECT, 0)
    code, why = _error(s.handle(A.EV_PACKET, 1, b("pair_request")))
    eq((code, "buzzes twice" in why), (P.E_AUTH, True), "closed window: " + why)
    eq(_file(o), None, "nothing stored")
    o.open_window(100)
    eq(o.window_open(100 + A.WINDOW_MS - 1), True, "open for a minute")
    eq(o.window_open(100 + A.WINDOW_MS), False, "then closed")
    o.open_window(200)
    _one(s.handle(A.EV_PACKET, 210, b("pair_request")), A.A_SEND)
    _one(s.handle(A.EV_PACKET, 220, b("auth_request")), A.A_SEND)
    out = s.handle(A.EV_PACKET, 230, b("auth_proof_request"))
    _one(out, A.A_PAIRED)
    eq(o.window_open(231), False, "the window closes at the first pairing")
    # Another computer in range, a moment later: the window is closed.
    s2 = A.Session(o)
    s2.handle(A.EV_CONNECT, 240)
    other = P.packet(A.T_PAIR, 1, b"\x77" * 8 + b("host_public"))
    eq(_error(s2.handle(A.EV_PACKET, 250, other))[0], P.E_AUTH, "second computer refused")
    eq(o.keys.hosts(), [b("host_id")], "one owner")


def test_a_pairing_proved_after_the_window_closed_is_not_kept():
    o = _owner("auth6", b("belt_private"), b("belt_nonce"))
    s = A.Session(o)
    s.handle(A.EV_CONNECT, 0)
    o.open_window(0)
    _one(s.handle(A.EV_PACKET, 10, b("pair_request")), A.A_SEND)
    _one(s.handle(A.EV_PACKET, 20, b("auth_request")), A.A_SEND)
    out = s.handle(A.EV_PACKET, A.WINDOW_MS, b("auth_proof_request"))
    eq(_error(out)[0], P.E_AUTH, "window closed meanwhile")
    eq((s.authenticated, o.keys.state, _file(o)), (False, UNPAIRED, None), "nothing kept")


def test_refused_pairings_change_nothing():
    o = _owner("auth7", b("belt_private"))
    s = A.Session(o, usb=True)
    eq(_error(s.handle(A.EV_PACKET, 1, P.packet(A.T_PAIR, 1, bytes(8) + b("host_public"))))[0],
       P.E_INVALID, "host id of zeros")
    small = P.packet(A.T_PAIR, 1, b("host_id") + bytes(32))
    eq(_error(s.handle(A.EV_PACKET, 1, small))[0], P.E_INVALID, "small-order key")
    eq(_error(s.handle(A.EV_PACKET, 2, b("auth_request")))[0], P.E_AUTH, "nothing pending")
    for i in range(4):
        o.keys.add(bytes((i + 1,)) * 8, bytes(32))
    o.random = Random(b("belt_private"))
    code, why = _error(s.handle(A.EV_PACKET, 3, b("pair_request")))
    eq(code, P.E_STATE, "four computers paired: " + why)
    eq(len(o.keys.hosts()), 4, "still four")


def test_an_idle_stranger_is_dropped_but_not_a_cable():
    o = _owner("auth8")
    s = A.Session(o)
    s.handle(A.EV_CONNECT, 1000)
    eq(s.handle(A.EV_TICK, 1000 + A.AUTH_TIMEOUT_MS - 1), [], "still within the time")
    _one(s.handle(A.EV_TICK, 1000 + A.AUTH_TIMEOUT_MS), A.A_DROP)
    eq(s.handle(A.EV_TICK, 1000 + 2 * A.AUTH_TIMEOUT_MS), [], "dropped once")
    u = A.Session(o, usb=True)
    u.handle(A.EV_CONNECT, 0)
    eq(u.handle(A.EV_TICK, 10 * A.AUTH_TIMEOUT_MS), [], "USB is never dropped")
    _, s2 = _paired("auth8b", usb=False)
    eq(s2.handle(A.EV_TICK, 10 * A.AUTH_TIMEOUT_MS), [], "an authenticated link stays")


def test_replayed_reordered_tampered_and_truncated_requests_are_refused():
    _, s = _paired("auth9")
    host = _host()
    status, live = b("status_request"), b("live_request")
    _one(s.handle(A.EV_PACKET, 1, live), A.A_REQUEST)   # counter 2 first: 1 may never follow
    refused = 0
    for pkt in (status, live):                          # reordered, then replayed
        code, why = _sealed_error(host, s.handle(A.EV_PACKET, 2, pkt))
        eq((code, "replayed or reordered" in why), (P.E_AUTH, True), why)
        refused += 1
    good = host.seal(P.request("status", 6))            # counter 3
    for i in range(len(good) * 8):
        s._failures = 0         # each would count towards dropping the link; see below
        bad = bytearray(good)
        bad[i // 8] ^= 1 << (i % 8)
        out = s.handle(A.EV_PACKET, 3, bytes(bad))
        eq([a for a in out if a[0] == A.A_REQUEST], [], "bit %d flipped got through" % i)
        # Flags and length are the header's own checks; the rest fails the tag.
        eq(_sealed_error(host, out)[0], P.E_MALFORMED if i // 8 in (1, 4, 5) else P.E_AUTH,
           "bit %d" % i)
        refused += 1
    for n in range(len(good)):
        s._failures = 0
        out = s.handle(A.EV_PACKET, 4, good[:n])
        eq([a for a in out if a[0] == A.A_REQUEST], [], "truncated to %d got through" % n)
        host.open(_one(out, A.A_SEND))
        refused += 1
    # None of that moved the counter: the genuine packet is still taken, once.
    eq(_one(s.handle(A.EV_PACKET, 5, good), A.A_REQUEST), P.request("status", 6), "genuine")
    eq(_sealed_error(host, s.handle(A.EV_PACKET, 5, good))[0], P.E_AUTH, "and only once")
    record("tampered_refused", refused + 1)


def test_refusals_on_an_authenticated_link_are_sealed_and_drop_it():
    _, s = _paired("auth10")
    host = _host()
    _one(s.handle(A.EV_PACKET, 1, b("status_request")), A.A_REQUEST)
    drops = 0
    for i in range(A.MAX_FAILURES):
        out = s.handle(A.EV_PACKET, 1, b("status_request"))
        eq(_sealed_error(host, out)[0], P.E_AUTH, "a sealed ERROR")
        drops += len([a for a in out if a[0] == A.A_DROP])
    eq(drops, 1, "dropped at the third")
    out = s.handle(A.EV_PACKET, 2, P.request("status", 7))
    eq(_sealed_error(host, out)[0], P.E_AUTH, "a plain packet on an authenticated link")


def test_unpair_revokes_this_computer():
    o, s = _paired("auth11")
    host = Channel(b("session_keys"), belt=False)
    host.open(b("auth_proof_reply"))
    out = s.handle(A.EV_PACKET, 1, host.seal(P.packet(A.T_UNPAIR, 8, b("host_id"))))
    reply = host.open(_one(out, A.A_SEND))
    eq(reply, P.packet(A.T_UNPAIR | P.REPLY, 8, b"\x00"), "none left")
    _one(out, A.A_DROP)
    eq(KeyStore(o.keys.path).state, UNPAIRED, "revoked on flash")
    s2 = A.Session(o)
    s2.handle(A.EV_CONNECT, 0)
    code, why = _error(s2.handle(A.EV_PACKET, 1, b("auth_request")))
    eq((code, "not paired" in why), (P.E_AUTH, True), why)
    out = s.handle(A.EV_PACKET, 2, host.seal(P.packet(A.T_UNPAIR, 9, b"\x55" * 8)))
    eq(host.open(_one(out, A.A_SEND))[6], P.E_NOT_FOUND, "unknown computer")


def test_a_damaged_key_file_means_pair_again_never_open():
    o, _ = _paired("auth12")
    with open(o.keys.path, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 0x40
    with open(o.keys.path, "wb") as f:
        f.write(data)
    keys = KeyStore(o.keys.path)
    eq((keys.state, keys.note), (BROKEN, "keys: crc mismatch"), "pair again")
    s = A.Session(A.Owner(keys, b("device_id"), Random()))
    s.handle(A.EV_CONNECT, 0)
    code, why = _error(s.handle(A.EV_PACKET, 1, b("auth_request")))
    eq((code, "pair again" in why), (P.E_AUTH, True), why)
    eq(_error(s.handle(A.EV_PACKET, 2, P.request("session_list", 3, 0)))[0], P.E_AUTH,
       "still closed")
    eq(_error(s.handle(A.EV_PACKET, 2, b("pair_request")))[0], P.E_AUTH, "window still needed")


def test_channel_counter_runs_out():
    c = Channel(b("session_keys"))
    c.sent = 0xFFFFFFFF - 1
    c.seal(P.request("status", 1))
    eq(c.spent, True, "spent")
    raises(ChannelError, c.seal, P.request("status", 1))


def test_sealing_what_the_belt_sends_allocates_nothing():
    # The effort event of every frame while a live view is open, and every session chunk.
    from fwtest import IS_MPY, allocated
    if not IS_MPY:
        return
    c = Channel(b("session_keys"))
    for pkt in (P.event("effort", 1234, 200, 0, 0, 500), P.event("data", 7, 0, tail=bytes(230))):
        buf = bytearray(len(pkt) + 12)
        buf[:len(pkt)] = pkt
        c.seal_into(buf, len(pkt))

        def run():
            buf[:len(pkt)] = pkt
            c.seal_into(buf, len(pkt))
        eq(allocated(run), 0, "bytes allocated sealing %d bytes" % len(pkt))


def test_every_pairing_gets_a_fresh_belt_key_pair():
    keys = KeyStore(tmp_dir("auth13") + "/keys")
    o = A.Owner(keys, b("device_id"))       # the belt's own random source
    s = A.Session(o, usb=True)
    publics = set()
    for rid in (1, 2):
        publics.add(P.parse(_one(s.handle(A.EV_PACKET, 0, b("pair_request")), A.A_SEND))[3])
    o.open_window(0)                         # makes the next one ahead of the request
    publics.add(o.take_key_pair()[1])
    eq(len(publics), 3, "three pairings, three key pairs")
