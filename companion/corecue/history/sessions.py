"""Stored sessions read back: the file decoded and summarized again, a stored summary that an
older companion wrote (without today's figures) made anew from the file, and the one line every
part of the companion shows for a stored session (history/figures.py words it)."""
from corecue.history import analytics, figures, sessiondata
from corecue.history.storeinput import StoreError


def line(row, summary):
    """One line for a stored session: its number, start and figures at a glance."""
    return f"#{row.id} {figures.when(row.start_utc)}  {figures.one_line(summary)}"


def summary_of(store, row):
    """The Summary of a stored session: the stored one, or, when it lacks a figure this version
    computes, the file's summarized again."""
    try:
        return analytics.Summary.from_dict(row.summary)
    except (ValueError, TypeError, KeyError):
        return load(store, row.id)[2]


def load(store, local_id):
    """(row with raw bytes, SessionData, Summary) of stored session local_id."""
    row = store.session(local_id)
    if row is None:
        raise StoreError(f"no stored session {local_id} (see `corecue sessions`)")
    try:
        sd = sessiondata.decode(row.raw, device=row.device, start_utc=row.start_utc)
    except sessiondata.SessionFileError as e:
        raise StoreError(f"stored session {local_id} is damaged ({e}): restore a backup of "
                         f"{store.path}") from None
    return row, sd, analytics.summarize(sd)
