"""How each figure of a run is put in words: the one place. `sync`, `sessions`, `show`, `report`,
the demo and `virtual run` all call these, so a figure reads the same wherever a runner meets
it. history/analytics.py computes the figures (Summary); docs/analytics.md defines both.

    duration(s)    "9:54", "1:05:12": a running watch's format, whole seconds
    when(t)        "2026-01-01 10:00 CET": local time with its zone (exports stay UTC)
    percent(v)     "78 %": never "100 %" unless every judged frame was in band, nor "0 %" unless none
    cues(s)        "6 cues (2 brace more, 1 ease off, 2 back in band, 1 check sensor)"
    fatigue(s)     "muscle signal 9 % slower in the last third than in the first"
    hold_fatigue(s) "muscle signal 5 % slower by the end of a hold (mean of 3)"
    one_line(s)    what sync, the demo and `virtual run` print for a run
"""
import datetime as _dt
import math

# Cue kinds (Summary.cues keys) in the words the belt's buzz means to the runner.
CUE_WORDS = (("under", "brace more"), ("over", "ease off"), ("back", "back in band"),
             ("check_sensor", "check sensor"))


def duration(s):
    """Whole seconds as M:SS, or H:MM:SS from an hour; "-" for None."""
    if s is None:
        return "-"
    s = int(math.floor(s + 1e-6))
    h, m, sec = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def when(t, with_seconds=False):
    """Unix seconds as the computer's local date and time with the zone's name."""
    if not t:
        return "date unknown"
    local = _dt.datetime.fromtimestamp(t).astimezone()
    text = local.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")
    zone = local.strftime("%Z") or local.strftime("UTC%z")
    return f"{text} {zone}"


def date(t):
    """The local date alone, for axis labels and ranges."""
    return _dt.datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d") if t else "-"


def whole_percent(v):
    """v rounded to a whole percent, but 100 only when v is 100 and 0 only when v is 0: 99.7 %
    in band is not "all of it", and 0.3 % is not "none"."""
    r = round(v)
    if r >= 100 and v < 100:
        return 99
    if r <= 0 < v:
        return 1
    return int(r)


def percent(v):
    return "-" if v is None else f"{whole_percent(v)} %"


def in_band(s):
    return "nothing judged" if s.pct_in_band is None else f"{percent(s.pct_in_band)} in band"


def cue_count(s):
    """"6 cues", "1 cue", "no cues": every cue the runner felt, of all four kinds."""
    n = s.cues_total
    return f"{n} cue{'s' if n != 1 else ''}" if n else "no cues"


def cues(s):
    """The count and each kind: "6 cues (2 brace more, 1 ease off, ...)"."""
    if not s.cues_total:
        return "no cues"
    kinds = ", ".join(f"{s.cues[k]} {w}" for k, w in CUE_WORDS if s.cues.get(k, 0))
    return f"{cue_count(s)} ({kinds})"


def fade(s):
    if s.fade_onset_min is None:
        return "held to the end"
    return f"faded from minute {s.fade_onset_min} of the run"


def left_out(s):
    """Run time not judged (bad signal, or no effort value): it counts in no percentage."""
    return f"{duration(s.excluded_s)} of bad signal left out"


def holding(s):
    """The last third of the run against the first, in points of time in band."""
    h = s.holding
    return "-" if h is None else f"{h:+.0f} points"


def _speed(pct):
    # The index follows the EMG's mean frequency: lower is a slower signal, as in a tiring muscle.
    r = round(abs(pct))
    if r == 0:
        return "muscle signal as fast"
    return f"muscle signal {r} % {'slower' if pct < 0 else 'faster'}"


def fatigue(s):
    """The fatigue index's change over the run, last third against first."""
    c = s.fatigue_change
    if c is None:
        return "fatigue index not measured"
    if round(abs(c)) == 0:
        return "muscle signal as fast in the last third as in the first"
    return f"{_speed(c)} in the last third than in the first"


def hold_fatigue(s):
    """The fatigue index's mean change within the warm-up holds."""
    if s.hold_fatigue_pct is None:
        return "fatigue index not measured in the warm-up holds"
    return f"{_speed(s.hold_fatigue_pct)} by the end of a hold (mean of {s.holds_measured})"


def cadence(s):
    """The runner's cadence over the run, as the belt measured it from the EMG's step rhythm."""
    if s.cadence_spm is None:
        return "cadence not measured"
    return f"cadence {round(s.cadence_spm)} steps/min"


def one_line(s):
    """A run at a glance: what sync, the demo and `virtual run` say of each session."""
    text = (f"length {duration(s.duration_s)}, run {duration(s.run_s)}: {in_band(s)}, "
            f"{cues(s)}, brace {fade(s)}")
    if s.excluded_s > 0:
        text += f"; {left_out(s)}"
    return text
