# Boot recovery of the session store: every session file made whole after a power cut, a reset
# or a full flash, before the belt does anything else with it, and a one-line report of what was
# done. Storage.recover_all() runs it; it works on the store's directory through the store.
import os

from micropython import const

from belt.sessionread import recover

_UNSYNCED = ".cs"
_SYNCED = ".cy"
_TMP = ".tmp"
# recover()'s actions as counted in the boot report; anything else counts as unreadable.
_ACTIONS = ("ok", "closed", "truncated", "removed", "unreadable")
_UNREADABLE = const(4)


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
        try:
            action = recover(store.root + "/" + name)[0]
        except Exception as e:   # one damaged file must not stop the boot
            action = "error %s" % type(e).__name__
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
