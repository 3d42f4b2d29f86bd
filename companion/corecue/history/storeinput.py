"""The checks on what goes into the companion's history (store.py): a belt's device id, a belt
session id, and the JSON kept with a session or a calibration. Each refusal is a StoreError with
a one-line message, raised before anything is written."""
import json
import re

_HEX16 = re.compile(r"[0-9a-fA-F]{16}\Z")


class StoreError(Exception):
    """A one-line message for a person."""


def device_id(device):
    """The belt's 8-byte id as 16 lowercase hex digits (the same belt typed in either case)."""
    if not isinstance(device, str) or not _HEX16.match(device):
        raise StoreError(f"not a belt device id (16 hex digits): {device!r}")
    return device.lower()


def belt_sid(sid):
    if isinstance(sid, bool) or not isinstance(sid, int) or sid < 0:
        raise StoreError(f"not a belt session id: {sid!r}")
    return sid


def as_json(obj, what):
    try:
        return json.dumps(obj, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise StoreError(f"the {what} cannot be stored: {e}") from None
