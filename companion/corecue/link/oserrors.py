"""An OSError in a runner's words: what went wrong with which path, and what to do next.

The system's own text ("[Errno 13] Permission denied: '/x'") names neither the next step nor,
often, the path the runner typed (it may name a temporary file beside it), so every command that
reads or writes a file words its OSError here, with the path it was given, and cli.main does the
same for any OSError that reaches it. Kept in the lowest layer that every other one may import
(the link's serial ports fail this way too).

    sentence(e, "/media/usb/run.csv", "write")
    -> "cannot write /media/usb/run.csv: not allowed there (check the permissions,
        or choose a folder of your own)"
"""
import errno

# errno -> (what happened, the next step). Several errnos share words: a runner cannot act on
# the difference between EACCES and EPERM.
_NOT_ALLOWED = ("not allowed there", "check the permissions, or choose a folder of your "
                "own")
_WORDS = {
    errno.EACCES: _NOT_ALLOWED,
    errno.EPERM: _NOT_ALLOWED,
    errno.EROFS: ("the disk is read-only", "choose a folder on a disk you can write to"),
    errno.ENOSPC: ("the disk is full", "free some space, or choose another disk"),
    errno.EDQUOT: ("your disk quota is used up", "free some space, or choose another disk"),
    errno.ENOENT: ("there is no such file or folder", "check the path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.EISDIR: ("it is a folder", "give a file name"),
    errno.EEXIST: ("something of that name is already there", "give another name"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
    errno.ELOOP: ("its links lead in a circle", "check the path"),
    errno.EIO: ("the disk reported an error", "check the disk, or choose another one"),
    errno.EBUSY: ("it is in use", "close what uses it and try again"),
    errno.ETXTBSY: ("it is in use", "close what uses it and try again"),
    errno.EMFILE: ("too many files are open", "close some programs and try again"),
    errno.ENFILE: ("too many files are open", "close some programs and try again"),
    errno.EINVAL: ("the name is not allowed there", "choose another name or disk"),
    errno.ENXIO: ("the device is not there", "check that it is plugged in"),
    errno.ENODEV: ("the device is not there", "check that it is plugged in"),
    errno.EXDEV: ("it is on another disk", "choose a path on the same disk"),
    errno.ENOTEMPTY: ("the folder is not empty", "choose an empty folder"),
}


def words(e):
    """(what happened, the next step) for an OSError, in plain words."""
    code = getattr(e, "errno", None)
    if isinstance(e, TimeoutError) and code is None:
        return ("no answer in time", "try again; --timeout S waits longer")
    if code in _WORDS:
        return _WORDS[code]
    name = errno.errorcode.get(code, "") if code is not None else ""
    return (f"the system refused it{f' ({name})' if name else ''}",
            "check the path, or choose another")


def hci_error(transport, e):
    """The one line for a Bumble HCI transport (`corecue virtual ble --hci`) that would not
    open: Bumble raises whatever the system gave it."""
    step = "vhci needs Linux with Bluetooth and /dev/vhci; or give --hci tcp-server:HOST:PORT"
    if isinstance(e, OSError):
        what, _ = words(e)
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        return f"cannot open the HCI transport {transport}{where}: {what} ({step})"
    return f"cannot open the HCI transport {transport}: not one Bumble knows ({step})"


def sentence(e, path=None, doing="use"):
    """One line: "cannot <doing> <path>: <what happened> (<next step>)". path: the one the runner
    gave (default: the error's own filename)."""
    what, step = words(e)
    where = path if path is not None else (e.filename if getattr(e, "filename", None) else "")
    return f"cannot {doing}{' ' + str(where) if where != '' else ''}: {what} ({step})"
