"""How runs change over weeks: the direction of time in band and of the brace holding, fitted
only when there are enough runs spread over enough days to mean something.

    trend(summaries) -> Trend       Summary objects (history/analytics.py), any order

Enough (docs/analytics.md): a direction per run needs MIN_RUNS runs with judged time on
MIN_DAYS different days; a direction per week needs those runs to span MIN_WEEK_SPAN_DAYS too.
Fewer, and the slope is None with Trend.not_enough saying what is missing: two runs on one
morning give a line, but no trend.

Endurance is the brace *holding*: time in band in the last third of a run against the first
third (Summary.holding, points). A run's length is not endurance: a longer run in which the brace
sagged is not a better one.
"""
from dataclasses import asdict, dataclass

import numpy as np

SECONDS_PER_DAY = 86400.0
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY
MIN_RUNS = 4
MIN_DAYS = 3
MIN_WEEK_SPAN_DAYS = 14


@dataclass
class TrendPoint:
    session_id: int
    start_utc: float | None
    pct_in_band: float | None
    holding: float | None       # last third against the first, points; None when unjudged
    faded: bool
    fatigue_change: float | None = None     # the fatigue index, last third against first, %


@dataclass
class Trend:
    points: list                        # TrendPoint per run with judged time, oldest first
    days: int                           # different days they were run on
    span_days: float                    # first start to last
    in_band_per_run: float | None       # least-squares slope, percentage points per run
    in_band_per_week: float | None      # ... per week
    holding_per_run: float | None       # points of holding per run
    holding_per_week: float | None      # ... per week
    fatigue_per_run: float | None       # % of fatigue-index change (within a run) per run
    fatigue_per_week: float | None      # ... per week
    not_enough: str | None              # why there is no trend yet (None: there is one)
    not_enough_weekly: str | None       # why there is no per-week trend yet

    def as_dict(self):
        return asdict(self)


def slope(x, y):
    """Least-squares slope of y on x over the pairs where both are numbers; None with fewer
    than two distinct x."""
    xy = [(float(a), float(b)) for a, b in zip(x, y) if a is not None and b is not None]
    if len({a for a, _ in xy}) < 2:
        return None
    xs, ys = np.array(xy).T
    xs = xs - xs.mean()
    return float(np.dot(xs, ys - ys.mean()) / np.dot(xs, xs))


def _plural(n, word):
    return f"{n} {word}{'s' if n != 1 else ''}"


def trend(summaries):
    """Trend over Summary objects: runs with judged time, in start-time order (those without a
    start time cannot be placed in weeks or days and are left out when any has one)."""
    ss = [s for s in summaries if s.judged_s > 0]
    if any(s.start_utc is not None for s in ss):
        ss = sorted((s for s in ss if s.start_utc is not None), key=lambda s: s.start_utc)
    pts = [TrendPoint(s.session_id, s.start_utc, s.pct_in_band, s.holding,
                      s.fade_onset_min is not None, s.fatigue_change) for s in ss]
    starts = [p.start_utc for p in pts if p.start_utc is not None]
    days = len({int(t // SECONDS_PER_DAY) for t in starts})
    span = (max(starts) - min(starts)) / SECONDS_PER_DAY if starts else 0.0
    have = f"{_plural(len(pts), 'run')} on {_plural(days, 'day')}"
    not_enough = None
    if len(pts) < MIN_RUNS or days < MIN_DAYS:
        not_enough = (f"not enough runs yet for a trend: {have} (it takes {MIN_RUNS} runs on "
                      f"{MIN_DAYS} different days)")
    weekly = not_enough
    if weekly is None and span < MIN_WEEK_SPAN_DAYS:
        weekly = (f"not enough weeks yet for a trend per week: {span:.0f} days from the first "
                  f"run to the last (it takes {MIN_WEEK_SPAN_DAYS})")
    idx = list(range(len(pts)))
    weeks = [None if p.start_utc is None else p.start_utc / SECONDS_PER_WEEK for p in pts]
    pib = [p.pct_in_band for p in pts]
    hold = [p.holding for p in pts]
    fat = [p.fatigue_change for p in pts]
    per_run = not_enough is None
    per_week = weekly is None
    return Trend(pts, days, span,
                 slope(idx, pib) if per_run else None, slope(weeks, pib) if per_week else None,
                 slope(idx, hold) if per_run else None, slope(weeks, hold) if per_week else None,
                 slope(idx, fat) if per_run else None, slope(weeks, fat) if per_week else None,
                 not_enough, weekly)


def trend_text(t):
    """The trend in one line, as `report --trend` prints it and its page shows it."""
    if t.not_enough:
        return t.not_enough
    parts = []
    for what, per_run, per_week, unit in (
            ("in band", t.in_band_per_run, t.in_band_per_week, "points"),
            ("holding", t.holding_per_run, t.holding_per_week, "points"),
            ("fatigue index", t.fatigue_per_run, t.fatigue_per_week, "%")):
        words = []
        if per_run is not None:
            words.append(f"{per_run:+.1f} {unit} per run")
        if per_week is not None:
            words.append(f"{per_week:+.1f} {unit} per week")
        if words:
            parts.append(f"{what}: " + ", ".join(words))
    text = f"trend over {_plural(len(t.points), 'run')}: " + "; ".join(parts)
    if t.not_enough_weekly:
        text += f" ({t.not_enough_weekly})"
    return text
