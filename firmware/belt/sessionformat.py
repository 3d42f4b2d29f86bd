# Layout of a session-log file, shared by the writer (sessionlog) and the reader (sessionread).
# docs/session-format.md is the byte-level reference; the numbers here are that document's.
import binascii
import struct

from micropython import const

# Quality flags (4 bits) are the signal chain's own, stored as they come.
from belt.effort import Q_ARTEFACT, Q_CONTACT, Q_MISSED, Q_SATURATION  # noqa: F401

MAGIC = b"CQSL"
VERSION = const(2)          # 2: signal pairs (fatigue index, cadence) every 10 s; 1 is still read
FRAME_MS = const(100)
BLOCK_FRAMES = const(100)   # a power cut loses at most this many frames (10 s)
MAX_EVENTS = const(32)      # per block; one more flushes the block early

# Event kinds (4 bits). Kinds 1..4 are cues the belt gave the runner.
EV_CUE_UNDER = const(1)
EV_CUE_OVER = const(2)
EV_BACK_IN_BAND = const(3)
EV_CHECK_SENSOR = const(4)
EV_STATE = const(5)         # arg: new state code
EV_BUTTON = const(6)        # arg: button and press kind
EV_MARK = const(7)          # arg: free, e.g. a lap number
EV_BOOT = const(8)          # arg: boot id (belt.clock) of the boot that wrote the session
EV_BATTERY = const(9)       # arg: battery_arg(): the level (belt.battery code) and its mV
_BATTERY_MV_BITS = const(13)


def battery_arg(code, mv):
    """An EV_BATTERY argument: the level code in the top 3 bits (belt.battery's UNKNOWN as 7),
    the mV it stands on in the low 13 (0..8191)."""
    return ((code if code < 7 else 7) << _BATTERY_MV_BITS) | (mv if 0 <= mv < 8191 else 8191)


def battery_of_arg(arg):
    """(level code, mV) from an EV_BATTERY argument; the code 7 is 255, unknown."""
    code = arg >> _BATTERY_MV_BITS
    return (255 if code == 7 else code), arg & 8191


CLOSED_BY_WRITER = const(1)
CLOSED_BY_RECOVERY = const(2)

# read_session() status
CLOSED = "closed"           # header, blocks, trailer, nothing after
OPEN = "open"               # ends cleanly after a block: still being written, or cut between
TORN = "torn"               # ends in an incomplete or damaged record
SHORT = "short"             # shorter than a header
BAD_HEADER = "bad_header"   # not a session file, or a version this code does not read

HEADER_LEN = const(40)
TRAILER_LEN = const(54)     # marker, 49-byte body, CRC
MAX_BLOCK_FRAMES = const(255)
_HDR = "<4sBBBBIIIBBiiHHH"
_HDR_KEYS = ("version", "frame_ms", "block_frames", "session_id", "start_ticks", "wall_time",
             "mode", "placement", "cal_rest", "cal_mvc", "band_low", "band_target", "band_high")
_TRL = "<BIIIIIIIIIIIHH"
TRAILER_KEYS = ("closed_by", "data_bytes", "frames", "blocks", "duration_ms", "calibrated",
                "in_band", "under", "over", "flagged", "cues", "events", "peak_pm", "mean_pm")


def crc(data, start=0):
    return binascii.crc32(data, start) & 0xFFFFFFFF


def block_crc(seq, record):
    """A block's CRC starts from its full sequence number, of which only the low byte is stored:
    a block that is whole but out of place fails its check."""
    return crc(record, crc(struct.pack("<I", seq)))


def payload_bound(block_frames):
    # Worst case in bytes: every adaptive decision at its floor probability (< 7.2 bits; at most
    # 11 per frame plus 13 raw bits, 21 per event plus 15 raw bits, 21 per signal pair plus 13
    # raw bits, a pair per 100 frames and one more where a block straddles), plus block bits
    # and tail.
    return 12 * block_frames + 24 * MAX_EVENTS + 22 * (block_frames // 100 + 1) + 32


def pack_header(block_frames, session_id, start_ticks, wall_time, mode, placement, cal_rest,
                cal_mvc, band):
    # MicroPython's struct keeps the low bits of a value too large for its field, CPython's
    # refuses it: refuse it here, the same on both, rather than write 1970 for 2106.
    if not 0 <= wall_time <= 0xFFFFFFFF:
        raise ValueError("wall_time %d does not fit the header" % wall_time)
    h = struct.pack(_HDR, MAGIC, VERSION, HEADER_LEN, FRAME_MS, block_frames, session_id,
                    start_ticks, wall_time, mode, placement, cal_rest, cal_mvc, band[0], band[1],
                    band[2])
    return h + struct.pack("<I", crc(h))


def parse_header(b):
    """The header dict from HEADER_LEN bytes, or None when they are not a header we can read."""
    v = struct.unpack_from(_HDR, b, 0)
    # A frame period of 0 would make every duration and time axis a division by zero: such a
    # header is no session of ours, whatever its CRC says.
    if v[0] != MAGIC or not 1 <= v[1] <= VERSION or v[2] != HEADER_LEN or v[3] == 0 or v[4] == 0:
        return None
    if struct.unpack_from("<I", b, HEADER_LEN - 4)[0] != crc(memoryview(b)[:HEADER_LEN - 4]):
        return None
    return dict(zip(_HDR_KEYS, v[1:2] + v[3:]))


def pack_trailer(t):
    body = b"\x00" + struct.pack(_TRL, *[t[k] for k in TRAILER_KEYS])
    return body + struct.pack("<I", crc(body))


def parse_trailer(b, offset):
    """The trailer dict from TRAILER_LEN bytes found at `offset`, or None."""
    if b[0] != 0:
        return None
    if struct.unpack_from("<I", b, TRAILER_LEN - 4)[0] != crc(memoryview(b)[:TRAILER_LEN - 4]):
        return None
    t = dict(zip(TRAILER_KEYS, struct.unpack_from(_TRL, b, 1)))
    return t if t["data_bytes"] == offset else None


class Summary:
    """The trailer's figures, accumulated frame by frame without allocating, so the writer and
    recovery (which replays the surviving blocks) compute them the same way."""

    def __init__(self, band_low, band_high):
        self.low = band_low
        self.high = band_high
        self.frames = self.blocks = self.calibrated = self.in_band = self.under = 0
        self.over = self.flagged = self.cues = self.events = self.peak = self.esum = 0

    def frame(self, hp, q):
        # hp: effort as stored (half-percent units) or -1; band tests use the stored value.
        self.frames += 1
        if q:
            self.flagged += 1
        if hp < 0:
            return
        self.calibrated += 1
        self.esum += hp     # a small int for 74 h even at 200 %MVC
        if hp > self.peak:
            self.peak = hp
        pm = hp * 5
        if pm < self.low:
            self.under += 1
        elif pm > self.high:
            self.over += 1
        else:
            self.in_band += 1

    def event(self, kind):
        self.events += 1
        if EV_CUE_UNDER <= kind <= EV_CHECK_SENSOR:
            self.cues += 1

    def trailer(self, closed_by, data_bytes, duration_ms):
        mean = self.esum * 5 // self.calibrated if self.calibrated else 0
        return dict(zip(TRAILER_KEYS, (
            closed_by, data_bytes, self.frames, self.blocks, duration_ms, self.calibrated,
            self.in_band, self.under, self.over, self.flagged, self.cues, self.events,
            self.peak * 5, mean)))
