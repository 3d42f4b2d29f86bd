# The protocol link over Bluetooth LE, on MicroPython's `bluetooth.BLE` API (the board hands in
# the BLE object and the UUID type: the core never imports `bluetooth`). docs/protocol.md,
# "Bluetooth LE", specifies the GATT layout.
#
# Packets travel unframed: a GATT write or notification is one message. The companion writes
# requests to the control characteristic; replies (and ERRORs) come back as notifications on it,
# a reply longer than the link's ATT_MTU - 3 as consecutive notifications that the companion
# joins by the packet header's length. Session chunks go out on the data characteristic, sized
# to fill one notification at the negotiated MTU; effort events on the live characteristic.
#
# The IRQ handler only records (copies the written packet, notes connect, disconnect, MTU) and
# wakes the receiver task; requests are answered there by belt.commands, and the sender task
# notifies one packet per scheduler turn, so sampling keeps running during a download. NimBLE
# raises OSError(ENOMEM) when its buffers are full: the packet is kept and sent again after a
# growing pause. Advertising stops when a central connects and starts again at every disconnect.
#
# The radio is off for the run: from the warm-up to the end of the lie-down the belt neither
# advertises nor keeps a connection (hardware/power.md: with the radio on, a marathon's logging
# misses the 8-hour target on a worn cell). It comes back once the run flow is idle or done.
import asyncio
from micropython import const

from belt import FIRMWARE_VERSION
from belt import protocol as P
from belt.commands import Commands
from belt.outbound import DATA_HEAD, EFFORT_LEN, Outbound
from belt.runflow import State
from belt.sessionsync import CHUNK_MAX

SERVICE_UUID = "7f3a0001-6c2e-4b8e-9a51-636f72656375"
CONTROL_UUID = "7f3a0002-6c2e-4b8e-9a51-636f72656375"
DATA_UUID = "7f3a0003-6c2e-4b8e-9a51-636f72656375"
LIVE_UUID = "7f3a0004-6c2e-4b8e-9a51-636f72656375"
_FLAG_READ = const(0x02)
_FLAG_WRITE_NO_RESPONSE = const(0x04)
_FLAG_WRITE = const(0x08)
_FLAG_NOTIFY = const(0x10)
_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_ENOMEM = const(12)
# 247: one notification then fills one LE data PDU of 251 bytes (data length extension).
_MTU = const(247)
_MTU_MIN = const(23)
_ATT_OVERHEAD = const(3)         # opcode and handle before a notification's value
_CONTROL_BUF = P.HEADER_LEN + P.MAX_PAYLOAD + P.AUTH_LEN   # the largest request a write carries
_ADV_US = const(200000)          # found within a fraction of a second, at little current
_INBOX = const(8)                # requests waiting for the receiver; more are lost (counted)
_BACKOFF_MS = const(2)
_BACKOFF_MAX_MS = const(64)
_AFTER_MS = const(50)            # lets a reply leave before a reboot
_RADIO_CHECK_MS = const(500)     # how soon the radio follows the run flow
_BATTERY_EMPTY_MV = const(3300)
_BATTERY_FULL_MV = const(4150)


def belt_name(device_id):
    """corecue-XXXX: the last two bytes of the chip's id. An ESP32's device id is its 6-byte MAC
    and two zero bytes; those padding bytes would name every belt alike, so they do not count."""
    i = device_id[:6] if device_id[6:] == b"\0\0" else device_id
    return "corecue-%02X%02X" % (i[-2], i[-1])


def battery_percent(mv):
    p = (mv - _BATTERY_EMPTY_MV) * 100 // (_BATTERY_FULL_MV - _BATTERY_EMPTY_MV)
    return 0 if p < 0 else (100 if p > 100 else p)


def _ad(kind, value):
    return bytes((len(value) + 1, kind)) + value


class BleLink:
    def __init__(self, app, ble, uuid, commands=None):
        self.app = app
        self.board = app.board
        self.ble = ble
        self.commands = commands or Commands(app)
        self.commands.caps = P.CAP_BLE | P.CAP_LIVE
        self._rx_flag = app.board.flag()
        self._tx_flag = app.board.flag()
        self.out = Outbound(app, self.commands, self._tx_flag.set)
        self.name = belt_name(app.board.device_id())
        self.conn = None
        self.mtu = _MTU_MIN
        self._events = []           # (event, connection, value) recorded by the IRQ handler
        self._replies = []          # reply packets waiting to be notified
        self._sent = 0              # bytes of _replies[0] already notified
        self._pkt = bytearray(DATA_HEAD + CHUNK_MAX)
        self._epkt = bytearray(EFFORT_LEN)
        self._body = None           # the data chunk's room at the current MTU
        self.rx_dropped = 0         # requests lost because the receiver fell behind
        self.enomem = 0             # notifications NimBLE refused for want of buffers
        self.connections = 0
        self.on_air = True          # advertising or connectable: off during a run
        ble.active(True)
        ble.config(gap_name=self.name, mtu=_MTU)
        ble.irq(self._irq)
        ((self.h_control, self.h_data, self.h_live), (h_man, h_model, h_fw),
         (self.h_battery,)) = ble.gatts_register_services((
             (uuid(SERVICE_UUID), (
                 (uuid(CONTROL_UUID), _FLAG_WRITE | _FLAG_WRITE_NO_RESPONSE | _FLAG_NOTIFY),
                 (uuid(DATA_UUID), _FLAG_NOTIFY),
                 (uuid(LIVE_UUID), _FLAG_NOTIFY))),
             (uuid(0x180A), ((uuid(0x2A29), _FLAG_READ), (uuid(0x2A24), _FLAG_READ),
                             (uuid(0x2A26), _FLAG_READ))),
             (uuid(0x180F), ((uuid(0x2A19), _FLAG_READ | _FLAG_NOTIFY),))))
        ble.gatts_set_buffer(self.h_control, _CONTROL_BUF)
        ble.gatts_write(h_man, b"corecue")
        ble.gatts_write(h_model, ("corecue belt (%s)" % self.board.name).encode())
        ble.gatts_write(h_fw, FIRMWARE_VERSION.encode())
        self._battery()
        self._adv = _ad(0x01, b"\x06") + _ad(0x07, bytes(uuid(SERVICE_UUID)))
        self._resp = _ad(0x09, self.name.encode())
        self._set_mtu(_MTU_MIN)

    def tasks(self):
        """(name, coroutine function) pairs for App.start(extra=...)."""
        return (("ble-rx", self.rx), ("ble-tx", self.tx), ("ble-radio", self.radio))

    def _advertise(self):
        if self.on_air:
            self.ble.gap_advertise(_ADV_US, adv_data=self._adv, resp_data=self._resp)

    async def radio(self):
        """Radio off while the run flow runs (warm-up to the end of the lie-down), on otherwise."""
        while True:
            await self.board.sleep_ms(_RADIO_CHECK_MS)
            state = self.app.flow.state
            want = state == State.IDLE or state == State.DONE
            if want == self.on_air:
                continue
            self.on_air = want
            if want:
                if self.conn is None:
                    self._advertise()
            else:
                self.ble.gap_advertise(None)
                if self.conn is not None:
                    self.ble.gap_disconnect(self.conn)   # the IRQ then reports it as usual

    def _battery(self):
        mv = getattr(self.board, "battery_mv", None)
        self.ble.gatts_write(self.h_battery, bytes((battery_percent(mv()) if mv else 0,)))

    def _set_mtu(self, mtu):
        self.mtu = mtu
        room = mtu - _ATT_OVERHEAD - DATA_HEAD
        if room > CHUNK_MAX:
            room = CHUNK_MAX
        self._body = memoryview(self._pkt)[DATA_HEAD:DATA_HEAD + room]
        self.commands.download.limit(room)

    # -- receiving -------------------------------------------------------------------------------

    def _irq(self, event, data):
        # Record and wake; the receiver task does the work. The written value is copied now: the
        # next write replaces it.
        if event == _IRQ_GATTS_WRITE:
            if data[1] != self.h_control:
                return
            if len(self._events) >= _INBOX:
                self.rx_dropped += 1
                return
            self._events.append((event, data[0], bytes(self.ble.gatts_read(self.h_control))))
        elif event == _IRQ_CENTRAL_CONNECT or event == _IRQ_CENTRAL_DISCONNECT:
            self._events.append((event, data[0], None))
        elif event == _IRQ_MTU_EXCHANGED:
            self._events.append((event, data[0], data[1]))
        else:
            return
        self._rx_flag.set()

    async def rx(self):
        if self.conn is None:
            self._advertise()
        while True:
            await self._rx_flag.wait()
            while self._events:
                event, conn, value = self._events.pop(0)
                if event == _IRQ_CENTRAL_CONNECT:
                    self._connected(conn)
                elif event == _IRQ_CENTRAL_DISCONNECT:
                    self._disconnected(conn)
                elif conn != self.conn:
                    continue                    # left over from a link that has gone
                elif event == _IRQ_MTU_EXCHANGED:
                    self._set_mtu(value)
                else:
                    reply = self.commands.handle(value)
                    if reply is not None:
                        self._replies.append(reply)
                    self._tx_flag.set()
            after = self.commands.after
            if after is not None:           # reboot: the reply goes out, nothing more is read
                self.commands.after = None
                while self._replies and self.conn is not None:
                    await self.board.sleep_ms(_BACKOFF_MS)
                await self.board.sleep_ms(_AFTER_MS)
                after()
                await asyncio.Event().wait()

    def _connected(self, conn):
        self.conn = conn
        self.connections += 1
        self._set_mtu(_MTU_MIN)
        self._battery()

    def _disconnected(self, conn):
        if conn != self.conn:
            return
        # What this link was doing ends with it; a new connection asks again (a download resumes
        # with a session_read from the companion's last contiguous offset).
        self.conn = None
        self.commands.live = False
        self.commands.download.active = False
        self.out.clear_live()
        self._replies = []
        self._sent = 0
        self._advertise()

    # -- sending ---------------------------------------------------------------------------------

    def _next(self):
        """(characteristic handle, bytes to notify) of what goes next, or (0, None). Replies come
        first, then live frames, then session data."""
        if self._replies:
            pkt = self._replies[0]
            room = self.mtu - _ATT_OVERHEAD
            # Whole only if none of it has gone yet: an MTU exchange in the middle of a long
            # reply may make it fit, but the companion already holds its first _sent bytes and
            # would reassemble them twice.
            if self._sent == 0 and len(pkt) <= room:
                return self.h_control, pkt
            return self.h_control, memoryview(pkt)[self._sent:self._sent + room]
        n = self.out.pack_effort(self._epkt)
        if n:
            return self.h_live, self._epkt
        if self.out.chunk_due():
            n = self.out.pack_chunk(self._pkt, self._body)
            if n:
                return self.h_data, memoryview(self._pkt)[:n]
        return 0, None

    def _done(self, handle, value):
        if handle == self.h_control:
            self._sent += len(value)
            if self._sent >= len(self._replies[0]):
                self._replies.pop(0)
                self._sent = 0

    async def tx(self):
        board = self.board
        while True:
            await self._tx_flag.wait()
            backoff = _BACKOFF_MS
            handle, value = 0, None
            while self.conn is not None:
                if value is None:
                    handle, value = self._next()
                    if value is None:
                        break
                try:
                    self.ble.gatts_notify(self.conn, handle, value)
                except OSError as e:
                    if e.args and e.args[0] == _ENOMEM:
                        # NimBLE's buffers are full: the same packet again, after a pause.
                        self.enomem += 1
                        await board.sleep_ms(backoff)
                        if backoff < _BACKOFF_MAX_MS:
                            backoff *= 2
                        continue
                    value = None                # not connected any more: the IRQ will say so
                    break
                self._done(handle, value)
                value = None
                backoff = _BACKOFF_MS
                await asyncio.sleep(0)          # one notification per turn of the scheduler
