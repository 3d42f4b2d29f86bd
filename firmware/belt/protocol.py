# The device protocol: one packet format and one message table for every transport (USB serial
# now through belt.framing, Bluetooth LE next). The belt and the companion both use this module,
# so there is one definition of every byte; docs/protocol.md specifies it with examples that the
# tests check against this code.
#
# Packet (little-endian):
#   u8 type | u8 flags | u16 request id | u16 payload length | payload | [auth trailer]
# - type: a request (0x01..0x3F), its reply (request | 0x80), an event the belt sends on its own
#   (0x40..0x7E, request id 0), or ERROR (0x7F, u8 code, UTF-8 message).
# - flags bit 0 (F_AUTH): a sealed packet (ownership, version 2: belt.auth, belt.channel), its
#   payload encrypted and a u32 counter and an 8-byte MAC after it. Other bits must be 0.
# - request ids are chosen by the companion (1..65535) and echoed in the reply, so replies can be
#   matched while events (live effort, session data) interleave.
import struct

from micropython import const

VERSION = const(2)          # this protocol version (2: ownership, docs/protocol.md)
MIN_COMPATIBLE = const(2)   # the oldest companion protocol this belt still serves (1 cannot
                            # authenticate, so it could do nothing but HELLO)
HEADER_LEN = const(6)
F_AUTH = const(1)
AUTH_LEN = const(12)
REPLY = const(0x80)
T_ERROR = const(0x7F)
MAX_PAYLOAD = const(1024)

# Capabilities (HELLO reply, u32 bits).
CAP_USB = const(1)
CAP_BLE = const(2)
CAP_LIVE = const(4)
CAP_AUTH = const(8)         # ownership: every request after the handshake sealed

# Error codes (ERROR payload: u8 code | UTF-8 message, e.g. "low_pm: 100 below minimum 120").
E_MALFORMED = const(1)      # header, length or fields do not parse
E_UNKNOWN = const(2)        # unknown message type
E_INVALID = const(3)        # a value was refused; the message names the field and why
E_STATE = const(4)          # not now (e.g. confirm of the open session, calibrate during a run)
E_NOT_FOUND = const(5)      # no such session
E_CRC = const(6)            # confirm: the CRC does not match the belt's file
E_VERSION = const(7)        # incompatible protocol version
E_AUTH = const(8)           # authentication required or failed (belt.auth)
E_INTERNAL = const(9)       # the belt failed; the message says what
ERROR_NAMES = ("", "malformed", "unknown", "invalid", "state", "not found", "crc", "version",
               "auth", "internal")

# The message table: name, type, request fields, reply fields. Fields are struct formats; a
# trailing "*" means a variable-length tail (bytes) follows the fixed part. None: no reply.
MESSAGES = (
    # companion version, oldest belt version it accepts | belt version, oldest companion version
    # it serves, capabilities, device id (8 bytes), max payload, tail: firmware version (UTF-8)
    ("hello", 0x01, "<BB", "<BBI8sH*"),
    # state, sensor mode, battery mV, flash used, flash free, frames, late, missed, overruns,
    # task restarts, calibrated, calibrating, live, session open id (0 none), battery level
    # (belt.battery code: 0 ok, 1 low, 2 critical, 3 empty, 4 full, 255 unknown), data area
    # (belt.dataarea code: 0 as it was, 1 formatted anew at this boot, 2 shared with the code,
    # 3 new: blank at this boot and formatted)
    ("status", 0x02, "", "<BBHIIIHHHHBBBIBB"),
    ("config_get", 0x03, "", "*"),                   # tail: the config as JSON
    ("config_set", 0x04, "*", "*"),                  # tail: JSON object of changes | full config
    # unix seconds | boot id, belt ticks (ms) at that moment, unix seconds as stored
    ("time_set", 0x05, "<I", "<HII"),
    # op (CAL_*), phase | op, phase, level (Q4), frames, rest, mvc, spread per mille, reasons,
    # adopted (1 if saved), tail: trials as u16 each
    ("calibrate", 0x06, "<BB", "<BBHHHHHBB*"),
    ("live", 0x07, "<B", ""),                        # 1 on, 0 off; EV_EFFORT frames follow
    ("session_list", 0x08, "<I", "<H*"),             # from id | count, tail: count x ENTRY
    # id, offset, window (chunks in flight), chunk size | id, file size; EV_DATA chunks follow
    ("session_read", 0x09, "<IIHH", "<II"),
    ("session_ack", 0x0A, "<II", None),              # id, bytes received contiguously
    ("session_confirm", 0x0B, "<II", ""),            # id, CRC32 the companion stored
    ("session_start", 0x0C, "", "<I"),               # | id
    ("session_stop", 0x0D, "", "<I"),                # | id
    ("buzz", 0x0E, "<B", ""),                        # haptics pattern id
    ("reboot", 0x0F, "", ""),
)
# Events: name, type, fields.
EVENTS = (
    ("effort", 0x41, "<IhBBH"),     # frame number, effort pm (-1 uncal.), quality, state, level
    ("data", 0x42, "<II*"),         # session id, offset, tail: bytes of the session file
    ("cue", 0x43, "<BB"),           # cue kind, level: what the runner just felt
)
# A session in the list: id, start ticks, wall time at start (0 unknown), duration ms, size,
# CRC32 of the file, flags (FL_*), boot id.
ENTRY = "<IIIIIIBH"
FL_SYNCED = const(1)
FL_OPEN = const(2)
# calibrate ops
CAL_BEGIN = const(1)
CAL_STATUS = const(2)
CAL_COMMIT = const(3)
CAL_ABORT = const(4)
CAL_EVALUATE = const(5)     # the result and verdict so far, without adopting it

_BY_NAME = {}
_BY_TYPE = {}
for _m in MESSAGES:
    _BY_NAME[_m[0]] = _m
    _BY_TYPE[_m[1]] = _m
for _m in EVENTS:
    _BY_NAME[_m[0]] = (_m[0], _m[1], None, _m[2])
    _BY_TYPE[_m[1]] = _BY_NAME[_m[0]]


class ProtocolError(Exception):
    def __init__(self, code, message=""):
        super().__init__(code, message)
        self.code = code
        self.message = message


def type_of(name):
    return _BY_NAME[name][1]


def name_of(t):
    m = _BY_TYPE.get(t & ~REPLY if t != T_ERROR else t)
    return m[0] if m else None


def packet(t, req_id, payload=b"", flags=0):
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(E_MALFORMED, "payload of %d bytes" % len(payload))
    return struct.pack("<BBHH", t, flags, req_id, len(payload)) + bytes(payload)


def parse(pkt):
    """(type, flags, request id, payload) of a received packet; ProtocolError if malformed."""
    if len(pkt) < HEADER_LEN:
        raise ProtocolError(E_MALFORMED, "short packet")
    t, flags, req, n = struct.unpack_from("<BBHH", pkt, 0)
    extra = AUTH_LEN if flags & F_AUTH else 0
    if flags & ~F_AUTH or n > MAX_PAYLOAD or len(pkt) != HEADER_LEN + n + extra:
        raise ProtocolError(E_MALFORMED, "bad length or flags")
    return t, flags, req, bytes(pkt[HEADER_LEN:HEADER_LEN + n])


def _fmt(fmt):
    if fmt.endswith("*"):
        return fmt[:-1] or "<", True
    return fmt or "<", False


def encode_fields(fmt, fields, tail=b""):
    f, has_tail = _fmt(fmt)
    return struct.pack(f, *fields) + (bytes(tail) if has_tail else b"")


def decode_fields(fmt, payload):
    """(fields tuple, tail bytes) of a payload; ProtocolError if it does not fit the format."""
    f, has_tail = _fmt(fmt)
    size = struct.calcsize(f)
    if len(payload) < size or (not has_tail and len(payload) != size):
        raise ProtocolError(E_MALFORMED, "payload of %d bytes for %s" % (len(payload), fmt))
    return struct.unpack_from(f, payload, 0), bytes(payload[size:])


def request(name, req_id, *fields, tail=b""):
    m = _BY_NAME[name]
    return packet(m[1], req_id, encode_fields(m[2], fields, tail))


def reply(name, req_id, *fields, tail=b""):
    m = _BY_NAME[name]
    return packet(m[1] | REPLY, req_id, encode_fields(m[3], fields, tail))


def event(name, *fields, tail=b""):
    m = _BY_NAME[name]
    return packet(m[1], 0, encode_fields(m[3], fields, tail))


def error(req_id, code, message=""):
    return packet(T_ERROR, req_id, bytes((code,)) + message.encode()[:200])


def request_format(t):
    m = _BY_TYPE.get(t)
    return m[2] if m and t < 0x40 else None


def reply_format(t):
    m = _BY_TYPE.get(t & ~REPLY)
    return m[3] if m else None
