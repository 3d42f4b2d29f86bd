"""The other end of the unix port's `bluetooth` module (twin/unixport/bluetooth.py): a Unix socket
on which a MicroPython process makes its BLE calls, each run on the emulated `bluetooth.BLE` of a
Bumble peripheral on an `EmulatedAir`, so the firmware under the real interpreter is on the same
air as the companion's bleak central.

One line of JSON per message. A call is `[n, name, args]` and its answer `[n, {"r": result}]`,
`[n, {"e": [errno, text]}]` (OSError: the numbers are Linux's, which MicroPython's unix and ESP32
ports share) or `[n, {"x": [type, text]}]` (TypeError, ValueError). An event is
`["ev", code, items]`, an address item as `{"m": hex}`. An event whose answer the stack needs
(_IRQ_GET_SECRET, _IRQ_SET_SECRET: NimBLE waits for the handler's result) is
`["ask", id, code, items]`, answered by the process with `["ans", id, result]`. Bytes travel as
`{"b": hex}`, UUIDs as `{"u": hex}` (MicroPython's little-endian bytes).
"""
from __future__ import annotations

import asyncio
import json
import logging

from corecue.twin.radio.ble_types import UUID

logger = logging.getLogger(__name__)

# MICROPY_PY_BLUETOOTH_DEFAULT_GAP_NAME comes from CONFIG_BT_NIMBLE_SVC_GAP_DEVICE_NAME in
# ports/esp32/boards/sdkconfig.ble.
ESP32_GAP_NAME = b"MPY ESP32"
# How long the stack waits for the firmware's answer to a secret event (the chip waits for as
# long as the handler takes; a process that never answers must not hang the air).
ASK_TIMEOUT_S = 5.0


def _dec(x):
    if isinstance(x, dict):
        if "u" in x:
            return UUID(bytes.fromhex(x["u"]))
        return bytes.fromhex(x["b"])
    if isinstance(x, list):
        return tuple(_dec(i) for i in x)
    return x


def _enc(x):
    if isinstance(x, (bytes, bytearray, memoryview)):
        return {"b": bytes(x).hex()}
    if isinstance(x, (tuple, list)):
        return [_enc(i) for i in x]
    return x


class RadioServer:
    """Serves the MicroPython processes that connect to `path`, one BLE (one belt) each time:
    `await RadioServer(air, device).start(path)`, `await close()`."""

    def __init__(self, air, device):
        self.air = air
        self.device = device
        self.module = air.bluetooth_module(device, gap_name=ESP32_GAP_NAME)
        self._server = None
        self._writer = None
        self._asks: dict[int, asyncio.Future] = {}
        self._ask_id = 0
        self.clients = 0
        self.gone = asyncio.Event()         # the last client has gone (the process ended)

    async def start(self, path):
        self._server = await asyncio.start_unix_server(self._client, path)
        return self

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader, writer):
        self.clients += 1
        self.gone.clear()
        ble = self.module.BLE()
        self._writer = writer

        def forward(event, data):
            items = [{"m": bytes(x).hex()} if isinstance(x, memoryview) else x for x in data]
            writer.write(json.dumps(["ev", event, items]).encode() + b"\n")
            return None

        async def ask(event, items, buffers):
            self._ask_id += 1
            n = self._ask_id
            answer = self._asks[n] = asyncio.get_running_loop().create_future()
            writer.write(json.dumps(["ask", n, event, list(items) + [_enc(b) for b in buffers]])
                         .encode() + b"\n")
            try:
                async with asyncio.timeout(ASK_TIMEOUT_S):
                    return _dec(await answer)
            except TimeoutError:
                logger.warning("the firmware did not answer event %d", event)
                return None
            finally:
                self._asks.pop(n, None)

        forward.ask = ask
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                if msg[0] == "ans":
                    waiting = self._asks.get(msg[1])
                    if waiting is not None and not waiting.done():
                        waiting.set_result(msg[2])
                    continue
                n, name, args = msg
                writer.write(json.dumps([n, self._answer(ble, forward, name, args)])
                             .encode() + b"\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            # The process has gone: its stack goes with it, as a reset takes a chip's.
            try:
                ble.irq(None)
                ble.active(False)
            except OSError:
                pass
            writer.close()
            self.gone.set()

    def inject(self, event, items):
        """Hand the process's IRQ handler an event the stack makes up (items as the handler
        gets them): for tests that force a fault the way a misbehaving stack would."""
        self._writer.write(json.dumps(["ev", event, list(items)]).encode() + b"\n")

    @staticmethod
    def _answer(ble, forward, name, raw):
        try:
            if name == "config_set":
                return {"r": _enc(ble.config(**{k: _dec(v) for k, v in raw[0].items()}))}
            args = _dec(raw)
            if name == "irq":
                ble.irq(forward if args[0] else None)
                result = None
            elif name == "gap_advertise":
                interval, adv, resp, connectable = args
                result = ble.gap_advertise(interval, adv, resp_data=resp, connectable=connectable)
            else:
                result = getattr(ble, name)(*args)
            return {"r": _enc(result)}
        except OSError as e:
            return {"e": [e.errno, e.strerror or ""]}
        except (TypeError, ValueError) as e:
            return {"x": [type(e).__name__, str(e)]}
