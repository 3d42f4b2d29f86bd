"""The fatigue index end to end on the companion's side: the signal pairs the firmware's own writer
logs every 10 s, decoded (history/sessiondata.py), scored within the run and the warm-up holds
(history/fatigue.py, Summary), across runs (history/trend.py) and worded (history/figures.py).
docs/analytics.md defines the figures."""
import numpy as np
import pytest

from corecue.history import analytics as A
from corecue.history import figures as F
from corecue.history import trend as T
from corecue.history.sessiondata import State, decode
from corecue.interp import firmware_module
from test_sessiondata import EV_MARK, session_bytes

Mark = firmware_module("belt.runflow").Mark


def _run(first, last, effort=250, frames=1800, q_middle=0):
    """A run of `frames` frames at `effort`: the fatigue index (x256) `first` in its first half,
    `last` in its second, cadence 164."""
    h = frames // 2
    return [("s", State.RUN), ("f", effort, 0, h, first, 164), ("f", effort, 0, 50, last, 164),
            ("f", effort, q_middle, 30, last, 164), ("f", effort, 0, frames - h - 80, last, 164),
            ("s", State.COOLDOWN)]


def test_the_signal_pairs_decode_at_their_frames_in_units():
    sd = decode(session_bytes([("f", 250, 0, 100, 0, 0), ("f", 250, 0, 200, 222, 171)]))
    assert sd.signal_frame.tolist() == [99, 199, 299]
    # the first pair is taken with frame 99, when the chain had no figures yet: NaN, not 0
    assert np.isnan(sd.fatigue[0]) and np.isnan(sd.cadence[0])
    # stored at x64 and in 2 steps/min: 222 -> 224 / 256, 171 -> 172
    assert sd.fatigue[1:].tolist() == [224 / 256] * 2
    assert sd.cadence[1:].tolist() == [172.0] * 2


def test_the_index_falling_over_the_run_reads_as_its_change():
    s = A.summarize(decode(session_bytes(_run(220, 200))))
    assert s.fatigue_first == pytest.approx(220 / 256)
    assert s.fatigue_last == pytest.approx(200 / 256)
    assert s.fatigue_change == pytest.approx(100 * (200 / 220 - 1))     # -9.1 %
    assert F.fatigue(s) == "muscle signal 9 % slower in the last third than in the first"
    s = A.summarize(decode(session_bytes(_run(200, 212))))
    assert F.fatigue(s) == "muscle signal 6 % faster in the last third than in the first"
    s = A.summarize(decode(session_bytes(_run(200, 200))))
    assert F.fatigue(s) == "muscle signal as fast in the last third as in the first"


def test_no_index_where_the_noise_floor_or_bad_signal_would_make_it():
    # at 5 %MVC the electrode noise's own, faster spectrum is in the index: not measured
    s = A.summarize(decode(session_bytes(_run(220, 200, effort=50))))
    assert (s.fatigue_first, s.fatigue_last, s.fatigue_change) == (None, None, None)
    assert F.fatigue(s) == "fatigue index not measured"
    # flagged frames in the 6.4 s a pair averages: that pair is left out, the others count
    sd = decode(session_bytes(_run(220, 200, q_middle=4)))
    ok = A.fatigue.usable(sd, A.run_mask(sd))
    assert (~ok).tolist() == [f == 999 for f in sd.signal_frame]    # flags at 950..979
    assert A.summarize(sd).fatigue_change == pytest.approx(100 * (200 / 220 - 1))


def test_a_version_1_session_or_a_short_run_has_no_index():
    # sessions without pairs (older firmware) and runs whose third holds under three pairs
    s = A.summarize(decode(session_bytes(_run(220, 200, frames=600))))
    assert s.fatigue_change is None
    assert A.Summary.from_dict(s.as_dict()) == s


def test_the_run_cadence_is_the_median_of_its_pairs_with_a_rhythm():
    # the warm-up's pairs (no rhythm while holding a plank: 0, NaN) and those outside the run do
    # not count; the run's pairs do, whatever the effort
    script = [("s", State.WARMUP), ("f", 250, 0, 300, 220, 0), ("s", State.RUN),
              ("f", 250, 0, 300, 220, 150), ("f", 50, 0, 300, 220, 166),
              ("f", 250, 0, 400, 220, 170), ("s", State.COOLDOWN), ("f", 0, 0, 300, 0, 120)]
    s = A.summarize(decode(session_bytes(script)))
    assert s.cadence_spm == 166.0                 # 150 x3, 166 x3, 170 x4 (2 steps/min units)
    assert F.cadence(s) == "cadence 166 steps/min"
    assert A.Summary.from_dict(s.as_dict()) == s
    # fewer than three pairs with a rhythm in the run: not measured, not a guess
    s = A.summarize(decode(session_bytes([("s", State.RUN), ("f", 250, 0, 250, 220, 160),
                                          ("f", 250, 0, 900, 220, 0), ("s", State.COOLDOWN)])))
    assert (s.cadence_spm, F.cadence(s)) == (None, "cadence not measured")
    # a rhythm in 3 of the run's 10 pairs is chance, not a stride: not measured
    s = A.summarize(decode(session_bytes([("s", State.RUN), ("f", 250, 0, 300, 220, 214),
                                          ("f", 250, 0, 700, 220, 0), ("s", State.COOLDOWN)])))
    assert s.cadence_spm is None


def _warmup(holds):
    """A warm-up of 30 s holds, each with the index going through `values` every 10 s."""
    script = [("s", State.WARMUP)]
    for code, values in holds:
        script.append(("e", EV_MARK, code))
        for v in values:
            script.append(("f", 400, 0, 100, v, 0))
    script += [("e", EV_MARK, Mark.WARMUP_DONE), ("s", State.PRIME), ("f", 200, 0, 30, 200, 0)]
    return script


def test_the_warm_up_holds_each_give_their_change():
    script = _warmup([(Mark.SIDE_PLANK_LEFT, (240, 240, 228)), (Mark.SIDE_PLANK_RIGHT,
                                                                 (240, 232, 216)),
                      (Mark.BIRD_DOG, (240, 240, 240))]) + _run(220, 200)
    sd = decode(session_bytes(script))
    assert [b - a for a, b in A.fatigue.hold_spans(sd)] == [300, 300, 300]
    s = A.summarize(sd)
    # the pairs taken with each hold's frames 99, 199, 299: the first of each has its 6.4 s in
    # the hold, so all three count; -5 %, -10 %, 0 %
    assert s.holds_measured == 3
    assert s.hold_fatigue_pct == pytest.approx(-5.0)
    assert F.hold_fatigue(s) == "muscle signal 5 % slower by the end of a hold (mean of 3)"
    # the run's own figure is untouched by the holds
    assert s.fatigue_change == pytest.approx(100 * (200 / 220 - 1))


def test_across_runs_the_trend_follows_the_change_within_each_run():
    sums = []
    for k, last in enumerate((196, 200, 204, 208, 212)):
        s = A.summarize(decode(session_bytes(_run(220, last), wall=1767225600 + 86400 * k,
                                             sid=k + 1)))
        sums.append(s)
    tr = T.trend(sums)
    assert [p.fatigue_change for p in tr.points] == pytest.approx(
        [100 * (v / 220 - 1) for v in (196, 200, 204, 208, 212)])
    assert tr.fatigue_per_run == pytest.approx(100 * 4 / 220)
    assert "fatigue index: +1.8 % per run" in T.trend_text(tr)


def test_every_view_says_the_same_fatigue_figures(tmp_path, monkeypatch, capsys):
    """Runs whose index falls less from run to run, synced from a virtual belt: show, report,
    the trend page and the JSON export all carry the figures."""
    import json

    from constructed import put_runs

    from corecue import cli

    def corecue(capsys, *argv):
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    belt = str(tmp_path / "belt")
    holds = _warmup([(Mark.SIDE_PLANK_LEFT, (240, 240, 228))])
    put_runs(belt, [holds + _run(220, last) for last in (196, 204, 212, 220)])
    assert corecue(capsys, "--virtual", belt, "pair")[0] == 0
    assert corecue(capsys, "--virtual", belt, "sync")[0] == 0
    code, out, _ = corecue(capsys, "show", "1")
    assert code == 0
    assert "muscle signal 11 % slower in the last third than in the first; warm-up: muscle " \
           "signal 5 % slower by the end of a hold (mean of 1)" in out
    assert "  cadence 164 steps/min\n" in out
    code, out, _ = corecue(capsys, "report", "1", "-o", str(tmp_path / "rep"))
    page = out.split("page:")[1].split()[0]
    html = open(page, encoding="utf-8").read()
    assert "muscle signal 11 % slower in the last third" in html
    assert "cadence 164 steps/min" in html
    code, out, _ = corecue(capsys, "report", "--trend", "-o", str(tmp_path / "rep"), "--force")
    assert code == 0
    page = out.split("page:")[1].split()[0]
    html = open(page, encoding="utf-8").read()
    assert "fatigue index: +3.6 % per run" in html and "<td>-11 %</td>" in html
    out_json = str(tmp_path / "run.json")
    assert corecue(capsys, "export", "4", "-o", out_json)[0] == 0
    obj = json.load(open(out_json))["sessions"][0]
    assert obj["summary"]["fatigue_change"] == pytest.approx(0.0)
    assert obj["signal"]["fatigue_index"][-1] == pytest.approx(220 / 256)
    assert obj["signal"]["cadence_spm"][-1] == 164


def test_the_index_follows_the_median_frequency_on_known_shifts():
    """Reduced bench/fatigue_index.py: the synthetic runner at a steady 20 % with the EMG's
    frequency axis scaled by 0.75, 1 and 1.15. The firmware's index moves with the true median
    frequency and the offline one (scipy.signal.welch), by about 0.6 of the true shift."""
    import os
    import sys

    from corecue.interp import ROOT, micropython_path
    from corecue.twin import synth

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import fatigue_index as fi

    interp = "micropython" if micropython_path() else "cpython"
    cal = synth.calibration()
    got = {}
    for sc in (0.75, 1.0, 1.15):
        x = fi.steady(20, sc, 700)
        got[sc] = (fi.mdf(x), fi.index_pairs(x, cal, interp).mean())
    (m_lo, k_lo), (m0, k0), (m_hi, k_hi) = got[0.75], got[1.0], got[1.15]
    assert k_lo < k0 < k_hi and m_lo < m0 < m_hi
    for sc, (m, k) in ((0.75, got[0.75]), (1.15, got[1.15])):
        shift = sc - 1
        assert 0.5 < (k / k0 - 1) / shift < 0.8, (sc, k / k0)
        assert 0.6 < (k / k0 - 1) / (m / m0 - 1) < 1.0, (sc, k / k0, m / m0)


def test_the_index_follows_a_real_muscle_fatiguing_on_its_own():
    """biosignalsnotebooks' emg_fatigue (tests/fixtures/recordings/, MIT): a biceps brachii
    flexed and extended until it tires, 127 s. The offline median frequency of each 6.4 s before
    a logged pair falls 11 % from the first third of the pairs to the last; the firmware's index
    falls with it, pair by pair, the same on both interpreters (bench/fatigue_index.py, 5)."""
    import os
    import sys

    from corecue.interp import ROOT, micropython_path
    from corecue.twin import synth

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import fatigue_index as fi

    x = np.loadtxt(fi.FATIGUING, comments="#")
    assert len(x) == 126900 and x[:3].tolist() == [2068, 2073, 2081]    # the recording, unchanged
    cal = synth.calibration()          # the index does not depend on the calibration
    k, m = fi.real_fatigue_pairs("cpython", cal)
    if micropython_path():
        k_mpy, m_mpy = fi.real_fatigue_pairs("micropython", cal)
        assert k_mpy.tolist() == k.tolist()
    assert len(k) == 12
    third = len(k) // 3
    drop_m = np.median(m[-third:]) / np.median(m[:third]) - 1
    drop_k = np.median(k[-third:]) / np.median(k[:third]) - 1
    assert drop_m < -0.08                           # the premise: the muscle tired
    assert drop_k < -0.08 and abs(drop_k - drop_m) < 0.05, (drop_k, drop_m)
    assert np.corrcoef(k, m)[0, 1] > 0.8


def test_a_session_from_newer_firmware_asks_for_an_update_in_one_line():
    import binascii
    import struct

    from corecue.history.sessiondata import SessionFileError

    raw = bytearray(session_bytes(_run(220, 200)))
    raw[4] = 3                                   # a format this companion does not know
    struct.pack_into("<I", raw, 36, binascii.crc32(bytes(raw[:36])) & 0xFFFFFFFF)
    with pytest.raises(SessionFileError, match=r"^session format version 3 is newer than this "
                                               r"companion reads \(up to 2\): update corecue$"):
        decode(bytes(raw))
