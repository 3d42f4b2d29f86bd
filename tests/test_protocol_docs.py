"""docs/protocol.md is the protocol's specification: every message and event in the code is
documented there, and its byte-level examples are exactly what the codec produces."""
import os
import re

from corecue.interp import ROOT, firmware_module

P = firmware_module("belt.protocol")
F = firmware_module("belt.framing")
DOC = open(os.path.join(ROOT, "docs", "protocol.md")).read()


def test_every_message_and_event_is_documented():
    for name, t, *_ in P.MESSAGES + P.EVENTS:
        row = re.search(r"^\| `%s` \| 0x%02x \|" % (name, t), DOC, re.M | re.I)
        assert row, f"{name} (0x{t:02x}) missing from the tables in docs/protocol.md"


def test_documented_formats_match_the_code():
    for name, t, req, rep in P.MESSAGES:
        row = re.search(r"^\| `%s` \|.*$" % name, DOC, re.M).group(0)
        for fmt in (req, rep):
            if fmt == "*":
                assert "tail" in row, f"{name}: its variable tail is not described"
            elif fmt:
                assert f"`{fmt}`" in row, f"{name}: format {fmt} not in its row"


def _examples():
    """(packet bytes, wire bytes) pairs from the examples section."""
    text = DOC.split("## Examples")[1].split("## Messages")[0]
    blocks = re.findall(r"packet ([0-9a-f ]+)\n\s+wire\s+([0-9a-f \n]+?)\n\n", text + "\n\n")
    return [(bytes.fromhex(p), bytes.fromhex(" ".join(w.split()))) for p, w in blocks]


def test_documented_examples_are_what_the_codec_sends():
    ex = _examples()
    assert len(ex) == 4
    for packet, wire in ex:
        assert F.encode(packet) == wire
        got = []
        F.Deframer().feed(wire, lambda p: got.append(bytes(p)))
        assert got == [packet]
        P.parse(packet)
