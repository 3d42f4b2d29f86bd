"""Every way talking to the belt can fail: BeltError and its subclasses, one line each.

The CLI prints str() of any BeltError as its one-line message (exit status 2), so callers catch
BeltError alone. An ERROR packet from the belt becomes the BeltRefused subclass for its code
(`refusal`), so a caller can tell "invalid value" from "wrong state" without reading text.
Kept apart from corecue.link.client so that the commands that only catch these errors, and the
records that raise BadReply, need not import the client.
"""
from corecue.interp import firmware_module

P = firmware_module("belt.protocol")


class BeltError(Exception):
    """Anything that went wrong talking to the belt; str() is one line for a person."""


class BeltTimeout(BeltError):
    pass


class LinkLost(BeltError):
    pass


class BadReply(BeltError):
    """The belt answered with something that does not parse as the protocol says."""


class IncompatibleBelt(BeltError):
    pass


class DownloadError(BeltError):
    pass


class BeltRefused(BeltError):
    """The belt answered ERROR: .code (protocol E_*), .reason (its name), .message (the belt's
    own words, e.g. "low_pm: 5000 above maximum 1000")."""
    code = 0

    def __init__(self, request, code, message, text=None):
        self.request = request
        self.code = code
        self.reason = P.ERROR_NAMES[code] if 0 < code < len(P.ERROR_NAMES) else "error %d" % code
        self.message = message
        super().__init__(text or f"belt refused {request}: {message or self.reason}")


class Malformed(BeltRefused):
    code = P.E_MALFORMED


class Unknown(BeltRefused):
    code = P.E_UNKNOWN


class InvalidValue(BeltRefused):
    code = P.E_INVALID


class WrongState(BeltRefused):
    code = P.E_STATE


class NotFound(BeltRefused):
    code = P.E_NOT_FOUND


class CrcMismatch(BeltRefused):
    code = P.E_CRC


class VersionMismatch(BeltRefused):
    code = P.E_VERSION


class AuthRequired(BeltRefused):
    code = P.E_AUTH


class BeltInternal(BeltRefused):
    code = P.E_INTERNAL


_REFUSALS = {c.code: c for c in (Malformed, Unknown, InvalidValue, WrongState, NotFound,
                                  CrcMismatch, VersionMismatch, AuthRequired, BeltInternal)}


def refusal(request, code, message):
    return _REFUSALS.get(code, BeltRefused)(request, code, one_line(message))


def one_line(text):
    """Text from the belt, fit for one line of a terminal."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
