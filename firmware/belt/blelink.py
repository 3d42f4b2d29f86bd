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
# The IRQ handler only records, into a preallocated ring (connect, disconnect, MTU, "a request
# came") and wakes the receiver task; it allocates nothing and cannot raise in normal running.
# The control characteristic's buffer is in append mode, so written requests wait in the stack's
# value store and the receiver reads them all at once, split by the packets' own lengths.
# Requests are answered there by belt.commands, and the sender task notifies one packet per
# scheduler turn, so sampling keeps running during a download. NimBLE raises OSError(ENOMEM)
# when its buffers are full: the packet is kept and sent again after a growing pause.
# Advertising stops when a central connects and starts again at every disconnect.
#
# MicroPython switches the IRQ handler off for good when it raises (modbluetooth.c, since 1.20):
# no event would ever come again, so no disconnect, so no advertising until a reboot. The radio
# task watches for it: a request in the control buffer that no write event announced, or a
# connection that notifications find gone without a disconnect event, means the handler is off;
# Bluetooth is then switched off and on again and advertises anew. The app, its open session and
# the USB link do not notice.
#
# With ownership (main.py always; docs/protocol.md, "Ownership") every packet goes through
# belt.owned first, and what the belt volunteers, live effort and session data, is sealed in place
# in buffers with room for the trailer. One connection at a time is served. While it has not
# authenticated the belt keeps advertising and a second central may connect: it replaces the
# unauthenticated one, so a stranger's idle connection never locks the owner out; that one is
# also dropped after 5 s (auth.AUTH_TIMEOUT_MS). Once the connection has authenticated the belt
# stops advertising, and a central that still connects is disconnected at once. Notifications go
# only to the served connection. With a bond store (belt.bonds, main.py always) the stack is also
# asked for LE Secure Connections with bonding, and the encryption and secret events go to the
# store: defence in depth only, nothing here depends on them (docs/protocol.md).
#
# The radio is off for the run: from the warm-up to the end of the lie-down the belt neither
# advertises nor keeps a connection (hardware/power.md: with the radio on, a marathon's logging
# misses the 8-hour target on a worn cell). It comes back once the run flow is idle or done.
# How often it advertises is the app's RadioWindow's (belt.radiowindow): fast in a window (from
# boot or wake, from the radio's return after a run, on the runner's double press), slowly or not
# at all outside one; the advertisement counts the double presses, so that a computer already
# hearing the belt can tell that a sync was asked for. The connection's parameters are the
# central's choice: the belt logs those it is given (_IRQ_CONNECTION_UPDATE), having no call to
# ask for others.
import asyncio
from array import array
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
_IRQ_CONNECTION_UPDATE = const(27)
_IRQ_ENCRYPTION_UPDATE = const(28)
_IRQ_SET_SECRET = const(30)
_IO_NO_INPUT_OUTPUT = const(3)   # no display, no keys: Just Works
_ENOMEM = const(12)
# 247: one notification then fills one LE data PDU of 251 bytes (data length extension).
_MTU = const(247)
_MTU_MIN = const(23)
_ATT_OVERHEAD = const(3)         # opcode and handle before a notification's value
_CONTROL_BUF = P.HEADER_LEN + P.MAX_PAYLOAD + P.AUTH_LEN   # the largest request a write carries
_INBOX = const(8)                # events waiting for the receiver; more are lost (counted)
_CONTROL_QUEUE = const(2)        # the largest requests the control buffer holds at once
_BACKOFF_MS = const(2)
_BACKOFF_MAX_MS = const(64)
_AFTER_MS = const(50)            # lets a reply leave before a reboot
_RADIO_CHECK_MS = const(500)     # how soon the radio follows the run flow
_BATTERY_EMPTY_MV = const(3300)
# Manufacturer data of the advertisement: company 0xFFFF (little-endian; the value the Bluetooth
# SIG keeps for products before a company identifier is assigned: a shipped belt needs its own),
# format 1, then the sync request count (belt.radiowindow). With the flags and the service UUID,
# 27 of the 31 bytes a legacy advertisement holds; companions read it only beside that UUID.
SYNC_ASKED = b"\xff\xff\x01"
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
    def __init__(self, app, ble, uuid, commands=None, owner=None, on_paired=None, bonds=None):
        self.app = app
        self.bonds = bonds          # belt.bonds.Bonds: LE Secure Connections bonds, or None
        self.board = app.board
        self.ble = ble
        self.commands = commands or Commands(app)
        self.commands.caps = P.CAP_BLE | P.CAP_LIVE
        # belt.owned in front of the commands (owner: belt.auth.Owner); without one, the plain
        # version-1 link that the radio's own tests drive.
        self.owned = None
        self._trailer = 0
        if owner is not None:
            from belt.owned import Owned
            self.owned = Owned(self.commands, owner, False, on_paired)
            self._trailer = P.AUTH_LEN
        self._advertising = False
        self._drop_after = None     # why the connection ends once its replies are out
        self._handle = 0            # the characteristic of what _next() returned
        self._rx_flag = app.board.flag()
        self._tx_flag = app.board.flag()
        self.out = Outbound(app, self.commands, self._tx_flag.set)
        self.name = belt_name(app.board.device_id())
        self.conn = None
        app.radio = self            # the battery task tags readings taken while connected
        self.mtu = _MTU_MIN
        self._ev = array("i", [0] * (3 * _INBOX))   # (event, connection, value) ring of the IRQ
        self._ev_head = 0
        self._ev_n = 0
        self._tail_write = 0        # conn + 1 when the ring's newest event is its write
        self._replies = []          # reply packets waiting to be notified
        self._sent = 0              # bytes of _replies[0] already notified
        # A data packet fills at most one notification at the largest MTU.
        self._pkt = bytearray(_MTU - _ATT_OVERHEAD)
        self._epkt = bytearray(EFFORT_LEN + self._trailer)
        # Both lengths of an effort event, plain and sealed, as views made once: slicing per
        # frame would allocate.
        self._eviews = (memoryview(self._epkt)[:EFFORT_LEN], memoryview(self._epkt))
        self._body = None           # the data chunk's room at the current MTU
        self.rx_dropped = 0         # requests or events lost because the receiver fell behind
        self.rx_failed = 0          # requests (or reads of them) that ran the heap out
        self.tx_failed = 0          # packets whose making ran the heap out, made again
        self.enomem = 0             # notifications NimBLE refused for want of buffers
        self.connections = 0
        self.irq_events = 0         # events the IRQ handler has recorded
        self._checked = 0           # irq_events at the radio task's last look
        self._gone = False          # a notification found the connection gone
        self._strikes = 0           # looks in a row that found the handler silent
        self.restarts = 0           # times Bluetooth was brought back after the handler went
        self.on_air = True          # advertising or connectable: off during a run
        self.adv_us = 0             # the advertising interval last asked of the radio
        self.conn_params = None     # (interval 1.25 ms, latency, timeout 10 ms) the central chose
        self._latency = 0           # the IRQ's latency of the update waiting in the ring
        app.links.append(self)      # a connected companion keeps the belt awake
        self._uuid = uuid
        self._bring_up()

    def _bring_up(self):
        ble, uuid = self.ble, self._uuid
        ble.active(True)
        ble.config(gap_name=self.name, mtu=_MTU)
        if self.bonds is not None:
            # Defence in depth (docs/protocol.md): LE Secure Connections with bonding when the
            # central asks to pair; Just Works, the belt has no display.
            ble.config(bond=True, le_secure=True, mitm=False, io=_IO_NO_INPUT_OUTPUT)
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
        ble.gatts_set_buffer(self.h_control, _CONTROL_BUF * _CONTROL_QUEUE, True)
        ble.gatts_write(h_man, b"corecue")
        ble.gatts_write(h_model, ("corecue belt (%s)" % self.board.name).encode())
        ble.gatts_write(h_fw, FIRMWARE_VERSION.encode())
        self._battery()
        self._adv_base = _ad(0x01, b"\x06") + _ad(0x07, bytes(uuid(SERVICE_UUID)))
        self._adv = None
        self._adv_asked = -1        # the sync request count in _adv (-1: none built yet)
        self._resp = _ad(0x09, self.name.encode())
        self._set_mtu(_MTU_MIN)

    def tasks(self):
        """(name, coroutine function) pairs for App.start(extra=...)."""
        tasks = (("ble-rx", self.rx), ("ble-tx", self.tx), ("ble-radio", self.radio))
        if self.bonds is not None:
            tasks += (("ble-bonds", self.bonds.keep),)
        return tasks

    def _advertise(self):
        if self.on_air:
            us = self.app.window.interval_us(self.board.ticks_ms())
            if us:
                self.ble.gap_advertise(us, adv_data=self._adv_data(), resp_data=self._resp)
                self._advertising = True
            elif self._advertising:             # outside a window, with no slow advertising
                self.ble.gap_advertise(None)
                self._advertising = False
            self.adv_us = us

    def _adv_data(self):
        """The advertisement: flags, the service, and the count of syncs asked for since boot as
        manufacturer data (docs/protocol.md); made anew only when the count changes."""
        asked = self.app.window.asked
        if asked != self._adv_asked:
            self._adv = self._adv_base + _ad(0xFF, SYNC_ASKED + bytes((asked,)))
            self._adv_asked = asked
        return self._adv

    def _pace(self):
        """Advertising as the window wants it now, where the belt advertises at all: fast in a
        window, slow or none outside (belt.radiowindow)."""
        if self._served():
            return                              # nobody else needs to connect
        us = self.app.window.interval_us(self.board.ticks_ms())
        if us != (self.adv_us if self._advertising else 0) or (
                us and self.app.window.asked != self._adv_asked):   # a sync asked for: say so
            self._advertise()

    def _served(self):
        """The connection is one the belt serves alone: authenticated (or no ownership)."""
        return self.conn is not None and (self.owned is None or self.owned.authenticated)

    async def radio(self):
        """Radio off while the run flow runs (warm-up to the end of the lie-down), on otherwise;
        and Bluetooth brought back if its IRQ handler has been switched off."""
        while True:
            await self.board.sleep_ms(_RADIO_CHECK_MS)
            if self.on_air and self._handler_gone():
                self.restart()
            state = self.app.flow.state
            want = state == State.IDLE or state == State.DONE
            if want == self.on_air:
                if want:
                    self._pace()
                self._tick()
                continue
            self.on_air = want
            if want:
                # Back after a run (the lie-down over, or the warm-up given up): a window.
                self.app.window.open(self.board.ticks_ms())
                if not self._served():
                    self._advertise()
            else:
                self.ble.gap_advertise(None)
                self._advertising = False
                if self.conn is not None:
                    self.ble.gap_disconnect(self.conn)   # the IRQ then reports it as usual
            self._tick()

    def _tick(self):
        # An unauthenticated connection has AUTH_TIMEOUT_MS; then it is dropped (the belt
        # advertises on, so the owner can connect meanwhile).
        if self.owned is not None and self.conn is not None:
            why = self.owned.tick(self.board.ticks_ms())
            if why is not None:
                self._drop(why)

    def _drop(self, why):
        self.board.log("ble: connection dropped: %s" % why)
        try:
            self.ble.gap_disconnect(self.conn)   # the IRQ then reports it as usual
        except OSError:
            pass

    def _handler_gone(self):
        """True when the stack did what raises events and none came: a request waited in the
        control buffer unannounced (it is answered all the same), or a notification found the
        connection gone without a disconnect; and still no event by the next look (one may be
        on its way at the moment of the first)."""
        quiet = self.irq_events == self._checked and not self._ev_n
        self._checked = self.irq_events
        if not quiet:
            self._strikes = 0
            return False
        if self._strikes:
            return True
        try:
            raw = self.ble.gatts_read(self.h_control)
        except MemoryError:
            return False            # the heap ran out copying it: the next look reads it
        if raw:
            self._requests(self.conn, raw)
        if raw or self._gone:
            self._strikes = 1
        return False

    def restart(self):
        """Bluetooth off and on again, advertising anew (the connection, if any, is dropped)."""
        self.restarts += 1
        self._strikes = 0
        self.board.log("ble: no events from the stack: restarting Bluetooth")
        self.ble.active(False)
        self._ev_n = 0
        self._tail_write = 0
        self._lost()
        self._bring_up()
        self._advertise()

    def _battery(self):
        mv = getattr(self.board, "battery_mv", None)
        self.ble.gatts_write(self.h_battery, bytes((battery_percent(mv()) if mv else 0,)))

    def _set_mtu(self, mtu):
        self.mtu = mtu
        room = mtu - _ATT_OVERHEAD - DATA_HEAD - self._trailer
        if room > CHUNK_MAX:
            room = CHUNK_MAX
        self._body = memoryview(self._pkt)[DATA_HEAD:DATA_HEAD + room]
        self.commands.download.limit(room)

    # -- receiving -------------------------------------------------------------------------------

    def _irq(self, event, data):
        # Record and wake; the receiver task does the work. Nothing here allocates: small ints
        # into a preallocated ring, and frames small enough for the C stack (a function with
        # more locals gets its frame from the heap). A write only says that the control buffer
        # has something; one already waiting at the ring's tail says it for both.
        if event == _IRQ_GATTS_WRITE:
            if data[1] == self.h_control:
                self._put(event, data[0], 0)
        elif event == _IRQ_CENTRAL_CONNECT or event == _IRQ_CENTRAL_DISCONNECT:
            self._put(event, data[0], 0)
        elif event == _IRQ_MTU_EXCHANGED:
            self._put(event, data[0], data[1])
        elif event == _IRQ_CONNECTION_UPDATE:
            # Interval (<= 3200) and supervision timeout (<= 3200) in one small int.
            self._latency = data[2]
            self._put(event, data[0], data[1] | data[3] << 12)
        elif _IRQ_ENCRYPTION_UPDATE <= event <= _IRQ_SET_SECRET and self.bonds is not None:
            self.irq_events += 1
            return self.bonds.irq(event, data)      # a secret asked for is the answer

    def _put(self, event, conn, value):
        self.irq_events += 1
        if event == _IRQ_GATTS_WRITE and self._tail_write == conn + 1:
            self._rx_flag.set()
            return
        if self._ev_n >= _INBOX:
            self.rx_dropped += 1
            return
        i = (self._ev_head + self._ev_n) % _INBOX * 3
        self._ev[i] = event
        self._ev[i + 1] = conn
        self._ev[i + 2] = value
        self._ev_n += 1
        self._tail_write = conn + 1 if event == _IRQ_GATTS_WRITE else 0
        self._rx_flag.set()

    def _requests(self, conn, raw):
        """Answer every request in raw, what the control buffer held (written by conn)."""
        at = 0
        while len(raw) - at >= P.HEADER_LEN:
            n = raw[at + 4] | raw[at + 5] << 8
            end = at + P.HEADER_LEN + n + (P.AUTH_LEN if raw[at + 1] & P.F_AUTH else 0)
            if end > len(raw):
                break
            if conn == self.conn:
                try:
                    if self.owned is None:
                        reply = self.commands.handle(raw[at:end])
                        if reply is not None:
                            # Waits in the queue: not a view of a buffer the next reply reuses.
                            self._replies.append(bytes(reply))
                    else:
                        self._owned(raw[at:end])
                except MemoryError:
                    # The heap ran out in the link's own handling: this reply is lost, as a
                    # notification lost on the air (the companion asks again); the requests
                    # after it are still answered.
                    self.rx_failed += 1
            at = end
        if at < len(raw):
            self.rx_dropped += 1                # cut short: the buffer was full
        self._tx_flag.set()

    def _owned(self, pkt):
        out, drop = self.owned.handle(pkt, self.board.ticks_ms())
        for p in out:
            self._replies.append(p)
        if drop is not None:
            self._drop_after = drop             # once the replies (an ERROR, unpair's) are out
            self._tx_flag.set()
        elif self.owned.authenticated and self._advertising:
            # The owner is served: nobody else needs to connect now.
            self.ble.gap_advertise(None)
            self._advertising = False

    async def rx(self):
        if self.conn is None:
            self._advertise()
        while True:
            await self._rx_flag.wait()
            while self._ev_n:
                i = self._ev_head * 3
                ev = self._ev
                event, conn, value = ev[i], ev[i + 1], ev[i + 2]
                self._ev_head = (self._ev_head + 1) % _INBOX
                self._ev_n -= 1
                if not self._ev_n:
                    self._tail_write = 0
                if event == _IRQ_CENTRAL_CONNECT:
                    self._connected(conn)
                elif event == _IRQ_CENTRAL_DISCONNECT:
                    self._disconnected(conn)
                elif event == _IRQ_GATTS_WRITE:
                    try:
                        self._requests(conn, self.ble.gatts_read(self.h_control))
                    except MemoryError:
                        # Not even the buffer could be read: the requests are lost as on the
                        # air, or wait there for the next write (or the radio task's look).
                        self.rx_failed += 1
                elif event == _IRQ_CONNECTION_UPDATE:
                    self._params(conn, value)
                elif conn == self.conn:
                    self._set_mtu(value)
            after = self.commands.after
            if after is not None:           # reboot: the reply goes out, nothing more is read
                self.commands.after = None
                while self._replies and self.conn is not None:
                    await self.board.sleep_ms(_BACKOFF_MS)
                await self.board.sleep_ms(_AFTER_MS)
                after()
                await asyncio.Event().wait()

    def _params(self, conn, value):
        if conn != self.conn:
            return
        iv, timeout = value & 0xFFF, value >> 12
        self.conn_params = (iv, self._latency, timeout)
        self.board.log("ble: connection parameters: interval %d.%02d ms, latency %d, timeout "
                       "%d ms (the central's choice)" % (iv * 5 // 4, iv * 125 % 100,
                                                         self._latency, timeout * 10))

    def _connected(self, conn):
        self._advertising = False               # NimBLE stops advertising on a connection
        if self.conn is not None:
            if self._served():
                # The owner is being served: a second central is not.
                self.ble.gap_disconnect(conn)
                return
            # A second central while the first has not authenticated: it takes the place (the
            # first may be a stranger holding the belt), and the first is dropped.
            self._drop("a second connection came before it authenticated")
            self._lost()
        self.conn = conn
        self.conn_params = None                 # until the central updates them
        self.connections += 1
        self._set_mtu(_MTU_MIN)
        self._battery()
        if self.owned is not None:
            self.owned.connected(self.board.ticks_ms())
            self._advertise()                   # until this connection has authenticated

    def _disconnected(self, conn):
        if conn != self.conn:
            return
        self._lost()
        self._advertise()

    def _lost(self):
        # What this link was doing ends with it; a new connection asks again (a download resumes
        # with a session_read from the companion's last contiguous offset).
        self.conn = None
        self._gone = False
        self.commands.live = False
        self.commands.download.active = False
        self.out.clear_live()
        self._replies = []
        self._sent = 0
        self._drop_after = None
        if self.owned is not None:
            self.owned.connected(self.board.ticks_ms())     # whoever comes next starts afresh

    # -- sending ---------------------------------------------------------------------------------

    def _next(self):
        """The bytes to notify next, or None, its characteristic's handle in self._handle (a
        tuple returned per live frame would allocate). Replies come first, then live frames,
        then session data."""
        self._handle = self.h_control
        if self._replies:
            pkt = self._replies[0]
            room = self.mtu - _ATT_OVERHEAD
            # Whole only if none of it has gone yet: an MTU exchange in the middle of a long
            # reply may make it fit, but the companion already holds its first _sent bytes and
            # would reassemble them twice.
            if self._sent == 0 and len(pkt) <= room:
                return pkt
            return memoryview(pkt)[self._sent:self._sent + room]
        if self.mtu - _ATT_OVERHEAD >= EFFORT_LEN + self._trailer:
            # (Sealed, an effort event needs an ATT_MTU of 31: before an MTU exchange the frames
            # wait in the queue, which drops the oldest.)
            n = self.out.pack_effort(self._epkt)
            if n:
                if self.owned is not None:
                    n = self.owned.seal_into(self._epkt, n)
                self._handle = self.h_live
                return self._eviews[0 if n == EFFORT_LEN else 1]
        if self.out.chunk_due():
            n = self.out.pack_chunk(self._pkt, self._body)
            if n:
                if self.owned is not None:
                    n = self.owned.seal_into(self._pkt, n)
                self._handle = self.h_data
                return memoryview(self._pkt)[:n]
        return None

    def _done(self, handle, value):
        if handle == self.h_control:
            self._sent += len(value)
            if self._sent >= len(self._replies[0]):
                self._replies.pop(0)
                self._sent = 0

    async def tx(self):
        board = self.board
        dl = self.commands.download
        while True:
            await self._tx_flag.wait()
            backoff = _BACKOFF_MS
            handle, value = 0, None
            while self.conn is not None:
                if value is None:
                    at = dl.sent
                    try:
                        value = self._next()
                    except MemoryError:
                        # The heap ran out making what goes next: nothing of it went out, so
                        # a chunk is read again and a reply's part made again after a pause
                        # (a live frame is lost, as when the link falls behind). Raised out
                        # of the task, the download would wait for the companion to ask again.
                        self.tx_failed += 1
                        dl.sent = at
                        await board.sleep_ms(_BACKOFF_MS)
                        continue
                    handle = self._handle
                    if value is None:
                        if self._drop_after is not None:
                            why = self._drop_after
                            self._drop_after = None
                            await board.sleep_ms(_AFTER_MS)     # the last reply leaves first
                            if self.conn is not None:
                                self._drop(why)
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
                    self._gone = True
                    break
                self._done(handle, value)
                value = None
                backoff = _BACKOFF_MS
                await asyncio.sleep(0)          # one notification per turn of the scheduler
