"""corecue.views.report: the session picture and page, and the trend over runs, made from session
files written by the firmware's own SessionWriter. test_export.py builds its sessions with run_bytes()
from here."""
import base64
import types
import os
import random
import re
import struct

import numpy as np
import pytest

from corecue.history import analytics
from corecue.views.report import (ReportError, _spans, drawn_effort, session_minute,
                                  session_report)
from corecue.history.sessiondata import State, decode
from test_sessiondata import EV_CHECK, EV_CUE_OVER, EV_CUE_UNDER, WALL, run_script, session_bytes

DAY = 86400


def run_script_realistic(minutes=20, fade_at_min=12.0, seed=3):
    """A run as a belt logs it: effort wandering around 20 %MVC in the 0.5 % steps the chain
    gives, an over-brace with its cue at minute 3, 4 s of lost contact (no effort, flagged) with a
    check-sensor cue at minute 6, then from `fade_at_min` the brace sinks to ~11 % with brace-more
    cues every 15 s. None: no fade."""
    rng = random.Random(seed)
    out, e = [], 200
    n = int(minutes * 600)
    fade = None if fade_at_min is None else int(fade_at_min * 600)
    for i in range(n):
        if i == 1800:
            out += [("f", 330, 0, 40), ("e", EV_CUE_OVER, 1), ("f", 320, 0, 20)]
        if i == 3600:
            out += [("f", -1, 1, 20), ("e", EV_CHECK, 1), ("f", -1, 1, 20)]
        if fade is not None and i >= fade:
            e = max(e - 1, 110) if rng.random() < 0.5 else e
            if (i - fade) % 150 == 149:
                out.append(("e", EV_CUE_UNDER, min(3, 1 + (i - fade) // 150)))
        lo = 110 if fade is not None and i >= fade else 165
        e = min(max(e + rng.choice((-5, 0, 0, 5)), lo), 255)
        out.append(("f", e, 0, 1))
    return out


def run_bytes(minutes=20, fade_at_min=12.0, seed=3, wall=WALL, sid=7):
    return session_bytes(run_script(run_script_realistic(minutes, fade_at_min, seed), 900, 1200),
                         wall=wall, sid=sid)


@pytest.fixture(scope="module")
def run():
    sd = decode(run_bytes(), device="<b>&belt")
    return sd, analytics.summarize(sd)


def png_size(data):
    """(width, height) from a PNG's signature and IHDR chunk; fails on anything else."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_session_report_png_and_self_contained_page(tmp_path, run):
    sd, summary = run
    png, page = session_report(sd, summary, str(tmp_path))
    assert os.path.basename(png) == "session-_b_belt-7.png"       # fixed name, unsafe chars gone
    assert os.path.basename(page) == "session-_b_belt-7.html"
    data = open(png, "rb").read()
    w, h = png_size(data)
    assert (w, h) == (1430, 605)                                   # 13 x 5.5 in at 110 dpi
    assert len(data) > 40_000, "a real plot, not an empty canvas"
    text = open(page, encoding="utf-8").read()
    b64 = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text).group(1)
    assert base64.b64decode(b64) == data                           # the page stands alone
    # The figures, calibration and placement are on the page, and text is escaped.
    assert "%d %% of the judged run" % round(summary.pct_in_band) in text
    assert "rest 310, MVC 4120" in text and "3: external oblique right" in text
    assert "&lt;b&gt;&amp;belt" in text and "<b>&belt" not in text
    assert "faded from minute %d of the run" % summary.fade_onset_min in text
    assert sorted(os.listdir(tmp_path)) == ["session-_b_belt-7.html", "session-_b_belt-7.png"]


def test_the_run_the_gaps_and_the_fade_are_where_the_file_says(run):
    sd, summary = run
    # 900 warm-up + 30 prime frames come before the run: 93 s.
    run = analytics.run_mask(sd)
    assert session_minute(sd, run, 0) == pytest.approx(93 / 60)
    assert 12 <= summary.fade_onset_min <= 15
    assert session_minute(sd, run, summary.fade_onset_min) == \
        pytest.approx(93 / 60 + summary.fade_onset_min)
    assert session_minute(sd, run, 21) is None          # the run is 20 minutes and 10 s
    bad = (sd.quality != 0) | np.isnan(sd.effort)
    spans = _spans(bad, sd.times_s(), 0.1)
    assert len(spans) == 1
    start, width = spans[0]
    assert start == pytest.approx(93 + 360 + 6) and width == pytest.approx(4.0)
    assert _spans([True, False, True, True], np.arange(4.0), 1.0) == [(0, 1), (2, 2)]


def test_a_second_report_needs_force_and_then_replaces_the_first(tmp_path, run):
    sd, summary = run
    row = types.SimpleNamespace(id=4, start_utc=None)
    first = session_report(sd, summary, str(tmp_path / "r"), row=row)
    before = open(first[1], encoding="utf-8").read()
    with pytest.raises(ReportError) as e:
        session_report(sd, summary, str(tmp_path / "r"), row=row)
    assert "--force" in str(e.value) and open(first[1], encoding="utf-8").read() == before
    second = session_report(sd, summary, str(tmp_path / "r"), row=row, force=True)
    assert first == second and first[0].endswith("session-4.png")
    assert sorted(os.listdir(tmp_path / "r")) == ["session-4.html", "session-4.png"]  # no temps


def test_bad_signal_is_a_gap_in_the_line(run):
    sd, _ = run
    drawn = drawn_effort(sd)
    flagged = sd.quality != 0
    assert flagged.sum() == 40 and np.isnan(drawn[flagged]).all()
    assert not np.isnan(drawn[~flagged & ~np.isnan(sd.effort)]).any()


def test_a_session_without_calibration_or_states(tmp_path):
    sd = decode(session_bytes([("f", -1, 0, 300)], wall=0))
    s = analytics.summarize(sd)
    png, page = session_report(sd, s, str(tmp_path))
    assert png_size(open(png, "rb").read())[0] == 1430
    text = open(page).read()
    assert "<title>Belt session 7, date unknown: nothing judged, no cues</title>" in text
    assert "<th>mean effort</th><td>-</td>" in text


def test_unwritable_folder_is_one_line_and_writes_nothing(tmp_path, run):
    sd, summary = run
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError) as e:
        session_report(sd, summary, str(blocker / "reports"))
    assert "\n" not in str(e.value) and str(blocker) in str(e.value)
    assert os.listdir(tmp_path) == ["file"]
