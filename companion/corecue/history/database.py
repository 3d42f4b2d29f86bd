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
from corecue.link.oserrors import sentence

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


def connect(folder, create=True, notice=None):
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
        raise StoreError(sentence(e, folder, "make the history folder")) from None
    if os.path.exists(path) and not os.path.isfile(path):
        raise StoreError(f"{path} is not a file: the history is kept in a file of that name "
                         "(move what is there away, or check --data-dir)")
    # mode=rw: should the file vanish after the check above, SQLite must not make an empty one.
    target = path if create else pathlib.Path(path).as_uri() + "?mode=rw"
    try:
        db = sqlite3.connect(target, timeout=10, isolation_level=None, uri=not create)
    except sqlite3.Error as e:
        raise db_error(path, e) from None
    try:
        version = _check(db, path)
        if version < migrations.CURRENT:     # the write lock only when there is work to do
            if version and notice:
                notice(f"bringing your history in {path} up to date (once; with many runs "
                       "stored it may take a minute)")
            version = migrations.migrate(db)
        db.execute("PRAGMA foreign_keys = ON")
    except StoreError:
        db.close()
        raise
    except sqlite3.Error as e:
        db.close()
        raise db_error(path, e) from None
    return db, path, version


def _check(db, path):
    """Refuse, before writing a byte, a file that is not ours or is from a newer corecue."""
    try:
        v = migrations.version(db)
        foreign = v == 0 and migrations.user_tables(db)
    except sqlite3.OperationalError as e:       # locked, unreadable: the file may be fine
        raise db_error(path, e) from None
    except sqlite3.DatabaseError:
        raise StoreError(f"{path} is not a corecue database, or is damaged: move it away (the "
                         "next `corecue pair` starts a new one) or restore a backup") from None
    if foreign:
        raise StoreError(f"{path} is not a corecue database (it has other tables)")
    if v > migrations.CURRENT:
        raise StoreError(f"{path} was made by a newer corecue (schema version {v}, this one "
                         f"knows up to {migrations.CURRENT}); upgrade corecue")
    return v


# Errors that say the file is in use or out of reach, not that it is damaged, in a runner's
# words (SQLite's own, "attempt to write a readonly database", name no next step).
_NOT_DAMAGE = {
    "SQLITE_BUSY": "another corecue is using it (wait for that one to finish)",
    "SQLITE_LOCKED": "another corecue is using it (wait for that one to finish)",
    "SQLITE_READONLY": "corecue is not allowed to change it (check its and its folder's "
                       "permissions)",
    "SQLITE_PERM": "corecue is not allowed to change it (check its and its folder's "
                   "permissions)",
    "SQLITE_CANTOPEN": "corecue cannot open it (check its and its folder's permissions)",
    "SQLITE_FULL": "the disk is full (free some space)",
    "SQLITE_INTERRUPT": "interrupted (try again)",
    "SQLITE_NOMEM": "out of memory (close some programs and try again)",
    "SQLITE_IOERR": "the disk reported an error (check the disk)",
}


def db_error(path, e, doing="cannot use"):
    """The StoreError for an sqlite3.Error on the database at `path`."""
    name = getattr(e, "sqlite_errorname", "") or ""
    for n, why in _NOT_DAMAGE.items():
        if name == n or name.startswith(n + "_"):
            return StoreError(f"{doing} {path}: {why}")
    if name.startswith("SQLITE_CONSTRAINT"):       # a rule of the schema, not a damaged file
        return StoreError(f"{doing} {path}: the history refused the change ({name}); nothing "
                          "of it was stored")
    return StoreError(f"{path}: the history database is damaged; restore a backup or move it "
                      "away (the next `corecue pair` starts a new one)")


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
                raise db_error(self.path, e) from None
        return guarded
    for name, attr in list(vars(cls).items()):
        if callable(attr) and not name.startswith("_"):
            setattr(cls, name, guard(attr))
    return cls
