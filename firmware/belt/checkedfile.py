# The layout of the belt's small files that must never be misread (the owners' keys,
# belt.keystore; the Bluetooth bonds, belt.bonds): a header line, then the body.
#
#   header line  b"<magic> <version> <crc32 of the body, 8 hex digits> <body length>\n"
#
# unpack() refuses anything but a header exactly as pack() writes it, a body of that length and
# that CRC, with the reason in a few words; what the body holds is the caller's to check.
import binascii


def pack(magic, version, body):
    head = b"%s %d %08x %d\n" % (magic, version, binascii.crc32(body) & 0xFFFFFFFF, len(body))
    return head + body


def unpack(magic, version, data):
    """A file's bytes -> (body, None), or (None, why it is refused)."""
    nl = data.find(b"\n")
    if nl < 0:
        return None, "bad header"
    head = data[:nl].split()
    try:
        if len(head) != 4 or head[0] != magic:
            raise ValueError
        got, crc, n = int(head[1].decode()), int(head[2].decode(), 16), int(head[3].decode())
    except ValueError:
        return None, "bad header"
    if data[:nl] != b"%s %d %08x %d" % (magic, got, crc, n):
        return None, "bad header"
    if got != version:
        return None, "version %d not supported" % got
    body = data[nl + 1:]
    if len(body) != n:
        return None, "bad length"
    if binascii.crc32(body) & 0xFFFFFFFF != crc:
        return None, "crc mismatch"
    return body, None
