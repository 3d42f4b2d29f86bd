# The belt's key file: owners survive a reload; a missing file is a belt without an owner, a
# damaged one the "pair again" state, and neither ever yields a key.
from fwtest import eq, raises, record
from flashsim import tmp_dir
from belt import keystore as K

H1, H2 = b"\x01" * 8, b"\x02" * 8
K1, K2 = bytes(range(32)), bytes(range(32, 64))


def _path(name):
    return tmp_dir(name) + "/keys"


def test_no_file_no_owner():
    ks = K.KeyStore(_path("ks1"))
    eq((ks.state, ks.note, ks.key(H1)), (K.UNPAIRED, None, None), "new belt")


def test_owners_survive_a_reload_and_can_be_revoked():
    p = _path("ks2")
    ks = K.KeyStore(p)
    ks.add(H1, K1)
    ks.add(H2, K2)
    ks.add(H1, K2)                      # pairing the same computer again replaces its key
    again = K.KeyStore(p)
    eq((again.state, again.hosts()), (K.OWNED, [H2, H1]), "reloaded")
    eq((again.key(H1), again.key(H2)), (K2, K2), "keys")
    eq(again.remove(H2), True, "removed")
    eq(again.remove(H2), False, "already gone")
    eq(K.KeyStore(p).hosts(), [H1], "on flash")
    again.clear()
    eq(K.KeyStore(p).state, K.UNPAIRED, "factory reset: no owner, not damaged")


def test_four_computers_at_most():
    ks = K.KeyStore(_path("ks3"))
    for i in range(K.SLOTS):
        ks.add(bytes((i + 1,)) * 8, K1)
    eq(ks.can_add(b"\x09" * 8), False, "full")
    eq(ks.can_add(H1), True, "a paired one may pair again")
    raises(K.KeyStoreFull, ks.add, b"\x09" * 8, K1)
    raises(ValueError, ks.add, b"\x09" * 7, K1)
    eq(len(K.KeyStore(ks.path).hosts()), K.SLOTS, "unchanged")


def test_every_damage_means_pair_again():
    p = _path("ks4")
    ks = K.KeyStore(p)
    ks.add(H1, K1)
    with open(p, "rb") as f:
        good = f.read()
    damaged = 0
    for i in range(len(good) * 8):
        bad = bytearray(good)
        bad[i // 8] ^= 1 << (i % 8)
        with open(p, "wb") as f:
            f.write(bad)
        got = K.KeyStore(p)
        eq((got.state, got.key(H1)), (K.BROKEN, None), "bit %d flipped" % i)
        damaged += 1
    for n in range(len(good)):
        with open(p, "wb") as f:
            f.write(good[:n])
        got = K.KeyStore(p)
        eq((got.state, got.hosts()), (K.BROKEN, []), "cut at %d" % n)
        damaged += 1
    eq(got.note.startswith("keys: "), True, got.note)
    # Pairing again over the damaged file makes a good one.
    got.add(H2, K2)
    eq(K.KeyStore(p).hosts(), [H2], "paired again")
    record("keyfile_damage_refused", damaged)
