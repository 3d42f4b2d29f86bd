"""The companion's side of the device protocol (docs/protocol.md), independent of what carries it.

    belt = Belt(transport)              # inside a running asyncio loop
    info = await belt.hello()           # first thing on every connection
    st = await belt.status()
    files = await belt.sessions()
    data = await belt.download(files[0].id)     # windowed, CRC32 checked against the list
    await belt.confirm(files[0].id, zlib.crc32(data))

A transport has `bind(receiver)`, async `send(packet)` and async `close()`; it calls
`receiver.packet_received(packet_bytes)` for every packet it receives and
`receiver.connection_lost(exc)` when the link goes away, both on the event loop's thread. The
serial transport (corecue.link.usb) frames packets with belt.framing; a Bluetooth LE
transport carries the same packets without framing.

Packets are built and parsed by the firmware's own belt.protocol, never by a copy of it. Replies
are matched to requests by request id, so events (live effort, session data, cues) may interleave
with them (corecue.link.channel); downloads are windowed (corecue.link.download). Every failure
is a BeltError whose message is one line a person can act on.
"""
import json
import struct

from corecue.interp import firmware_module
from corecue.link import download as _download
from corecue.link.channel import DEFAULT_TIMEOUT, Channel
from corecue.link.download import DOWNLOAD_RETRIES  # noqa: F401
# Errors and records live in their own modules; re-exported so `from corecue.link.client import X`
# keeps working for every X.
from corecue.link.errors import (  # noqa: F401
    AuthRequired, BadReply, BeltError, BeltInternal, BeltRefused, BeltTimeout, CrcMismatch,
    DownloadError, IncompatibleBelt, InvalidValue, LinkLost, Malformed, NotFound, Unknown,
    VersionMismatch, WrongState, one_line, refusal,
)
from corecue.link.records import (  # noqa: F401
    Calibration, Cue, Data, DownloadStats, Effort, Hello, Session, Status, TimeAnchor, _record,
)

P = firmware_module("belt.protocol")
ENTRY_SIZE = struct.calcsize(P.ENTRY)

# The oldest belt protocol this companion can talk to. The companion announces it in HELLO and
# also checks the belt's answer itself.
OLDEST_BELT = 2                 # 2: ownership (docs/protocol.md)

CAL_PHASES = ("rest", "brace", "pause")

# -- the client --------------------------------------------------------------------------------

class Belt(Channel):
    def __init__(self, transport, timeout=DEFAULT_TIMEOUT):
        self.info = None                 # the Hello, once hello() succeeded
        self.last_download = None   # DownloadStats of the latest download
        self.partial = None         # (session id, bytes so far) of the latest download
        super().__init__(transport, timeout)

    # -- the messages --

    async def hello(self, timeout=None):
        try:
            values, tail = await self.request("hello", P.VERSION, OLDEST_BELT, timeout=timeout)
        except VersionMismatch as e:
            raise IncompatibleBelt(f"the belt refuses this companion: {e.message}; "
                                   "update corecue or the belt's firmware") from None
        info = _record(Hello, values, "firmware", one_line(tail.decode("utf-8", "replace")))
        if info.version < OLDEST_BELT:
            raise IncompatibleBelt(
                f"the belt speaks protocol {info.version}, this companion needs {OLDEST_BELT} "
                f"or newer: update the belt's firmware (now {info.firmware})")
        if info.oldest_companion > P.VERSION:
            raise IncompatibleBelt(
                f"the belt (firmware {info.firmware}) needs companion protocol "
                f"{info.oldest_companion} or newer, this companion speaks {P.VERSION}: "
                "update corecue")
        self.info = info
        return info

    async def status(self):
        values, _ = await self.request("status")
        return _record(Status, values)

    async def config_get(self):
        _, tail = await self.request("config_get")
        return self._json("config_get", tail)

    async def config_set(self, changes):
        """Apply changes (a dict) all or nothing; returns the whole config. A refused value
        raises InvalidValue with the belt's "field: why"."""
        body = json.dumps(changes, separators=(",", ":")).encode()
        _, tail = await self.request("config_set", tail=body)
        return self._json("config_set", tail)

    @staticmethod
    def _json(name, tail):
        try:
            return json.loads(bytes(tail).decode())
        except (UnicodeDecodeError, ValueError):
            raise BadReply(f"the belt's {name} reply is not JSON") from None

    async def time_set(self, unix):
        values, _ = await self.request("time_set", int(unix))
        return _record(TimeAnchor, values)

    async def _calibrate(self, op, phase=0):
        values, tail = await self.request("calibrate", op, phase)
        trials = tuple(int.from_bytes(tail[i:i + 2], "little") for i in range(0, len(tail) - 1, 2))
        return _record(Calibration, values, "trials", trials)

    async def cal_begin(self, phase):
        """Enter a calibration phase: "rest", "brace" or "pause" (or its number)."""
        if isinstance(phase, str):
            if phase not in CAL_PHASES:
                raise ValueError(f"calibration phase {phase!r} (have {', '.join(CAL_PHASES)})")
            phase = CAL_PHASES.index(phase)
        return await self._calibrate(P.CAL_BEGIN, phase)

    async def cal_status(self):
        return await self._calibrate(P.CAL_STATUS)

    async def cal_commit(self):
        return await self._calibrate(P.CAL_COMMIT)

    async def cal_evaluate(self):
        """The calibration's result and verdict so far, adopting nothing (commit to keep it)."""
        return await self._calibrate(P.CAL_EVALUATE)

    async def cal_abort(self):
        return await self._calibrate(P.CAL_ABORT)

    async def live(self, on):
        await self.request("live", 1 if on else 0)

    async def sessions(self):
        """Every session on the belt, oldest first, paging through session_list."""
        out = []
        first = 0
        while True:
            page = await self._list_page(first)
            if not page:
                return out
            if page[0].id < first:
                raise BadReply("session_list went backwards")
            out.extend(page)
            first = page[-1].id + 1

    async def _list_page(self, first):
        (count,), tail = await self.request("session_list", first)
        if len(tail) != count * ENTRY_SIZE:
            raise BadReply(f"session_list: {count} entries in {len(tail)} bytes")
        return [_record(Session, P.decode_fields(P.ENTRY, tail[i:i + ENTRY_SIZE])[0])
                for i in range(0, len(tail), ENTRY_SIZE)]

    async def session(self, sid):
        """The list entry of session sid (NotFound if the belt has none)."""
        page = await self._list_page(sid)
        if page and page[0].id == sid:
            return page[0]
        raise NotFound("session_list", P.E_NOT_FOUND, f"no session {sid}",
                       text=f"the belt has no session {sid} (`corecue sessions --on-belt` "
                       "lists those it has)")

    async def download(self, sid, offset=0, window=8, chunk=None, have=b"", progress=None,
                       verify=True):
        """The bytes of session sid, windowed and CRC-checked (corecue.link.download): `have`
        holds the first `offset` bytes when resuming; progress(received, size) as chunks
        arrive."""
        return await _download.download(self, sid, offset, window, chunk, have, progress, verify)

    async def confirm(self, sid, crc):
        """Tell the belt the companion holds session sid with this CRC32: only a matching CRC
        marks it synced (CrcMismatch otherwise)."""
        await self.request("session_confirm", sid, crc & 0xFFFFFFFF)

    async def session_start(self):
        (sid,), _ = await self.request("session_start")
        return sid

    async def session_stop(self):
        (sid,), _ = await self.request("session_stop")
        return sid

    async def buzz(self, pattern):
        """Play a vibration pattern: a belt.haptics pattern id or name."""
        if isinstance(pattern, str):
            haptics = firmware_module("belt.haptics")
            try:
                pattern = haptics.pattern_id(pattern)
            except ValueError:
                names = ", ".join(t[0] for t in haptics.TABLE)
                raise ValueError(f"no vibration pattern {pattern!r} (have {names})") from None
        await self.request("buzz", pattern)

    async def reboot(self):
        await self.request("reboot")

    async def close(self):
        await self.transport.close()
