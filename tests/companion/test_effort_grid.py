"""The second signal model (bench/muap.py, motor-unit action-potential trains) and a reduced form
of bench/effort_grid.py: the model is what its docstring says, and the firmware chain is scored on
it against its own truth (the full grid and its figures: docs/performance.md)."""
import os
import sys

import numpy as np
from scipy import signal

from corecue.interp import ROOT, micropython_path

sys.path.insert(0, os.path.join(ROOT, "bench"))
import effort_grid  # noqa: E402
import muap  # noqa: E402

INTERP = "micropython" if micropython_path() else "cpython"


def _mdf(x):
    f, p = signal.welch(x, fs=muap.FS, nperseg=512)
    c = np.cumsum(p)
    return float(np.interp(c[-1] / 2, c, f))


def test_recruitment_and_rate_coding_raise_the_amplitude_and_fatigue_compresses_the_spectrum():
    arv = [np.mean(np.abs(muap.muscle(np.full(5000, float(e)), seed=2))) for e in (5, 20, 60)]
    assert arv[0] < arv[1] < arv[2]
    assert not muap.muscle(np.zeros(2000)).any()             # nothing below threshold
    m1 = muap.muscle(np.full(20000, 20.0), 1.0, seed=3)
    m2 = muap.muscle(np.full(20000, 20.0), 0.75, seed=3)
    assert 0.70 < _mdf(m2) / _mdf(m1) < 0.80                 # the potentials stretched by 1/0.75


def test_the_truth_is_the_muscles_own_amplitude():
    n = 20 * muap.FS
    cad = np.full(n, 170.0)
    x, m = muap.render(np.full(n, 100.0), np.zeros(n, bool), np.full(n, 75.0), cad, seed=4)
    t = muap.truth(m, cad, muap.mvc_amplitude())
    assert abs(np.median(t[20:]) - 100.0) < 5.0               # 100 % excitation reads ~100 %
    assert x.dtype == np.uint16 and abs(np.median(x) - 2048) < 30


def test_the_firmware_on_both_models_at_the_reference_condition():
    cache = {}
    for model, bound in (("synth", 1.5), ("muap", 2.5)):
        r = effort_grid.run(model, {}, 0, 1.0, INTERP, cache)
        assert r is not None, model + ": calibration refused"
        # the firmware beats the textbook chain and the 1 s RMS on both models
        assert r["firmware"] < r["1 s moving RMS (20-450 Hz)"] < r[
            "textbook 20-450 Hz, rectify, 6 Hz low-pass"]
        # one run of 1 min is a noisy cell: the full cells are the grid's (docs/performance.md)
        # and the test below; this bound only guards against getting much worse
        assert r["firmware"] < bound, (model, r["firmware"])


def test_steady_hum_in_the_room_is_calibrated_away_on_both_models():
    cache = {}
    for model in ("synth", "muap"):
        r = effort_grid.run(model, {"hum": 20.0, "hum_hz": 60.0}, 0, 1.0, INTERP, cache)
        assert r is not None and r["firmware"] < 2.5, model


def test_the_motor_unit_model_meets_the_target_slow_deep_and_with_a_noisy_electrode():
    """Four of the grid's motor-unit cells in full (2 runs of 2 min). At 130 steps/min the
    window of the newest step blended at T / 0.48 s read 1.98 %MVC (one step of a sparse signal
    is a noisy mean); the stride's two steps alike read 1.37. With a 12-count noise floor the
    mean |first difference| alone read 1.74 (its ratio to the amplitude scatters with which
    units fire, and the floor is mostly in it); the mean of it and the amplitude's own window,
    1.46. At a 0.8 stride depth it read 1.56: the drop test's half steps took the deep pulse
    for drops, and a cable jerk's block, held out as the last clean block's mean, could be a
    quiet phase's; with the whole step's guard 1.53, and with the jerk's block taken from the
    same phase one step earlier as well, 1.34. Under a spectrum compressed by 25 % the 30 Hz
    high-pass kept 3 % less of the muscle and the cell read 2.42 (bias -1.41); with the
    calibration's muscle index making that up, 1.36."""
    cache = {}
    for cond in ({}, {"cadence": 130.0}, {"noise_floor": 12.0}, {"depth": 0.8}, {"scale": 0.75}):
        errs = [effort_grid.run("muap", cond, s, 2.0, INTERP, cache)["firmware"] for s in (0, 1)]
        rms = float(np.sqrt(np.mean(np.square(errs))))
        assert rms <= 1.5, (cond, rms)


def test_slow_cadence_and_deep_stride_pulse_meet_the_target_on_synth():
    # The grid's two hardest synth cells (docs/performance.md), in full: 2 runs of 2 min each.
    # Blending the step before with the newest up to a 0.48 s step (0.45 before) brought them
    # under 1.5 %MVC (1.54 and 1.51 before) at an unchanged 0.35 s worst step latency.
    cache = {}
    for cond in ({"cadence": 130.0}, {"depth": 0.8}):
        errs = [effort_grid.run("synth", cond, s, 2.0, INTERP, cache)["firmware"] for s in (0, 1)]
        rms = float(np.sqrt(np.mean(np.square(errs))))
        assert rms <= 1.5, (cond, rms)


def test_the_window_alone_over_two_equal_steps_is_the_two_step_truth():
    """window_oracle's span is the window's constant A: with alpha at 0.5 (A far above a step)
    the window is the truth's own two steps, and 0.48 s (the firmware's before the drop test)
    is not."""
    n = 30 * muap.FS
    cad = np.full(n, 170.0)
    effort = np.where(np.arange(n) < n // 2, 20.0, 8.0)
    _, m = muap.render(effort, np.ones(n, bool), np.full(n, 150.0), cad, seed=6)
    mvc = muap.mvc_amplitude()
    truth = muap.truth(m, cad, mvc)
    err = {span: np.sqrt(np.mean((effort_grid.window_oracle(m, cad, mvc, span_s=span)
                                  - truth)[effort_grid.SKIP:] ** 2)) for span in (0.48, 10.0)}
    assert err[10.0] < 0.1 < err[0.48], err


def test_window_latency_runs_the_firmware_with_the_span_it_names(tmp_path):
    import subprocess

    import corecue.twin.replay as replay
    import window_latency
    short = window_latency.firmware_with_span(replay.FIRMWARE, 480, str(tmp_path), False)
    with open(os.path.join(short, "belt", "emgframe.py")) as f:
        src = f.read()
        assert "(480 if fs[27] != 0 else 480)" in src and "if fs[27] > 1 and s0" in src
    home = replay.FIRMWARE
    try:
        own = window_latency.latency(170, 1, INTERP)
        replay.FIRMWARE = short
        before = window_latency.latency(170, 1, INTERP)
    finally:
        replay.FIRMWARE = home
    # the two steps with the drop test bring the step in sooner than the 480 ms window
    # without it (mean and worst), and the worst within the 0.4 s target
    assert 0.1 < own[0] < before[0] and own[1] < before[1] and own[1] < 0.4, (own, before)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "window_latency.py"),
                        "--spans", "480,x"], capture_output=True, text=True)
    assert p.returncode == 2 and "--spans" in p.stderr and "Traceback" not in p.stderr


def test_a_drop_on_the_synthetic_runner_reads_under_its_midpoint_within_0_4_s_at_slow_cadence():
    """20 % -> 5 % on the synthetic runner (its heart and foot strikes stay after the drop, so
    the newest half step settles near 0.3 of the one before, not 0.25) at 130 and 150 steps/min,
    at 8 points of the stride, for 4 runners: bench/window_latency.py's cells. With the drop
    test at 0.4 and the level half the window, half the step before times the ratio, the worst
    read 0.43 and 0.40 s: the two steps' own mean passes the midpoint one step after the drop,
    0.46 s at 130, so the level has to lead it."""
    import window_latency
    for cadence in (130, 150):
        mean, worst = window_latency.latency(cadence, 4, INTERP)
        assert worst <= 0.4, (cadence, mean, worst)


def test_the_high_pass_keeps_less_of_a_compressed_spectrum_on_both_models():
    # The grid prints these for docs/performance.md: a compressed spectrum puts more of the
    # muscle under the firmware's 30 Hz high-pass, on either model.
    for model in ("synth", "muap"):
        keeps = effort_grid.highpass_keeps(model, (0.75, 1.0, 1.15), seconds=5)
        assert 90.0 < keeps[0] < keeps[1] < keeps[2] < 101.0, (model, keeps)
