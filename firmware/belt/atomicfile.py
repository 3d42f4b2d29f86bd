# Crash-safe small files: the session-id files (belt.storage), the clock files (belt.clock) and
# the device config (belt.config) are each replaced whole so that a power cut at any moment leaves
# the old file or the new one, never a mix, and a file that is refused says why in one line.
#
#   write_atomic(path, data)        # temp file, flush, rename over path
#   value, why = read_atomic(path, parse)   # parse(bytes) -> (value, None) or (None, why)
import os

from micropython import const

_TMP = ".tmp"
_ENOENT = const(2)
_SMALL_MAX = const(8192)     # write_atomic files are small; a bigger one is not ours: refuse



def _errno(e):
    return e.args[0] if e.args and type(e.args[0]) is int else -1


def _remove(path):
    try:
        os.remove(path)
        return True
    except OSError:
        return False


def _replace(src, dst):
    try:
        os.rename(src, dst)
    except OSError:
        # A file system whose rename does not replace. A cut between the two calls leaves only
        # the complete src, which read_atomic() adopts when dst is missing.
        _remove(dst)
        os.rename(src, dst)


def write_atomic(path, data):
    """Replace the file at path by data so that a power cut at any moment leaves either the old
    file or the new one: write path + ".tmp", flush it, then rename it over path."""
    tmp = path + _TMP
    if isinstance(data, str):
        data = data.encode()
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()                       # on LittleFS this commits the file
        sync = getattr(os, "fsync", None)
        if sync is not None:            # CPython: get the bytes to the disk before the rename
            sync(f.fileno())
    _replace(tmp, path)


def _read_small(path):
    try:
        if os.stat(path)[6] > _SMALL_MAX:
            return None, "too large"
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as e:
        n = _errno(e)
        return None, "missing" if n == _ENOENT else "unreadable (errno %d)" % n


def _read_parsed(path, parse):
    data, why = _read_small(path)
    if why:
        return None, why
    try:
        return parse(data)
    except Exception as e:      # a damaged file must not stop the belt from booting
        return None, "unparseable (%s)" % type(e).__name__


def read_atomic(path, parse):
    """Read a file kept by write_atomic. parse(bytes) returns (value, None) or (None, reason).
    Returns (value, None) from the file, else from a complete path + ".tmp" left by a save cut
    short after the old file had been removed; else (None, reason the file was refused). A temp
    file next to a good file is a save that never reached its rename: it is deleted."""
    tmp = path + _TMP
    value, why = _read_parsed(path, parse)
    if why is None:
        _remove(tmp)
        return value, None
    alt, alt_why = _read_parsed(tmp, parse)
    if alt_why is None:
        _replace(tmp, path)
        return alt, None
    if alt_why != "missing":
        _remove(tmp)
    return None, why
