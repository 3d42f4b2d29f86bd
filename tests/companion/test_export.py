"""corecue.views.export: CSV and JSON of sessions written by the firmware's own SessionWriter,
stored in and read back from the companion's store."""
import ast
import csv
import datetime as dt
import io
import json
import os
import zlib

import numpy as np
import pytest

from corecue.history import analytics
from corecue.views.export import (CSV_COLUMNS, PLACEMENTS, ExportError, export_sessions, iso_utc)
from corecue.interp import ROOT
from corecue.history.sessiondata import decode
from corecue.history.store import open_store
from test_report import run_bytes
from test_sessiondata import WALL, session_bytes

DEVICE = "a1b2c3d4e5f60718"


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two runs in a real store, as the export command gets them: (SessionRow, SessionData)."""
    store = open_store(str(tmp_path_factory.mktemp("data")))
    for sid, wall in ((7, WALL), (8, 0)):
        raw = run_bytes(minutes=8, fade_at_min=6.5, seed=sid, wall=wall, sid=sid)
        sd = decode(raw, device=DEVICE)
        store.add_session(DEVICE, sid, raw, zlib.crc32(raw), sd.start_utc, sd.duration_s,
                          analytics.summarize(sd).as_dict())
    items = []
    for row in store.sessions():
        full = store.session(row.id)
        items.append((row, decode(full.raw, device=row.device, start_utc=row.start_utc)))
    store.close()
    return items


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_has_one_row_per_frame_with_every_documented_column(tmp_path, stored):
    out = tmp_path / "runs.csv"
    assert export_sessions(stored, "csv", str(out)) == str(out)
    text = out.read_text()
    rows = read_csv(text)
    assert tuple(csv.reader(io.StringIO(text)).__next__()) == CSV_COLUMNS
    assert len(rows) == sum(sd.frames for _, sd in stored)
    doc = open(os.path.join(ROOT, "docs", "export-format.md")).read()
    for col in CSV_COLUMNS:
        assert "| `%s` |" % col in doc, "docs/export-format.md lacks column %s" % col
    first = [r for r in rows if r["belt_session"] == "7"]
    row, sd = stored[[sd.session_id for _, sd in stored].index(7)]
    assert len(first) == sd.frames and {r["session"] for r in first} == {str(row.id)}
    assert {(r["device"], r["mode"], r["placement"], r["placement_name"], r["cal_rest"],
             r["cal_mvc"], r["band_low_pct"], r["band_high_pct"]) for r in first} == \
        {(DEVICE, "emg_env", "3", "external oblique right", "310", "4120", "15", "30")}


def test_csv_times_effort_and_band_agree_with_the_file(stored):
    buf = io.StringIO(newline="")
    export_sessions(stored[:1], "csv", buf)
    rows = read_csv(buf.getvalue())
    _, sd = stored[0]
    assert sd.start_utc == WALL
    # UTC stamps: ISO 8601 with milliseconds and Z, one frame period apart, from the start.
    stamps = [dt.datetime.fromisoformat(r["time_utc"][:-1] + "+00:00") for r in rows]
    assert all(r["time_utc"].endswith("Z") and len(r["time_utc"]) == 24 for r in rows)
    assert stamps[0].timestamp() == WALL
    steps = {(b - a).total_seconds() * 1000 for a, b in zip(stamps, stamps[1:])}
    assert steps == {sd.frame_ms}
    assert [float(r["t_s"]) for r in rows] == pytest.approx(sd.times_s().tolist())
    # NaN effort is an empty cell; everything else is the file's value.
    nan = np.isnan(sd.effort)
    assert nan.sum() == 40
    assert [r["effort_pct"] == "" for r in rows] == nan.tolist()
    assert [float(r["effort_pct"]) for r in rows if r["effort_pct"]] == \
        sd.effort[~nan].astype(float).tolist()
    assert {r["quality_flags"] for r in rows} == {"", "contact"}
    # Filtering the run's clean frames reproduces the summary's time in band.
    s = analytics.summarize(sd)
    judged = [r for r in rows if r["state"] == "run" and r["quality"] == "0" and r["effort_pct"]]
    for zone, secs in (("in", s.in_band_s), ("under", s.under_s), ("over", s.over_s)):
        n = sum(r["in_band"] == zone for r in judged)
        assert n * sd.frame_ms / 1000 == pytest.approx(secs)
    cues = [(i, n) for i, n in enumerate(r["cue"] for r in rows) if n]
    assert [n for _, n in cues] == [c[1] for c in sd.cues()]
    assert [i * sd.frame_ms / 1000 for i, _ in cues] == pytest.approx([c[0] for c in sd.cues()])


def test_csv_without_a_start_time_leaves_time_utc_empty(stored):
    buf = io.StringIO(newline="")
    export_sessions([stored[1]], "csv", buf)
    rows = read_csv(buf.getvalue())
    assert stored[1][1].start_utc is None
    assert {r["time_utc"] for r in rows} == {""} and rows[-1]["t_s"] != ""


def test_json_is_strict_and_round_trips_the_figures(tmp_path, stored):
    out = tmp_path / "runs.json"
    export_sessions(stored, "json", str(out))

    def no_nan(name):
        raise AssertionError("not strict JSON: %s" % name)
    doc = json.loads(out.read_text(), parse_constant=no_nan)
    assert doc["format"] == "corecue.sessions" and doc["version"] == 1
    assert len(doc["sessions"]) == len(stored)
    for (row, sd), obj in zip(stored, doc["sessions"]):
        assert analytics.Summary.from_dict(obj["summary"]) == analytics.summarize(sd)
        assert (obj["session"], obj["device"], obj["belt_session"]) == \
            (row.id, DEVICE, sd.session_id)
        assert obj["calibration"] == {"rest": 310, "mvc": 4120}
        assert obj["placement"] == {"code": 3, "name": "external oblique right", "sensor": "EMG"}
        assert obj["band_pct"] == {"low": 15.0, "target": 20.0, "high": 30.0}
        assert obj["frame_count"] == sd.frames and obj["duration_s"] == sd.duration_s
        fr = obj["frames"]
        assert [len(fr[k]) for k in ("t_s", "effort_pct", "quality", "state")] == [sd.frames] * 4
        eff = np.array([np.nan if v is None else v for v in fr["effort_pct"]], np.float32)
        np.testing.assert_array_equal(eff, sd.effort)
        assert fr["quality"] == sd.quality.tolist()
        assert [e["frame"] for e in obj["events"]] == [e[0] for e in sd.events]
        cues = [(e["t_s"], e["kind"], e["level"]) for e in obj["events"] if "level" in e]
        assert cues == [(pytest.approx(t), k, a) for t, k, a in sd.cues()]
        states = [e["state"] for e in obj["events"] if e["kind"] == "state"]
        assert states == ["warmup", "prime", "run", "cooldown", "done"]
    text = open(os.path.join(ROOT, "docs", "export-format.md")).read()
    obj = doc["sessions"][0]
    for key in (list(obj) + list(obj["summary"]) + list(obj["frames"])
                + [k for e in obj["events"] for k in e]):
        assert "`%s`" % key in text, "docs/export-format.md does not describe %s" % key
    one = doc["sessions"][0]
    assert one["start_utc"] == "2026-01-01T00:00:00.000Z" and one["start_unix"] == WALL
    assert doc["sessions"][1]["start_utc"] is None
    assert all(e["time_utc"] is None for e in doc["sessions"][1]["events"])


def test_bad_output_is_one_line_and_leaves_nothing(tmp_path, stored):
    for bad in (tmp_path / "missing" / "x.csv", tmp_path):
        with pytest.raises(ExportError) as e:
            export_sessions(stored, "csv", str(bad))
        assert "\n" not in str(e.value) and str(bad) in str(e.value)
    with pytest.raises(ExportError, match="unknown export format 'xls'"):
        export_sessions(stored, "xls", str(tmp_path / "x.xls"))
    with pytest.raises(ExportError, match="no sessions"):
        export_sessions([], "json", str(tmp_path / "x.json"))
    assert os.listdir(tmp_path) == []


def test_a_failure_part_way_keeps_the_old_file_and_no_temporary(tmp_path, stored):
    out = tmp_path / "runs.csv"
    out.write_text("old\n")

    class Broken:
        """A session whose frames end early: the writer fails after writing rows."""
        def __getattr__(self, name):
            return getattr(stored[0][1], name)

        def times_s(self):
            raise OSError(28, "No space left on device")
    with pytest.raises(ExportError, match="the disk is full .free some space"):
        export_sessions([stored[0], (stored[0][0], Broken())], "csv", str(out))
    assert out.read_text() == "old\n" and os.listdir(tmp_path) == ["runs.csv"]


def test_iso_utc_keeps_milliseconds():
    assert iso_utc(1767225600123) == "2026-01-01T00:00:00.123Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"


def test_placement_names_are_those_of_hardware_placement_py():
    src = open(os.path.join(ROOT, "hardware", "placement.py")).read()
    node = next(n for n in ast.parse(src).body if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", "") == "PLACEMENTS")
    table = {code: (name, sensor) for code, name, sensor, _ in ast.literal_eval(node.value)}
    assert PLACEMENTS == table


def test_a_session_without_store_metadata_exports_from_the_file_alone():
    sd = decode(session_bytes([("f", 200, 0, 5), ("f", -1, 2, 2)]), device="belt1")
    buf = io.StringIO(newline="")
    export_sessions([(None, sd)], "csv", buf)
    rows = read_csv(buf.getvalue())
    assert [r["effort_pct"] for r in rows] == ["20"] * 5 + ["", ""]
    assert rows[-1]["quality_flags"] == "saturation" and rows[0]["session"] == ""
    assert rows[0]["device"] == "belt1" and rows[0]["state"] == "idle"
