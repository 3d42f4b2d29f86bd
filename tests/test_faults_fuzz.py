"""Property-based fuzzing (hypothesis) of the framing, the session decoder and the protocol's
packet parser, on the firmware's own modules under CPython, the framing's and the decoder's inputs
then replayed under MicroPython (tests/faults/codecreplay.py holds the checks both run): whatever
arrives, the deframer yields only packets whose CRC held, the reader says a status and never
raises, and the parser takes a packet or refuses it with one line; both interpreters give the
same packets and frames. Reduced here; `make faults` runs it with CORECUE_FUZZ_EXAMPLES=100000
(docs/reliability.md)."""
import os
import struct
import subprocess
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

from corecue.interp import FIRMWARE, firmware_module, micropython_path

HERE = os.path.dirname(__file__)
framing = firmware_module("belt.framing")
P = firmware_module("belt.protocol")
if os.path.join(HERE, "faults") not in sys.path:
    sys.path.insert(0, os.path.join(HERE, "faults"))
import codecreplay  # noqa: E402

EXAMPLES = int(os.environ.get("CORECUE_FUZZ_EXAMPLES", "300"))
_SETTINGS = settings(max_examples=300, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])
_GOOD_LEN = len(codecreplay.fuzz_session())


def _chunks_line(chunks):
    return "D " + ",".join(c.hex() for c in chunks)


def _session_line(cut, flips):
    return "S %d" % cut + "".join(" %d:%d" % f for f in flips)


def test_framing_and_session_decoder_fuzzed_then_replayed_under_micropython(tmp_path):
    replay = codecreplay.Replay()
    lines = []

    def check(line):
        lines.append(line)
        why = replay.line(line)
        assert why is None, f"{line[:80]}: {why}"

    fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

    @fuzz
    @given(st.lists(st.binary(max_size=300), max_size=8))
    def deframed(chunks):
        check(_chunks_line(chunks))

    @fuzz
    @given(st.integers(0, _GOOD_LEN),
           st.lists(st.tuples(st.integers(0, _GOOD_LEN - 1), st.integers(0, 255)), max_size=6))
    def decoded(cut, flips):
        check(_session_line(cut, flips))
    deframed()
    decoded()
    (d_tried, _, d_digest), (s_tried, _, s_digest) = replay.rows["D"], replay.rows["S"]
    assert d_tried >= EXAMPLES * 0.9 and s_tried >= EXAMPLES * 0.9, (d_tried, s_tried)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(line + "\n" for line in lines))
    p = subprocess.run([micropython_path(), "-X", "heapsize=8M",
                        os.path.join(HERE, "faults", "codecreplay.py"), FIRMWARE, str(corpus)],
                       capture_output=True, text=True, timeout=600)
    out = (p.stdout + p.stderr).strip().splitlines()
    rows = [ln for ln in out if " tried " in ln]
    assert p.returncode == 0 and len(rows) == 2, "\n".join(out[-20:])
    assert f"tried {d_tried} failed 0 lost 0 digest {d_digest:08x}" in rows[0], rows[0]
    assert f"tried {s_tried} failed 0 lost 0 digest {s_digest:08x}" in rows[1], rows[1]
    print(f"framing fuzzed tried {d_tried}, session decoder fuzzed tried {s_tried}: failed 0 "
          f"(CPython and MicroPython)")


def test_the_replay_refuses_what_breaks_the_rules():
    # The checks can fail: a decoder that misreads a changed session as closed, and a deframer
    # that yields a packet framing would not give back, are both reported.
    replay = codecreplay.Replay()
    good = replay.good_frames
    replay.good_frames = [(e + 5, q) for e, q in good]
    assert "intact prefix" in replay.line(_session_line(_GOOD_LEN, []))
    line = _chunks_line([framing.encode(b"a packet")])
    assert codecreplay.Replay().line(line) is None
    plain = codecreplay.framing.encode
    try:
        codecreplay.framing.encode = lambda p: b"\x00"
        assert "does not give back" in (codecreplay.Replay().line(line) or "")
    finally:
        codecreplay.framing.encode = plain


@_SETTINGS
@given(st.binary(min_size=6, max_size=1100))
def test_a_framed_packet_comes_back_exactly(packet):
    d = framing.Deframer()
    got = []
    d.feed(framing.encode(packet), lambda p: got.append(bytes(p)))
    assert got == [packet]


@_SETTINGS
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF), st.binary(max_size=64))
def test_every_packet_parses_or_is_refused_in_one_piece(t, flags, req, payload):
    pkt = struct.pack("<BBHH", t, flags, req, len(payload)) + payload
    try:
        parsed = P.parse(pkt)
    except P.ProtocolError as e:            # refused: a code and one line
        assert e.code == P.E_MALFORMED and "\n" not in e.message
        return
    assert parsed[0] == t and bytes(parsed[3]) == payload
