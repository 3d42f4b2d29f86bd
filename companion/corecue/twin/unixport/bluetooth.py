# `bluetooth` for the MicroPython unix port: MicroPython's API (ESP32 port, NimBLE, synchronous
# events) with the stack in another process. Every call goes over a Unix socket (the path in
# $CORECUE_RADIO) to corecue.twin.radioserver, which runs it on a Bumble peripheral on the
# companion's emulated air, where bleak's public API reaches it. Events come back on the same
# socket and are handed to the IRQ handler here, by a task on the firmware's own asyncio loop.
#
# What this side keeps as the device does (extmod/modbluetooth.c):
# - arguments are positional only, as the C functions take them (gap_advertise alone has keywords);
# - gatts_read never raises: an unknown handle or an inactive stack gives b"" (the C code ignores
#   the error), gatts_write returns the number of bytes written;
# - an exception in the handler is printed ("Unhandled exception in IRQ callback handler") and
#   the handler is switched off, as invoke_irq_handler_run_protected does since 1.20;
# - addresses reach the handler as memoryviews of a buffer that is overwritten once the handler
#   returns (on the device they point at the C stack: using one later reads garbage or worse).
# Where it cannot match it is harsher: events arrive when the asyncio scheduler gets a turn (on
# the device, between any two bytecodes); a handler that answers _IRQ_GATTS_READ_REQUEST with a
# refusal gets an error printed, since the read was served before the event could travel.
import json
import socket
import struct
import sys

import asyncio

FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020

_IRQ_GATTS_READ_REQUEST = 4
_IRQ_GET_SECRET = 29
_SCRIBBLE = 0xA5


class _UUID(bytes):
    # The little-endian bytes MicroPython keeps; bytes() and memoryview() give them, as on the
    # device (a UUID has the buffer protocol there).
    def __repr__(self):
        be = bytes(reversed(self)).hex()
        if len(bytes(self)) <= 4:
            return "UUID(0x%s)" % be
        return "UUID('%s-%s-%s-%s-%s')" % (be[0:8], be[8:12], be[12:16], be[16:20], be[20:32])


def UUID(value):
    if isinstance(value, int):
        if value < 0 or value > 0xFFFF:
            raise ValueError("invalid UUID")
        return _UUID(bytes((value & 0xFF, value >> 8)))
    if isinstance(value, _UUID):
        return value
    if isinstance(value, str):
        digits = value.replace("-", "")
        if len(digits) != 32:
            raise ValueError("UUID too short" if len(digits) < 32 else "UUID too long")
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            raise ValueError("invalid char in UUID")
        return _UUID(bytes(reversed(raw)))
    raw = bytes(value)                  # TypeError for a non-buffer, as on the device
    if len(raw) not in (2, 4, 16):
        raise ValueError("invalid UUID")
    return _UUID(raw)


def _enc(x):
    if isinstance(x, _UUID):
        return {"u": bytes(x).hex()}
    if isinstance(x, (bytes, bytearray, memoryview)):
        return {"b": bytes(x).hex()}
    if isinstance(x, (tuple, list)):
        return [_enc(i) for i in x]
    return x


def _dec(x):
    if isinstance(x, dict):
        return bytes.fromhex(x["b"])
    if isinstance(x, list):
        return tuple(_dec(i) for i in x)
    return x


class _Link:
    """The socket to the radio server: calls wait for their answer; events that arrive
    meanwhile wait in a queue for the pump task, so the handler never runs inside a call."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0")
        self.events = []
        self._buf = b""
        self._n = 0

    def _line(self):
        while b"\n" not in self._buf:
            got = self.sock.recv(1024)
            if not got:
                raise OSError(19, "the radio server has gone")     # ENODEV
            self._buf += got
        i = self._buf.index(b"\n")
        line, self._buf = self._buf[:i], self._buf[i + 1:]
        return json.loads(line)

    def call(self, name, args):
        self._n += 1
        self.sock.send(json.dumps([self._n, name, _enc(args)]).encode() + b"\n")
        while True:
            msg = self._line()
            if msg[0] == "ev" or msg[0] == "ask":
                self.events.append(msg)
                continue
            if "e" in msg[1]:
                code, text = msg[1]["e"]
                raise OSError(code, text)
            if "x" in msg[1]:
                kind, text = msg[1]["x"]
                raise (TypeError if kind == "TypeError" else ValueError)(text)
            return _dec(msg[1]["r"])

    def pending(self):
        """Events already read, and those waiting on the socket (without blocking)."""
        import select
        p = select.poll()
        p.register(self.sock, select.POLLIN)
        while b"\n" in self._buf or p.poll(0):
            msg = self._line()
            if msg[0] == "ev" or msg[0] == "ask":
                self.events.append(msg)
        return self.events


class BLE:
    _instance = None

    def __new__(cls, *args):
        if args:
            raise TypeError("function takes 0 positional arguments")
        if BLE._instance is None:
            path = _radio_path()
            inst = object.__new__(cls)
            inst._link = _Link(path)
            inst._handler = None
            inst._pump = None
            inst._draining = False
            inst._views = bytearray(6)
            BLE._instance = inst
        return BLE._instance

    def __init__(self, *args):
        pass

    def _call(self, name, *args):
        try:
            return self._link.call(name, args)
        finally:
            # Lines read past the answer are events too: the pump only wakes for new bytes.
            if self._link.pending() and not self._draining:
                # Events that came in during the call: the handler gets them after it returns.
                self._draining = True
                asyncio.create_task(self._drain())

    async def _drain(self):
        self._draining = False
        events = self._link.events
        while events:
            self._dispatch(events.pop(0))

    # -- the API, argument for argument as extmod/modbluetooth.c takes it -----------------------
    def active(self, *args):
        if len(args) > 1:
            raise TypeError("function takes at most 2 positional arguments")
        on = self._call("active", *[bool(a) for a in args])
        if args and args[0]:
            self._start_pump()
        return on

    def config(self, *args, **kw):
        if kw and args:
            raise TypeError("can't specify pos and kw args")
        if not kw:
            if len(args) != 1:
                raise TypeError("must query one param")
            return self._call("config", args[0])
        return self._link.call("config_set", (_enc(kw),))

    def irq(self, *args):
        if len(args) != 1:
            raise TypeError("function takes 2 positional arguments")
        handler = args[0]
        if handler is not None and not callable(handler):
            raise ValueError("invalid handler")
        self._handler = handler
        self._call("irq", handler is not None)

    def gap_advertise(self, interval_us=500000, adv_data=None, *, resp_data=None,
                      connectable=True):
        return self._call("gap_advertise", interval_us, adv_data, resp_data, bool(connectable))

    def gap_disconnect(self, *args):
        _count(args, 1)
        return self._call("gap_disconnect", int(args[0]))

    def gatts_register_services(self, *args):
        _count(args, 1)
        for service in args[0]:
            if not isinstance(service[0], _UUID):
                raise ValueError("invalid service UUID")
            for char in service[1]:
                if not isinstance(char[0], _UUID):
                    raise ValueError("invalid characteristic UUID")
        return self._call("gatts_register_services", args[0])

    def gatts_read(self, *args):
        _count(args, 1)
        try:
            return self._call("gatts_read", int(args[0]))
        except OSError:
            return b""              # modbluetooth.c ignores the stack's error here

    def gatts_write(self, *args):
        _count(args, 2, 3)
        data = bytes(args[1])       # TypeError for a non-buffer, as mp_get_buffer_raise
        self._call("gatts_write", int(args[0]), data, bool(args[2]) if len(args) > 2 else False)
        return len(data)

    def gatts_notify(self, *args):
        _count(args, 2, 3)
        data = args[2] if len(args) > 2 else None
        return self._call("gatts_notify", int(args[0]), int(args[1]),
                          None if data is None else bytes(data))

    def gatts_indicate(self, *args):
        _count(args, 2, 3)
        data = args[2] if len(args) > 2 else None
        return self._call("gatts_indicate", int(args[0]), int(args[1]),
                          None if data is None else bytes(data))

    def gatts_set_buffer(self, *args):
        _count(args, 2, 3)
        return self._call("gatts_set_buffer", int(args[0]), int(args[1]),
                          bool(args[2]) if len(args) > 2 else False)

    def gattc_exchange_mtu(self, *args):
        _count(args, 1)
        return self._call("gattc_exchange_mtu", int(args[0]))

    # -- events -----------------------------------------------------------------------------------
    def _start_pump(self):
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump())

    async def _run_pump(self):
        while True:
            # Waits as asyncio's own streams do: the socket joins the loop's poller.
            yield asyncio.core._io_queue.queue_read(self._link.sock)
            try:
                events = self._link.pending()
            except OSError:
                return              # the radio server has gone: no more events
            while events:
                self._dispatch(events.pop(0))

    def _dispatch(self, msg):
        if msg[0] == "ask":
            # The stack waits for this one's answer (a secret): the id, then the event.
            result = self._deliver(msg[2], msg[3])
            if msg[2] == _IRQ_GET_SECRET:
                answer = None if result is None else _enc(bytes(result))   # TypeError: a non-buffer
            else:
                answer = bool(result)
            self._link.sock.send(json.dumps(["ans", msg[1], answer]).encode() + b"\n")
            return
        result = self._deliver(msg[1], msg[2])
        if msg[1] == _IRQ_GATTS_READ_REQUEST and result:
            print("twin: _IRQ_GATTS_READ_REQUEST refused with %r, but the read was already "
                  "served: the twin cannot refuse reads" % (result,), file=sys.stderr)

    def _deliver(self, event, items):
        handler = self._handler
        if handler is None:
            return None
        data = []
        kept = []
        for item in items:
            if isinstance(item, dict):
                if "m" in item:             # an address: a view valid during the call only
                    self._views[:] = bytes.fromhex(item["m"])
                    item = memoryview(self._views)
                else:                       # a secret's key or value: the same
                    buf = bytearray(bytes.fromhex(item["b"]))
                    kept.append(buf)
                    item = memoryview(buf)
            data.append(item)
        data = tuple(data)
        try:
            result = handler(event, data)
            if event == _IRQ_GET_SECRET and result is not None:
                result = bytes(result)      # copied before the views go, as the C code copies
            return result
        except Exception as e:
            print("Unhandled exception in IRQ callback handler")
            sys.print_exception(e)
            self._handler = None        # modbluetooth.c: o->irq_handler = mp_const_none
            self._call("irq", False)
            return None
        finally:
            for i in range(len(self._views)):
                self._views[i] = _SCRIBBLE
            for buf in kept:
                for i in range(len(buf)):
                    buf[i] = _SCRIBBLE


def _count(args, lo, hi=None):
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        raise TypeError("function takes %d to %d positional arguments" % (lo + 1, hi + 1))


def _radio_path():
    import os
    path = os.getenv("CORECUE_RADIO")
    if not path:
        raise OSError(19, "no radio: set CORECUE_RADIO to the radio server's socket")
    return path

