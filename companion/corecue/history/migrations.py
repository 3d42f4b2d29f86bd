"""The schema of the companion's database (corecue.db) as an ordered list of migrations.

The database's `PRAGMA user_version` is the number of migrations applied to it. Each migration
runs in one transaction together with the version bump, so a crash or an error part way leaves
the database at the previous version, never between two. Migrations are only ever appended:
a released one is never edited, because databases made with it exist on people's computers.

Sessions are keyed by the belt's device id, not linked to the belts table: forgetting a belt
must not forget the runs it recorded.
"""
import hashlib
import sqlite3

# Version 1: the belts the person paired, and the sessions downloaded from them. A session's file
# bytes (range-coded, about 11 KB an hour) live in their own table so that listing sessions
# reads only the small rows of `sessions`, never a page of file bytes.
_V1 = (
    """CREATE TABLE belts (
        device TEXT PRIMARY KEY,            -- 16 lowercase hex digits, the belt's 8-byte id
        name TEXT NOT NULL,                 -- as advertised, e.g. corecue-3F2A
        transport TEXT NOT NULL CHECK (transport IN ('ble', 'usb', 'virtual')),
        address TEXT NOT NULL DEFAULT '',   -- BLE name, serial port path or virtual belt folder
        paired_utc REAL NOT NULL,
        last_used_utc REAL NOT NULL,
        use_order INTEGER NOT NULL          -- the belt used last has the highest; wall clocks
    )""",                                   # can step back, this cannot
    """CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,   -- the local id people type; never reused
        device TEXT NOT NULL,
        belt_sid INTEGER NOT NULL,              -- the session's id on the belt
        crc INTEGER NOT NULL,                   -- CRC32 of the file bytes
        start_utc REAL,                         -- NULL when the belt did not know the time
        duration_s REAL NOT NULL,
        size INTEGER NOT NULL,
        stored_utc REAL NOT NULL,
        summary TEXT NOT NULL,                  -- JSON object, for the listing
        UNIQUE (device, belt_sid)
    )""",
    "CREATE INDEX sessions_by_start ON sessions (coalesce(start_utc, stored_utc), id)",
    """CREATE TABLE session_files (
        session_id INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        raw BLOB NOT NULL                       -- the belt's own session file, byte for byte
    )""",
)

# Version 2: every calibration attempt (adopted or not, so a drifting MVC shows), and downloads
# interrupted part way, so that a rerun resumes where the link dropped.
_V2 = (
    """CREATE TABLE calibrations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL,
        when_utc REAL NOT NULL,
        mode TEXT NOT NULL,
        placement INTEGER NOT NULL,
        rest INTEGER NOT NULL,
        mvc INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        adopted INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        detail TEXT NOT NULL                    -- JSON object
    )""",
    "CREATE INDEX calibrations_by_device ON calibrations (device, when_utc)",
    """CREATE TABLE partial_downloads (
        device TEXT NOT NULL,
        belt_sid INTEGER NOT NULL,
        crc INTEGER NOT NULL,                   -- of the whole file; another crc, another file
        data BLOB NOT NULL,                     -- the first len(data) bytes of the file
        saved_utc REAL NOT NULL,
        PRIMARY KEY (device, belt_sid)
    )""",
)


def _v3(db):
    """Version 3: a stored session is (device, belt_sid, crc), no longer (device, belt_sid). A belt
    whose flash was wiped counts its sessions from 1 again under the same device id, so session 1
    today is another run than the session 1 stored last month. SQLite cannot drop a UNIQUE
    constraint: the table is rebuilt (new table, copy, drop, rename), keeping every local id."""
    # With foreign keys on, DROP TABLE sessions would delete every row first, and the ON DELETE
    # CASCADE with them every session file. The pragma cannot change inside a transaction, so a
    # caller that turned it on gets an error here rather than an empty history.
    if db.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise sqlite3.OperationalError("migration 3 needs PRAGMA foreign_keys = OFF")
    db.execute("""CREATE TABLE sessions_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL,
        belt_sid INTEGER NOT NULL,
        crc INTEGER NOT NULL,
        start_utc REAL,
        duration_s REAL NOT NULL,
        size INTEGER NOT NULL,
        stored_utc REAL NOT NULL,
        summary TEXT NOT NULL,
        UNIQUE (device, belt_sid, crc)
    )""")                                   # the columns as in version 1, which explains them
    cols = "id, device, belt_sid, crc, start_utc, duration_s, size, stored_utc, summary"
    db.execute(f"INSERT INTO sessions_new ({cols}) SELECT {cols} FROM sessions")
    # AUTOINCREMENT's counter goes with the table, so a local id once given is still never reused.
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'sessions_new'")
    db.execute("UPDATE sqlite_sequence SET name = 'sessions_new' WHERE name = 'sessions'")
    db.execute("DROP TABLE sessions")
    # session_files names its parent table, not the table's storage: after the rename its
    # REFERENCES sessions (id) means the new table.
    db.execute("ALTER TABLE sessions_new RENAME TO sessions")
    db.execute("CREATE INDEX sessions_by_start ON sessions (coalesce(start_utc, stored_utc), id)")


def restate_summaries(db):
    """Store again, made from each session's own bytes, every summary that lacks a figure this
    companion computes (one written before the shared figures of history/analytics.py), so that
    reading the history does not summarize those runs anew every time (history/sessions.py still
    does for one this misses). A session whose bytes do not decode keeps what it has: the
    history must still open, and reading that run says it is damaged. Reusable: a later version
    that adds a figure appends this again."""
    import json

    from corecue.history import analytics, sessiondata
    from corecue.history.storeinput import as_json
    todo = []
    for local_id, text in db.execute("SELECT id, summary FROM sessions ORDER BY id").fetchall():
        try:
            analytics.Summary.from_dict(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError):
            todo.append(local_id)
    for local_id in todo:
        row = db.execute("SELECT device, start_utc, raw FROM sessions JOIN session_files "
                         "ON session_files.session_id = sessions.id WHERE id = ?",
                         (local_id,)).fetchone()
        if row is None:
            continue
        device, start_utc, raw = row
        try:
            sd = sessiondata.decode(bytes(raw), device=device, start_utc=start_utc)
            summary = as_json(analytics.summarize(sd).as_dict(), "summary")
        except Exception:               # noqa: BLE001  (undecodable, or a figure that fails
            continue                    # on it: one run must not keep the history shut)
        db.execute("UPDATE sessions SET summary = ? WHERE id = ?", (summary, local_id))


# Version 4: ownership (docs/protocol.md, "Ownership"). This computer's host id, made once, and
# the pairing key of each belt it paired with: without its key no command reaches a belt. Not
# tied to the belts table either: forgetting a belt drops its key explicitly (history/keys.py).
_V4 = (
    """CREATE TABLE host (
        one INTEGER PRIMARY KEY CHECK (one = 1),    -- a single row
        host_id BLOB NOT NULL CHECK (length(host_id) = 8)
    )""",
    """CREATE TABLE belt_keys (
        device TEXT PRIMARY KEY,                    -- as in belts
        pairing_key BLOB NOT NULL CHECK (length(pairing_key) = 32),
        paired_utc REAL NOT NULL
    )""",
)


# Version 5: the summaries of sessions stored before the shared figures (and the fatigue index),
# made again and kept.
_v5 = restate_summaries
def _v6(db):
    """Version 6: a stored session is (device, belt_sid, sha256 of the whole file). The belt's
    file CRC32 does not see the header (the header ends with its own CRC32, which leaves CRC32 in
    the same state after every header), so two runs over the same frames share it; a digest of
    every byte tells them apart. The digest of each stored file is computed here from its bytes;
    the table is rebuilt as in version 3, keeping every local id."""
    if db.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise sqlite3.OperationalError("migration 6 needs PRAGMA foreign_keys = OFF")
    # A session row without its file would get a NULL digest and fail NOT NULL: the migration
    # stops (the database stays at version 5) rather than drop the row.
    db.create_function("cq_sha256", 1,
                       lambda raw: None if raw is None else hashlib.sha256(raw).digest(),
                       deterministic=True)
    db.execute("""CREATE TABLE sessions_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL,
        belt_sid INTEGER NOT NULL,
        crc INTEGER NOT NULL,
        sha256 BLOB NOT NULL CHECK (length(sha256) = 32),  -- of every byte of the file
        start_utc REAL,
        duration_s REAL NOT NULL,
        size INTEGER NOT NULL,
        stored_utc REAL NOT NULL,
        summary TEXT NOT NULL,
        UNIQUE (device, belt_sid, sha256)
    )""")                                   # the other columns as in version 1
    cols = "id, device, belt_sid, crc, start_utc, duration_s, size, stored_utc, summary"
    db.execute(f"INSERT INTO sessions_new ({cols}, sha256) SELECT "
               f"{', '.join('s.' + c for c in cols.split(', '))}, cq_sha256(f.raw) "
               "FROM sessions AS s LEFT JOIN session_files AS f ON f.session_id = s.id")
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'sessions_new'")
    db.execute("UPDATE sqlite_sequence SET name = 'sessions_new' WHERE name = 'sessions'")
    db.execute("DROP TABLE sessions")
    db.execute("ALTER TABLE sessions_new RENAME TO sessions")
    db.execute("CREATE INDEX sessions_by_start ON sessions (coalesce(start_utc, stored_utc), id)")


# Version 7: the summaries made again for the run's cadence (cadence_spm), from the belt's signal
# pairs.
_v7 = restate_summaries


# Each entry is a tuple of SQL statements or a function taking the connection (for a migration
# that has to move data). Entry i takes the database from version i to version i + 1.
MIGRATIONS = (_V1, _V2, _v3, _V4, _v5, _v6, _v7)
CURRENT = len(MIGRATIONS)


def version(db):
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db, target=CURRENT):
    """Apply the migrations that take `db` (opened with isolation_level=None) to `target`, each in
    its own transaction. Returns the version reached. Raises sqlite3.Error on failure, with the
    database left at the last version that completed."""
    while True:
        db.execute("BEGIN IMMEDIATE")       # the write lock first: two processes never both migrate
        try:
            v = version(db)
            if v >= target:
                db.execute("COMMIT")
                return v
            step = MIGRATIONS[v]
            if callable(step):
                step(db)
            else:
                for sql in step:
                    db.execute(sql)
            db.execute(f"PRAGMA user_version = {v + 1}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


def user_tables(db):
    """The tables in the database, so that a version-0 file with someone else's tables in it is
    recognised as not ours."""
    return [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]

