# What the belt volunteers on a link, whatever carries it: live effort events and session data
# chunks, packed as protocol packets into buffers the link allocated once. The USB link frames
# them onto the serial line, the BLE link notifies them; the packing, the live queue and the
# download window (belt.sessionsync.Download, through the link's belt.commands) are one code.
#
# The frame listener only copies five numbers into a ring, so the signal chain never waits for a
# link; when a link cannot keep up the oldest frames are dropped (counted), sampling never waits.
import struct
from array import array

from micropython import const

from belt import protocol as P

_RING = const(16)           # effort frames waiting for the sender (1.6 s)
_HEADER = "<BBHH"           # belt.protocol.packet's header
_T_EFFORT = P.type_of("effort")
_T_DATA = P.type_of("data")
_EFFORT = P.reply_format(_T_EFFORT)
_DATA = P.reply_format(_T_DATA)[:-1]            # then the file's bytes
EFFORT_LEN = P.HEADER_LEN + struct.calcsize(_EFFORT)
DATA_HEAD = P.HEADER_LEN + struct.calcsize(_DATA)
_EFFORT_N = EFFORT_LEN - P.HEADER_LEN
_H = P.HEADER_LEN
_H6 = P.HEADER_LEN + 6                          # after the frame number and the effort ("<Ih")
_pack_into = struct.pack_into                   # one stack slot where struct.pack_into takes two


class Outbound:
    """One link's live queue and its view of the download. `wake()` is called when there is
    something to send (the link's flag)."""

    def __init__(self, app, commands, wake):
        self.app = app
        self.commands = commands
        self._wake = wake
        self._frame = array("i", [0] * _RING)
        self._effort = array("h", [0] * _RING)
        self._quality = bytearray(_RING)
        self._state = bytearray(_RING)
        self._level = array("H", [0] * _RING)
        self._head = 0
        self.queued = 0
        self.live_dropped = 0       # effort frames the link could not keep up with
        app.listeners.append(self._on_frame)

    def _on_frame(self, effort, quality):
        # Called by the signal-chain task every frame: copy, never send from here.
        if not self.commands.live:
            return
        a = self.app
        if self.queued == _RING:
            self._head = (self._head + 1) % _RING
            self.queued -= 1
            self.live_dropped += 1
        i = (self._head + self.queued) % _RING
        self._frame[i] = a.frames
        self._effort[i] = effort
        self._quality[i] = quality
        self._state[i] = a.flow.state
        level = a.chain.block_level
        self._level[i] = level if 0 <= level < 0xFFFF else (0 if level < 0 else 0xFFFF)
        self.queued += 1
        self._wake()

    def clear_live(self):
        self._head = 0
        self.queued = 0

    def pack_effort(self, pkt):
        """Move the oldest waiting frame into pkt (EFFORT_LEN bytes) as an effort event; returns
        its length, 0 when none waits. Allocates nothing: MicroPython gives a bytecode function
        whose locals and stack pass 11 words a heap frame on every call, so the event is packed
        in three short calls rather than one with all its fields (that one took 152 bytes)."""
        if not self.queued:
            return 0
        i = self._head
        _pack_into(_HEADER, pkt, 0, _T_EFFORT, 0, 0, _EFFORT_N)
        _pack_into("<Ih", pkt, _H, self._frame[i], self._effort[i])
        _pack_into("<BBH", pkt, _H6, self._quality[i], self._state[i], self._level[i])
        self._head = (i + 1) % _RING
        self.queued -= 1
        return EFFORT_LEN

    def chunk_due(self):
        return self.commands.download.due()

    def pack_chunk(self, pkt, body):
        """Read the download's next chunk into body (a memoryview of pkt from DATA_HEAD, as long
        as the link can carry) and put the data event's header before it; returns the packet's
        length, 0 when nothing was read (the download then stops)."""
        dl = self.commands.download
        off, n = dl.read_into(body)
        if not n:
            return 0
        struct.pack_into(_HEADER, pkt, 0, _T_DATA, 0, 0, DATA_HEAD - P.HEADER_LEN + n)
        struct.pack_into(_DATA, pkt, P.HEADER_LEN, dl.sid, off)
        return DATA_HEAD + n
