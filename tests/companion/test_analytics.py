"""corecue.history.analytics on sessions with known answers, written by the firmware's
SessionWriter and decoded by corecue.history.sessiondata; the in-band counts checked against the
belt's own coach."""
import dataclasses
import json

import numpy as np
import pytest
from test_sessiondata import (EV_BACK, EV_CHECK, EV_CUE_OVER, EV_CUE_UNDER, EV_MARK,
                              run_script, session_bytes)

from corecue.history import analytics as A
from corecue.interp import firmware_module
from corecue.history.sessiondata import SessionData, State, decode

_coach = firmware_module("belt.coach")


def step_run():
    """10 min at 25 %MVC, then 5 min at 10 % with a brace-more every 15 s; 2 ease-offs, a back
    and a check-sensor cue early on. Band 15-30 %."""
    run = [("f", 250, 0, 600), ("e", EV_CUE_OVER, 1), ("e", EV_BACK, 1), ("f", 250, 0, 600),
           ("e", EV_CUE_OVER, 1), ("e", EV_CHECK, 1), ("e", EV_MARK, 3), ("f", 250, 0, 4800)]
    for k in range(20):
        run += [("f", 100, 0, 150), ("e", EV_CUE_UNDER, 1 + min(k, 2))]
    return decode(session_bytes(run_script(run)))


@pytest.fixture(scope="module")
def step():
    return step_run()


def test_step_run_scores_as_worked_out(step):
    s = A.summarize(step)
    assert s.run_from_states and s.status == "closed"
    assert s.duration_s == pytest.approx((300 + 30 + 9000 + 200) / 10)
    assert (s.run_s, s.judged_s) == (pytest.approx(900), pytest.approx(900))
    assert (s.in_band_s, s.under_s, s.over_s) == (pytest.approx(600), pytest.approx(300), 0)
    assert s.pct_in_band == pytest.approx(100 * 600 / 900)
    assert s.longest_in_band_s == pytest.approx(600)
    assert s.fade_onset_min == 10
    # thirds of 9000 run frames: the first all in band, the last 3000 under
    assert (s.first_third_pct, s.last_third_pct, s.holding) == (100.0, 0.0, -100.0)
    assert s.cues_total == 24 and s.excluded_s == 0
    assert s.mean_effort == pytest.approx((600 * 25 + 300 * 10) / 900)
    assert s.cues == {"under": 20, "over": 2, "back": 1, "check_sensor": 1}
    assert (s.flagged_s, s.uncalibrated_s) == (0, 0)
    assert s.band == (15.0, 20.0, 30.0) and (s.cal_rest, s.cal_mvc) == (310, 4120)


def test_summary_round_trips_through_json(step):
    s = A.summarize(step)
    back = A.Summary.from_dict(json.loads(json.dumps(s.as_dict())))
    assert back == s and back.band == s.band
    d = dict(s.as_dict(), added_later=1)        # a field a later version stores is ignored
    assert A.Summary.from_dict(d) == s
    del d["in_band_s"]
    with pytest.raises(ValueError, match="missing in_band_s"):
        A.Summary.from_dict(d)


def test_counts_agree_with_the_belts_coach():
    """The run frames played to the firmware's Coach give the same in/under/over/bad/uncalibrated
    counts as the companion's summary (efforts on the stored 0.5 %MVC grid)."""
    rng = np.random.default_rng(3)
    eff = (rng.integers(20, 70, 3000) * 5).astype(int)
    eff[rng.random(3000) < 0.05] = -1
    q = np.where(rng.random(3000) < 0.04, 1 << rng.integers(0, 4, 3000), 0)
    run = [("f", int(e), int(f), 1) for e, f in zip(eff, q)]
    s = A.summarize(decode(session_bytes(run_script(run))))
    c = _coach.Coach()
    c.start(0)
    for i, (e, f) in enumerate(zip(eff, q)):
        c.handle(int(e), int(f), i * 100)
    got = c.summary()
    assert got["frames_in"] > 1000 and got["frames_bad"] > 50 and got["frames_uncalibrated"] > 50
    assert round(s.in_band_s * 10) == got["frames_in"]
    assert round(s.under_s * 10) == got["frames_under"]
    assert round(s.over_s * 10) == got["frames_over"]
    assert round(s.flagged_s * 10) == got["frames_bad"]
    assert round(s.uncalibrated_s * 10) == got["frames_uncalibrated"]


def test_without_state_events_the_whole_session_is_the_run_and_matches_the_trailer():
    run = [("f", e, 0, 1) for e in range(100, 360, 5)] * 20
    sd = decode(session_bytes(run))
    s = A.summarize(sd)
    assert not s.run_from_states and s.run_s == pytest.approx(sd.duration_s)
    t = sd.trailer
    assert (round(s.in_band_s * 10), round(s.under_s * 10), round(s.over_s * 10)) == (
        t["in_band"], t["under"], t["over"])


def test_effort_is_judged_as_stored_at_half_percent():
    """14.8 %MVC is stored as 15.0: in band for the companion, under for the belt's coach
    (docs/analytics.md, where the two differ)."""
    s = A.summarize(decode(session_bytes([("f", 148, 0, 10)])))
    assert s.in_band_s == pytest.approx(1.0) and s.under_s == 0


def test_nan_and_flagged_frames_are_not_judged():
    run = [("f", 200, 0, 100), ("f", -1, 0, 30), ("f", 200, 2, 20), ("f", 400, 0, 50)]
    s = A.summarize(decode(session_bytes(run_script(run))))
    assert (s.run_s, s.judged_s) == (pytest.approx(20), pytest.approx(15))
    assert (s.uncalibrated_s, s.flagged_s) == (pytest.approx(3), pytest.approx(2))
    assert (s.in_band_s, s.over_s) == (pytest.approx(10), pytest.approx(5))
    assert s.mean_effort == pytest.approx((100 * 20 + 50 * 40) / 150)
    nothing = A.summarize(decode(session_bytes(run_script([("f", -1, 0, 50)]))))
    assert nothing.pct_in_band is None and nothing.mean_effort is None
    assert nothing.fade_onset_min is None and nothing.longest_in_band_s == 0


def test_a_header_only_file_scores_nothing():
    raw = session_bytes([])
    for sd in (decode(raw), decode(raw[:40])):
        s = A.summarize(sd)
        assert sd.frames == 0 and (s.run_s, s.longest_in_band_s) == (0, 0)
        assert s.pct_in_band is None and s.fade_onset_min is None and s.status == sd.status
    assert decode(raw[:40]).status == "open"


@pytest.mark.parametrize("gap, longest", [
    ([("f", 200, 4, 9)], 100 + 9 + 100),        # 0.9 s flagged: bridged, counted
    ([("f", 200, 4, 10)], 100),                 # 1 s flagged (the coach's grace): broken
    ([("f", -1, 0, 1)], 100),                   # uncalibrated: broken
    ([("f", 100, 0, 1)], 100),                  # one frame under: broken
    ([("f", 200, 4, 3), ("f", 100, 0, 1)], 100),    # a flag next to a lapse: not bridged
])
def test_longest_in_band_stretch(gap, longest):
    run = [("f", 200, 0, 100)] + gap + [("f", 250, 0, 100), ("f", 100, 0, 20), ("f", 200, 0, 50)]
    s = A.summarize(decode(session_bytes(run_script(run))))
    assert s.longest_in_band_s == pytest.approx(longest / 10)


def test_rolling_mean_ignores_nan_and_needs_min_valid():
    x = np.array([1, 2, np.nan, 4, np.nan, np.nan, 7, 8], dtype=np.float32)
    got = A.rolling_mean(x, 3, min_valid=2)
    want = []
    for s in range(len(x) - 2):
        w = x[s:s + 3]
        want.append(np.nanmean(w) if np.count_nonzero(~np.isnan(w)) >= 2 else np.nan)
    np.testing.assert_allclose(got, want)
    assert len(A.rolling_mean(x, 9)) == 0


def fade(minutes_at):
    """fade_onset over a run given as [(minutes, %MVC)], band low 15 %."""
    e = np.concatenate([np.full(int(m * 600), v, dtype=np.float32) for m, v in minutes_at])
    return A.fade_onset(e, 15.0, 100)


def test_fade_onset_edges():
    assert fade([(10, 25), (5, 10)]) == 10
    assert fade([(10.5, 25), (5, 10)]) == 11      # the first whole minute after the brace held
    assert fade([(30, 20)]) is None               # never fades
    assert fade([(10, 15), (5, 10)]) == 10        # a mean on the low edge still holds
    assert fade([(5, 10)]) == 0                   # never braced: faded from the start
    assert fade([(10, 25), (5, 10), (2, 20)]) is None  # came back before the end
    assert fade([(10, 25), (0.9, 10)]) is None    # no full window starts after minute 10
    assert fade([(0.5, 25)]) is None              # shorter than one window
    # a flagged stretch (NaN) at the end neither holds nor breaks the fade
    assert fade([(10, 25), (3, 10), (3, np.nan)]) == 10


def test_summarize_an_hour_of_frames():
    n = 36000
    rng = np.random.default_rng(1)
    eff = np.clip(20 + np.cumsum(rng.choice([-0.5, 0, 0.5], n)), 0, 60).astype(np.float32)
    eff[rng.random(n) < 0.01] = np.nan
    q = (rng.random(n) < 0.02).astype(np.uint8)
    ev = [(0, 5, State.RUN)] + [(i, 1 + i % 4, 1) for i in range(0, n, 150)]
    sd = SessionData(1, "", None, 100, eff, q, ev, np.full(n, State.RUN, np.uint8),
                     (15.0, 20.0, 30.0), (0, 0), "emg_raw", 0, "closed", None,
                     {"band_low": 150, "band_target": 200, "band_high": 300})
    s = A.summarize(sd)
    assert s.run_s == pytest.approx(3600) and s.judged_s > 3400
    # Its cost is measured by bench/analytics_cost.py (docs/performance.md), not here.


def with_(base, **kw):
    return dataclasses.replace(base, **kw)


