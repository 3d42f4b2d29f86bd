"""Finding, opening and checking the history's database file, corecue.db: where it lives, that it
is ours and not from a newer corecue, its schema brought up to date (migrations.py), and every
sqlite3 error turned into one StoreError line that says whether the file is damaged or only busy
or out of reach."""
import functools
import os
import pathlib
import sqlite3

from corecue.history import migrations
from corecue.history.storeinput import StoreError

DB_NAME = "corecue.db"
ENV_VAR = "CORECUE_DATA_DIR"


def data_dir(explicit=None):
    """Where corecue.db lives: the --data-dir given, else $CORECUE_DATA_DIR, else the platform's
    per-user data folder."""
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    env = os.environ.get(ENV_VAR)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    import platformdirs                     # only when needed: the other two cost nothing
    return platformdirs.user_data_dir("corecue")


def connect(folder, create=True):
    """(sqlite3 connection, path, schema version) of corecue.db in `folder`, brought to the
    current schema. create=False: a StoreError when there is no history yet, and no folder or
    file is made."""
    path = os.path.join(folder, DB_NAME)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise StoreError(f"{folder} is not a folder: --data-dir (or $CORECUE_DATA_DIR) names "
                         "the folder your history is kept in")
    if not create and not os.path.exists(path):
        raise StoreError(f"no history in {folder} yet: `corecue pair` starts one, then "
                         "`corecue sync` after a run (or check --data-dir)")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create the data folder {folder}: {e.strerror or e}") from None
    if os.path.exists(path) and not os.path.isfile(path):
        raise StoreError(f"{path} is not a file")
    # mode=rw: should the file vanish after the check above, SQLite must not make an empty one.
    target = path if create else pathlib.Path(path).as_uri() + "?mode=rw"
    try:
        db = sqlite3.connect(target, timeout=10, isolation_level=None, uri=not create)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open {path}: {e}") from None
    try:
        version = _check(db, path)
        if version < migrations.CURRENT:     # the write lock only when there is work to do
            version = migrations.migrate(db)
        db.execute("PRAGMA foreign_keys = ON")
    except StoreError:
        db.close()
        raise
    except sqlite3.Error as e:
        db.close()
        raise _db_error(path, e) from None
    return db, path, version


def _check(db, path):
    """Refuse, before writing a byte, a file that is not ours or is from a newer corecue."""
    try:
        v = migrations.version(db)
        foreign = v == 0 and migrations.user_tables(db)
    except sqlite3.OperationalError as e:       # locked, unreadable: the file may be fine
        raise StoreError(f"cannot open {path}: {e}") from None
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is not a corecue database ({e})") from None
    if foreign:
        raise StoreError(f"{path} is not a corecue database (it has other tables)")
    if v > migrations.CURRENT:
        raise StoreError(f"{path} was made by a newer corecue (schema version {v}, this one "
                         f"knows up to {migrations.CURRENT}); upgrade corecue")
    return v


# Errors that say the file is in use or out of reach, not that it is damaged.
_NOT_DAMAGE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY", "SQLITE_FULL", "SQLITE_PERM",
               "SQLITE_CANTOPEN", "SQLITE_INTERRUPT", "SQLITE_NOMEM")


def _db_error(path, e):
    """The StoreError for an sqlite3.Error on the database at `path`."""
    name = getattr(e, "sqlite_errorname", "")
    if any(name == n or name.startswith(n + "_") for n in _NOT_DAMAGE):
        return StoreError(f"cannot use {path}: {e}")
    return StoreError(f"{path}: the history database is damaged ({e}); restore a backup or "
                      "move it away")


def errors_are_one_line(cls):
    """Wrap every public method of `cls` so that an sqlite3.Error from it (a damaged page, a
    table missing) becomes one StoreError line instead of a traceback: one place for every
    read, present and future. Writes already say "cannot write" in Store._transaction."""
    def guard(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as e:
                raise _db_error(self.path, e) from None
        return guarded
    for name, attr in list(vars(cls).items()):
        if callable(attr) and not name.startswith("_"):
            setattr(cls, name, guard(attr))
    return cls
