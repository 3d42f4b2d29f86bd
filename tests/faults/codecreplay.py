# The framing and the session decoder fed inputs that hypothesis made under CPython
# (tests/test_faults_fuzz.py writes them), replayed under MicroPython: whatever arrives, the
# deframer yields only packets that framing gives back exactly, the decoder says a status and
# never raises, an intact prefix of a session reads as a prefix, and no changed file reads as
# closed with other frames. Both interpreters must give the same results (their CRC32 printed).
#
#   micropython -X heapsize=8M tests/faults/codecreplay.py FIRMWARE CORPUS
#
# CORPUS: one input a line, "D <hex>,<hex>,..." (chunks fed to one deframer in turn) or
# "S <cut> <at>:<value> ..." (the fuzz session, cut to <cut> bytes, with bytes set).
# Prints "<row> tried N failed N lost 0 digest XXXXXXXX" per row and a line per failure.
import sys

_HERE = __file__.rsplit("/", 1)[0]
if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
else:                   # imported by tests/test_faults_fuzz.py, whatever its command line
    sys.path.insert(0, _HERE + "/../../firmware")
sys.path.insert(0, _HERE)
if sys.implementation.name != "micropython":
    sys.path.insert(0, _HERE + "/../../companion/corecue/twin/mpshim")     # `micropython`
import binascii  # noqa: E402

from belt import framing  # noqa: E402
from belt import sessionformat as sf  # noqa: E402
from belt.sessionlog import SessionWriter  # noqa: E402
from belt.sessionread import read_session  # noqa: E402

STATUSES = (sf.CLOSED, sf.OPEN, sf.TORN, sf.SHORT, sf.BAD_HEADER)


class _Tape:
    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b

    def flush(self):
        pass


def fuzz_session():
    """The session every "S" input changes: 250 frames, the same bytes on both interpreters."""
    t = _Tape()
    w = SessionWriter(t, 1, 0, 0, 0, 0, 0, 0, (150, 200, 300))
    for i in range(250):
        w.add_frame(150 + (i * 7) % 90, i % 3)
    w.close()
    return bytes(t.data)


class Replay:
    def __init__(self):
        self.good = fuzz_session()
        self.good_frames = read_session(self.good)[1]
        self.rows = {"D": [0, 0, 0], "S": [0, 0, 0]}     # tried, failed, digest

    def deframe(self, chunks):
        got = []
        d = framing.Deframer()
        for c in chunks:
            d.feed(c, lambda p: got.append(bytes(p)))
        digest = self.rows["D"][2]
        for p in got:
            again = []
            framing.Deframer().feed(framing.encode(p), lambda q: again.append(bytes(q)))
            if again != [p]:
                return "a packet that framing does not give back: %s" % binascii.hexlify(p)
            digest = binascii.crc32(p, digest)
        self.rows["D"][2] = binascii.crc32(b"|", digest)
        return None

    def decode(self, cut, sets):
        raw = bytearray(self.good[:cut])
        for at, v in sets:
            if at < len(raw):
                raw[at] = v
        try:
            header, frames, events, trailer, status = read_session(bytes(raw))
        except Exception as e:
            return "the decoder raised %r" % e
        if status not in STATUSES:
            return "status %r" % status
        if raw == bytearray(self.good[:len(raw)]):
            if frames != self.good_frames[:len(frames)]:
                return "an intact prefix read as other frames"
        elif status == sf.CLOSED and frames != self.good_frames:
            return "a changed file read as closed with other frames"
        d = binascii.crc32(status.encode(), self.rows["S"][2])
        for e, q in frames:
            d = binascii.crc32(bytes((e & 0xFF, e >> 8 & 0xFF, q)), d)
        self.rows["S"][2] = binascii.crc32(str(len(events)).encode() + b"|", d)
        return None

    def line(self, text):
        kind, _, rest = text.partition(" ")
        if kind == "D":
            why = self.deframe([binascii.unhexlify(c) for c in rest.split(",") if c] if rest
                               else [])
        else:
            parts = rest.split()
            sets = [tuple(int(x) for x in p.split(":")) for p in parts[1:]]
            why = self.decode(int(parts[0]), sets)
        row = self.rows[kind]
        row[0] += 1
        if why:
            row[1] += 1
        return why


NAMES = {"D": "framing fuzzed", "S": "session decoder fuzzed"}


def main(argv):
    r = Replay()
    shown = 0
    with open(argv[2]) as f:
        for text in f:
            text = text.rstrip("\n")
            why = r.line(text)
            if why and shown < 20:
                shown += 1
                print("FAIL %s: %s" % (text[:80], why))
    failed = 0
    for kind in ("D", "S"):
        tried, bad, digest = r.rows[kind]
        failed += bad
        print("%s tried %d failed %d lost 0 digest %08x" % (NAMES[kind], tried, bad, digest))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
