"""Requests and events over one transport: each request gets a request id and waits for the reply
with that id, while events (live effort, session data, cues) and ERROR packets that answer no
request go to their subscribers. A dropped link fails whatever is pending and what follows, with
one LinkLost. corecue.link.client builds the belt's messages on top of this."""
import asyncio

from corecue.interp import firmware_module
from corecue.link.errors import BadReply, BeltError, BeltTimeout, LinkLost, refusal
from corecue.link.records import Cue, Data, Effort, _record

P = firmware_module("belt.protocol")
DEFAULT_TIMEOUT = 3.0

_EVENTS = {"effort": (Effort, None), "data": (Data, "data"), "cue": (Cue, None)}


class Channel:
    def __init__(self, transport, timeout=DEFAULT_TIMEOUT):
        self.transport = transport
        self.timeout = timeout
        self._pending = {}               # request id -> (name, future)
        self._next_id = 1
        self._subscribers = {name: [] for name in _EVENTS}
        self._subscribers["error"] = []  # ERROR packets that answer no request of ours
        self._lost = None
        self._on_lost = []               # called when the link goes (wakes waiting downloads)
        self.unmatched = 0               # replies to no pending request (e.g. after a timeout)
        self.malformed = 0               # packets that did not parse
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
