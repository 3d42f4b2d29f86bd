"""Summaries of older sessions stored again once (store migration 5, history/migrations.py),
against the named baseline measured in the same run: the same history left at version 3, where
every listing summarizes each such session anew from its file (history/sessions.summary_of).

A history of N one-hour sessions (the firmware's own SessionWriter, bench/onehour.py; a few
distinct hours reused under other belt session ids and days) is stored at schema version 3 with
the summaries an older companion wrote (a figure of today's missing). Then:

- baseline: building the `corecue sessions` table (views.tables.session_rows) on that history
  without upgrading it, so each session is decoded and summarized on the read;
- the upgrade itself: opening the history once, which runs migration 5 (one transaction);
- after: building the same table again, from the stored summaries.

    .venv/bin/python bench/summary_migration.py [--sessions 500] [--repeats 5]

Times are medians of the repeats (the upgrade: each repeat on a fresh copy of the version-3
file), time.perf_counter, warm page cache.
"""
import argparse
import io
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import zlib

from corecue.history import analytics, migrations, sessiondata
from corecue.history.store import DB_NAME, Store, open_store
from corecue.history.database import connect
from corecue.views import tables

import onehour  # noqa: E402  (bench/, the script's folder)

DISTINCT = 4
DEVICE = "a1b2c3d4e5f63f2a"
T0 = 1_790_000_000


def old_summary(raw):
    """Today's summary less one figure: what an older companion stored."""
    d = analytics.summarize(sessiondata.decode(raw)).as_dict()
    d.pop("longest_in_band_s", None)
    return json.dumps(d, sort_keys=True)


def build_v3(folder, n):
    hours = []
    for k in range(DISTINCT):
        f = io.BytesIO()
        onehour.write_hour(f, k + 1, T0, k + 1)
        raw = f.getvalue()
        hours.append((raw, old_summary(raw)))
    db = sqlite3.connect(os.path.join(folder, DB_NAME), isolation_level=None)
    migrations.migrate(db, 3)
    db.execute("BEGIN")
    for i in range(n):
        raw, summ = hours[i % DISTINCT]
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, 3600.0, ?, ?, ?)",
                   (i + 1, DEVICE, i + 1, zlib.crc32(raw), T0 + i * 86400.0, len(raw),
                    T0 + i * 86400.0, summ))
        db.execute("INSERT INTO session_files VALUES (?, ?)", (i + 1, raw))
    db.execute("COMMIT")
    db.close()


def at_version_3(folder):
    """The history opened as the store would, but without upgrading it (the baseline)."""
    db = sqlite3.connect(os.path.join(folder, DB_NAME), timeout=10, isolation_level=None)
    return Store(db, os.path.join(folder, DB_NAME), 3)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        v3 = os.path.join(tmp, "v3")
        os.mkdir(v3)
        build_v3(v3, a.sessions)

        store = at_version_3(v3)
        base = statistics.median(timed(lambda: tables.session_rows(store))
                                 for _ in range(a.repeats))
        store.close()

        ups = []
        for k in range(a.repeats):
            copy = os.path.join(tmp, f"up{k}")
            shutil.copytree(v3, copy)
            ups.append(timed(lambda: connect(copy)[0].close()))
        upgraded = os.path.join(tmp, "up0")
        with open_store(upgraded) as s:
            assert s.version == migrations.CURRENT
            after = statistics.median(timed(lambda: tables.session_rows(s))
                                      for _ in range(a.repeats))
            # The same figures either way.
            old = at_version_3(v3)
            same = [x[1] for x in tables.session_rows(old)] == [x[1] for x in
                                                               tables.session_rows(s)]
            old.close()
        up = statistics.median(ups)
    print(f"{a.sessions} one-hour sessions with summaries from before the shared figures "
          f"(medians of {a.repeats})")
    print(f"| history | building the `corecue sessions` table |")
    print(f"|---|---|")
    print(f"| baseline: left at version 3, summarized on every read | {base:.2f} s |")
    print(f"| after migration 5 (stored once) | {after * 1000:.1f} ms |")
    print(f"the upgrade itself, once: {up:.2f} s; figures identical either way: {same}")


if __name__ == "__main__":
    main()
