# Boot recovery of the session store: every session file made whole after a power cut, a reset
# or a full flash, before the belt does anything else with it, and a one-line report of what was
# done. Storage.recover_all() runs it; it works on the store's directory through the store.
import os

from micropython import const

from belt.sessionformat import EV_BOOT
from belt.sessionread import describe, reader, recover

_UNSYNCED = ".cs"
_SYNCED = ".cy"
_TMP = ".tmp"
# recover()'s actions as counted in the boot report; anything else counts as unreadable.
_ACTIONS = ("ok", "closed", "truncated", "removed", "unreadable")
_UNREADABLE = const(4)
_ENOSPC = const(28)
# One flash block kept free for boot recovery: a session cut off by a full flash still needs
# room for its trailer, and LittleFS appends by rewriting the file's last block. The store makes
# it whenever a session may start; boot recovery gives it up to close such a session.
_RESERVE = "reserve"
_RESERVE_BYTES = const(4096)


def keep_reserve(root, buf):
    """Make the reserve block in the store's directory root, if it is missing and there is
    room; buf: a buffer to write it from (its bytes do not matter)."""
    p = root + "/" + _RESERVE
    try:
        if os.stat(p)[6] >= _RESERVE_BYTES:
            return True
    except OSError:
        pass
    try:
        with open(p, "wb") as f:
            for _ in range(_RESERVE_BYTES // len(buf)):
                f.write(buf)
        return True
    except OSError:
        _remove(p)
        return False


def _remove(path):
    try:
        os.remove(path)
        return True
    except OSError:
        return False


def recover_all(store, log=None):
    """sessionlog.recover on every session file of the store but the open one. A file that
    cannot be read is left as it is and reported. Returns the report line; log(line) if given."""
    _adopt_orphans(store.root)
    counts = [0] * len(_ACTIONS)
    bad = []
    store.recovered = []
    for sid, synced, name in store._scan():
        if sid == store.open_id:
            continue        # being written: its writer closes it
        action = _recover(store, store.root + "/" + name)
        store.recovered.append((sid, action))
        k = _ACTIONS.index(action) if action in _ACTIONS else _UNREADABLE
        counts[k] += 1
        if k == _UNREADABLE:
            bad.append("%d %s" % (sid, action))
    line = "sessions: " + ", ".join(["%d %s" % (counts[i], _ACTIONS[i])
                                     for i in range(len(_ACTIONS))])
    if bad:
        line += " (" + ", ".join(bad) + ")"
    if store.id_note:
        line += "; " + store.id_note
    if log is not None:
        log(line)
    return line


def recover_one(store, sid):
    """Close session sid now, as boot recovery would (its writer gave up on a flash that refused
    a block). Returns the action, or "gone" when it has no file."""
    path = store.find(sid)
    if path is None:
        return "gone"
    action = _recover(store, path)
    store.recovered.append((sid, action))
    return action


def _recover(store, path):
    try:
        try:
            return recover(path)[0]
        except OSError as e:
            # A flash that filled up during the session has no room for its trailer: the
            # reserve block is given up for it (the store makes it again before a session).
            if not (e.args and e.args[0] == _ENOSPC and _remove(store.root + "/" + _RESERVE)):
                raise
            return recover(path)[0]
    except Exception as e:      # one damaged file must not stop the boot
        return "error %s" % type(e).__name__


def _adopt_orphans(root):
    # recover() rewrites a torn file to name + ".tmp" and renames it over the file. Where rename
    # cannot replace, the old file is removed first: a cut right then leaves only the complete
    # copy, which becomes the session again. Next to its file, recover() removes it.
    names = os.listdir(root)
    for name in names:
        if name.endswith(_TMP):
            base = name[:-4]
            if (base.endswith(_UNSYNCED) or base.endswith(_SYNCED)) and base not in names:
                os.rename(root + "/" + name, root + "/" + base)


def boots_seen(store):
    """The highest boot id the sessions on the flash name (their first block's EV_BOOT event),
    0 if none: read only when the clock files are lost (belt.clock)."""
    top = 0
    r = reader()
    for sid, synced, name in store._scan():
        try:
            for kind, arg in describe(store.root + "/" + name, r)[2]:
                if kind == EV_BOOT and arg > top:
                    top = arg
        except Exception:       # a file that cannot be read names no boot
            pass
    return top
