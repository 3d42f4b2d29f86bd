"""The cadence the belt logs, on the synthetic runner with its ECG (corecue/twin/synth.py), run by
the real firmware chain: a rhythm is logged only where it is the runner's stride."""
import numpy as np

from corecue.interp import micropython_path
from corecue.twin import synth
from corecue.twin.replay import run_chain

INTERP = "micropython" if micropython_path() else "cpython"


def _cadences(effort, running, spm, hr=150.0, seconds=40, seed=3):
    n = seconds * synth.FS
    x = synth.render(np.full(n, effort), np.full(n, running), np.full(n, hr), np.full(n, spm),
                     seed=seed, spikes_per_min=0.0)
    cal_adc, cal_phases = synth.calibration()
    res = run_chain("emg_raw", cal_adc, cal_phases, x, INTERP, signal=True)
    return np.array([c for _, c in res.signal][100:])       # after the first 10 s


def test_a_runner_bracing_has_the_stride_as_cadence():
    c = _cadences(20.0, True, 170.0)
    assert (np.abs(c - 170) <= 4).mean() >= 0.9, c


def test_the_heartbeat_is_no_cadence():
    # relaxed at 150 beats/min, standing or jogging without a brace: the envelope's rhythm is
    # the ECG's, which was logged as a cadence of 148-160
    for running in (False, True):
        c = _cadences(2.0, running, 170.0)
        assert (c == 0).all(), (running, c[c > 0][:20])


def test_cadences_beyond_the_lags_searched_are_no_cadence():
    # 112 steps/min (a walk) and 230 (a sprint): the autocorrelation's peak lies beyond the
    # longest or the shortest lag searched, and was logged as 122-125 and 222
    for spm in (112.0, 230.0):
        c = _cadences(20.0, True, spm)
        assert (c == 0).all(), (spm, c[c > 0][:20])
    # inside the range, near both ends, the stride is found
    for spm in (128.0, 215.0):
        c = _cadences(20.0, True, spm)
        assert (np.abs(c - spm) <= 4).mean() >= 0.9, (spm, c)
