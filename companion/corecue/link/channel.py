"""Requests and events over one transport: each request gets a request id and waits for the reply
with that id, while events (live effort, session data, cues) and ERROR packets that answer no
request go to their subscribers. A dropped link fails whatever is pending and what follows, with
one LinkLost. corecue.link.client builds the belt's messages on top of this.

Once corecue.link.auth has authenticated the connection (`sealed` set), every request goes sealed
and every packet from the belt must be; one that is not, or fails its tag or counter, is dropped
and counted (`refused`)."""
import asyncio

from corecue.interp import firmware_module
from corecue.link.auth import ChannelRefused
from corecue.link.errors import BadReply, BeltError, BeltTimeout, LinkLost, refusal
from corecue.link.records import Cue, Data, Effort, _record

P = firmware_module("belt.protocol")
DEFAULT_TIMEOUT = 3.0
# Every request by name: (type, request format, reply format); the ownership handshake's messages
# (belt.auth) along with the protocol table's.
_TABLE = {m[0]: (m[1], m[2], m[3]) for m in P.MESSAGES + firmware_module("belt.auth").MESSAGES}

_EVENTS = {"effort": (Effort, None), "data": (Data, "data"), "cue": (Cue, None)}


class Channel:
    def __init__(self, transport, timeout=DEFAULT_TIMEOUT):
        self.transport = transport
        self.timeout = timeout
        self._pending = {}               # request id -> (name, future)
        self.sealed = None               # once authenticated (corecue.link.auth): seal and open
        self.refused = 0                 # packets it refused (tag, counter, not sealed)
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
        if self.sealed is not None and (self.sealed.received or len(pkt) < 2
                                        or pkt[1] & P.F_AUTH):
            # Until the belt's first sealed packet (its auth_proof reply) a plain one is still
            # taken: a refused auth_proof is answered by a plain ERROR.
            try:
                pkt = self.sealed.open(pkt)
            except ChannelRefused:
                self.refused += 1
                return
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
            if t != _TABLE[name][0] | P.REPLY:
                fut.set_exception(BadReply(
                    f"belt answered {name} with a {P.name_of(t) or hex(t)} reply"))
                return
            try:
                fut.set_result(P.decode_fields(_TABLE[name][2], payload))
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

    async def _send(self, pkt, plain=False):
        if self._lost:
            raise self._lost
        if self.sealed is not None and not plain:
            pkt = self.sealed.seal(pkt)
        try:
            await self.transport.send(pkt)
        except BeltError:
            raise
        except OSError as e:
            raise LinkLost(f"cannot send to the belt: {e.strerror or e}") from None

    async def request(self, name, *fields, tail=b"", timeout=None, plain=False):
        """Send a request and wait for its reply: (reply fields, reply tail). A request whose
        reply format is None (session_ack) is only sent; returns None. Once authenticated every
        request goes sealed; plain=True sends one as it is (the handshake's last)."""
        if self._lost:
            raise self._lost
        rid = self._new_id()
        t, req_fmt, reply_fmt = _TABLE[name]
        pkt = P.packet(t, rid, P.encode_fields(req_fmt, fields, tail))
        if reply_fmt is None:
            await self._send(pkt, plain)
            return None
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = (name, fut)
        try:
            await self._send(pkt, plain)
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
