"""Listing a long history in the companion's store: 500 one-hour sessions stored as the belt's own
range-coded files (corecue.history.store), against a named baseline built in the same run: the same
sessions with one row per 100 ms frame (36,000 rows a session) and the listing's summaries
computed by SQL GROUP BY; and a variant of the store with the file bytes inline in the session
row. For each: the time to list (median of several repeats, time.perf_counter), the pages the
listing reads and the database size.

    .venv/bin/python bench/store_sessions.py [--sessions 500] [--baseline-sessions 500]

The session files are written by the firmware's SessionWriter (as bench/ble_goodput.py does);
a few distinct hours are written and reused under different belt session ids and start times.
"""
import argparse
import gc
import io
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

from corecue.history import analytics, sessiondata
from corecue.views import tables as history
from corecue.interp import firmware_module
from corecue.history.store import open_store

firmware_module("belt.sessionlog")              # firmware/ and the shims on sys.path
from belt.sessionread import read_session  # noqa: E402
import onehour  # noqa: E402  (bench/, the script's folder)
from onehour import BAND, HOUR_FRAMES  # noqa: E402

DISTINCT = 8                    # different hours written; the rest reuse their bytes
DEVICE = "a1b2c3d4e5f63f2a"
T0 = 1_790_000_000              # 2026-09-21, the first run of the history


def write_hour(seed, wall_time):
    """A closed one-hour session from the firmware's own writer: effort wandering around 20 %
    with a few flags and events, as a run logs it."""
    f = io.BytesIO()
    onehour.write_hour(f, seed, wall_time, seed)
    return f.getvalue()


def summary(raw):
    """What `corecue sync` stores with a session: the companion's analytics of the file."""
    return analytics.summarize(sessiondata.decode(raw)).as_dict()


def median_time(fn, repeats):
    gc.collect()                    # start each measurement from a clean heap, not the last one's
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build_store(folder, hours, n):
    store = open_store(folder)
    t = time.perf_counter()
    for i in range(n):
        raw, trailer, summ = hours[i % len(hours)]
        store.add_session(DEVICE, i + 1, raw, zlib.crc32(raw), T0 + i * 86400.0,
                          trailer["duration_ms"] / 1000, summ)
    return store, time.perf_counter() - t


def build_inline(path, hours, n):
    """The store's own design but with the file bytes in the sessions row itself: what keeping
    them in a table of their own buys the listing."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, device TEXT, belt_sid INTEGER, "
               "crc INTEGER, start_utc REAL, duration_s REAL, size INTEGER, stored_utc REAL, "
               "summary TEXT, raw BLOB)")
    for i in range(n):
        raw, trailer, summ = hours[i % len(hours)]
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (i + 1, DEVICE, i + 1, zlib.crc32(raw), T0 + i * 86400.0,
                    trailer["duration_ms"] / 1000, len(raw), T0, json.dumps(summ), raw))
    db.commit()
    return db


_INLINE_LISTING = ("SELECT id, device, belt_sid, crc, start_utc, duration_s, size, stored_utc, "
                   "summary FROM sessions ORDER BY start_utc, id")


# The baseline: a conventional schema, one row per frame, summaries left to SQL.
_BASELINE = (
    "CREATE TABLE sessions (id INTEGER PRIMARY KEY, device TEXT, belt_sid INTEGER, "
    "start_utc REAL, band_low INTEGER, band_high INTEGER)",
    "CREATE TABLE frames (session_id INTEGER, frame INTEGER, effort INTEGER, quality INTEGER, "
    "PRIMARY KEY (session_id, frame)) WITHOUT ROWID",
)
_BASELINE_LISTING = """
    SELECT s.id, s.device, s.belt_sid, s.start_utc, count(*) * 0.1 AS duration_s,
           count(*), avg(f.effort), max(f.effort),
           sum(f.effort BETWEEN s.band_low AND s.band_high),
           sum(f.effort < s.band_low), sum(f.effort > s.band_high), sum(f.quality != 0)
    FROM sessions s JOIN frames f ON f.session_id = s.id
    GROUP BY s.id ORDER BY s.start_utc"""


def build_baseline(path, hours, n):
    # Decoded only now: a million frame tuples alive during the store's timing would bill the
    # listing for the garbage collector walking them.
    frames_of = [read_session(raw)[1] for raw, _, _ in hours]
    db = sqlite3.connect(path)
    for sql in _BASELINE:
        db.execute(sql)
    t = time.perf_counter()
    for i in range(n):
        frames = frames_of[i % len(hours)]
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                   (i + 1, DEVICE, i + 1, T0 + i * 86400.0, BAND[0], BAND[2]))
        db.executemany("INSERT INTO frames VALUES (?, ?, ?, ?)",
                       ((i + 1, k, e, q) for k, (e, q) in enumerate(frames)))
        db.commit()
    return db, time.perf_counter() - t


def listing_pages(db, names):
    """Pages a listing walks: the b-tree pages of these tables and indexes, not the overflow
    pages that hold the rest of a long BLOB. What a cold cache has to read from disk."""
    marks = ",".join("?" * len(names))
    return db.execute(f"SELECT count(*) FROM dbstat WHERE name IN ({marks}) "
                      "AND pagetype != 'overflow'", names).fetchone()[0]


_STORE_LISTING = ("SELECT id, device, belt_sid, crc, start_utc, duration_s, size, stored_utc, "
                  "summary FROM sessions ORDER BY coalesce(start_utc, stored_utc), id")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--baseline-sessions", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    n, nb, reps = args.sessions, args.baseline_sessions, args.repeats
    hours = []
    for k in range(DISTINCT):
        raw = write_hour(k + 1, T0 + k * 86400)
        hdr, frames, events, trailer, status = read_session(raw)
        assert status == "closed" and len(frames) == HOUR_FRAMES
        hours.append((raw, trailer, summary(raw)))
    del frames, events              # 36,000 tuples the garbage collector would walk while timing
    mean_raw = statistics.mean(len(h[0]) for h in hours)
    table = []      # (what, sessions, SQL ms, API ms, pages, bytes, build)

    with tempfile.TemporaryDirectory() as d:
        store, build_s = build_store(d, hours, n)
        assert len(store.sessions()) == n
        api = median_time(store.sessions, reps)

        def open_and_list():
            with open_store(d) as s:
                s.sessions()
        opened = median_time(open_and_list, reps)
        store.close()
        db = sqlite3.connect(os.path.join(d, "corecue.db"))
        sql = median_time(lambda: db.execute(_STORE_LISTING).fetchall(), reps)
        table.append(("corecue.store: file bytes as a BLOB in a table of their own, summary "
                      "as JSON", n, sql, f"{api * 1000:.2f} ms ({opened * 1000:.2f} ms "
                      "opening the database first)",
                      listing_pages(db, ("sessions", "sessions_by_start")),
                      os.path.getsize(os.path.join(d, "corecue.db")),
                      f"{build_s:.1f} s ({n} transactions)"))
        db.close()
        # What the person waits for: the table `corecue sessions` prints, and the whole command
        # (a new Python process: imports, opening the database, the table).
        with open_store(d) as s:
            table_s = median_time(lambda: history.table(history.sessions_table(s)), reps)
        env = dict(os.environ, CORECUE_DATA_DIR=d)
        cmd = [sys.executable, "-m", "corecue", "sessions"]
        command_s = median_time(lambda: subprocess.run(cmd, env=env, check=True,
                                                       stdout=subprocess.DEVNULL), 5)
        python_s = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"],
                                                      check=True), 5)

        inline = build_inline(os.path.join(d, "inline.db"), hours, n)
        sql = median_time(lambda: inline.execute(_INLINE_LISTING).fetchall(), reps)
        table.append(("variant: the same with the file bytes inline in the sessions row", n,
                      sql, "", listing_pages(inline, ("sessions",)),
                      os.path.getsize(os.path.join(d, "inline.db")), ""))
        inline.close()

        base_path = os.path.join(d, "baseline.db")
        base, build_s = build_baseline(base_path, hours, nb)
        got = base.execute(_BASELINE_LISTING).fetchall()
        # the baseline's figures are the trailer's: both listings say the same thing
        assert len(got) == nb
        assert got[0][5] == hours[0][1]["frames"] and got[0][8] == hours[0][1]["in_band"]
        sql = median_time(lambda: base.execute(_BASELINE_LISTING).fetchall(), 3)
        table.append(("baseline: one row per 100 ms frame, summaries by GROUP BY", nb, sql, "",
                      listing_pages(base, ("sessions", "frames")), os.path.getsize(base_path),
                      f"{build_s:.1f} s ({nb} transactions)"))
        base.close()

    print(f"{n} one-hour sessions ({DISTINCT} distinct files from the firmware's SessionWriter, "
          f"{mean_raw:.0f} bytes each on average); baseline with {nb} sessions x {HOUR_FRAMES} "
          f"frame rows")
    print("| store | sessions | listing query (median) | `store.sessions()` (median) | "
          "pages the listing reads | database size | bytes per session | build |")
    print("|---|---|---|---|---|---|---|---|")
    for what, k, sql, api, pages, size, build in table:
        sql = f"{sql:.2f} s" if sql >= 1 else f"{sql * 1000:.2f} ms"
        print(f"| {what} | {k} | {sql} | {api} | {pages} | {size / 1e6:.1f} MB | "
              f"{size / k:.0f} | {build} |")
    print(f"`corecue sessions` over {n}: the table {table_s * 1000:.0f} ms (median of {reps}); "
          f"the whole command {command_s * 1000:.0f} ms (median of 5), of which a bare Python "
          f"start is {python_s * 1000:.0f} ms")
    if nb != n:
        sql, size = table[-1][2], table[-1][5]
        print(f"(baseline scaled linearly to {n} sessions: about {sql * n / nb:.1f} s, "
              f"{size * n / nb / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
