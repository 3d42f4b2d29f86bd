# The belt's side of the device protocol (docs/protocol.md): one received packet in, its reply or
# an ERROR out. Transport-neutral: the link (belt.link) hands packets in and sends what comes back.
#
# Every request is checked whole before anything changes: its header, its type, its fields'
# sizes, then its values. A request refused at any of those steps gets an ERROR and leaves the
# belt exactly as it was; only a request that passed them all acts.

from micropython import const

from belt import FIRMWARE_VERSION
from belt import protocol as P
from belt import storage
from belt.calibration import PHASES
from belt.effort import MODE_NAMES
from belt.sessionsync import Catalog, Download, file_size
from belt.strictjson import loads as _loads

_UNIX_MIN = const(1577836800)   # 2020-01-01: an earlier "now" is a clock that was never set
_CAL_OPS = "1 (begin), 2 (status), 3 (commit), 4 (abort), 5 (evaluate)"
PE = P.ProtocolError


def _u16(v):
    return v if v < 0xFFFF else 0xFFFF


def _u32(v):
    return v if v < 0xFFFFFFFF else 0xFFFFFFFF


class Commands:
    def __init__(self, app):
        self.app = app
        self._live_on = False           # effort events every frame (sent by the link)
        self._bare_error = bytearray(P.error(0, P.E_INTERNAL))     # code, no message
        self.download = Download(app.store)
        self.catalog = Catalog(app)
        self.after = None               # run once the reply is out (reboot)
        self.caps = P.CAP_USB | P.CAP_LIVE  # announced in HELLO: the link that carries us
        self._handlers = {}
        for name, _, _, _ in P.MESSAGES:
            self._handlers[P.type_of(name)] = getattr(self, "_" + name)

    @property
    def live(self):
        return self._live_on

    @live.setter
    def live(self, on):
        # The app counts the live views open on all links: someone is watching the brace.
        if on != self._live_on:
            self._live_on = on
            self.app.live_views += 1 if on else -1

    def handle(self, pkt):
        """The reply to one received packet (bytes), or None when it has none (session_ack)."""
        req = pkt[2] | pkt[3] << 8 if len(pkt) >= 4 else 0
        self.app.touch()
        try:
            t, flags, req, payload = P.parse(pkt)
            if flags & P.F_AUTH:
                raise PE(P.E_AUTH, "protocol %d cannot check authenticated commands" % P.VERSION)
            fmt = P.request_format(t)
            fn = self._handlers.get(t)
            if fn is None or fmt is None:
                raise PE(P.E_UNKNOWN, "type 0x%02x" % t)
            fields, tail = P.decode_fields(fmt, payload)
            return fn(req, fields, tail)
        except PE as e:
            code, message, failure = e.code, e.message, None
        except Exception as e:      # a bug or a failing flash: say so, keep the belt running
            code, message, failure = P.E_INTERNAL, None, e
        try:
            if failure is not None:
                self.app.log("command 0x%02x failed: %r" % (pkt[0] if pkt else 0, failure))
                message = "%s: %s" % (type(failure).__name__, failure)
            return P.error(req, code, message)
        except MemoryError:
            # The heap ran out (often what failed in the first place): the refusal still goes
            # out, as the bare error made at boot, so the handler never raises to its link.
            bare = self._bare_error
            bare[2] = req & 0xFF
            bare[3] = req >> 8
            bare[6] = code
            return bare

    # -- device ----------------------------------------------------------------------------------

    def _hello(self, req, f, tail):
        theirs, oldest = f
        if theirs < P.MIN_COMPATIBLE or P.VERSION < oldest:
            raise PE(P.E_VERSION, "companion %d (accepts belts from %d), belt %d (serves "
                     "companions from %d)" % (theirs, oldest, P.VERSION, P.MIN_COMPATIBLE))
        return P.reply("hello", req, P.VERSION, P.MIN_COMPATIBLE, self.caps,
                       self.app.board.device_id(), P.MAX_PAYLOAD,
                       tail=FIRMWARE_VERSION.encode())

    def _status(self, req, f, tail):
        a = self.app
        s = a.sampler
        # The battery's own estimate (belt.battery), or a reading before it has one.
        battery = getattr(a.board, "battery_mv", None)
        mv = a.battery.judged_mv() or (battery() if battery else 0)
        return P.reply("status", req, a.flow.state, MODE_NAMES.index(a.chain.mode),
                       _u16(mv), _u32(a.store.used()),
                       _u32(a.store.free()), _u32(a.frames), _u16(s.late), _u16(s.missed),
                       _u16(s.overruns), _u16(a.task_restarts), 1 if a.calibration() else 0,
                       1 if a.calibrating else 0, 1 if self.live else 0,
                       a.session_id if a.writer else 0, a.battery.code(), a.data_area)

    def _config_get(self, req, f, tail):
        js = self.app.config.to_json().encode()
        if len(js) > P.MAX_PAYLOAD:
            raise PE(P.E_INTERNAL, "config of %d bytes does not fit a packet" % len(js))
        return P.reply("config_get", req, tail=js)

    def _config_set(self, req, f, tail):
        try:
            changes = _loads(bytes(tail).decode())      # JSON only, on both interpreters
        except Exception:           # bad UTF-8, bad JSON, nesting too deep for the parser
            raise PE(P.E_MALFORMED, "config_set: not JSON")
        cfg = self.app.config
        why = cfg.check(changes)
        if why:
            raise PE(P.E_INVALID, why)
        before = cfg.as_dict()
        cfg.update(changes)
        js = cfg.to_json().encode()
        try:
            if len(js) > P.MAX_PAYLOAD:
                raise PE(P.E_INVALID, "%s: the config would take %d bytes, over the %d of a "
                         "packet" % (sorted(changes)[0], len(js), P.MAX_PAYLOAD))
            cfg.save()
        except PE:
            cfg.update(before)
            raise
        except OSError as e:
            cfg.update(before)
            raise PE(P.E_INTERNAL, "config not saved: %r" % e)
        self.app.apply_config()
        return P.reply("config_set", req, tail=js)

    def _time_set(self, req, f, tail):
        unix = f[0]
        if unix < _UNIX_MIN:
            raise PE(P.E_INVALID, "unix: %d is before 2020" % unix)
        a = self.app
        now = a.board.ticks_ms()
        a.clock.set(unix, now, a.log)
        return P.reply("time_set", req, a.clock.boot_id, now, unix)

    def _buzz(self, req, f, tail):
        pid = f[0]
        n = len(self.app.player.table)
        if pid >= n:
            raise PE(P.E_INVALID, "pattern: %d not a pattern id (0..%d)" % (pid, n - 1))
        self.app.play(pid)
        return P.reply("buzz", req)

    def _reboot(self, req, f, tail):
        self.after = self.app.reboot
        return P.reply("reboot", req)

    def _live(self, req, f, tail):
        if f[0] > 1:
            raise PE(P.E_INVALID, "live: %d not 0 (off) or 1 (on)" % f[0])
        self.live = f[0] == 1
        return P.reply("live", req)

    # -- calibration -----------------------------------------------------------------------------

    def _calibrate(self, req, f, tail):
        op, phase = f
        a = self.app
        if not P.CAL_BEGIN <= op <= P.CAL_EVALUATE:
            raise PE(P.E_INVALID, "op: %d not one of %s" % (op, _CAL_OPS))
        if op == P.CAL_ABORT:       # always allowed: the companion can always clean up
            a.cal_abort()
            return self._cal_reply(req, op)
        if a.writer:
            raise PE(P.E_STATE, "session %d is open" % a.session_id)
        if op == P.CAL_BEGIN:
            if phase >= len(PHASES):
                raise PE(P.E_INVALID, "phase: %d not one of 0 (rest), 1 (brace), 2 (pause)"
                         % phase)
            try:
                a.cal_begin(phase)
            except ValueError as e:     # a sixth brace: the calibrator holds five
                raise PE(P.E_STATE, str(e))
            return self._cal_reply(req, op)
        if op == P.CAL_STATUS:
            return self._cal_reply(req, op)
        if not a.calibrating:
            raise PE(P.E_STATE, "not calibrating")
        if op == P.CAL_EVALUATE:
            # The companion shows the verdict and asks the person before it commits: the
            # calibrator's evaluation has no side effects, and commit evaluates the same data.
            return self._cal_reply(req, op, a.calibrator.evaluate(), adopted=False)
        res = a.cal_commit()
        return self._cal_reply(req, op, res, adopted=a.cal_adopted)

    def _cal_reply(self, req, op, res=None, adopted=False):
        a = self.app
        level = _u16(a.chain.block_level if a.chain.block_level > 0 else 0)
        frames = _u16(a.cal_frames if a.calibrating else 0)
        if res is None:
            return P.reply("calibrate", req, op, a.calibrator.phase, level, frames, 0, 0, 0, 0, 0)
        trials = bytearray()
        for t in res.trials:
            v = _u16(t if t > 0 else 0)
            trials.extend(bytes((v & 0xFF, v >> 8)))
        return P.reply("calibrate", req, op, a.calibrator.phase, level, frames,
                       _u16(res.rest), _u16(res.mvc), _u16(res.spread_pm), res.reasons & 0xFF,
                       1 if adopted else 0, tail=trials)

    # -- sessions --------------------------------------------------------------------------------

    def _session_list(self, req, f, tail):
        return self.catalog.reply(req, f[0])

    def _session_read(self, req, f, tail):
        sid, offset, window, chunk = f
        if window == 0:
            raise PE(P.E_INVALID, "window: 0 below minimum 1")
        if chunk == 0:
            raise PE(P.E_INVALID, "chunk: 0 below minimum 1")
        store = self.app.store
        path = store.find(sid)
        if path is None:
            raise PE(P.E_NOT_FOUND, "session %d: no such session" % sid)
        if sid == store.open_id:
            raise PE(P.E_STATE, "session %d is open" % sid)
        size = file_size(path)
        if offset > size:
            raise PE(P.E_INVALID, "offset: %d beyond the file's %d bytes" % (offset, size))
        self.download.start(sid, size, offset, window, chunk)   # chunk capped at CHUNK_MAX
        return P.reply("session_read", req, sid, size)

    def _session_ack(self, req, f, tail):
        self.download.ack(f[0], f[1])
        return None

    def _session_confirm(self, req, f, tail):
        sid = f[0]
        r = self.app.store.confirm(sid, f[1])
        if r == storage.E_UNKNOWN:
            raise PE(P.E_NOT_FOUND, "session %d: no such session" % sid)
        if r == storage.E_OPEN:
            raise PE(P.E_STATE, "session %d is open" % sid)
        if r == storage.E_CRC:
            raise PE(P.E_CRC, "crc mismatch")
        return P.reply("session_confirm", req)

    def _session_start(self, req, f, tail):
        a = self.app
        if a.writer:
            raise PE(P.E_STATE, "session %d is open" % a.session_id)
        if a.calibrating:
            raise PE(P.E_STATE, "calibrating")
        sid = a.start_session()
        if sid is None and a.battery_too_low():
            raise PE(P.E_STATE, "battery low (%d mV): charge the belt" % a.battery.judged_mv())
        if sid is None:
            raise PE(P.E_STATE, "flash full: confirm synced sessions to make room")
        return P.reply("session_start", req, sid)

    def _session_stop(self, req, f, tail):
        sid = self.app.stop_session()
        if sid is None:
            raise PE(P.E_STATE, "no session is open")
        return P.reply("session_stop", req, sid)
