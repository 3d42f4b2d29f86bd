"""`corecue sync`: every new session off the belt, into the history, then confirmed to the belt.

The order is what makes it safe to interrupt at any moment:
  1. download (resuming a partial download kept from an earlier, interrupted sync);
  2. check the CRC32 against the belt's list, decode it, store it in one transaction;
  3. only then confirm it to the belt, which may then reclaim its space.
A crash between 2 and 3 leaves a session stored but not confirmed: the next sync confirms it
without downloading it again. Nothing is stored twice (the store is keyed by belt and session
id) and nothing is confirmed that is not stored. Bytes of a download cut short (a dropped link
that did not come back, Ctrl-C) are kept in the store and the next sync continues from there.
"""
import sys
import zlib

from corecue import analytics, sessiondata
from corecue.client import BeltError


class SyncError(BeltError):
    """A session that cannot be stored (one line, names the session)."""


def _start_utc(entry, raw_header_wall):
    # The belt's wall time at the start (the list entry places a session that began before the
    # belt knew the time by its boot's time anchor). 0 means the belt never learned the time.
    return float(raw_header_wall or entry.wall) or None


async def sync(conn, store, out=print, progress=None):
    """Download, store and confirm every closed session the store lacks. Returns the local ids
    of the sessions stored now. out(line) gets one line per session."""
    belt = conn.belt
    device = conn.device
    entries = await belt.sessions()
    stored = []
    for e in entries:
        if e.open:
            out(f"session {e.id} on the belt is still being recorded: it will sync next time")
            continue
        if store.has_session(device, e.id):
            if not e.synced:
                await belt.confirm(e.id, e.crc)
                out(f"session {e.id}: already stored; confirmed to the belt now")
            continue
        local = await _one(conn, store, device, e, progress)
        stored.append(local)
        row = store.session(local)
        out(line(row))
    if not stored:
        out("nothing new on the belt")
    return stored


async def _one(conn, store, device, e, progress):
    have = store.partial(device, e.id, e.crc)

    def keep(data):
        store.save_partial(device, e.id, e.crc, bytes(data))

    def report(got, size):
        if progress:
            progress(e.id, got, size)
    try:
        data = await conn.download(e.id, have=have, progress=report, on_partial=keep)
    except BaseException:
        # Whatever arrived stays for the next sync: a dropped link, a refusal, Ctrl-C.
        p = getattr(conn.belt, "partial", None) if conn.belt else None
        if p and p[0] == e.id and len(p[1]) > len(have):
            keep(p[1])
        raise
    crc = zlib.crc32(data) & 0xFFFFFFFF
    if crc != e.crc:
        raise SyncError(f"session {e.id}: CRC32 {crc:08x} differs from the belt's {e.crc:08x}")
    start = _start_utc(e, 0)
    try:
        sd = sessiondata.decode(data, device=device, start_utc=start)
    except sessiondata.SessionFileError as err:
        raise SyncError(f"session {e.id}: {err}") from None
    summary = analytics.summarize(sd)
    local = store.add_session(device, e.id, data, crc, start, sd.duration_s, summary.as_dict())
    await conn.belt.confirm(e.id, crc)
    return local


def line(row):
    """One line for a stored session: what a runner wants to know at a glance."""
    from corecue.history import when
    s = analytics.Summary.from_dict(row.summary)
    fade = (f"brace faded from minute {s.fade_onset_min:g}" if s.fade_onset_min is not None
            else "brace held to the end")
    band = f"{s.pct_in_band:.0f}% of the run in band" if s.pct_in_band is not None else \
        "no run judged (uncalibrated or no signal)"
    kinds = ", ".join(f"{s.cues.get(k, 0)} {w}" for k, w in (
        ("under", "brace more"), ("over", "ease off"), ("check_sensor", "check sensor"))
        if s.cues.get(k, 0))
    return (f"#{row.id} {when(row.start_utc).strip()}  {row.duration_s / 60:.0f} min, {band}, "
            f"cues: {kinds or 'none'}; {fade}")


def cue_count(summary):
    """Cues that asked the runner to do something (not the "back in band" acknowledgement)."""
    return sum(summary.cues.get(k, 0) for k in ("under", "over", "check_sensor"))


def progress_bar(stream=sys.stderr):
    """A progress(sid, got, size) that draws one line on a terminal, nothing otherwise."""
    if not stream.isatty():
        return None

    def show(sid, got, size):
        pct = 100 * got // size if size else 100
        bar = "#" * (pct // 5)
        end = "\n" if got >= size else ""
        print(f"\rsession {sid} [{bar:<20}] {pct:3d}%", end=end, file=stream, flush=True)
    return show
