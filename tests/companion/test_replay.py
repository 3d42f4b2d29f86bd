"""`corecue replay` end to end: CSV in, the firmware's chain under each interpreter, CSV out."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from corecue.twin import synth
from corecue.commands.demo import write_csv


def corecue(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "corecue", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    cal_adc, phases = synth.calibration()
    prof = synth.run_profile(minutes=1.0)
    run_adc = synth.render(prof["effort"], prof["running"], prof["hr"], prof["cadence"], seed=9)
    write_csv(d / "cal.csv", cal_adc, phases)
    write_csv(d / "raw.csv", run_adc)
    return d, prof


def read_out(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t_ms", "effort_pct", "quality"]
    return rows[1:]


def test_both_interpreters_give_identical_output(recordings):
    d, prof = recordings
    outs = {}
    for interp in ("micropython", "cpython"):
        out = d / f"out-{interp}.csv"
        p = corecue("replay", str(d / "raw.csv"), "--calibration", str(d / "cal.csv"),
                    "--mode", "emg_raw", "-o", str(out), "--interpreter", interp)
        assert p.returncode == 0, p.stderr
        assert "600 frames" in p.stdout
        outs[interp] = read_out(out)
    assert outs["micropython"] == outs["cpython"]
    rows = outs["micropython"]
    assert [int(r[0]) for r in rows[:3]] == [100, 200, 300]
    eff = np.array([float(r[1]) for r in rows])
    truth = synth.stride_truth(prof["effort"], prof["cadence"])[:len(eff)]
    good = np.array([r[2] == "0" for r in rows])
    assert np.sqrt(np.mean((eff[good] - truth[good]) ** 2)) < 2.0


BAD = [
    ("empty", "", "empty file"),
    ("header", "time,value\n0,2048\n", "missing column t_ms, adc"),
    ("text", "t_ms,adc\n0,2048\n1,abc\n", "line 3: adc is not a number: 'abc'"),
    ("unsorted", "t_ms,adc\n0,1\n1,1\n1,1\n", "line 4: time not increasing"),
    ("range", "t_ms,adc\n0,1\n1,5000\n", "line 3: adc 5000 out of range 0..4095"),
    ("rate", "t_ms,adc\n0,1\n10,1\n20,1\n", "samples are 10 ms apart; this sensor mode expects 1 ms (1000 Hz)"),
    ("nosamples", "t_ms,adc\n", "no samples after the header"),
    ("short", "t_ms,adc\n0,1\n1\n", "line 3: expected 2 cells, found 1"),
    ("gap", "t_ms,adc\n0,1\n1,1\n2,1\n9,1\n10,1\n", "line 5: a gap of 7 ms after 2 ms"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_raw_file_is_one_line_and_changes_nothing(recordings, tmp_path, name, text, message):
    d, _ = recordings
    raw = tmp_path / f"{name}.csv"
    raw.write_text(text)
    out = tmp_path / "out.csv"
    p = corecue("replay", str(raw), "--calibration", str(d / "cal.csv"), "-o", str(out))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(raw) in lines[0], p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()


def test_calibration_phases_must_follow_the_procedure(recordings, tmp_path):
    d, _ = recordings
    cal = tmp_path / "cal.csv"
    cal.write_text("t_ms,adc,phase\n0,2048,rest\n1,2048,pause\n")
    p = corecue("replay", str(d / "raw.csv"), "--calibration", str(cal), "-o",
                str(tmp_path / "o.csv"))
    assert p.returncode == 2
    assert "line 3: phase pause cannot follow rest" in p.stderr


def test_missing_file_and_unknown_mode(recordings, tmp_path):
    d, _ = recordings
    p = corecue("replay", str(tmp_path / "nope.csv"), "--calibration", str(d / "cal.csv"),
                "-o", str(tmp_path / "o.csv"))
    assert p.returncode == 2 and "cannot read " in p.stderr and "nope.csv: there is no such" \
        in p.stderr
    p = corecue("replay", str(d / "raw.csv"), "--calibration", str(d / "cal.csv"), "--mode",
                "sonar", "-o", str(tmp_path / "o.csv"))
    assert p.returncode == 2 and "unknown sensor mode 'sonar'" in p.stderr


def test_a_failed_calibration_leaves_effort_blank(recordings, tmp_path):
    d, _ = recordings
    cal = tmp_path / "cal.csv"
    rows = ["t_ms,adc,phase"] + [f"{i},2048,{'rest' if i < 10000 else 'brace'}"
                                 for i in range(16000)]
    cal.write_text("\n".join(rows) + "\n")
    out = tmp_path / "o.csv"
    p = corecue("replay", str(d / "raw.csv"), "--calibration", str(cal), "-o", str(out),
                "--interpreter", "micropython")
    assert p.returncode == 1, p.stderr                  # refused: the documented exit 1
    assert p.stderr.startswith("corecue: the belt's calibration refused") and \
        "no muscle signal" in p.stderr and p.stderr.count("\n") == 1
    assert all(r[1] == "" for r in read_out(out))


def _raw(path, times):
    path.write_text("t_ms,adc\n" + "".join(f"{t},{2048 + (t * 7919) % 61 - 30}\n" for t in times))
    return path


def test_a_gap_is_refused_unless_allowed(recordings, tmp_path):
    d, _ = recordings
    raw = _raw(tmp_path / "gappy.csv", list(range(0, 3000)) + list(range(3500, 6000)))
    out = tmp_path / "out.csv"
    args = ["replay", str(raw), "--calibration", str(d / "cal.csv"), "-o", str(out),
            "--interpreter", "cpython"]
    p = corecue(*args)
    assert p.returncode == 2 and not out.exists()
    assert p.stderr.strip().splitlines() == [
        f"corecue: {raw}: line 3002: a gap of 501 ms after 2999 ms (samples are 1 ms apart); "
        "replay would join its two sides: cut the recording there, or give --allow-gaps"]
    p = corecue(*args, "--allow-gaps")
    assert p.returncode == 0, p.stderr
    assert "1 gaps in" in p.stdout and "(500 ms in all)" in p.stdout
    assert len(read_out(out)) == 55


def test_a_recording_at_another_rate_than_its_calibration_is_refused(tmp_path):
    """Both within the mode's 5 %, but 2 % apart: every level scales with the rate."""
    cal = tmp_path / "cal.csv"
    cal.write_text("t_ms,adc,phase\n" + "".join(
        f"{t * 10},{200 + (t % 7)},{'rest' if t < 1000 else 'brace'}\n" for t in range(1500)))
    raw = _raw(tmp_path / "slow.csv", [i * 51 // 5 for i in range(3000)])   # 10.2 ms apart
    p = corecue("replay", str(raw), "--calibration", str(cal), "--mode", "emg_env", "-o",
                str(tmp_path / "o.csv"), "--interpreter", "cpython")
    assert p.returncode == 2
    line, = p.stderr.strip().splitlines()
    assert "sampled every 10.2 ms but its calibration" in line and "every 10 ms" in line
    assert not (tmp_path / "o.csv").exists()


def test_a_firmware_tree_from_before_the_spectral_calibration_still_replays(tmp_path, monkeypatch):
    # The benches' `--firmware DIR` runs an older tree (`git archive`) as a baseline through
    # this replay driver. A tree from before the calibration measured its spectrum has no slow
    # means on its chain and a calibrate() of rest and MVC only; it is made here from this one.
    import shutil
    from corecue.interp import FIRMWARE
    from corecue.twin import replay
    old = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, old)
    path = old / "belt" / "effort.py"
    text = path.read_text()
    for a, b in (("def calibrate(self, rest_q4, mvc_q4, fi_q8=0, rest_fi_q8=0):",
                  "def calibrate(self, rest_q4, mvc_q4):\n        fi_q8 = rest_fi_q8 = 0"),
                 ("def slow_amp(self)", "def _no_slow_amp(self)"),
                 ("def slow_step(self)", "def _no_slow_step(self)")):
        assert a in text
        text = text.replace(a, b)
    path.write_text(text)
    cal_adc, phases = synth.calibration()
    run_adc = synth.render(np.full(20000, 20.0), np.ones(20000, bool), np.full(20000, 150.0),
                           np.full(20000, 170.0), seed=3)
    new = replay.run_chain("emg_raw", cal_adc, phases, run_adc, "cpython")
    monkeypatch.setattr(replay, "FIRMWARE", str(old))
    got = replay.run_chain("emg_raw", cal_adc, phases, run_adc, "cpython")
    assert got.reasons == 0 and len(got.frames) == len(new.frames) == 200
    # the same levels; without the index its steady 20 % brace reads within 1 %MVC (10 per mille)
    assert (got.rest, got.mvc) == (new.rest, new.mvc)
    assert abs(np.mean([e for e, _ in got.frames[100:]]) -
               np.mean([e for e, _ in new.frames[100:]])) < 10
