"""The companion's own history: the belts the person paired, the sessions downloaded from them,
downloads interrupted part way, and every calibration attempt. One SQLite file, corecue.db, in
the data folder (database.py finds, opens and checks it; the schema and its versions are in
migrations.py).

    store = open_store()                  # data_dir(): --data-dir > $CORECUE_DATA_DIR > platform
    sid = store.add_session(device, 3, raw, crc, start_utc, 3600.0, {"in_band": 0.8})
    for s in store.sessions(): ...        # summaries only; store.session(sid).raw has the bytes

Every mistake a person can make (a bad path, a file that is not our database, one from a newer
corecue, a CRC that does not match) is a StoreError with a one-line message, and changes nothing.
So is a database that turns out damaged when it is read (see database.errors_are_one_line).
"""
import hashlib
import json
import sqlite3
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

from corecue.history import database
from corecue.history.database import DB_NAME, ENV_VAR, data_dir  # noqa: F401
from corecue.history.database import errors_are_one_line
from corecue.history.storeinput import StoreError
from corecue.history.storeinput import as_json as _json, belt_sid as _sid, device_id as _device

TRANSPORTS = ("ble", "usb", "virtual")


@dataclass
class BeltRecord:
    device: str
    name: str
    transport: str
    address: str
    paired_utc: float
    last_used_utc: float
    is_default: bool


@dataclass
class SessionRow:
    id: int
    device: str
    belt_sid: int
    crc: int
    start_utc: float | None
    duration_s: float
    size: int
    stored_utc: float
    summary: dict
    raw: bytes | None = None


@dataclass
class CalibrationRow:
    id: int
    device: str
    when_utc: float
    mode: str
    placement: int
    rest: int
    mvc: int
    ok: bool
    adopted: bool
    verdict: str
    detail: dict


def _summary(text):
    """A stored summary; one that does not parse (a damaged row) is empty, so that the reader
    makes it anew from the session's own bytes (history/sessions.summary_of), which are the
    record: a summary is only ever derived from them."""
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def open_store(data_dir=None, create=True, *, clock=time.time, notice=None):
    """The Store in `data_dir` (see data_dir()), created and brought to the current schema.
    create=False (read-only commands): a StoreError when there is no history yet, and no folder
    or file is made. clock: seconds since the epoch, replaceable in tests. notice(text): told
    before an existing history is upgraded (it may take a while, once)."""
    db, path, version = database.connect(database.data_dir(data_dir), create, notice=notice)
    return Store(db, path, version, clock)


_BELT_COLS = "device, name, transport, address, paired_utc, last_used_utc"
_SESSION_COLS = "id, device, belt_sid, crc, start_utc, duration_s, size, stored_utc, summary"


@errors_are_one_line
class Store:
    def __init__(self, db, path, version, clock=time.time):
        self._db = db
        self.path = path
        self.version = version
        self._clock = clock

    def close(self):
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def _transaction(self):
        """One write transaction: everything in it is stored, or (on any error) nothing."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")   # the write lock now, so what is read inside holds
            yield db
            db.execute("COMMIT")
        except BaseException as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise database.db_error(self.path, e, "cannot write to") from None
            raise

    def _write(self, *statements):
        """Run (sql, params) pairs in one transaction; returns their cursors."""
        with self._transaction() as db:
            return [db.execute(sql, params) for sql, params in statements]

    # -- belts ------------------------------------------------------------------------------

    def remember_belt(self, device, name, transport, address=""):
        """Add or update a paired belt; it becomes the default (the most recently used)."""
        device = _device(device)
        if transport not in TRANSPORTS:
            raise StoreError(f"unknown transport {transport!r} (one of {', '.join(TRANSPORTS)})")
        if not isinstance(name, str) or not name.strip():
            raise StoreError("a belt needs a name")
        now = self._clock()
        self._write((
            f"INSERT INTO belts ({_BELT_COLS}, use_order) VALUES (?, ?, ?, ?, ?, ?, "
            "(SELECT coalesce(max(use_order), 0) + 1 FROM belts)) "
            "ON CONFLICT (device) DO UPDATE SET name = excluded.name, "
            "transport = excluded.transport, address = excluded.address, "
            "last_used_utc = excluded.last_used_utc, use_order = excluded.use_order",
            (device, name, transport, str(address or ""), now, now)))
        return self.find_belt(device)

    def touch_belt(self, device):
        """Mark the belt used now, which makes it the default. False when it is not paired
        (a belt on a USB cable need not be): nothing changes then."""
        cur, = self._write((
            "UPDATE belts SET last_used_utc = ?, "
            "use_order = (SELECT max(use_order) + 1 FROM belts) WHERE device = ?",
            (self._clock(), _device(device))))
        return cur.rowcount == 1

    def belts(self):
        """Every paired belt, the default first, then by last use."""
        rows = self._db.execute(
            f"SELECT {_BELT_COLS} FROM belts ORDER BY use_order DESC").fetchall()
        return [BeltRecord(*r, is_default=(i == 0)) for i, r in enumerate(rows)]

    def default_belt(self):
        belts = self.belts()
        return belts[0] if belts else None

    def find_belt(self, key):
        """The belt whose device id, name (corecue-3F2A) or name suffix (3F2A) is `key`, case
        aside; None when none is. A name two belts share (the suffix is only two bytes of the
        chip id) is a StoreError naming both."""
        key = str(key).strip().lower()
        belts = self.belts()
        hit = [b for b in belts if b.device == key] or [
            b for b in belts if key and key in (b.name.lower(), b.name.lower().rsplit("-", 1)[-1])]
        if len(hit) > 1:
            raise StoreError(f"{key.upper()} names {len(hit)} belts "
                             f"({', '.join(b.device for b in hit)}); give the device id")
        return hit[0] if hit else None

    def forget_belt(self, key):
        """Unpair a belt, its pairing key with it (its sessions and calibrations stay). Returns
        what was forgotten."""
        belt = self.find_belt(key)
        if belt:
            self._write(("DELETE FROM belts WHERE device = ?", (belt.device,)),
                        ("DELETE FROM belt_keys WHERE device = ?", (belt.device,)))
        return belt

    # -- sessions ---------------------------------------------------------------------------

    def has_session(self, device, belt_sid, raw=None):
        """Whether this file (its bytes, by their SHA-256) is stored under (device, belt_sid);
        without raw, whether any file under that belt session id is."""
        if raw is None:
            return self._db.execute("SELECT 1 FROM sessions WHERE device = ? AND belt_sid = ?",
                                    (_device(device), belt_sid)).fetchone() is not None
        return self.stored_id(device, belt_sid, raw) is not None

    def stored_id(self, device, belt_sid, raw):
        """The local id of the file with exactly these bytes under (device, belt_sid), or None.
        Only a digest of every byte says a file is stored: the belt's CRC32 does not see the
        header, so another run over the same frames has the same CRC."""
        r = self._db.execute(
            "SELECT id FROM sessions WHERE device = ? AND belt_sid = ? AND sha256 = ?",
            (_device(device), belt_sid, hashlib.sha256(bytes(raw)).digest())).fetchone()
        return r[0] if r else None

    def files_with_crc(self, device, belt_sid, crc):
        """The bytes of every file stored under (device, belt_sid) with this CRC32 (more than one
        when runs over the same frames differ only in their headers)."""
        rows = self._db.execute(
            "SELECT raw FROM sessions JOIN session_files ON session_files.session_id = "
            "sessions.id WHERE device = ? AND belt_sid = ? AND crc = ? ORDER BY id",
            (_device(device), belt_sid, crc))
        return [bytes(r[0]) for r in rows]

    def add_session(self, device, belt_sid, raw, crc, start_utc, duration_s, summary):
        """Store a downloaded session; returns its local id. The same file (device, belt_sid and
        the same bytes) again returns the same id; another file under the same belt session id (a
        belt whose flash was wiped counts from 1 again), even one with the same CRC32, is another
        session, with a new local id."""
        device, belt_sid, raw = _device(device), _sid(belt_sid), bytes(raw)
        if zlib.crc32(raw) != crc:
            raise StoreError(f"session {belt_sid} of belt {device}: the bytes' CRC32 is "
                             f"{zlib.crc32(raw):08x}, the belt said {crc!r}; not stored")
        summary = _json(summary, "session summary")
        digest = hashlib.sha256(raw).digest()
        with self._transaction() as db:
            old = db.execute("SELECT id FROM sessions WHERE device = ? AND belt_sid = ? "
                             "AND sha256 = ?", (device, belt_sid, digest)).fetchone()
            if old:
                local_id = old[0]
            else:
                local_id = db.execute(
                    "INSERT INTO sessions (device, belt_sid, crc, sha256, start_utc, "
                    "duration_s, size, stored_utc, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (device, belt_sid, crc, digest, start_utc, float(duration_s), len(raw),
                     self._clock(), summary)).lastrowid
                db.execute("INSERT INTO session_files (session_id, raw) VALUES (?, ?)",
                           (local_id, raw))
            db.execute("DELETE FROM partial_downloads WHERE device = ? AND belt_sid = ?",
                       (device, belt_sid))
        return local_id

    def sessions(self, device=None):
        """Every stored session, oldest first; summaries only, no file bytes are read."""
        where, params = ("WHERE device = ?", (_device(device),)) if device else ("", ())
        rows = self._db.execute(
            f"SELECT {_SESSION_COLS} FROM sessions {where} "
            "ORDER BY coalesce(start_utc, stored_utc), id", params)
        return [SessionRow(*r[:8], _summary(r[8])) for r in rows]

    def session(self, local_id):
        """One session with its file bytes (.raw), or None."""
        r = self._db.execute(
            f"SELECT {_SESSION_COLS}, raw FROM sessions JOIN session_files "
            "ON session_files.session_id = sessions.id WHERE id = ?", (local_id,)).fetchone()
        return SessionRow(*r[:8], _summary(r[8]), bytes(r[9])) if r else None

    # -- partial downloads ------------------------------------------------------------------

    def save_partial(self, device, belt_sid, crc, data):
        """Keep the first len(data) bytes of a download, replacing what was kept before."""
        self._write(("INSERT OR REPLACE INTO partial_downloads (device, belt_sid, crc, data, "
                     "saved_utc) VALUES (?, ?, ?, ?, ?)",
                     (_device(device), _sid(belt_sid), crc, bytes(data), self._clock())))

    def partial(self, device, belt_sid, crc):
        """The bytes kept of this file; b"" when none, or when they belong to another file."""
        r = self._db.execute("SELECT crc, data FROM partial_downloads WHERE device = ? "
                             "AND belt_sid = ?", (_device(device), belt_sid)).fetchone()
        return bytes(r[1]) if r and r[0] == crc else b""

    def drop_partial(self, device, belt_sid):
        self._write(("DELETE FROM partial_downloads WHERE device = ? AND belt_sid = ?",
                     (_device(device), belt_sid)))

    # -- calibrations -----------------------------------------------------------------------

    def add_calibration(self, device, when_utc, mode, placement, rest, mvc, ok, adopted,
                        verdict, detail):
        """Record one calibration attempt, adopted or not; returns its id."""
        cur, = self._write((
            "INSERT INTO calibrations (device, when_utc, mode, placement, rest, mvc, ok, "
            "adopted, verdict, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_device(device), when_utc, mode, placement, rest, mvc, bool(ok), bool(adopted),
             verdict, _json(detail, "calibration detail"))))
        return cur.lastrowid

    def calibrations(self, device=None):
        """Every calibration attempt, oldest first."""
        where, params = ("WHERE device = ?", (_device(device),)) if device else ("", ())
        rows = self._db.execute(
            "SELECT id, device, when_utc, mode, placement, rest, mvc, ok, adopted, verdict, "
            f"detail FROM calibrations {where} ORDER BY when_utc, id", params)
        return [CalibrationRow(*r[:7], bool(r[7]), bool(r[8]), r[9], json.loads(r[10]))
                for r in rows]
