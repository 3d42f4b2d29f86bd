"""Stored sessions read back: the file decoded and summarized again, and the words every part of
the companion uses for a session at a glance (its date, its length, one line, the cues that asked
for something). Sync reports with these, and so do the views."""
import time

from corecue.history import analytics, sessiondata
from corecue.history.storeinput import StoreError


def when(start_utc):
    """Local date and time of a session's start, or that it is unknown."""
    if not start_utc:
        return "date unknown    "
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(start_utc))


def minutes(s):
    return f"{int(s) // 60}:{int(s) % 60:02d}"


def cue_count(summary):
    """Cues that asked the runner to do something (not the "back in band" acknowledgement)."""
    return sum(summary.cues.get(k, 0) for k in ("under", "over", "check_sensor"))


def line(row):
    """One line for a stored session: what a runner wants to know at a glance."""
    s = analytics.Summary.from_dict(row.summary)
    fade = (f"brace faded from minute {s.fade_onset_min:g}" if s.fade_onset_min is not None
            else "brace held to the end")
    band = f"{s.pct_in_band:.0f}% of the run in band" if s.pct_in_band is not None else \
        "no run judged (uncalibrated or no signal)"
    kinds = ", ".join(f"{s.cues.get(k, 0)} {w}" for k, w in (
        ("under", "brace more"), ("over", "ease off"), ("check_sensor", "check sensor"))
        if s.cues.get(k, 0))
    return (f"#{row.id} {when(row.start_utc).strip()}  {minutes(row.duration_s)}, {band}, "
            f"cues: {kinds or 'none'}; {fade}")


def load(store, local_id):
    """(row with raw bytes, SessionData, Summary) of stored session local_id."""
    row = store.session(local_id)
    if row is None:
        raise StoreError(f"no stored session {local_id} (see `corecue sessions`)")
    try:
        sd = sessiondata.decode(row.raw, device=row.device, start_utc=row.start_utc)
    except sessiondata.SessionFileError as e:
        raise StoreError(f"stored session {local_id}: {e}") from None
    return row, sd, analytics.summarize(sd)
