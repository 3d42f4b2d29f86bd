"""The virtual belt end to end: the firmware's main.py on the sim board under the MicroPython
interpreter, a whole scripted morning in accelerated time (calibrate at home, warm up, a 30-minute
run with a fade, an over-brace and the electrodes off for a minute, a 10-minute lie-down), then
its flash is read back and the session checked against the script."""
import csv
import subprocess
import sys

import pytest

from corecue.twin import mpbelt as virtual
from corecue.interp import firmware_module

fmt = firmware_module("belt.sessionformat")
read_session = firmware_module("belt.sessionread").read_session
scenarios = firmware_module("boards.scenarios")
RUN_MIN = 30


@pytest.fixture(scope="module")
def morning(tmp_path_factory):
    d = tmp_path_factory.mktemp("belt")
    motor = d / "motor.csv"
    # On a LittleFS image, as on the ESP32.
    lines, log = virtual.run(str(d / "flash"), RUN_MIN, "morning", str(motor), image=True)
    files = virtual.sessions(str(d / "flash"))
    return d, lines, log, files, motor


def _script():
    seg, ev, end = scenarios.morning(RUN_MIN)
    start = next(t for t, a, arg in ev if a == "press" and arg == "short")
    run_end = next(t for t, a, arg in ev if a == "press" and arg == "long")
    run0 = run_end - RUN_MIN * 60
    lapse = min(60, RUN_MIN * 6)
    windows = {}
    for frac, effort, contact in scenarios.LAPSES:
        t0 = run0 + int(RUN_MIN * 60 * frac)
        windows[(effort, contact)] = (t0, t0 + lapse)
    return start, run0, run_end, windows


def test_one_closed_session_is_logged_and_reported(morning):
    d, lines, log, files, _ = morning
    assert list(files) == [1]
    assert len(lines) == 1 and lines[0].startswith("session 1: duration 41:4")
    assert f"size: {len(files[1])} bytes" in lines[0]
    assert not any("failed" in l for l in log), log


def test_session_file_is_complete_and_its_summary_is_right(morning):
    _, lines, _, files, _ = morning
    hdr, frames, events, trailer, status = read_session(files[1])
    assert status == fmt.CLOSED
    assert hdr["band_low"] == 150 and hdr["band_high"] == 300 and hdr["cal_mvc"] > hdr["cal_rest"]
    # The trailer's figures agree with the frames and events themselves.
    calibrated = [e for e, q in frames if e >= 0]
    assert trailer["frames"] == len(frames)
    assert trailer["in_band"] == sum(1 for e in calibrated if 150 <= e <= 300)
    assert trailer["under"] == sum(1 for e in calibrated if e < 150)
    cues = [e for e in events if 1 <= e[1] <= 4]
    assert trailer["cues"] == len(cues)
    assert f"cues {len(cues)} " in lines[0]
    # 41:40 of frames: warm-up 97 s, prime, 30-minute run, 10-minute lie-down.
    assert abs(len(frames) - 25018) <= 5


def test_cues_fire_where_the_runner_left_the_band_and_nowhere_else(morning):
    _, _, _, files, _ = morning
    hdr, frames, events, trailer, status = read_session(files[1])
    start, run0, run_end, windows = _script()
    # The session opens 0.4 s after the short press is released: at rest the belt waits that
    # long for a second press (a double press asks for a sync, belt.button).
    t0 = start + 0.2 + 0.4

    def when(kind):
        return [t0 + f / 10 for f, k, _ in events if k == kind]

    fade, over, off = windows[(8, True)], windows[(45, True)], windows[(0, False)]
    under_cues = when(fmt.EV_CUE_UNDER)
    over_cues = when(fmt.EV_CUE_OVER)
    assert under_cues and over_cues
    # "Brace more" only during the fade: after the 3 s dwell (+ the window's reaction) ...
    assert all(fade[0] + 3 <= t <= fade[1] + 1 for t in under_cues), (under_cues, fade)
    assert under_cues[0] <= fade[0] + 4.5
    # ... "ease off" only during the over-brace, after its 5 s dwell.
    assert all(over[0] + 5 <= t <= over[1] + 1 for t in over_cues), (over_cues, over)
    assert over_cues[0] <= over[0] + 6.5
    # Electrodes off: no coaching at all, one "check sensor".
    assert not [t for t in under_cues + over_cues if off[0] <= t <= off[1] + 1]
    checks = when(fmt.EV_CHECK_SENSOR)
    assert len(checks) == 1 and off[0] <= checks[0] <= off[0] + 4
    # Each lapse ends with "back in band".
    backs = when(fmt.EV_BACK_IN_BAND)
    assert any(fade[1] < t <= fade[1] + 3 for t in backs)
    assert any(over[1] < t <= over[1] + 3 for t in backs)
    # The frames in the off minute are flagged, not passed as effort.
    f0, f1 = int((off[0] + 1 - t0) * 10), int((off[1] - t0) * 10)
    assert all(q for _, q in frames[f0:f1])


def test_motor_played_the_cues_and_the_lie_down_buzz(morning):
    _, _, _, files, motor = morning
    with open(motor) as f:
        rows = [(int(t), int(v)) for t, v in list(csv.reader(f))[1:]]
    assert rows[0][1] > 0 and rows[-1][1] == 0
    start, run0, run_end, windows = _script()
    # The lie-down ends with a buzz 10 minutes after the run.
    ends = [t for t, v in rows if v > 0 and t >= (run_end + 600) * 1000]
    assert ends and ends[0] <= (run_end + 602) * 1000
    # Nothing buzzes in the middle of the steady stretch between the first two lapses.
    quiet = (windows[(8, True)][1] + 5, windows[(45, True)][0])
    assert not [t for t, v in rows if quiet[0] * 1000 < t < quiet[1] * 1000 and v > 0]


def test_the_same_folder_is_the_same_belt(tmp_path):
    flash = str(tmp_path / "flash")
    virtual.run(flash, 1, "morning")
    lines, _ = virtual.run(flash, 1, "morning")
    assert lines[0].startswith("session 2:")
    assert sorted(virtual.sessions(flash)) == [1, 2]


def test_cli_reports_and_refuses_bad_input(tmp_path):
    p = subprocess.run([sys.executable, "-m", "corecue", "virtual", "run", str(tmp_path / "b"),
                        "--minutes", "1"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("belt session 1: length"), p.stderr
    p = subprocess.run([sys.executable, "-m", "corecue", "virtual", "run", str(tmp_path / "b"),
                        "--scenario", "marathon"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown scenario marathon" in p.stderr
    assert "Traceback" not in p.stderr


def test_a_recording_plays_through_the_belt(tmp_path):
    """The sim sensor can replay a recording (here the numpy runner's calibration and a minute
    of running) instead of its own synthetic signal; the scenario's script still drives it."""
    import numpy as np
    from corecue.twin import synth
    cal, _ = synth.calibration()
    prof = synth.run_profile(minutes=1.0)
    run = synth.render(prof["effort"], prof["running"], prof["hr"], prof["cadence"], seed=3)
    rec = tmp_path / "rec.bin"
    np.concatenate([cal, run]).astype("<u2").tofile(rec)
    lines, log = virtual.run(str(tmp_path / "flash"), 1, "morning", recording=str(rec))
    assert any("calibration saved" in l for l in log), log
    assert lines and lines[0].startswith("session 1: duration 0:54") and "closed" in lines[0]
