"""The fatigue index of a run and of its warm-up holds, from the signal pairs the belt logs every
10 s (SessionData.fatigue; docs/signal.md says what the index is, docs/analytics.md what these
figures can and cannot tell). history/analytics.py puts them in the Summary.

The index is a ratio of two of the chain's 6.4 s means, mean |first difference| over amplitude:
for a fixed spectrum shape it is proportional to the EMG's mean frequency, which falls as a
muscle tires. It is only the muscle's while the muscle dominates the signal, so a pair counts
(`usable`) only when the 6.4 s it averages were all clean, judged frames of one part of the
session at 10 %MVC or more: below that the electrode noise, whose spectrum is flat and fast,
lifts it, and at rest it is the noise's index, not the muscle's.

    usable(sd, mask)            bool per signal pair
    run_thirds(sd, run)         (median index in the run's first third, in its last), None each
                                with fewer than MIN_POINTS usable pairs
    hold_changes(sd)            [% change of the index from the first to the last usable pair of
                                each warm-up hold that has two]
"""
import numpy as np

from corecue.history.sessiondata import State
from corecue.interp import firmware_module

_fmt = firmware_module("belt.sessionformat")
_Mark = firmware_module("belt.runflow").Mark

SPAN_FRAMES = 64            # the chain's means cover 6.4 s (belt/emgframe.py, 64 clean blocks)
MIN_EFFORT = 10.0           # %MVC over those frames: the muscle, not the noise floor
MIN_POINTS = 3              # usable pairs in a third of the run (30 s) for its median
HOLDS = (_Mark.SIDE_PLANK_LEFT, _Mark.SIDE_PLANK_RIGHT, _Mark.BIRD_DOG)


def usable(sd, mask):
    """Signal pairs whose index is the muscle's: the SPAN_FRAMES frames up to the pair's own all
    in `mask`, unflagged, and at MIN_EFFORT or more."""
    with np.errstate(invalid="ignore"):
        ok = mask & (sd.quality == 0) & (sd.effort >= MIN_EFFORT)
    c = np.concatenate(([0], np.cumsum(ok)))
    f = sd.signal_frame
    inside = (f >= SPAN_FRAMES - 1) & (f < sd.frames)
    fi = np.where(inside, f, SPAN_FRAMES - 1)
    full = (c[fi + 1] - c[fi + 1 - SPAN_FRAMES]) == SPAN_FRAMES
    return inside & full & ~np.isnan(sd.fatigue)


def run_thirds(sd, run):
    """Median index of the usable pairs in the first and in the last third of the run's frames
    (the thirds of analytics.thirds); None for a third with fewer than MIN_POINTS."""
    idx = np.flatnonzero(run)
    k = len(idx) // 3
    if k == 0:
        return None, None
    ok = usable(sd, run)
    f = sd.signal_frame

    def med(sel):
        v = sd.fatigue[ok & sel]
        return float(np.median(v)) if len(v) >= MIN_POINTS else None
    return med(f <= idx[k - 1]), med(f >= idx[len(idx) - k])


def hold_spans(sd):
    """[(first frame, end frame)] of each warm-up hold: from its mark to the next mark or state
    change (the belt marks the start of every hold, and the end of one cut short)."""
    ev = [(i, k, a) for i, k, a in sd.events if k in (_fmt.EV_MARK, _fmt.EV_STATE)]
    spans = []
    for j, (i, k, a) in enumerate(ev):
        if k == _fmt.EV_MARK and a in HOLDS:
            end = ev[j + 1][0] if j + 1 < len(ev) else sd.frames
            spans.append((i, end))
    return spans


def hold_changes(sd):
    """The index's change within each warm-up hold, % of its first usable pair, for the holds
    with two usable pairs or more."""
    out = []
    frame = np.arange(sd.frames)
    for a, b in hold_spans(sd):
        mask = (frame >= a) & (frame < b) & (sd.state == State.WARMUP)
        v = sd.fatigue[usable(sd, mask)]
        if len(v) >= 2:
            out.append(100.0 * (v[-1] / v[0] - 1.0))
    return out
