"""What a run was like, and how runs change over weeks: pure numpy functions on SessionData.

summarize(sd) scores one session the way the belt's coach scores the run (belt/coach.py: in band
means low <= effort <= high on the prescribed band, no hysteresis, no fading; flagged frames are
not judged), and adds what the belt does not compute: the longest in-band stretch, the mean
effort, the minute the brace fades and how the last third of the run compares with the first.
history/trend.py fits the direction over many sessions; history/figures.py words each figure.
docs/analytics.md defines every figure, with the edge cases. No I/O here: the store keeps
Summary.as_dict() as JSON and gives it back through Summary.from_dict().
"""
from dataclasses import asdict, dataclass, fields

import numpy as np

from corecue.history import fatigue
from corecue.history.sessiondata import CUE_NAMES, State
from corecue.interp import firmware_module

_coach = firmware_module("belt.coach")

FADE_WINDOW_S = 60.0        # the rolling mean behind fade onset
FADE_MIN_JUDGED = 0.5       # share of a window that must be judged for its mean to count
# A flagged stretch shorter than this does not end an in-band stretch: the coach's own grace
# (bad_grace_ms), so one jolt of the cable does not cut the longest brace in two.
BRIDGE_MS = _coach.DEFAULTS["bad_grace_ms"]

# Per-frame zones, the coach's numbers (Z_IN 1, Z_UNDER 2, Z_OVER 3); 0 = not judged.
Z_NONE, Z_IN, Z_UNDER, Z_OVER = _coach.Z_NONE, _coach.Z_IN, _coach.Z_UNDER, _coach.Z_OVER


@dataclass
class Summary:
    session_id: int
    device: str
    start_utc: float | None
    status: str                 # closed / open / torn: open and torn cover what was whole
    mode: str
    placement: int
    frame_ms: int
    duration_s: float           # every frame in the file
    run_s: float                # frames in RUN (all frames when the file has no state events)
    run_from_states: bool       # False: no state events, the whole session was taken as the run
    judged_s: float             # run frames with an effort value and no quality flag
    in_band_s: float
    under_s: float
    over_s: float
    pct_in_band: float | None   # in_band_s / judged_s x 100; None when nothing was judged
    flagged_s: float            # run frames with any quality flag (the coach's frames_bad)
    uncalibrated_s: float       # unflagged run frames without effort (frames_uncalibrated)
    longest_in_band_s: float
    mean_effort: float | None   # %MVC over judged run frames
    fade_onset_min: int | None  # None: the brace never faded
    cues: dict                  # {"under", "over", "back", "check_sensor": count}
    band: tuple                 # (low, target, high) %MVC
    cal_rest: int
    cal_mvc: int
    first_third_pct: float | None   # in-band % of the judged frames in the run's first third
    last_third_pct: float | None    # ... and in its last third
    # The fatigue index (history/fatigue.py): medians in the run's first and last thirds, and
    # its mean change within the warm-up holds (%), over holds_measured holds.
    fatigue_first: float | None = None
    fatigue_last: float | None = None
    hold_fatigue_pct: float | None = None
    holds_measured: int = 0
    # The runner's cadence (steps/min): median of the run's signal pairs that had a step rhythm.
    cadence_spm: float | None = None

    def as_dict(self):
        """Every field, and the derived figures (cues_total, excluded_s, holding,
        fatigue_change) for readers of the JSON; from_dict ignores those."""
        d = asdict(self)
        d["band"] = list(self.band)
        d["cues_total"] = self.cues_total
        d["excluded_s"] = self.excluded_s
        d["holding"] = self.holding
        d["fatigue_change"] = self.fatigue_change
        return d

    @classmethod
    def from_dict(cls, d):
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in d]
        if missing:
            raise ValueError("summary is missing %s" % ", ".join(missing))
        kw = {n: d[n] for n in names}
        kw["band"] = tuple(kw["band"])
        kw["cues"] = dict(kw["cues"])
        return cls(**kw)

    @property
    def cues_total(self):
        """Every cue the runner felt, of all four kinds (the belt's trailer counts the same)."""
        return sum(self.cues.values())

    @property
    def excluded_s(self):
        """Run time no percentage counts: bad signal, or no effort value."""
        return self.flagged_s + self.uncalibrated_s

    @property
    def holding(self):
        """How the brace held: the last third's in-band % minus the first third's, in points
        (0: as good at the end as at the start; negative: it sagged). None when a third has
        nothing judged."""
        if self.first_third_pct is None or self.last_third_pct is None:
            return None
        return self.last_third_pct - self.first_third_pct

    @property
    def fatigue_change(self):
        """The fatigue index in the run's last third against its first, % of the first: negative
        when the muscle's signal slowed, as a tiring muscle's does. None when a third had too
        little steady effort to measure it (or the file has no signal pairs)."""
        if not self.fatigue_first or self.fatigue_last is None:
            return None
        return 100.0 * (self.fatigue_last / self.fatigue_first - 1.0)


def run_mask(sd):
    """Frames of the run: state RUN; every frame when the file has no state events (a session
    started by command, outside the run flow)."""
    if not sd.has_states:
        return np.ones(sd.frames, dtype=bool)
    return sd.state == State.RUN


def zones(effort, band_pm):
    """Z_IN / Z_UNDER / Z_OVER per frame against (low, target, high) in 0.1 %MVC, Z_NONE where
    effort is NaN. Compared in whole 0.1 %MVC units, as the belt compares."""
    with np.errstate(invalid="ignore"):
        pm = np.rint(np.asarray(effort, dtype=np.float64) * 10.0)
        z = np.where(pm < band_pm[0], Z_UNDER, np.where(pm > band_pm[2], Z_OVER, Z_IN))
    return np.where(np.isnan(pm), Z_NONE, z).astype(np.uint8)


def rolling_mean(x, window, min_valid=1):
    """Means of x over every full window of `window` samples, ignoring NaN: element s covers
    x[s:s + window]. NaN where fewer than min_valid samples are numbers. Empty when x is
    shorter than the window."""
    x = np.asarray(x, dtype=np.float64)
    if window < 1 or len(x) < window:
        return np.empty(0)
    ok = ~np.isnan(x)
    s = np.concatenate(([0.0], np.cumsum(np.where(ok, x, 0.0))))
    c = np.concatenate(([0], np.cumsum(ok)))
    tot = s[window:] - s[:-window]
    cnt = c[window:] - c[:-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt >= max(min_valid, 1), tot / cnt, np.nan)


def runs(a):
    """Run-length encoding: (values, starts, lengths) of the stretches of equal values."""
    a = np.asarray(a)
    if len(a) == 0:
        return a[:0], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], np.flatnonzero(a[1:] != a[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [len(a)])))
    return a[starts], starts, lengths


def longest_stretch(inband, bad, bridge_frames):
    """Frames in the longest stretch of `inband`, where a stretch of `bad` frames shorter than
    bridge_frames with in-band frames on both sides joins them (and counts in the length)."""
    code = np.where(inband, 1, np.where(bad, 2, 0))
    vals, _, lens = runs(code)
    if len(vals) == 0:
        return 0
    prev = np.concatenate(([0], vals[:-1]))
    nxt = np.concatenate((vals[1:], [0]))
    vals = np.where((vals == 2) & (lens < bridge_frames) & (prev == 1) & (nxt == 1), 1, vals)
    v2, _, l2 = runs(np.repeat(vals, lens))
    inb = l2[v2 == 1]
    return int(inb.max()) if len(inb) else 0


def fade_onset(effort_run, low, frame_ms, window_s=FADE_WINDOW_S, min_judged=FADE_MIN_JUDGED):
    """The first whole minute m of the run such that every full window starting at or after it
    has a mean below `low` (and there is at least one such window); None when it never fades.
    effort_run: the run's effort, NaN where not judged. Windows with less than min_judged of
    their frames judged have no mean and neither hold nor break a fade."""
    w = int(round(window_s * 1000.0 / frame_ms))
    per_min = int(round(60000.0 / frame_ms))
    r = rolling_mean(effort_run, w, int(np.ceil(min_judged * w)))
    valid = ~np.isnan(r)
    if not valid.any():
        return None
    held = np.flatnonzero(valid & (r >= low))
    m = int(held[-1]) // per_min + 1 if len(held) else 0
    return m if valid[m * per_min:].any() else None


def thirds(z_run):
    """In-band % of the judged frames in the first and in the last third of the run's frames
    (z_run: the run's zones in order, Z_NONE where not judged); None for a third with nothing
    judged, or a run shorter than three frames."""
    k = len(z_run) // 3

    def pct(part):
        judged = int((part != Z_NONE).sum())
        return 100.0 * int((part == Z_IN).sum()) / judged if judged else None
    if k == 0:
        return None, None
    return pct(z_run[:k]), pct(z_run[len(z_run) - k:])


CADENCE_MIN_POINTS = 3     # signal pairs with a rhythm (30 s of the run) for a median cadence


def run_cadence(sd, run):
    """Median cadence (steps/min) of the signal pairs taken in the run while the belt found a
    step rhythm (NaN pairs have none: standing, a held brace, before the rhythm was found);
    None with fewer than CADENCE_MIN_POINTS, or when under half of the run's pairs had a rhythm:
    a signal with no steps in it now and then passes the belt's rhythm test by chance (a
    "cadence" of 214 in a virtual run with no stride), a runner's stride does all the time."""
    f = sd.signal_frame
    inside = (f >= 0) & (f < sd.frames)
    in_run = np.zeros(len(f), dtype=bool)
    in_run[inside] = run[f[inside]]
    v = sd.cadence[in_run & ~np.isnan(sd.cadence)]
    if len(v) < CADENCE_MIN_POINTS or 2 * len(v) < int(in_run.sum()):
        return None
    return float(np.median(v))


def summarize(sd):
    """Summary of one SessionData (docs/analytics.md defines every figure)."""
    def sec(n):                 # frames to seconds, exact to the millisecond
        return int(n) * sd.frame_ms / 1000.0

    run = run_mask(sd)
    flagged = run & (sd.quality != 0)
    judged = run & ~flagged & ~np.isnan(sd.effort)
    z = np.where(judged, zones(sd.effort, sd.band_pm), Z_NONE)
    counts = np.bincount(z, minlength=4)
    n_judged = int(judged.sum())
    low = sd.band_pm[0] / 10.0
    first, last = thirds(z[run])
    fat_first, fat_last = fatigue.run_thirds(sd, run)
    holds = fatigue.hold_changes(sd)
    cues = {name: 0 for name in CUE_NAMES.values()}
    for _, kind, _ in sd.events:
        if kind in CUE_NAMES:
            cues[CUE_NAMES[kind]] += 1
    return Summary(
        session_id=int(sd.session_id), device=sd.device, start_utc=sd.start_utc,
        status=sd.status, mode=sd.mode, placement=int(sd.placement), frame_ms=int(sd.frame_ms),
        duration_s=sec(sd.frames), run_s=sec(run.sum()), run_from_states=sd.has_states,
        judged_s=sec(n_judged), in_band_s=sec(counts[Z_IN]),
        under_s=sec(counts[Z_UNDER]), over_s=sec(counts[Z_OVER]),
        pct_in_band=100.0 * int(counts[Z_IN]) / n_judged if n_judged else None,
        flagged_s=sec(flagged.sum()),
        uncalibrated_s=sec((run & ~flagged & np.isnan(sd.effort)).sum()),
        longest_in_band_s=sec(longest_stretch(z == Z_IN, flagged,
                                              int(np.ceil(BRIDGE_MS / sd.frame_ms)))),
        mean_effort=float(np.mean(sd.effort[judged], dtype=np.float64)) if n_judged else None,
        fade_onset_min=fade_onset(np.where(judged, sd.effort, np.nan)[run], low, sd.frame_ms),
        cues=cues, band=tuple(float(b) for b in sd.band),
        cal_rest=int(sd.calibration[0]), cal_mvc=int(sd.calibration[1]),
        first_third_pct=first, last_third_pct=last,
        fatigue_first=fat_first, fatigue_last=fat_last,
        hold_fatigue_pct=float(np.mean(holds)) if holds else None, holds_measured=len(holds),
        cadence_spm=run_cadence(sd, run))
