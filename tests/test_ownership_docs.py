"""docs/protocol.md's "Ownership" section is the handshake's specification: its messages are
belt.auth's, and its golden vectors are the ones both sides' tests use."""
import importlib.util
import os
import re

from corecue.interp import ROOT, firmware_module

A = firmware_module("belt.auth")
DOC = open(os.path.join(ROOT, "docs", "protocol.md")).read()
SECTION = DOC.split("## Ownership")[1]

_spec = importlib.util.spec_from_file_location(
    "authvectors", os.path.join(ROOT, "tests", "firmware", "authvectors.py"))
VECTORS = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(VECTORS)


def test_every_ownership_message_is_documented_with_its_formats():
    for name, t, req, rep in A.MESSAGES:
        row = re.search(r"^\| `%s` \| 0x%02x \|.*$" % (name, t), SECTION, re.M)
        assert row, f"{name} (0x{t:02x}) missing from the Ownership table"
        for fmt in (req, rep):
            if fmt:
                assert f"`{fmt}`" in row.group(0), f"{name}: format {fmt} not in its row"


def test_the_documented_vectors_are_the_tested_ones():
    block = SECTION.split("### Golden vectors")[1].split("###")[0]
    found = dict((name, bytes.fromhex(" ".join(body.split()))) for name, body in
                 re.findall(r"^    (\w+)\n((?:        [0-9a-f ]+\n)+)", block, re.M))
    assert found == {k: bytes.fromhex(v) for k, v in VECTORS.V.items()}


def test_the_labels_in_the_document_are_the_codes():
    for label in (A.PAIR_SALT, A.BELT_PROOF, A.HOST_PROOF, A.SESSION_INFO):
        assert f'"{label.decode()}"' in SECTION, label
