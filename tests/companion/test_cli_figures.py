"""Every figure of a run, the same in every view: runs with known answers (constructed.py) go onto
a virtual belt's flash, `corecue --virtual DIR sync` stores them in a temporary history, and
sync, sessions, show, report and export (text and JSON) must all say what was worked out by hand.
docs/analytics.md defines the figures; corecue.views.figures words them."""
import csv
import json
import time

import pytest
from constructed import (BACK, KNOWN, KNOWN_FIGURES, UNDER, WALL, around, put_runs)

from corecue import cli


def corecue(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC for the test, so the zone the CLI names is known."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def known(tmp_path, monkeypatch, capsys, utc):
    """The known run synced into a new history: (belt dir, sync's output)."""
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    belt = str(tmp_path / "belt")
    put_runs(belt, [KNOWN])
    assert corecue(capsys, "--virtual", belt, "pair")[0] == 0
    code, out, err = corecue(capsys, "--virtual", belt, "sync")
    assert code == 0, err
    return belt, out


# The known run in words, as every view must word it (views/figures.py).
WHEN = "2026-01-01 09:00 UTC"
LENGTH, RUN, IN_BAND, LONGEST, LEFT_OUT = "9:54", "9:01", "7:00", "5:00", "0:01"
PCT = "78 %"
CUES = "6 cues (2 brace more, 1 ease off, 2 back in band, 1 check sensor)"
HELD = "held to the end"


def test_sync_says_the_known_figures(known):
    _, out = known
    line, = out.splitlines()
    assert line.startswith("#1 " + WHEN)
    for text in (LENGTH, RUN, PCT + " in band", CUES, HELD, LEFT_OUT):
        assert text in line, (text, line)


def test_sessions_table_and_json_agree_with_the_hand_worked_figures(known, capsys):
    code, out, _ = corecue(capsys, "sessions")
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:2] == ["id", "start"]
    for text in ("1", WHEN, LENGTH, RUN, PCT, LONGEST, LEFT_OUT):
        assert text in row, (text, row)
    assert row.split()[header.split().index("cues") + 2] == "6"   # the date takes 3 words
    code, out, _ = corecue(capsys, "sessions", "--json")
    assert code == 0
    (s,) = json.loads(out)["sessions"]
    assert s["session"] == 1 and s["belt_session"] == 1
    assert s["start_utc"] == "2026-01-01T09:00:00.000Z"
    for k, v in KNOWN_FIGURES.items():
        assert s["figures"][k] == (pytest.approx(v) if isinstance(v, float) else v), k


def test_show_text_and_json(known, capsys):
    code, out, _ = corecue(capsys, "show", "1")
    assert code == 0
    assert out.startswith(f"session 1 (belt session 1), {WHEN}")
    for text in (LENGTH, RUN, f"{IN_BAND} in band, {PCT} of the judged run", LONGEST, CUES,
                 HELD, f"{LEFT_OUT} of bad signal left out", "mean effort 25.0 %MVC"):
        assert text in out, (text, out)
    code, out, _ = corecue(capsys, "show", "1", "--json")
    s = json.loads(out)
    for k, v in KNOWN_FIGURES.items():
        assert s["figures"][k] == (pytest.approx(v) if isinstance(v, float) else v), k


def test_report_page_and_title(known, capsys, tmp_path):
    code, out, _ = corecue(capsys, "report", "1", "-o", str(tmp_path / "rep"))
    assert code == 0
    page = out.split("page:")[1].split()[0]
    with open(page, encoding="utf-8") as f:
        html = f.read()
    title = html.split("<title>")[1].split("</title>")[0]
    assert title.startswith(f"Session 1 (belt session 1), {WHEN}")
    assert PCT + " in band" in title and "6 cues" in title
    for text in (LENGTH, RUN, IN_BAND, LONGEST, LEFT_OUT, CUES.split(" (")[1][:-1]):
        assert text in html, text


def test_export_flags_are_empty_and_the_summary_is_the_same(known, capsys, tmp_path):
    out_csv = str(tmp_path / "run.csv")
    out_json = str(tmp_path / "run.json")
    assert corecue(capsys, "export", "1", "-o", out_csv)[0] == 0
    assert corecue(capsys, "export", "1", "-o", out_json)[0] == 0      # format from the suffix
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    flagged = [r for r in rows if r["quality"] != "0"]
    assert len(flagged) == 10
    assert all(r["effort_pct"] == "" and r["in_band"] == "" for r in flagged)
    judged = [r for r in rows if r["state"] == "run" and r["effort_pct"]]
    assert len(judged) == 5400 and sum(r["in_band"] == "in" for r in judged) == 4200
    with open(out_json) as f:
        doc = json.load(f)
    (s,) = doc["sessions"]
    fr = s["frames"]
    assert all(e is None for e, q in zip(fr["effort_pct"], fr["quality"]) if q)
    for k, v in KNOWN_FIGURES.items():
        assert s["summary"][k] == (pytest.approx(v) if isinstance(v, float) else v), k


def test_trend_needs_enough_runs_over_enough_days(tmp_path, monkeypatch, capsys, utc):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    belt = str(tmp_path / "belt")
    put_runs(belt, [KNOWN, KNOWN], walls=[WALL, WALL + 3600])
    assert corecue(capsys, "--virtual", belt, "pair")[0] == 0
    assert corecue(capsys, "--virtual", belt, "sync")[0] == 0
    code, out, _ = corecue(capsys, "report", "--trend", "-o", str(tmp_path / "rep"))
    assert code == 0 and "not enough runs yet" in out
    with open(out.split("page:")[1].split()[0], encoding="utf-8") as f:
        html = f.read()
    assert "not enough runs yet" in html and "per week" not in html


def holding_run(k):
    """3000 run frames: two thirds at 25 %, the last third k x 200 frames in band, then under."""
    return around([("f", 250, 0, 2000), ("f", 250, 0, 200 * k), ("e", UNDER, 1),
                   ("f", 100, 0, 1000 - 200 * k), ("e", BACK, 1)])


def test_trend_of_the_brace_holding(tmp_path, monkeypatch, capsys, utc):
    """Five runs a week apart, the last third holding 20 points better each time: endurance
    +20 points per run and per week; time in band +6.7 points per run and per week."""
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    belt = str(tmp_path / "belt")
    put_runs(belt, [holding_run(k) for k in range(5)], walls=[WALL + 7 * 86400 * k
                                                             for k in range(5)])
    assert corecue(capsys, "--virtual", belt, "pair")[0] == 0
    assert corecue(capsys, "--virtual", belt, "sync")[0] == 0
    code, out, _ = corecue(capsys, "report", "--trend", "-o", str(tmp_path / "rep"))
    assert code == 0, out
    assert "not enough" not in out
    assert "holding: +20.0 points per run" in out and "+20.0 points per week" in out
    assert "in band: +6.7 points per run" in out and "+6.7 points per week" in out
