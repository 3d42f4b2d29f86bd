"""Real surface EMG through the firmware chain, on both interpreters (`corecue replay`'s path):
BioSPPy's emg_1.txt (BSD-3) and biosignalsnotebooks' emg_fatigue (MIT), each calibrated on its own
rest and strongest contraction, against the offline amplitude reference of bench/real_recordings.py,
and biosignalsnotebooks' adductor pollicis twitches (MIT); all in tests/fixtures/recordings/ (README
there; docs/performance.md has the figures)."""
import os
import sys

import numpy as np
import pytest

from corecue.interp import ROOT, firmware_module, micropython_path

sys.path.insert(0, os.path.join(ROOT, "bench"))
import real_recordings as rr  # noqa: E402
import real_twitches  # noqa: E402

_cal = firmware_module("belt.calibration")
_effort = firmware_module("belt.effort")
INTERPRETERS = ["cpython"] + (["micropython"] if micropython_path() else [])


@pytest.fixture(scope="module")
def replays():
    return {(i, c): rr.replay(i, c) for i in INTERPRETERS for c in (False, True)}


def test_the_fixture_is_the_recording_cropped():
    x = rr.load()
    assert len(x) == 30000 and x.min() >= 1412 and x.max() <= 2443
    assert x[:3].tolist() == [2034, 2011, 2004]     # BioSPPy's first samples, unchanged


def test_both_interpreters_read_the_real_recording_the_same(replays):
    for clean in (False, True):
        frames = [replays[i, clean][0].frames for i in INTERPRETERS]
        assert all(f == frames[0] for f in frames)
        assert len(frames[0]) == 300


def test_the_chain_follows_the_amplitude_of_real_emg(replays):
    res, x = replays["cpython", True]
    assert res.reasons == 0                            # a good calibration
    fw = np.array([e for e, _ in res.frames], float) / 10.0
    q = np.array([q for _, q in res.frames])
    ref = rr.reference(x)
    r, lag = rr.agreement(fw, ref)
    assert r > 0.95 and 0 <= lag <= 3                  # at most 300 ms behind a zero-phase one
    rest, con = rr.segments(fw)
    assert rest < 6.0                                  # rest reads as rest ...
    assert con > 50.0                                  # ... the strong contraction as one
    # not an artefact; one frame of its onset is taken for hum (its real 45-55 Hz power, 14 % of
    # it, against a hum estimate still on the rest before)
    assert np.sum(q[rr.CONTRACTION[0]:rr.CONTRACTION[1]] != 0) <= 1


def test_a_steady_tone_at_rest_is_flagged_as_hum_and_calibrated_away(replays):
    # As recorded, emg_1's rest is mostly a 500 Hz tone (the 10th harmonic of 50 Hz): periodic in
    # 100 samples, the chain takes it for mains hum and flags the rest frames. Steady at the
    # calibration, it is part of the rest level, which the quadrature law subtracts: the
    # calibration is accepted and the rest reads as rest.
    res, x = replays["cpython", False]
    assert res.reasons == 0
    q = np.array([q for _, q in res.frames])
    assert np.all(q[55:150] & _effort.Q_HUM != 0)
    fw = np.array([e for e, _ in res.frames], float) / 10.0
    r, lag = rr.agreement(fw, rr.reference(x))
    assert r > 0.9 and 0 <= lag <= 3
    assert rr.segments(fw)[0] < 10.0


def test_the_chain_follows_a_muscle_in_cyclic_work_to_fatigue():
    """emg_fatigue: 127 s of a biceps flexed and extended until it tires, its amplitude growing
    as it does. The firmware follows the reference through every cycle, reads its contractions
    at the reference's level (about 100 %MVC of its first cycle) and its relaxations as rest,
    the same on both interpreters."""
    runs = {i: rr.replay_fatigue(i) for i in INTERPRETERS}
    assert all(runs[i][0].frames == runs["cpython"][0].frames for i in INTERPRETERS)
    res, x = runs["cpython"]
    assert res.reasons == 0
    fw = np.array([e for e, _ in res.frames], float) / 10.0
    ref = rr.reference(x, rr.FATIGUE_REST, rr.FATIGUE_BRACE)
    r, lag = rr.agreement(fw, ref)
    assert r > 0.97 and 0 <= lag <= 3
    rest, con = rr.segments_by_reference(fw, ref)
    ref_rest, ref_con = rr.segments_by_reference(ref, ref)
    assert rest < 4.0 and abs(con - ref_con) < 0.1 * ref_con, (rest, con, ref_con)


def test_three_different_real_contractions_make_a_good_calibration():
    """emg_fatigue's cycles 1-3, then 4-6, as a calibration's braces: real braces that differ as
    a person's do (6 % and 17 % apart in their strongest second) are accepted, and both
    interpreters give the same verdict and levels."""
    got = {i: rr.cycle_calibrations(i) for i in INTERPRETERS}
    for picks, res in got["cpython"].items():
        assert res.reasons == 0, (picks, res.reasons)
        assert len(res.trials) == 3 and 0 < res.spread_pm < 300
        for i in INTERPRETERS:
            other = got[i][picks]
            assert (other.rest, other.mvc, other.trials) == (res.rest, res.mvc, res.trials)


def test_a_thumbs_real_twitches_are_neither_hum_nor_a_maximum():
    """biosignalsnotebooks' adductor pollicis: rest with about 25 twitches of 0.2-0.5 s and no
    mains hum. Each pair of loud blocks made the mains estimate on its own, and 196 of its 876
    frames were flagged as hum; its twitches taken for braces are too short to be a maximum."""
    x = real_twitches.load_twitches()
    assert len(x) == 87600 and x.max() <= 4095
    frames = []
    for interp in INTERPRETERS:
        run, cal, spans = real_twitches.replay_twitches(interp)
        assert len(spans) >= 20
        assert not [q for _, q in run.frames if q & _effort.Q_HUM]
        assert cal.reasons == _cal.R_TOO_SHORT
        frames.append(run.frames)
    assert all(f == frames[0] for f in frames)
