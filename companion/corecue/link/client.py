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
with them. Every failure is a BeltError whose message is one line a person can act on.
"""
import asyncio
import json
import struct
import zlib

# Errors and records live in their own modules; re-exported so `from corecue.link.client import X`
# keeps working for every X.
from corecue.link.errors import (  # noqa: F401
    AuthRequired, BadReply, BeltError, BeltInternal, BeltRefused, BeltTimeout, CrcMismatch,
    DownloadError, IncompatibleBelt, InvalidValue, LinkLost, Malformed, NotFound, Unknown,
    VersionMismatch, WrongState, one_line, refusal,
)
from corecue.interp import firmware_module
from corecue.link.records import (  # noqa: F401
    Calibration, Cue, Data, DownloadStats, Effort, Hello, Session, Status, TimeAnchor, _record,
)

P = firmware_module("belt.protocol")
ENTRY_SIZE = struct.calcsize(P.ENTRY)

# The oldest belt protocol this companion can talk to. The companion announces it in HELLO and
# also checks the belt's answer itself.
OLDEST_BELT = 1
DEFAULT_TIMEOUT = 3.0
DOWNLOAD_RETRIES = 5

_EVENTS = {"effort": (Effort, None), "data": (Data, "data"), "cue": (Cue, None)}
CAL_PHASES = ("rest", "brace", "pause")

# -- the client --------------------------------------------------------------------------------

class Belt:
    def __init__(self, transport, timeout=DEFAULT_TIMEOUT):
        self.transport = transport
        self.timeout = timeout
        self.info = None                 # the Hello, once hello() succeeded
        self._pending = {}               # request id -> (name, future)
        self._next_id = 1
        self._subscribers = {name: [] for name in _EVENTS}
        self._subscribers["error"] = []  # ERROR packets that answer no request of ours
        self._lost = None
        self._on_lost = []               # called when the link goes (wakes waiting downloads)
        self.unmatched = 0               # replies to no pending request (e.g. after a timeout)
        self.malformed = 0               # packets that did not parse
        self.last_download = None   # DownloadStats of the latest download
        self.partial = None         # (session id, bytes so far) of the latest download
        transport.bind(self)

    # -- receiving (called by the transport on the loop's thread) --

    def packet_received(self, pkt):
        try:
            t, _flags, req, payload = P.parse(pkt)
        except P.ProtocolError:
            self.malformed += 1
            return
        if t == P.T_ERROR:
            code = payload[0] if payload else 0
            message = bytes(payload[1:]).decode("utf-8", "replace")
            slot = self._pending.pop(req, None) if req else None
            if slot is None:
                for fn in list(self._subscribers["error"]):
                    fn(code, message)
                if req:
                    self.unmatched += 1
                return
            name, fut = slot
            if not fut.done():
                fut.set_exception(refusal(name, code, message))
            return
        if t & P.REPLY:
            slot = self._pending.pop(req, None)
            if slot is None:
                self.unmatched += 1
                return
            name, fut = slot
            if fut.done():
                return
            if t != P.type_of(name) | P.REPLY:
                fut.set_exception(BadReply(
                    f"belt answered {name} with a {P.name_of(t) or hex(t)} reply"))
                return
            try:
                fut.set_result(P.decode_fields(P.reply_format(t), payload))
            except P.ProtocolError as e:
                fut.set_exception(BadReply(f"malformed reply to {name}: {e.message}"))
            return
        name = P.name_of(t)
        if name not in _EVENTS:
            self.malformed += 1
            return
        cls, tail_field = _EVENTS[name]
        try:
            values, tail = P.decode_fields(P.reply_format(t), payload)
            ev = _record(cls, values, tail_field, tail)
        except (P.ProtocolError, BadReply):
            self.malformed += 1
            return
        for fn in list(self._subscribers[name]):
            fn(ev)

    def connection_lost(self, exc=None):
        why = str(exc) if exc else "closed"
        self._lost = LinkLost(f"connection to the belt lost: {why}")
        for name, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(self._lost)
        self._pending.clear()
        for fn in list(self._on_lost):
            fn()

    def subscribe(self, event, fn):
        """Call fn(record) for every `effort`, `data` or `cue` event (fn(code, message) for an
        `error` that answers no request). Returns a function that unsubscribes."""
        lst = self._subscribers[event]
        lst.append(fn)
        return lambda: lst.remove(fn) if fn in lst else None

    # -- sending --

    def _new_id(self):
        for _ in range(65535):
            rid = self._next_id
            self._next_id = rid % 65535 + 1
            if rid not in self._pending:
                return rid
        raise BeltError("65535 requests in flight")

    async def _send(self, pkt):
        if self._lost:
            raise self._lost
        try:
            await self.transport.send(pkt)
        except BeltError:
            raise
        except OSError as e:
            raise LinkLost(f"cannot send to the belt: {e.strerror or e}") from None

    async def request(self, name, *fields, tail=b"", timeout=None):
        """Send a request and wait for its reply: (reply fields, reply tail). A request whose
        reply format is None (session_ack) is only sent; returns None."""
        if self._lost:
            raise self._lost
        rid = self._new_id()
        pkt = P.request(name, rid, *fields, tail=tail)
        if P.reply_format(P.type_of(name)) is None:
            await self._send(pkt)
            return None
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = (name, fut)
        try:
            await self._send(pkt)
            wait = self.timeout if timeout is None else timeout
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
                # (Ctrl-C) that arrives as the awaited reply does, and the command goes on.
                async with asyncio.timeout(wait):
                    return await fut
            except TimeoutError:
                raise BeltTimeout(f"the belt did not answer {name} within {wait:g} s") from None
        finally:
            self._pending.pop(rid, None)

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
                       text=f"the belt has no session {sid}")

    def _max_chunk(self):
        cap = self.info.max_payload if self.info else P.MAX_PAYLOAD
        return min(cap, P.MAX_PAYLOAD) - 8            # data event: u32 id, u32 offset

    async def download(self, sid, offset=0, window=8, chunk=None, have=b"", progress=None,
                       verify=True):
        """The bytes of session sid. Reads from `offset` (resuming: `have` holds the first
        `offset` bytes), with at most `window` chunks of `chunk` bytes in flight, acknowledging
        once per window (when a whole window has arrived): one round trip per window, however
        fast or slow the link. (Acking every half window would overlap the ack with the rest of
        the window on a slow link, but on a fast one the belt has sent the whole window before the
        first ack arrives and then waits for both.) A lost chunk re-reads from the last
        contiguous offset.
        With verify, the file's CRC32 must match the belt's session list, else DownloadError.
        progress(received, size) is called as chunks arrive."""
        if offset != len(have):
            raise ValueError(f"resuming at {offset} needs the {offset} bytes already held")
        if not 1 <= window <= 0xFFFF:
            raise ValueError(f"window of {window} chunks")
        chunk = chunk or self._max_chunk()
        if not 1 <= chunk <= self._max_chunk():
            raise ValueError(f"chunk of {chunk} bytes (at most {self._max_chunk()})")
        entry = await self.session(sid) if verify else None
        if entry is not None and entry.open:
            raise WrongState("session_read", P.E_STATE, "open",
                             text=f"session {sid} is still being recorded: stop it first")
        stats = DownloadStats(window=window, chunk=chunk, start=offset)
        self.last_download = stats
        buf = bytearray(have)
        # What has arrived so far, contiguous from 0, for whoever wants to keep it when the
        # download is interrupted (a dropped link, Ctrl-C) and resume later.
        self.partial = (sid, buf)
        arrived = asyncio.Event()
        pending = []

        def on_data(ev):
            if ev.session == sid:
                pending.append(ev)
                arrived.set()

        unsubscribe = self.subscribe("data", on_data)
        self._on_lost.append(arrived.set)
        try:
            ack_every = window
            (rid, size), _ = await self.request("session_read", sid, len(buf), window, chunk)
            if rid != sid:
                raise BadReply(f"asked for session {sid}, the belt reads {rid}")
            stats.size = size
            if entry is not None and size != entry.size:
                raise DownloadError(f"session {sid}: read says {size} bytes, list says "
                                    f"{entry.size}")
            since_ack = 0
            reread = False
            retries = 0
            while len(buf) < size:
                if not pending:
                    arrived.clear()
                    try:
                        async with asyncio.timeout(self.timeout):   # not wait_for: see request
                            await arrived.wait()
                    except TimeoutError:
                        retries += 1
                        if retries > DOWNLOAD_RETRIES:
                            raise BeltTimeout(
                                f"the belt stopped sending session {sid} at byte {len(buf)} of "
                                f"{size} ({DOWNLOAD_RETRIES} re-reads, {self.timeout:g} s "
                                "each)") from None
                        await self._reread(sid, buf, window, chunk, stats)
                        reread = True
                        continue
                    if self._lost:
                        raise self._lost
                    continue
                ev = pending.pop(0)
                if ev.offset != len(buf) or not ev.data:
                    stats.ignored += 1
                    if ev.offset > len(buf) and not reread:
                        # A chunk was lost: everything after it is useless until re-read.
                        await self._reread(sid, buf, window, chunk, stats)
                        reread = True
                    continue
                if len(buf) + len(ev.data) > size:
                    raise DownloadError(f"session {sid}: the belt sent more than {size} bytes")
                buf.extend(ev.data)
                stats.chunks += 1
                reread = False
                retries = 0
                since_ack += 1
                if progress:
                    progress(len(buf), size)
                if since_ack >= ack_every or len(buf) == size:
                    await self.request("session_ack", sid, len(buf))
                    stats.acks += 1
                    stats.acked.append(len(buf))
                    since_ack = 0
        except BeltError as e:
            e.partial = bytes(buf)
            raise
        finally:
            unsubscribe()
            self._on_lost.remove(arrived.set)
        data = bytes(buf)
        if entry is not None:
            got = zlib.crc32(data) & 0xFFFFFFFF
            if got != entry.crc:
                raise DownloadError(f"session {sid}: CRC32 {got:08x} of the download differs "
                                    f"from the belt's {entry.crc:08x}")
        return data

    async def _reread(self, sid, buf, window, chunk, stats):
        stats.rereads += 1
        await self.request("session_read", sid, len(buf), window, chunk)

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
