# Golden vectors and framing robustness. The same vectors appear in docs/protocol.md, and the
# companion uses this very codec, so a change to any byte of the format fails here first.
from fwtest import eq, raises, record

from belt import framing, protocol as P


def hx(b):
    return " ".join("%02x" % x for x in b)


GOLDEN = (
    ("hello request", lambda: P.request("hello", 1, 2, 2),
     "01 00 01 00 02 00 02 02",
     "00 02 01 02 01 02 02 07 02 02 77 c7 e5 14 00"),
    ("hello reply", lambda: P.reply("hello", 1, 2, 2, P.CAP_USB | P.CAP_LIVE | P.CAP_AUTH,
                                    b"\x12\x34\x56\x78\x9a\xbc\xde\xf0", 1024, tail=b"0.1.0"),
     "81 00 01 00 15 00 02 02 0d 00 00 00 12 34 56 78 9a bc de f0 00 04 30 2e 31 2e 30",
     "00 02 81 02 01 02 15 04 02 02 0d 01 01 09 12 34 56 78 9a bc de f0 0b 04 30 2e 31 2e 30 "
     "b9 81 76 e7 00"),
    ("session_confirm request", lambda: P.request("session_confirm", 7, 42, 0x03000310),
     "0b 00 07 00 08 00 2a 00 00 00 10 03 00 03",
     "00 02 0b 02 07 02 08 02 2a 01 01 10 23 10 30 10 23 06 10 23 b3 2d 2c 5a 00"),
    ("error", lambda: P.error(7, P.E_CRC, "crc mismatch"),
     "7f 00 07 00 0d 00 06 63 72 63 20 6d 69 73 6d 61 74 63 68",
     "00 02 7f 02 07 02 0d 12 06 63 72 63 20 6d 69 73 6d 61 74 63 68 3c b6 8c b8 00"),
)


def test_golden_vectors():
    for name, make, pkt, wire in GOLDEN:
        p = make()
        eq(hx(p), pkt, name + " packet")
        eq(hx(framing.encode(p)), wire, name + " on the wire")


def _collect(chunks):
    got = []
    d = framing.Deframer()
    for c in chunks:
        d.feed(c, lambda pkt: got.append(bytes(pkt)))
    return got, d


def test_round_trip_of_awkward_bytes_fed_one_at_a_time():
    pkts = [P.packet(0x42, 0, bytes(range(256)) * 4),        # zeros, 0x03, 0x10, long COBS runs
            P.packet(0x42, 0, b"\x03" * 300),
            P.packet(0x42, 0, b"\x00" * 300),
            P.packet(0x01, 65535, b"")]
    wire = b"".join(framing.encode(p) for p in pkts)
    eq(b"\x03" in wire, False, "no Ctrl-C on the wire")
    got, d = _collect([wire[i:i + 1] for i in range(len(wire))])
    eq(got, pkts, "packets back")
    eq(d.dropped, 0, "nothing dropped")
    record("wire_len", len(wire))


def test_resynchronises_after_repl_text_and_garbage():
    good = P.request("status", 3)
    wire = b"MicroPython v1.28\r\n>>> " + framing.encode(good) + b"\xff\xfe garbage" + \
        framing.encode(good)
    got, d = _collect([wire])
    eq(got, [good, good], "both packets despite the text around them")


def test_corrupt_truncated_and_oversized_frames_are_dropped():
    good = P.request("status", 3)
    w = bytearray(framing.encode(good))
    w[5] ^= 0x40                                       # a flipped bit: CRC fails
    cut = framing.encode(good)[:-4] + b"\x00"          # truncated
    big = b"\x00" + b"\x01" * 5000 + b"\x00"           # longer than any frame
    ctrl = b"\x00\x05\x03\x01\x02\x03\x00"             # a Ctrl-C inside a frame
    got, d = _collect([bytes(w), cut, big, ctrl, framing.encode(good)])
    eq(got, [good], "only the good one")
    eq(d.dropped, 4, "four dropped")


def test_packet_parse_refuses_bad_lengths_and_flags():
    p = P.request("buzz", 9, 3)
    eq(P.parse(p), (0x0E, 0, 9, b"\x03"), "parse")
    e = raises(P.ProtocolError, P.parse, p[:-1])
    eq(e.code, P.E_MALFORMED, "short payload")
    e = raises(P.ProtocolError, P.parse, p[:1] + b"\x80" + p[2:])
    eq(e.code, P.E_MALFORMED, "unknown flag")
    e = raises(P.ProtocolError, P.decode_fields, "<II", b"\x00" * 7)
    eq(e.code, P.E_MALFORMED, "fields too short")
    eq(P.decode_fields("<H*", b"\x02\x00abc"), ((2,), b"abc"), "fixed part and tail")


def test_auth_trailer_has_room():
    p = P.packet(0x0E, 5, b"\x01", flags=P.F_AUTH) + b"\x00" * P.AUTH_LEN
    eq(P.parse(p)[:3], (0x0E, P.F_AUTH, 5), "a packet with an auth trailer parses")


def test_every_message_has_a_unique_type():
    seen = {}
    for m in P.MESSAGES + P.EVENTS:
        eq(m[1] in seen, False, "type 0x%02x used twice" % m[1])
        seen[m[1]] = m[0]
        eq(P.name_of(m[1]), m[0], "name of 0x%02x" % m[1])
