"""The companion killed (SIGKILL) at random moments of `corecue sync`, over both transports: the
virtual belt on the emulated Bluetooth LE radio (`--virtual DIR`, the firmware in the companion's
process) and the MicroPython belt on a serial line (`corecue virtual serve`, `--port`). After every
kill: SQLite's integrity check passes, no file is stored twice, and every session the belt calls
synced is stored byte for byte (nothing confirmed that is not stored). At the end a sync runs
to completion and every session on the belt is stored exactly once. Run by CPython:

    python tests/faults/killsync.py KILLS [SEED]

KILLS per transport. Prints "<row> tried N failed N lost N" (lost: sessions confirmed to the belt
but not stored, or stored twice) and a line per failure; exit status 1 when anything failed."""
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "companion"))
import realbelt as R  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "companion"))
BATCH = (36000, 18000, 9000, 6000)         # frames: a sync of the four takes about 4 s
KILL_S = (0.2, 5.0)


def corecue(*args):
    return [sys.executable, "-m", "corecue.cli", *args]


def belt_files(folder):
    """{name: bytes} of the belt's session files."""
    d = os.path.join(folder, "flash", "sessions")
    out = {}
    for name in os.listdir(d):
        if name[:-3].isdigit() and name[-3:] in (".cs", ".cy"):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def _opened(history):
    """The history as the next companion opens it. Read-write (never creating it): a kill in a
    write leaves a hot rollback journal, which SQLite rolls back at the next open, and which a
    read-only connection cannot, so it fails with "attempt to write a readonly database"."""
    return sqlite3.connect(f"file:{os.path.join(history, 'corecue.db')}?mode=rw", uri=True)


def check(history, folder, final=False):
    """(why it failed or None, sessions lost)."""
    db = _opened(history)
    try:
        if db.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            return "the database is damaged", 0
        digests = [bytes(r[0]) for r in db.execute("SELECT sha256 FROM sessions")]
    finally:
        db.close()
    twice = len(digests) - len(set(digests))
    stored = set(digests)
    files = belt_files(folder)
    unstored = [n for n, raw in files.items()
                if (n.endswith(".cy") or final) and hashlib.sha256(raw).digest() not in stored]
    if twice or unstored:
        return (f"{twice} stored twice, {'not stored' if final else 'confirmed, not stored'}: "
                f"{sorted(unstored)}"), twice + len(unstored)
    if final and not all(n.endswith(".cy") for n in files):
        return f"not all confirmed after a whole sync: {sorted(files)}", 0
    return None, 0


def stored_count(history):
    db = _opened(history)
    try:
        return db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    finally:
        db.close()


class Serial:
    """`corecue virtual serve` on the belt folder: the MicroPython belt on a pseudo-terminal."""

    def __init__(self, folder):
        self.p = subprocess.Popen(corecue("virtual", "serve", folder, "--speed", "0"), env=ENV,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("port: "):
            self.stop()
            raise RuntimeError(f"virtual serve did not start: {line!r}")
        self.port = line.split()[1]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def row(transport, kills, rnd, work):
    folder = os.path.join(work, transport, "belt")
    history = os.path.join(work, transport, "history")
    os.makedirs(folder)
    R.write_sessions(folder, BATCH)
    from corecue.history.store import open_store
    open_store(history).close()
    serial = Serial(folder) if transport == "usb" else None
    target = ("--port", serial.port) if serial else ("--virtual", folder)
    # Paired first, as a runner does (over USB at once; a virtual belt's button held for them).
    subprocess.run(corecue(*target, "pair", "--yes", "--data-dir", history), env=ENV, check=True,
                   capture_output=True, timeout=300)
    tried = failed = lost = stored = 0
    try:
        for _ in range(kills):
            if all(n.endswith(".cy") for n in belt_files(folder)):
                # Everything synced: more runs on the belt, so that the kills land in a sync.
                if serial:
                    serial.stop()
                R.write_sessions(folder, BATCH)
                if serial:
                    serial = Serial(folder)
                    target = ("--port", serial.port)
            before = stored_count(history)
            p = subprocess.Popen(corecue(*target, "sync", "--data-dir", history), env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(*KILL_S))
            p.send_signal(signal.SIGKILL)
            p.wait()
            tried += 1
            stored += stored_count(history) > before    # the kill came after some progress
            why, n = check(history, folder)
            lost += n
            if why:
                failed += 1
                print(f"FAIL {transport} kill {tried}: {why}")
        done = subprocess.run(corecue(*target, "sync", "--data-dir", history), env=ENV,
                              capture_output=True, text=True, timeout=300)
        why, n = check(history, folder, final=True)
        lost += n
        if done.returncode or why:
            failed += 1
            print(f"FAIL {transport} after the kills, a whole sync: rc {done.returncode} "
                  f"{why} {done.stderr.strip()[-200:]}")
    finally:
        if serial:
            serial.stop()
    return f"companion killed during a sync over {transport} tried {tried} failed {failed} " \
           f"lost {lost} ({stored} kills came after a session of that sync was stored)"


def main():
    kills = int(sys.argv[1])
    rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 13)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cq-killsync-") as work:
        for transport in ("ble", "usb"):
            rows.append(row(transport, kills, rnd, work))
    for r in rows:
        print(r)
    sys.exit(1 if any(" failed 0 " not in r for r in rows) else 0)


main()
