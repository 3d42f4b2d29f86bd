# Serial framing of protocol packets: how a packet crosses a byte stream that it shares with the
# MicroPython REPL.
#
#   0x00 | escape(COBS(packet | CRC32 of packet, little-endian)) | 0x00
#
# - 0x00 delimits: COBS removes every zero from the body, and the REPL never prints one, so a
#   receiver resynchronises at the next zero after any garbage or console text. The leading zero
#   cuts off whatever text came before the frame.
# - 0x03 (Ctrl-C) must never appear: the ESP32's USB driver turns it into KeyboardInterrupt, which
#   must stay a developer's way into the REPL. After COBS, 0x03 and the escape byte 0x10 are sent
#   as 0x10, byte ^ 0x20. For random data that costs 2 bytes in 256.
# - CRC32 (binascii.crc32, on the device and the desktop) over the packet catches corruption; a
#   frame that fails it is dropped and counted, never acted on.
# docs/protocol.md has the byte-level examples; tests/firmware/test_framing.py locks them.
import binascii

import micropython
from micropython import const

_ESC = const(0x10)
_CTRL_C = const(0x03)
MAX_PACKET = const(1100)
# Worst case on the wire: COBS adds 1 byte in 254, escaping doubles at most every byte.
_MAX_WIRE = const(2 * (1100 + 4 + 1100 // 254 + 2))


def crc32(data):
    return binascii.crc32(data) & 0xFFFFFFFF


def encode(packet):
    """The bytes that carry one packet on the wire."""
    out = bytearray(wire_size(len(packet)))
    return bytes(memoryview(out)[:encode_into(packet, out)])


def wire_size(n):
    """The most bytes a packet of n bytes can take on the wire (for a preallocated buffer)."""
    # CRC, a COBS code per 254 bytes and one more, every byte escaped at worst, two delimiters
    return 2 * (n + 4 + (n + 4) // 254 + 1) + 2


@micropython.native
def encode_into(packet, out):
    """Frame packet into the bytearray out (at least wire_size(len(packet)) long) without
    allocating; returns the frame's length. The belt streams session data through one buffer.
    Native code: as bytecode its nine locals took a 232-byte frame from the heap at every call,
    every live effort frame on USB."""
    c = crc32(packet)
    n = len(packet)
    out[0] = 0
    at = 1                  # where the current COBS group's code byte goes
    k = 2                   # next free byte of out
    code = 1
    for i in range(n + 4):
        b = packet[i] if i < n else (c >> (8 * (i - n))) & 0xFF
        if b == 0:
            k = _code(out, at, k, code)
            at = k
            k += 1
            code = 1
            continue
        if b == _CTRL_C or b == _ESC:
            out[k] = _ESC
            out[k + 1] = b ^ 0x20
            k += 2
        else:
            out[k] = b
            k += 1
        code += 1
        if code == 0xFF:
            k = _code(out, at, k, code)
            at = k
            k += 1
            code = 1
    k = _code(out, at, k, code)
    out[k] = 0
    return k + 1


def _code(out, at, k, code):
    # A COBS code byte is only known once its group ends; the slot was left at `at`. Codes 3 and
    # 0x10 need an escape, two bytes: the group's bytes (at most 28 once escaped) move up by one.
    if code == _CTRL_C or code == _ESC:
        j = k
        while j > at + 1:
            out[j] = out[j - 1]
            j -= 1
        out[at] = _ESC
        out[at + 1] = code ^ 0x20
        return k + 1
    out[at] = code
    return k


def _cobs_decode(buf, n, out):
    """COBS-decode buf[:n] into out; returns the decoded length, or -1 if malformed."""
    i = 0
    k = 0
    while i < n:
        code = buf[i]
        if code == 0 or i + code > n:
            return -1
        i += 1
        for _ in range(code - 1):
            out[k] = buf[i]
            k += 1
            i += 1
        if code < 0xFF and i < n:
            out[k] = 0
            k += 1
    return k


class Deframer:
    """Turns the received byte stream into packets. Bytes outside frames (REPL text, line noise)
    are skipped; a frame that is too long, badly escaped, badly COBS-coded or fails its CRC is
    dropped and counted. Buffers are allocated once."""

    def __init__(self):
        self._buf = bytearray(_MAX_WIRE)
        self._dec = bytearray(_MAX_WIRE)
        self._n = 0
        self._esc = False
        self._over = False
        self.dropped = 0       # frames discarded (CRC, COBS, escape, length)
        self.received = 0
        self.at = 0            # where feed() stopped in the data it was given

    def feed(self, data, on_packet, start=0, end=-1):
        """Consume received bytes, data[start:end] (end -1: to the end); calls on_packet
        (memoryview) for each good packet (valid only during the call). The frame is done with
        before on_packet is called: if it raises (the heap ran out), the deframer is at the next
        frame's start and `at` is the index of the next byte of data to consume."""
        if end < 0:
            end = len(data)
        i = start
        while i < end:
            b = data[i]
            i += 1
            if b == 0:
                n = self._n
                whole = n and not self._over and not self._esc
                if not whole and (n or self._over):
                    self.dropped += 1
                self._n = 0
                self._esc = False
                self._over = False
                if whole:
                    self.at = i
                    self._finish(n, on_packet)
                continue
            if self._over:
                continue
            if self._esc:
                b ^= 0x20
                self._esc = False
            elif b == _ESC:
                self._esc = True
                continue
            elif b == _CTRL_C:
                self._over = True          # never sent inside a frame: this is not one
                continue
            if self._n >= _MAX_WIRE:
                self._over = True
                continue
            self._buf[self._n] = b
            self._n += 1
        self.at = end

    def _finish(self, n, on_packet):
        k = _cobs_decode(self._buf, n, self._dec)
        if k < 5:
            self.dropped += 1
            return
        body = memoryview(self._dec)[:k - 4]
        got = self._dec[k - 4] | self._dec[k - 3] << 8 | self._dec[k - 2] << 16 | \
            self._dec[k - 1] << 24
        if crc32(body) != got or k - 4 > MAX_PACKET:
            self.dropped += 1
            return
        self.received += 1
        on_packet(body)
