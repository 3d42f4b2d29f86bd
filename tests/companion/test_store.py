"""The companion's SQLite store: where it lives, schema upgrades from every earlier version,
refusing files it must not touch, and the belts, sessions, partial downloads and calibrations it
keeps. Real database files in pytest's tmp_path; time comes from a stepping fake clock."""
import hashlib
import itertools
import os
import sqlite3
import zlib

import platformdirs
import pytest

from corecue.history import migrations
from corecue.history.store import ENV_VAR, StoreError, data_dir, open_store

A, B = "a1b2c3d4e5f63f2a", "0011223344557c01"


def clock(start=1_800_000_000.0, step=1.0):
    return itertools.count(start, step).__next__


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path), clock=clock())
    yield s
    s.close()


def raw_session(n=1):
    raw = bytes(range(256)) * n + b"CQSL%d" % n
    return raw, zlib.crc32(raw)


def one_line(e):
    msg = str(e.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# -- where the data lives ---------------------------------------------------------------------

def test_explicit_dir_beats_env_beats_platform_default(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert data_dir(str(tmp_path / "flag")) == str(tmp_path / "flag")
    assert data_dir() == str(tmp_path / "env")
    monkeypatch.setenv(ENV_VAR, "")                     # set but empty counts as unset
    assert data_dir() == platformdirs.user_data_dir("corecue")
    monkeypatch.delenv(ENV_VAR)
    assert data_dir() == platformdirs.user_data_dir("corecue")


def test_open_store_creates_the_folder_and_uses_the_env_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "a" / "b"))
    with open_store() as s:
        assert s.path == str(tmp_path / "a" / "b" / "corecue.db")
        assert s.version == migrations.CURRENT
        s.remember_belt(A, "corecue-3F2A", "ble")
    with open_store() as s:                             # the same file, still there
        assert [b.device for b in s.belts()] == [A]


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(StoreError) as e:
        open_store(str(tmp_path / "file" / "sub"))
    assert one_line(e) == (f"cannot make the history folder {tmp_path / 'file' / 'sub'}: a part "
                           "of the path is a file, not a folder (check the path)")


def test_read_only_opening_creates_nothing(tmp_path):
    for folder in (tmp_path / "a" / "b", tmp_path):     # no folder; a folder with no database
        with pytest.raises(StoreError) as e:
            open_store(str(folder), create=False)
        assert one_line(e) == (f"no history in {folder} yet: `corecue pair` starts one, then "
                               "`corecue sync` after a run (or check --data-dir)")
    assert os.listdir(tmp_path) == []
    open_store(str(tmp_path)).close()                   # once there is one, it opens
    with open_store(str(tmp_path), create=False) as s:
        assert s.version == migrations.CURRENT and s.sessions() == []


def test_a_folder_in_place_of_the_database_is_one_line(tmp_path):
    (tmp_path / "corecue.db").mkdir()
    with pytest.raises(StoreError) as e:
        open_store(str(tmp_path))
    assert "is not a file" in one_line(e)


# -- schema versions --------------------------------------------------------------------------

def _seed_v1(db):
    db.execute("INSERT INTO belts VALUES (?, 'corecue-3F2A', 'ble', 'corecue-3F2A', 10, 20, 1)",
               (A,))
    db.execute("INSERT INTO belts VALUES (?, 'corecue-7C01', 'usb', '/dev/ttyACM0', 11, 30, 2)",
               (B,))
    for local_id, n, start in ((1, 1, 500.0), (2, 2, None)):
        raw, crc = raw_session(n)
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, 3600.0, ?, 1000.0, ?)",
                   (local_id, A, 40 + n, crc, start, len(raw), '{"in_band": %d}' % n))
        db.execute("INSERT INTO session_files VALUES (?, ?)", (local_id, raw))


def _check_v1(s):
    assert [(b.device, b.is_default) for b in s.belts()] == [(B, True), (A, False)]
    assert s.find_belt("3f2a").address == "corecue-3F2A"
    rows = [r for r in s.sessions() if r.id in (1, 2)]     # later versions' seeds add more
    assert [(r.id, r.belt_sid, r.summary) for r in rows] == [
        (1, 41, {"in_band": 1}), (2, 42, {"in_band": 2})]
    for r in rows:
        assert s.session(r.id).raw == raw_session(r.id)[0]
    last = max(r.id for r in s.sessions())
    raw, crc = raw_session(9)
    assert s.add_session(A, 43, raw, crc, None, 60, {}) == last + 1   # ids go on after the old


def _seed_v2(db):
    db.execute("INSERT INTO calibrations VALUES (1, ?, 5.0, 'emg_raw', 2, 120, 2400, 1, 0, "
               "'good calibration', '{\"spread_pm\": 80}')", (A,))
    db.execute("INSERT INTO partial_downloads VALUES (?, 44, 1234, x'00ff00', 6.0)", (A,))


def _check_v2(s):
    cal, = s.calibrations()
    assert (cal.mvc, cal.ok, cal.adopted, cal.detail) == (2400, True, False, {"spread_pm": 80})
    assert s.partial(A, 44, 1234) == b"\x00\xff\x00"


def _seed_v3(db):
    raw, crc = raw_session(3)                           # belt A wiped: its session 41 again
    db.execute("INSERT INTO sessions VALUES (3, ?, 41, ?, 700.0, 60.0, ?, 1100.0, '{}')",
               (A, crc, len(raw)))
    db.execute("INSERT INTO session_files VALUES (3, ?)", (raw,))


def _check_v3(s):
    assert [(r.id, r.belt_sid) for r in s.sessions(A) if r.id <= 3] == [(1, 41), (3, 41),
                                                                        (2, 42)]
    assert s.session(3).raw == raw_session(3)[0] and s.session(1).raw == raw_session(1)[0]
    assert s.has_session(A, 41, raw_session(3)[0]) and s.has_session(A, 41, raw_session(1)[0])


def same_crc_other_header(raw):
    """Another file with raw's CRC32: like a session file, its first 12 bytes are a 'header'
    ending in its own CRC32, which leaves CRC32 in the same state whatever the header says."""
    assert raw[8:12] == zlib.crc32(raw[:8]).to_bytes(4, "little")
    head = bytes([raw[0] ^ 0x55]) + raw[1:8]
    other = head + zlib.crc32(head).to_bytes(4, "little") + raw[12:]
    assert other != raw and zlib.crc32(other) == zlib.crc32(raw)
    return other


def headed_session(n):
    body = raw_session(n)[0]
    head = b"CQSL%04d" % n
    raw = head + zlib.crc32(head).to_bytes(4, "little") + body
    return raw, zlib.crc32(raw)




def _seed_v4(db):
    db.execute("INSERT INTO host VALUES (1, ?)", (b"\x01" * 8,))
    db.execute("INSERT INTO belt_keys VALUES (?, ?, 1200.0)", (A, b"\x02" * 32))


def _check_v4(s):
    from corecue.history import keys
    assert keys.host_id(s) == b"\x01" * 8
    assert keys.belt_key(s, A) == b"\x02" * 32 and keys.belt_key(s, B) is None


def _known_run():
    """(raw, crc, summary as sync stores it) of a real session file: the hand-worked run."""
    from constructed import KNOWN
    from test_sessiondata import session_bytes

    from corecue.history import analytics, sessiondata
    from corecue.history.storeinput import as_json
    raw = session_bytes(KNOWN)
    return raw, zlib.crc32(raw), as_json(analytics.summarize(sessiondata.decode(raw, A, 800.0))
                                         .as_dict(), "summary")


def _seed_v5(db):
    # A session stored by a companion with today's figures, one of them changed: a whole
    # summary is kept as it is, never made again.
    raw, crc, summary = _known_run()
    db.execute("INSERT INTO sessions VALUES (4, ?, 45, ?, 800.0, 594.0, ?, 1200.0, ?)",
               (A, crc, len(raw), summary.replace('"mean_effort": 25.0', '"mean_effort": 24.0')))
    db.execute("INSERT INTO session_files VALUES (4, ?)", (raw,))


def _check_v5(s):
    assert s.session(4).summary["mean_effort"] == 24.0


def _seed_v6(db):
    raw, crc = headed_session(6)
    db.execute("INSERT INTO sessions (id, device, belt_sid, crc, sha256, start_utc, duration_s, "
               "size, stored_utc, summary) VALUES (6, ?, 46, ?, ?, 800.0, 60.0, ?, 1200.0, '{}')",
               (A, crc, hashlib.sha256(raw).digest(), len(raw)))
    db.execute("INSERT INTO session_files VALUES (6, ?)", (raw,))


def _check_v6(s):
    raw, crc = headed_session(6)
    other = same_crc_other_header(raw)
    assert s.has_session(A, 46, raw) and not s.has_session(A, 46, other)
    assert s.add_session(A, 46, other, crc, 900.0, 60, {}) not in (6, None)
    assert s.session(6).raw == raw


def _seed_v7(db):
    # Version 7 made again every summary without the run's cadence; one stored with it is whole
    # and kept as it is.
    raw, crc, summary = _known_run()
    assert '"cadence_spm"' in summary
    db.execute("INSERT INTO sessions (id, device, belt_sid, crc, sha256, start_utc, duration_s, "
               "size, stored_utc, summary) VALUES (7, ?, 47, ?, ?, 800.0, 594.0, ?, 1200.0, ?)",
               (A, crc, hashlib.sha256(raw).digest(), len(raw),
                summary.replace('"mean_effort": 25.0', '"mean_effort": 24.0')))
    db.execute("INSERT INTO session_files VALUES (7, ?)", (raw,))


def _check_v7(s):
    assert s.session(7).summary["mean_effort"] == 24.0


# What each version added, and how to prove it survived: a new migration needs its own pair.
SEEDS = {1: (_seed_v1, _check_v1), 2: (_seed_v2, _check_v2), 3: (_seed_v3, _check_v3),
         4: (_seed_v4, _check_v4), 5: (_seed_v5, _check_v5), 6: (_seed_v6, _check_v6),
         7: (_seed_v7, _check_v7)}


def test_upgrading_to_v7_makes_again_a_summary_without_the_cadence(tmp_path):
    import json
    _db_at(tmp_path / "corecue.db", 6)
    raw, crc, summary = _known_run()
    old = json.loads(summary)
    del old["cadence_spm"]
    old["mean_effort"] = 24.0
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    db.execute("INSERT INTO sessions (id, device, belt_sid, crc, sha256, start_utc, duration_s, "
               "size, stored_utc, summary) VALUES (8, ?, 48, ?, ?, 800.0, 594.0, ?, 1200.0, ?)",
               (A, crc, hashlib.sha256(raw).digest(), len(raw), json.dumps(old)))
    db.execute("INSERT INTO session_files VALUES (8, ?)", (raw,))
    db.commit()
    db.close()
    with open_store(str(tmp_path)) as s:
        got = s.session(8).summary
    assert "cadence_spm" in got and got["mean_effort"] == 25.0


def test_every_version_has_seed_data():
    assert set(SEEDS) == set(range(1, migrations.CURRENT + 1))


def _db_at(path, version):
    # Each version's data written by that version's schema, then migrated on, as on a computer
    # that ran every release.
    db = sqlite3.connect(str(path), isolation_level=None)
    for v in range(1, version + 1):
        assert migrations.migrate(db, v) == v
        SEEDS[v][0](db)
    assert migrations.migrate(db, version) == version
    db.close()


@pytest.mark.parametrize("old", range(0, migrations.CURRENT))
def test_every_earlier_version_upgrades_with_its_data(tmp_path, old):
    _db_at(tmp_path / "corecue.db", old)
    with open_store(str(tmp_path)) as s:
        assert s.version == migrations.CURRENT
        for v in range(old, 0, -1):                     # newest first: _check_v1 adds a row
            SEEDS[v][1](s)
        s.add_calibration(B, 9.0, "stretch", 0, 1, 2, False, False, "no signal", {})
        s.save_partial(B, 1, 7, b"x")                   # the newest tables are there too
        assert s.partial(B, 1, 7) == b"x"


def test_a_current_database_reopens_with_the_newest_data(tmp_path):
    _db_at(tmp_path / "corecue.db", migrations.CURRENT)
    with open_store(str(tmp_path)) as s:
        SEEDS[migrations.CURRENT][1](s)


@pytest.mark.parametrize("old", [1, 2])
def test_upgrading_to_v3_lets_a_belt_reuse_a_session_id(tmp_path, old):
    _db_at(tmp_path / "corecue.db", old)
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    db.execute("INSERT INTO sessions VALUES (9, ?, 49, 0, NULL, 1.0, 0, 1.0, '{}')", (A,))
    db.execute("DELETE FROM sessions WHERE id = 9")     # id 9 was given once: never again
    db.commit()
    db.close()
    with open_store(str(tmp_path)) as s:
        assert [(r.id, r.belt_sid, r.crc) for r in s.sessions()] == [
            (n, 40 + n, raw_session(n)[1]) for n in (1, 2)]
        raw, crc = raw_session(5)                       # session 41 again, another file
        assert s.add_session(A, 41, raw, crc, None, 60, {}) == 10
        assert s.add_session(A, 41, *raw_session(1), None, 60, {}) == 1
        assert s.session(1).raw == raw_session(1)[0] and s.session(10).raw == raw
    db = sqlite3.connect(str(tmp_path / "corecue.db"), isolation_level=None)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("PRAGMA foreign_key_list(session_files)").fetchone()[2] == "sessions"
    assert "sessions_new" not in migrations.user_tables(db)
    with pytest.raises(sqlite3.IntegrityError):         # (device, belt_sid, file) stays unique
        db.execute("INSERT INTO sessions (device, belt_sid, crc, sha256, duration_s, size, "
                   "stored_utc, summary) VALUES (?, 41, ?, ?, 1.0, 0, 1.0, '{}')",
                   (A, crc, hashlib.sha256(raw).digest()))
    db.execute("PRAGMA foreign_keys = ON")              # and deleting cascades to the file
    db.execute("DELETE FROM sessions WHERE id = 10")
    assert db.execute("SELECT count(*) FROM session_files WHERE session_id = 10").fetchone() == (0,)
    db.close()


@pytest.mark.parametrize("old", [1, 2, 3, 4])
def test_older_summaries_are_stored_again_once_from_the_session(tmp_path, old, monkeypatch):
    """A summary written before the shared figures is made from the session's bytes and kept by
    the upgrade, so reading the history no longer summarizes it each time; one whose bytes do
    not decode (the seeds' stand-ins) keeps what it had and does not stop the upgrade."""
    _db_at(tmp_path / "corecue.db", old)
    raw, crc, summary = _known_run()
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    db.execute("INSERT INTO sessions VALUES (7, ?, 47, ?, 800.0, 594.0, ?, 1300.0, ?)",
               (A, crc, len(raw), '{"in_band_s": 420.0, "cues": 6}'))
    db.execute("INSERT INTO session_files VALUES (7, ?)", (raw,))
    db.commit()
    db.close()
    told = []
    with open_store(str(tmp_path), notice=told.append) as s:
        assert s.version == migrations.CURRENT
    with open_store(str(tmp_path), notice=told.append):
        pass
    assert told == [f"bringing your history in {tmp_path / 'corecue.db'} up to date (once; "
                    "with many runs stored it may take a minute)"]
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    stored = dict(db.execute("SELECT id, summary FROM sessions").fetchall())
    db.close()
    assert stored[7] == summary
    assert stored[1] == '{"in_band": 1}' and stored[2] == '{"in_band": 2}'
    # Read back, nothing is summarized again.
    from corecue.history import analytics, sessions
    monkeypatch.setattr(analytics, "summarize", lambda sd: pytest.fail("summarized again"))
    with open_store(str(tmp_path), create=False) as s:
        row, = [r for r in s.sessions() if r.id == 7]
        assert sessions.summary_of(s, row).in_band_s == 420.0


def test_migration_3_refuses_to_run_with_foreign_keys_on(tmp_path):
    _db_at(tmp_path / "corecue.db", 2)
    db = sqlite3.connect(str(tmp_path / "corecue.db"), isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")              # DROP TABLE would cascade to every file
    with pytest.raises(sqlite3.OperationalError, match="foreign_keys"):
        migrations.migrate(db)
    assert migrations.version(db) == 2
    assert db.execute("SELECT count(*) FROM session_files").fetchone() == (2,)
    db.close()


def test_a_failing_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    _db_at(tmp_path / "corecue.db", migrations.CURRENT)
    broken = ("CREATE TABLE half_done (x)", "THIS IS NOT SQL")
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS + (broken,))
    db = sqlite3.connect(str(tmp_path / "corecue.db"), isolation_level=None)
    with pytest.raises(sqlite3.Error):
        migrations.migrate(db, migrations.CURRENT + 1)
    assert migrations.version(db) == migrations.CURRENT
    assert "half_done" not in migrations.user_tables(db)
    db.close()


def _snapshot(folder):
    return {f: (folder / f).read_bytes() for f in os.listdir(folder)}


def test_a_database_from_a_newer_corecue_is_refused_untouched(tmp_path):
    _db_at(tmp_path / "corecue.db", migrations.CURRENT)
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    db.execute(f"PRAGMA user_version = {migrations.CURRENT + 1}")
    db.close()
    before = _snapshot(tmp_path)
    with pytest.raises(StoreError) as e:
        open_store(str(tmp_path))
    msg = one_line(e)
    assert "made by a newer corecue" in msg and "upgrade" in msg
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("content", [b"my running notes\n", b"\x89PNG" + bytes(5000)])
def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path, content):
    (tmp_path / "corecue.db").write_bytes(content)
    with pytest.raises(StoreError) as e:
        open_store(str(tmp_path))
    assert "is not a corecue database" in one_line(e)
    assert _snapshot(tmp_path) == {"corecue.db": content}


def test_another_programs_database_is_refused_untouched(tmp_path):
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    db.execute("CREATE TABLE recipes (name)")
    db.commit()
    db.close()
    before = _snapshot(tmp_path)
    with pytest.raises(StoreError) as e:
        open_store(str(tmp_path))
    assert "other tables" in one_line(e)
    assert _snapshot(tmp_path) == before


# -- belts ------------------------------------------------------------------------------------

def test_the_belt_remembered_or_used_last_is_the_default(tmp_path):
    times = iter([100.0, 200.0, 50.0, 60.0])           # the wall clock steps back at 50
    with open_store(str(tmp_path), clock=times.__next__) as s:
        assert s.default_belt() is None
        s.remember_belt(A, "corecue-3F2A", "ble", "corecue-3F2A")
        s.remember_belt(B, "corecue-7C01", "usb", "/dev/ttyACM0")
        assert s.default_belt().device == B
        s.touch_belt(A)
        assert s.default_belt().device == A             # used last, though its time is earlier
        again = s.remember_belt(B, "corecue-7C01", "usb", "/dev/ttyACM1")   # upsert
        assert (again.address, again.paired_utc, again.last_used_utc) == ("/dev/ttyACM1", 200, 60)
        assert [(b.device, b.is_default) for b in s.belts()] == [(B, True), (A, False)]


def test_find_belt_by_name_suffix_or_device(store):
    store.remember_belt(A, "corecue-3F2A", "ble")
    store.remember_belt(B, "corecue-7C01", "virtual", "/tmp/belt")
    for key in ("corecue-3F2A", "CORECUE-3f2a", "3F2A", "3f2a", A, A.upper(), " 3F2A "):
        assert store.find_belt(key).device == A, key
    assert store.find_belt("7c01").transport == "virtual"
    for key in ("3F2B", "F2A", "corecue", "", "a1b2c3d4e5f63f2b"):
        assert store.find_belt(key) is None, key


def test_a_suffix_two_belts_share_is_refused(store):
    store.remember_belt(A, "corecue-3F2A", "ble")
    store.remember_belt("ffffffffffff3f2a", "corecue-3F2A", "ble")
    for key in ("3f2a", "corecue-3F2A"):
        with pytest.raises(StoreError) as e:
            store.find_belt(key)
        assert "give the device id" in one_line(e)
    assert store.find_belt("ffffffffffff3f2a").device == "ffffffffffff3f2a"


def test_forget_a_belt_keeps_its_sessions(store):
    store.remember_belt(A, "corecue-3F2A", "ble")
    store.remember_belt(B, "corecue-7C01", "usb")
    raw, crc = raw_session()
    store.add_session(B, 1, raw, crc, 10.0, 60, {})
    assert store.forget_belt("7C01").device == B
    assert store.find_belt(B) is None and store.forget_belt("7C01") is None
    assert store.default_belt().device == A
    assert [r.device for r in store.sessions()] == [B]
    assert store.touch_belt(B) is False and store.touch_belt(A) is True
    assert [b.device for b in store.belts()] == [A]


@pytest.mark.parametrize("args", [("a1b2", "x", "ble"), (A + "0", "x", "ble"),
                                  ("g1b2c3d4e5f63f2a", "x", "ble"), (A, "x", "wifi"),
                                  (A, "", "ble")])
def test_bad_belts_are_refused_and_nothing_stored(store, args):
    with pytest.raises(StoreError) as e:
        store.remember_belt(*args)
    one_line(e)
    assert store.belts() == []


# -- sessions ---------------------------------------------------------------------------------

def _counts(store):
    db = sqlite3.connect(store.path)
    n = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
         for t in ("sessions", "session_files", "partial_downloads")]
    db.close()
    return n


def test_add_session_is_idempotent_and_drops_the_partial(store):
    raw, crc = raw_session()
    store.save_partial(A, 7, crc, raw[:100])
    assert not store.has_session(A, 7)
    local = store.add_session(A, 7, raw, crc, 1000.0, 3600.5, {"in_band": 0.8})
    assert store.has_session(A, 7) and not store.has_session(B, 7)
    assert store.partial(A, 7, crc) == b""
    assert store.add_session(A.upper(), 7, raw, crc, 1000.0, 3600.5, {"in_band": 0.8}) == local
    assert _counts(store) == [1, 1, 0]
    row = store.session(local)
    assert (row.device, row.belt_sid, row.crc, row.size, row.raw) == (A, 7, crc, len(raw), raw)
    assert (row.start_utc, row.duration_s, row.summary) == (1000.0, 3600.5, {"in_band": 0.8})


def test_a_wrong_crc_changes_nothing(store):
    raw, crc = raw_session()
    store.save_partial(A, 7, crc, raw[:10])
    with pytest.raises(StoreError) as e:
        store.add_session(A, 7, raw, crc ^ 1, None, 60, {})
    assert "not stored" in one_line(e)
    assert _counts(store) == [0, 0, 1] and store.partial(A, 7, crc) == raw[:10]


def test_a_reused_belt_session_id_with_another_crc_is_another_session(store):
    raw, crc = raw_session(1)
    other, other_crc = raw_session(2)                   # the belt's flash was wiped: 7 again
    assert store.add_session(A, 7, raw, crc, 100.0, 60, {"run": 1}) == 1
    store.save_partial(A, 7, other_crc, other[:10])
    assert not store.has_session(A, 7, other)
    assert store.add_session(A, 7, other, other_crc, 200.0, 60, {"run": 2}) == 2
    assert _counts(store) == [2, 2, 0]                  # the partial of belt session 7 went
    assert store.add_session(A, 7, other, other_crc, 200.0, 60, {"run": 2}) == 2
    assert [(r.id, r.crc, r.summary) for r in store.sessions()] == [
        (1, crc, {"run": 1}), (2, other_crc, {"run": 2})]
    assert store.session(1).raw == raw and store.session(2).raw == other
    assert store.has_session(A, 7) and store.has_session(A, 7, raw)
    assert store.has_session(A, 7, other) and not store.has_session(A, 7, raw + b"x")
    assert not store.has_session(B, 7, raw) and not store.has_session(A, 8)


def test_another_file_with_the_crc_of_a_stored_one_is_never_taken_as_stored(store):
    """The belt's file CRC32 does not see the header: identity is the SHA-256 of every byte."""
    raw, crc = headed_session(1)
    other = same_crc_other_header(raw)
    first = store.add_session(A, 7, raw, crc, 100.0, 60, {"run": 1})
    assert store.stored_id(A, 7, raw) == first and store.has_session(A, 7, raw)
    assert store.stored_id(A, 7, other) is None and not store.has_session(A, 7, other)
    second = store.add_session(A, 7, other, crc, 200.0, 60, {"run": 2})
    assert second != first and store.stored_id(A, 7, other) == second
    assert store.session(first).raw == raw and store.session(second).raw == other
    assert store.files_with_crc(A, 7, crc) == [raw, other]
    assert store.add_session(A, 7, other, crc, 200.0, 60, {"run": 2}) == second
    assert _counts(store) == [2, 2, 0]


def test_migration_6_gives_every_stored_file_the_digest_of_its_bytes(tmp_path):
    _db_at(tmp_path / "corecue.db", 5)
    with open_store(str(tmp_path)) as s:
        assert s.version >= 6
        for r in s.sessions():
            assert s.stored_id(r.device, r.belt_sid, s.session(r.id).raw) == r.id
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    rows = db.execute("SELECT sha256, raw FROM sessions JOIN session_files "
                      "ON session_files.session_id = sessions.id").fetchall()
    assert len(rows) == 4 and all(d == hashlib.sha256(raw).digest() for d, raw in rows)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


def test_migration_6_stops_at_a_session_without_its_file(tmp_path):
    _db_at(tmp_path / "corecue.db", 5)
    db = sqlite3.connect(str(tmp_path / "corecue.db"), isolation_level=None)
    db.execute("DELETE FROM session_files WHERE session_id = 2")
    with pytest.raises(sqlite3.IntegrityError):
        migrations.migrate(db)
    assert migrations.version(db) == 5
    assert db.execute("SELECT count(*) FROM sessions").fetchone() == (4,)
    db.close()


def test_a_failure_part_way_leaves_no_half_session(store):
    db = sqlite3.connect(store.path)                    # make the second insert of the two fail
    db.execute("CREATE TRIGGER full_disk BEFORE INSERT ON session_files "
               "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.commit()
    db.close()
    raw, crc = raw_session()
    store.save_partial(A, 7, crc, raw[:10])
    with pytest.raises(StoreError) as e:
        store.add_session(A, 7, raw, crc, None, 60, {})
    assert one_line(e) == (f"cannot write to {store.path}: the history refused the change "
                           "(SQLITE_CONSTRAINT_TRIGGER); nothing of it was stored")
    assert _counts(store) == [0, 0, 1] and not store.has_session(A, 7)


def test_sessions_are_listed_oldest_first_without_their_bytes(tmp_path):
    store = open_store(str(tmp_path), clock=iter([500.0, 501.0, 502.0, 2000.0]).__next__)
    ids = {}
    # start times 3000 and 1000; 2 and 4 have none, so their stored times (501, 2000) place them
    for sid, start in ((1, 3000.0), (2, None), (3, 1000.0), (4, None)):
        raw, crc = raw_session(sid)
        ids[sid] = store.add_session(A if sid != 3 else B, sid, raw, crc, start, 60, {"n": sid})
    blobs_read = []
    store._db.set_authorizer(lambda op, table, column, *_: blobs_read.append(table) or 0)
    listing = store.sessions()
    store._db.set_authorizer(None)
    assert "session_files" not in blobs_read and "sessions" in blobs_read
    assert [r.belt_sid for r in listing] == [2, 3, 4, 1]
    assert all(r.raw is None for r in listing)
    assert [r.belt_sid for r in store.sessions(A)] == [2, 4, 1]
    assert store.session(ids[3]).raw == raw_session(3)[0] and store.session(999) is None
    store.close()


@pytest.mark.parametrize("device, sid, summary", [(A, 1, {"x": object()}), (A, "1", {}),
                                                  (A, -1, {}), ("3F2A", 1, {})])
def test_bad_session_input_is_refused_and_nothing_stored(store, device, sid, summary):
    raw, crc = raw_session()
    with pytest.raises(StoreError) as e:
        store.add_session(device, sid, raw, crc, None, 60, summary)
    one_line(e)
    assert _counts(store) == [0, 0, 0]


# -- a damaged database ----------------------------------------------------------------------

def _damage_pages(tmp_path):
    with open_store(str(tmp_path)) as s:
        for n in range(1, 9):
            s.add_session(A, n, *raw_session(40 * n), None, 60, {})
    path = tmp_path / "corecue.db"
    size = path.stat().st_size
    with open(path, "r+b") as f:                        # page 1 (header, schema) stays
        f.seek(4096)
        f.write(b"\xff" * (size // 2 - 4096))


def _tables_gone(tmp_path):
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    db.execute(f"PRAGMA user_version = {migrations.CURRENT}")
    db.close()


@pytest.mark.parametrize("damage", [_damage_pages, _tables_gone])
def test_a_damaged_database_is_one_line(tmp_path, damage):
    damage(tmp_path)
    with open_store(str(tmp_path)) as s:
        for read in (s.sessions, lambda: s.session(1)):
            with pytest.raises(StoreError) as e:
                read()
            msg = one_line(e)
            assert msg == (f"{s.path}: the history database is damaged; restore a backup or "
                           "move it away (the next `corecue pair` starts a new one)")


@pytest.mark.parametrize("name, said", [
    ("SQLITE_READONLY", "corecue is not allowed to change it (check its and its folder's "
                        "permissions)"),
    ("SQLITE_READONLY_DIRECTORY", "corecue is not allowed to change it (check its and its "
                                  "folder's permissions)"),
    ("SQLITE_CANTOPEN", "corecue cannot open it (check its and its folder's permissions)"),
    ("SQLITE_FULL", "the disk is full (free some space)"),
    ("SQLITE_IOERR_WRITE", "the disk reported an error (check the disk)"),
])
def test_a_history_out_of_reach_is_said_in_words_not_sqlites(name, said):
    from corecue.history.database import db_error
    e = sqlite3.OperationalError("attempt to write a readonly database")
    e.sqlite_errorname = name
    assert str(db_error("/h/corecue.db", e, "cannot write to")) == \
        f"cannot write to /h/corecue.db: {said}"


def test_a_locked_database_is_not_called_damaged(tmp_path):
    with open_store(str(tmp_path)) as s:
        s._db.execute("PRAGMA busy_timeout = 0")        # fail at once rather than wait 10 s
        other = sqlite3.connect(s.path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError) as e:
            s.sessions()
        other.execute("ROLLBACK")
        other.close()
        assert one_line(e) == (f"cannot use {s.path}: another corecue is using it (wait for "
                               "that one to finish)")
        assert s.sessions() == []


def test_a_damaged_database_found_while_upgrading_is_one_line(tmp_path):
    db = sqlite3.connect(str(tmp_path / "corecue.db"))
    db.execute("PRAGMA user_version = 2")               # version 2 said, none of its tables
    db.close()
    with pytest.raises(StoreError) as e:
        open_store(str(tmp_path))
    assert "the history database is damaged; restore a backup" in one_line(e)


# -- partial downloads ------------------------------------------------------------------------

def test_partials_resume_only_the_same_file(store):
    assert store.partial(A, 5, 111) == b""
    store.save_partial(A, 5, 111, b"abc")
    store.save_partial(B, 5, 111, b"other belt")
    assert store.partial(A, 5, 111) == b"abc"
    assert store.partial(A, 5, 222) == b""              # a different file under that id
    store.save_partial(A, 5, 111, b"abcdef")            # later progress replaces
    assert store.partial(A, 5, 111) == b"abcdef"
    store.drop_partial(A, 5)
    assert store.partial(A, 5, 111) == b"" and store.partial(B, 5, 111) == b"other belt"


# -- calibrations -----------------------------------------------------------------------------

def test_calibrations_keep_every_attempt_oldest_first(store):
    second = store.add_calibration(A, 200.0, "emg_raw", 1, 110, 2300, True, True, "good", {})
    first = store.add_calibration(A, 100.0, "emg_raw", 1, 100, 2500, False, False,
                                  "your braces differed by 30%", {"spread_pm": 300})
    store.add_calibration(B, 150.0, "stretch", 0, 5, 900, True, True, "good", {"n": [1, 2]})
    rows = store.calibrations(A)
    assert [(r.id, r.mvc, r.ok, r.adopted) for r in rows] == [
        (first, 2500, False, False), (second, 2300, True, True)]
    assert rows[0].detail == {"spread_pm": 300}
    assert [r.when_utc for r in store.calibrations()] == [100.0, 150.0, 200.0]


def test_a_belt_s_key_is_kept_per_belt_and_goes_when_the_belt_is_forgotten(tmp_path):
    from corecue.history import keys
    with open_store(str(tmp_path)) as s:
        host = keys.host_id(s)
        assert len(host) == 8 and any(host) and keys.host_id(s) == host, "made once"
        s.remember_belt(A, "corecue-0001", "ble", "corecue-0001")
        keys.keep_key(s, A, b"\x05" * 32)
        keys.keep_key(s, B, b"\x06" * 32)
        with pytest.raises(ValueError):
            keys.keep_key(s, A, b"short")
        assert keys.Keyring(s).key(A) == b"\x05" * 32
        s.forget_belt("0001")
        assert keys.belt_key(s, A) is None and keys.belt_key(s, B) == b"\x06" * 32
    with open_store(str(tmp_path)) as s:
        assert keys.host_id(s) == host, "the host id survives"
