# The belt's cryptographic building blocks against their standards' own test vectors: X25519
# (RFC 7748), HMAC-SHA256 (RFC 4231), HKDF-SHA256 (RFC 5869), AES-128-CTR (NIST SP 800-38A),
# AES-128-CMAC (RFC 4493).
from fwtest import IS_MPY, allocated, eq, raises
from belt.aescmac import Cmac
from belt.aesctr import Ctr, packet_iv
from belt.mac import Key, equal, hkdf, hmac_sha256
from belt.x25519 import BASE, public_key, shared_secret, x25519

h = bytes.fromhex


def test_x25519_rfc7748_section_5_2():
    eq(x25519(h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
              h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")).hex(),
       "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", "vector 1")
    eq(x25519(h("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
              h("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")).hex(),
       "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957", "vector 2")
    # The iterated test, first step: k = u = 9. (1000 steps take too long for a test; the
    # benchmark bench/x25519_cost.py checks them.)
    eq(x25519(BASE, BASE).hex(),
       "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", "iteration 1")


def test_x25519_rfc7748_section_6_1_key_agreement():
    alice = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    eq(public_key(alice).hex(),
       "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "alice")
    eq(public_key(bob).hex(),
       "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", "bob")
    k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    eq(shared_secret(alice, public_key(bob)).hex(), k, "alice's secret")
    eq(shared_secret(bob, public_key(alice)).hex(), k, "bob's secret")


def test_x25519_refuses_small_order_points_and_bad_sizes():
    alice = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    for u in (bytes(32), b"\x01" + bytes(31),
              h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")):
        raises(ValueError, shared_secret, alice, u)
    raises(ValueError, x25519, alice[:31], BASE)
    raises(ValueError, x25519, alice, BASE + b"\0")


def test_hmac_sha256_rfc4231():
    eq(hmac_sha256(b"\x0b" * 20, b"Hi There").hex(),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "case 1")
    eq(hmac_sha256(b"Jefe", b"what do ya ", b"want for nothing?").hex(),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "case 2, in parts")
    eq(Key(b"\xaa" * 131).digest(b"Test Using Larger Than Block-Size Key - Hash Key First").hex(),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", "case 6")


def test_hkdf_sha256_rfc5869():
    eq(hkdf(b"\x0b" * 22, h("000102030405060708090a0b0c"), h("f0f1f2f3f4f5f6f7f8f9"), 42).hex(),
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
       "case 1")
    eq(hkdf(b"\x0b" * 22, b"", b"", 42).hex(),
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
       "case 3")
    raises(ValueError, hkdf, b"k", b"", b"", 255 * 32 + 1)


def test_equal():
    eq(equal(b"abcd", b"abcd"), True, "same")
    eq(equal(b"abcd", b"abce"), False, "last byte")
    eq(equal(b"abcd", b"bbcd"), False, "first byte")
    eq(equal(b"abc", b"abcd"), False, "length")


_NIST_PT = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
             "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
_NIST_CT = ("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
            "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee")
_NIST_KEY = h("2b7e151628aed2a6abf7158809cf4f3c")
_NIST_IV = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")


def test_aes_ctr_sp800_38a_f_5_1():
    buf = bytearray(_NIST_PT)
    Ctr(_NIST_KEY).crypt(buf, 0, len(buf), _NIST_IV)
    eq(bytes(buf).hex(), _NIST_CT, "CTR-AES128.Encrypt")
    Ctr(_NIST_KEY).crypt(buf, 0, len(buf), _NIST_IV)
    eq(bytes(buf), _NIST_PT, "CTR-AES128.Decrypt")


def test_aes_ctr_in_place_on_part_of_a_buffer():
    # A packet's payload: bytes before and after stay; a partial last block uses the stream's
    # first bytes, as the whole-message encryption does.
    buf = bytearray(b"HEAD" + _NIST_PT[:37] + b"TAIL")
    Ctr(_NIST_KEY).crypt(buf, 4, 37, _NIST_IV)
    eq(bytes(buf[:4]) + bytes(buf[-4:]), b"HEADTAIL", "outside untouched")
    eq(bytes(buf[4:-4]).hex(), _NIST_CT[:74], "partial block")


def test_aes_ctr_packet_iv():
    eq(packet_iv(0x01020304), b"\x04\x03\x02\x01" + bytes(12), "counter little-endian")
    for counter in (1, 0x7FFFFFFF, 0xFFFFFFFF):     # also beyond a small int on the ESP32
        a = bytearray(20)
        b = bytearray(20)
        Ctr(_NIST_KEY).crypt_packet(a, 0, 20, counter)
        Ctr(_NIST_KEY).crypt(b, 0, 20, packet_iv(counter))
        eq(bytes(a), bytes(b), "counter %x" % counter)
    a = bytearray(100)
    b = bytearray(100)
    c = Ctr(_NIST_KEY)
    c.crypt_packet(a, 0, 100, 7)
    c.crypt(b, 0, 100, packet_iv(7))
    eq(bytes(a), bytes(b), "crypt_packet is crypt from packet_iv")
    c.crypt_packet(b, 0, 100, 8)
    eq(bytes(a) == bytes(b), False, "another counter, another stream")


def test_aes_ctr_allocates_nothing_per_packet():
    if not IS_MPY:
        return              # CPython's shim allocates; the belt's interpreter is what counts
    c = Ctr(_NIST_KEY)
    buf = bytearray(236)
    c.crypt_packet(buf, 6, 230, 1)      # first use: cryptolib expands the key

    def run():
        c.crypt_packet(buf, 6, 230, 2)
    eq(allocated(run), 0, "bytes allocated by one 230-byte chunk")


def test_aes_cmac_rfc4493():
    c = Cmac(_NIST_KEY)
    eq(c.tag(b"").hex(), "bb1d6929e95937287fa37d129b756746", "example 1, empty")
    eq(c.tag(_NIST_PT[:16]).hex(), "070a16b46b4d4144f79bdd9dd04a287c", "example 2, one block")
    eq(c.tag(_NIST_PT[:40]).hex(), "dfa66747de9ae63030ca32611497c827", "example 3, 40 bytes")
    eq(c.tag(_NIST_PT).hex(), "51f0bebf7e3b9d92fc49741779363cfe", "example 4, 64 bytes")
    out = bytearray(12)
    c.tag_into(_NIST_PT, 40, out, 2, 8)
    eq(bytes(out).hex(), "0000dfa66747de9ae6300000", "truncated, in place")


def test_aes_cmac_allocates_nothing():
    if not IS_MPY:
        return
    c = Cmac(_NIST_KEY)
    buf = bytearray(_NIST_PT)
    out = bytearray(8)

    def run():
        c.tag_into(buf, 28, out, 0, 8)
    eq(allocated(run), 0, "bytes allocated by one tag")
