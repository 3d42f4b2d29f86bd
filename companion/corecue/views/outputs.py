"""The rules every command that writes a file follows, so none destroys one it did not make:

- an existing file is replaced only with --force (the command cannot know who made it);
- an output is never one of the command's own inputs, --force or not;
- a file's format follows its suffix (.csv, .json, .png, ...), and a --format that disagrees
  with the suffix, or a suffix the command does not write, is an error;
- a folder where a file is due, or a file where a folder is due, is said as such.

Each rule raises OutputError, one line with the next step, before anything is written; so does
a file that cannot be made there (a read-only or full disk, a folder not yours), found by trying
to make it and taking it away again, in the system's words put into a runner's (oserrors).
"""
import os

from corecue.link.oserrors import sentence


class OutputError(Exception):
    """An output that would lose or mislabel a file (one line, exit status 2)."""


def check_file(path, force=False, inputs=()):
    """Raise OutputError unless `path` may be written now."""
    path = os.fspath(path)
    for src in inputs:
        if src and os.path.exists(src) and os.path.exists(path) and os.path.samefile(src, path):
            raise OutputError(f"{path} is also an input of this command: write the output to "
                              "another file")
        if src and os.path.abspath(src) == os.path.abspath(path):
            raise OutputError(f"{path} is also an input of this command: write the output to "
                              "another file")
    if os.path.isdir(path):
        raise OutputError(f"{path} is a folder: give a file name")
    if os.path.lexists(path) and not force:
        raise OutputError(f"{path} exists: add --force to replace it, or give another name")
    check_parent(path)
    _try_writing(path)


def check_parent(path):
    """The folder `path` goes in must be there and be a folder."""
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    if os.path.isdir(parent):
        return
    # The nearest part of the path that is there says which mistake it is.
    up = parent
    while up != os.path.dirname(up) and not os.path.lexists(up):
        up = os.path.dirname(up)
    if os.path.lexists(up) and not os.path.isdir(up):
        raise OutputError(f"{up} is a file, not a folder: give a path in a folder")
    raise OutputError(f"there is no folder {parent}: make it first, or give another path")


def _try_writing(path):
    """Make the file and take it away again (or, one already there that --force replaces, open it
    to add nothing), so that a file that cannot be written is said before any work is done."""
    try:
        if os.path.lexists(path):
            open(path, "ab").close()
        else:
            open(path, "xb").close()
            os.remove(path)
    except OSError as e:
        raise OutputError(sentence(e, path, "write")) from None


def format_of(path, fmt, formats):
    """The format to write `path` in: its suffix's, which --format (fmt, or None) must agree
    with. formats: the suffixes this command writes, e.g. ("csv", "json")."""
    if os.path.isdir(path):
        raise OutputError(f"{path} is a folder: give a file name")
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if suffix not in formats:
        raise OutputError(f"{path}: name the file .{' or .'.join(formats)} (the format follows "
                          "the suffix)")
    if fmt and fmt != suffix:
        raise OutputError(f"{path} is a .{suffix} name but --format {fmt} was asked for: make "
                          "them agree")
    return suffix


def check_folder(path, names, force=False):
    """A folder for files named `names`: it may be new; one of them already there needs
    --force."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"{path} is a file, not a folder: give a folder for the files")
    if not force:
        there = [n for n in names if os.path.lexists(os.path.join(path, n))]
        if there:
            raise OutputError(f"{os.path.join(path, there[0])} exists: add --force to replace "
                              "it, or give another folder with -o")


def make_folder(path):
    """Make the folder `path` (and those above it) for a command's files, or OutputError."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OutputError(sentence(e, path, "make the folder")) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(sentence(PermissionError(13, ""), path, "write in"))
