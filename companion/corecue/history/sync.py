"""`corecue sync`: every new session off the belt, into the history, then confirmed to the belt.

The order is what makes it safe to interrupt at any moment:
  1. download (resuming a partial download kept from an earlier, interrupted sync);
  2. check the CRC32 against the belt's list, decode it, store it in one transaction;
  3. only then confirm it to the belt, which may then reclaim its space.
A crash between 2 and 3 leaves a session stored but not confirmed: the next sync reads it again
and confirms it once its bytes are found stored. Nothing is stored twice and nothing is confirmed
that is not stored: a stored file is known by the SHA-256 of all its bytes, never by the belt's
CRC32 alone, which does not see the header (another run over the same frames has the same CRC).
Only a session the belt already calls synced is passed over unread when a stored file has its
CRC, size, start and boot: there is nothing to confirm then. Bytes of a download cut short (a dropped link
that did not come back, Ctrl-C) are kept in the store and the next sync continues from there.
"""
import zlib

from corecue.history import analytics, sessiondata
from corecue.history.storeinput import StoreError
from corecue.interp import firmware_module
from corecue.history.calibrations import note_belt_calibration
from corecue.history.sessions import line, summary_of
from corecue.link.client import BeltError, DownloadError


_read = firmware_module("belt.sessionread")
_EV_BOOT = firmware_module("belt.sessionformat").EV_BOOT


class SyncError(BeltError):
    """A session that cannot be stored (one line, names the session)."""


def _start_utc(entry, raw_header_wall):
    # The belt's wall time at the start (the list entry places a session that began before the
    # belt knew the time by its boot's time anchor). 0 means the belt never learned the time.
    return float(raw_header_wall or entry.wall) or None


async def sync(conn, store, out=print, progress=None):
    """Download, store and confirm every closed session the store lacks. Returns the local ids
    of the sessions stored now. out(line) gets one line per session. A session that cannot be
    stored is said and skipped (the others still sync); SyncError at the end names it."""
    device = conn.device
    note_belt_calibration(store, device, await conn.belt.config_get())
    entries = await conn.belt.sessions()
    stored, failed = [], []
    for e in entries:
        if e.open:
            out(f"session {e.id} on the belt is still being recorded: it will sync next time")
            continue
        if e.synced and _stored_as_listed(store, device, e):
            continue
        try:
            local = await _one(conn, store, device, e, progress)
        except SyncError as err:
            failed.append(str(err))
            out(f"session {e.id}: not stored: {err}")
            continue
        if local is None:
            if not e.synced:
                out(f"session {e.id}: already stored; confirmed to the belt now")
            continue
        stored.append(local)
        row = store.session(local)
        out(line(row, summary_of(store, row)))
    if not stored and not failed:
        out("nothing new on the belt")
    if failed:
        many = len(failed) > 1
        raise SyncError(f"{len(failed)} session{'s' if many else ''} not stored (first: "
                        f"{failed[0]}); the belt keeps {'them' if many else 'it'}")
    return stored


def _stored_as_listed(store, device, e):
    """Whether a stored file has the listed CRC, size, start and boot (only for a session the
    belt calls synced already: never a reason to confirm)."""
    return any(_as_listed(raw, e) for raw in store.files_with_crc(device, e.id, e.crc))


def _as_listed(raw, e):
    header, _, events, _, _ = _read.read_session(raw)
    if header is None or len(raw) != e.size or header["start_ticks"] != e.start_ticks:
        return False
    boot = next((arg for _, kind, arg in events if kind == _EV_BOOT), 0)
    return boot == e.boot_id


async def _download(conn, store, device, e, progress):
    """The session's bytes, CRC-checked. A kept partial download that turns out wrong (its CRC
    key matched, its bytes did not) is dropped and the session read again from the start."""
    have = store.partial(device, e.id, e.crc)

    def keep(data):
        store.save_partial(device, e.id, e.crc, bytes(data))

    def report(got, size):
        if progress:
            progress(e.id, got, size)
    for attempt in (1, 2):
        try:
            data = await conn.download(e.id, have=have, progress=report, on_partial=keep)
        except DownloadError as err:
            # The whole file did not match the belt's CRC (the client checks it).
            if have:
                store.drop_partial(device, e.id)
                have = b""
                continue
            raise SyncError(str(err)) from None
        except BaseException:
            # Whatever arrived stays for the next sync: a dropped link, a refusal, Ctrl-C.
            p = getattr(conn.belt, "partial", None) if conn.belt else None
            if p and p[0] == e.id and len(p[1]) > len(have):
                keep(p[1])
            raise
        crc = zlib.crc32(data) & 0xFFFFFFFF
        # Kept bytes of another run with the same CRC (a wiped belt) would pass the CRC
        # check: resumed bytes must also be the file the belt lists.
        if crc == e.crc and (not have or _as_listed(data, e)):
            return data, crc
        if not have:
            break
        store.drop_partial(device, e.id)
        have = b""
    raise SyncError(f"CRC32 {crc:08x} of the download differs from the belt's {e.crc:08x}")


async def _one(conn, store, device, e, progress):
    """Download, store and confirm one session: its local id, or None when exactly these bytes
    were stored already (then only confirmed, unless the belt had that already)."""
    data, crc = await _download(conn, store, device, e, progress)
    if store.stored_id(device, e.id, data) is not None:
        store.drop_partial(device, e.id)
        if not e.synced:
            await conn.belt.confirm(e.id, crc)
        return None
    start = _start_utc(e, 0)
    try:
        sd = sessiondata.decode(data, device=device, start_utc=start)
    except sessiondata.SessionFileError as err:
        raise SyncError(str(err)) from None
    summary = analytics.summarize(sd)
    try:
        local = store.add_session(device, e.id, data, crc, start, sd.duration_s,
                                  summary.as_dict())
    except StoreError as err:
        raise SyncError(str(err)) from None
    await conn.belt.confirm(e.id, crc)
    return local
