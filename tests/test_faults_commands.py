"""Property-based fuzzing (hypothesis) of every request through the belt's command handler
(belt.commands behind the protocol parser), on the firmware's own modules under CPython, then the
same inputs replayed under MicroPython: the handler answers everything, and a refused request
(an ERROR reply, one line) changes nothing on the belt; both interpreters give the same replies.
Reduced here; `make faults` runs it with CORECUE_FUZZ_EXAMPLES=100000 (docs/reliability.md)."""
import os
import struct
import subprocess
import sys

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from corecue.interp import FIRMWARE, firmware_module, micropython_path

HERE = os.path.dirname(__file__)
P = firmware_module("belt.protocol")
for _p in (os.path.join(HERE, "faults"), os.path.join(HERE, "firmware")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
import cmdbelt  # noqa: E402

EXAMPLES = int(os.environ.get("CORECUE_FUZZ_EXAMPLES", "400"))
_TYPES = [m[1] for m in P.MESSAGES] + [0x00, 0x10, 0x41, 0x7F, 0x80, 0xFF]
_FORMATS = {m[1]: m[2] for m in P.MESSAGES}


def _size(t):
    fmt = _FORMATS.get(t)
    return 0 if fmt is None else struct.calcsize(fmt.rstrip("*") or "<")


@st.composite
def packets(draw):
    """A request of any type: its header right or wrong, its payload of the right size with any
    values, or of a wrong size; a config_set's JSON-ish tail; or bytes at random."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=80))
    t = draw(st.sampled_from(_TYPES))
    flags = draw(st.sampled_from([0, 0, 0, 0, P.F_AUTH, 2, 0x80, 0xFF]))
    req = draw(st.integers(0, 0xFFFF))
    if kind <= 5:
        payload = draw(st.binary(min_size=_size(t), max_size=_size(t)))
    elif kind <= 7:
        payload = draw(st.binary(max_size=_size(t) + 8))
    else:
        payload = draw(st.text(alphabet='{}[]":,0123456789.-eE truefalsn_lowpmtargethigh',
                               max_size=60)).encode()
    length = len(payload) if draw(st.integers(0, 7)) else draw(st.integers(0, 0xFFFF))
    return struct.pack("<BBHH", t, flags, req, length) + payload


def test_every_request_through_the_command_handler_refused_changes_nothing(tmp_path):
    belt = cmdbelt.Belt("cmdfuzz")
    sent = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(packets())
    def one(pkt):
        assume(not cmdbelt.acts(pkt))       # not counted as an example: EXAMPLES are sent
        sent.append(pkt)
        why = belt.check(pkt)
        assert why is None, f"{pkt.hex()}: {why}"
    one()
    assert belt.tried >= EXAMPLES * 0.9 and belt.refused > belt.tried // 2, (
        belt.tried, belt.refused)
    # The same inputs, in the same order, under MicroPython: the same replies.
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(cmdbelt.hexlines(sent))
    p = subprocess.run([micropython_path(), "-X", "heapsize=8M",
                        os.path.join(HERE, "faults", "cmdreplay.py"), FIRMWARE, str(corpus)],
                       capture_output=True, text=True, timeout=600)
    lines = (p.stdout + p.stderr).strip().splitlines()
    row = [ln for ln in lines if " tried " in ln]
    assert p.returncode == 0 and row, "\n".join(lines[-20:])
    assert f"tried {belt.tried} failed 0" in row[0], row[0]
    assert f"digest {belt.digest:08x}" in row[0], (row[0], f"CPython: {belt.digest:08x}")
    print(f"commands fuzzed tried {belt.tried} failed 0 lost 0 refused {belt.refused} "
          f"(CPython and MicroPython)")
