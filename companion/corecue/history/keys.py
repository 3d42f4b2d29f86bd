"""Ownership's side of the history: this computer's host id towards its belts (8 random bytes,
made on first use and kept) and the pairing key of each belt it paired with (docs/protocol.md,
"Ownership"). The keys live in corecue.db beside the belts; whoever can read the person's data
folder can read them, as with any key a program keeps for its user.

    host_id(store)                  # made once
    belt_key(store, device)         # 32 bytes, or None: not paired from this computer
    keep_key(store, device, key)    # after `corecue pair`
    drop_key(store, device)         # `corecue forget`
"""
from corecue.history.storeinput import device_id as check_device
from corecue.link.auth import new_host_id

KEY_LEN = 32


def host_id(store):
    row = store._db.execute("SELECT host_id FROM host WHERE one = 1").fetchone()
    if row is not None:
        return bytes(row[0])
    h = new_host_id()
    # INSERT OR IGNORE, then read back: two commands making one at once agree on the first.
    store._write(("INSERT OR IGNORE INTO host (one, host_id) VALUES (1, ?)", (h,)))
    return bytes(store._db.execute("SELECT host_id FROM host WHERE one = 1").fetchone()[0])


def belt_key(store, device):
    row = store._db.execute("SELECT pairing_key FROM belt_keys WHERE device = ?",
                            (check_device(device),)).fetchone()
    return bytes(row[0]) if row else None


def keep_key(store, device, key):
    if len(key) != KEY_LEN:
        raise ValueError(f"a pairing key of {KEY_LEN} bytes, not {len(key)}")
    store._write(("INSERT INTO belt_keys (device, pairing_key, paired_utc) VALUES (?, ?, ?) "
                  "ON CONFLICT (device) DO UPDATE SET pairing_key = excluded.pairing_key, "
                  "paired_utc = excluded.paired_utc",
                  (check_device(device), bytes(key), store._clock())))


def drop_key(store, device):
    cur, = store._write(("DELETE FROM belt_keys WHERE device = ?", (check_device(device),)))
    return cur.rowcount == 1


class Keyring:
    """What corecue.link.connect.Connection authenticates with: this history's host id and the
    key it keeps for a belt. store None (no history yet): no keys."""

    def __init__(self, store):
        self.store = store

    @property
    def host_id(self):
        return host_id(self.store)

    def key(self, device):
        return belt_key(self.store, device) if self.store is not None else None
