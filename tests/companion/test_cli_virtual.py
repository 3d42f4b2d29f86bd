"""The `corecue` command line end to end against the virtual belt over Bluetooth LE: `--virtual
DIR` runs the firmware in this process on the emulated radio, and the companion reaches it
through bleak. The history is a temporary data folder. Output is checked for the facts it must
show, the history and the belt for what must have happened."""
import json
import os
import zlib

import pytest

from corecue import cli
from corecue.history.store import open_store



def corecue(capsys, *argv):
    """(exit status, stdout, stderr) of one command, as a person would run it."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def belt(tmp_path, monkeypatch):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    return str(tmp_path / "belt")


def test_pair_calibrate_run_sync_and_read_the_history(belt, capsys, tmp_path):
    code, out, _ = corecue(capsys, "--virtual", belt, "pair")
    assert code == 0 and "paired with corecue-" in out and "default belt" in out
    name = out.split("paired with ")[1].split()[0]
    code, out, _ = corecue(capsys, "devices")
    assert code == 0 and out.startswith("* " + name) and "virtual" in out

    # The remembered belt is the default: no options from here on.
    code, out, _ = corecue(capsys, "calibrate", "--yes")
    assert code == 0, out
    assert "Result: good calibration" in out and "Saved on the belt" in out
    assert out.count("Brace ") == 3 and "Relax" in out
    code, out, _ = corecue(capsys, "status")
    assert "calibrated: yes" in out
    # The belt's own level in words; over Bluetooth nothing is known of USB power.
    assert "battery: 3.90 V (ok)\n" in out and "USB power" not in out
    code, out, _ = corecue(capsys, "calibrate", "--history")
    (header, row), = [out.splitlines()]
    assert header.split()[:2] == ["date", "belt"] and row.split()[-3:] == ["yes", "good",
                                                                          "calibration"]

    # A run logged by the MicroPython virtual belt on the same flash folder.
    from corecue.twin import mpbelt as virtual
    lines, _ = virtual.run(belt, 4, "morning")
    assert len(lines) == 1 and lines[0].startswith("session 1:")

    code, out, _ = corecue(capsys, "sync")
    assert code == 0, out
    assert out.startswith("#1 ") and "% in band" in out
    assert "date unknown" not in out              # the virtual run's clock was set
    code, out, _ = corecue(capsys, "sync")
    assert out.strip() == "nothing new on the belt"

    with open_store() as store:
        (row,), = [store.sessions()]
        stored = store.session(row.id).raw
        cals = store.calibrations()
    # The virtual morning calibrates again on the belt: that one reaches the history at sync.
    assert len(cals) == 2 and all(c.adopted and c.ok for c in cals)
    assert cals[1].verdict == "made on the belt" and cals[0].verdict == "good calibration"
    assert zlib.crc32(stored) == row.crc and row.belt_sid == 1
    # Confirmed: the belt renamed its file to the synced name (storage.py), and lists it so.
    names = os.listdir(os.path.join(belt, "flash", "sessions"))
    assert [n for n in names if n.startswith("0000")] == ["00000001.cy"]
    code, out, _ = corecue(capsys, "sessions", "--on-belt")
    assert code == 0 and out.splitlines()[1].split()[-1] == "yes"     # confirmed to the belt

    code, out, _ = corecue(capsys, "sessions")
    header, line = out.splitlines()
    assert header.split()[:3] == ["id", "start", "length"] and line.split()[0] == "1"
    code, out, _ = corecue(capsys, "show", "1")
    assert code == 0 and out.startswith("session 1 (belt session 1), ") and "in band" in out and " cues (" in out
    # The virtual runner strides at 166 steps/min: the belt found it in the EMG and logged it.
    cadence = int(out.split("  cadence ")[1].split(" steps/min")[0])
    assert 163 <= cadence <= 169

    code, out, _ = corecue(capsys, "report", "1", "--out", str(tmp_path / "rep"))
    png = out.split("report: ")[1].split()[0]
    with open(png, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 20000
    code, out, _ = corecue(capsys, "export", "1", "--format", "json")
    doc = json.loads(out)
    assert [s["belt_session"] for s in doc["sessions"]] == [1]
    assert doc["sessions"][0]["summary"]["in_band_s"] == pytest.approx(row.summary["in_band_s"])


def test_mistakes_get_one_line_and_change_nothing(belt, capsys):
    assert corecue(capsys, "--virtual", belt, "pair")[0] == 0
    code, out, err = corecue(capsys, "config", "set", "low_pm=900")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    code, out, _ = corecue(capsys, "config", "get", "low_pm")
    assert code == 0 and out.strip() == "150"
    code, _, err = corecue(capsys, "show", "7")
    assert code == 2 and "no stored session 7" in err and err.count("\n") == 1
    code, _, err = corecue(capsys, "--port", "/dev/null", "--virtual", belt, "status")
    assert code == 2 and "name one belt" in err
    code, _, err = corecue(capsys, "devices", "--forget", "corecue-0000")
    assert code == 2 and "no remembered belt" in err


def test_scan_hears_the_virtual_belt_by_its_service(belt, capsys):
    assert corecue(capsys, "--virtual", belt, "pair")[0] == 0
    code, out, _ = corecue(capsys, "--virtual", belt, "scan", "--seconds", "1")
    assert code == 0 and out.startswith("corecue-") and len(out.split()[0]) == 12


def test_the_calibration_history_shows_a_drifting_maximum(tmp_path):
    from corecue.commands.calibrate import history
    with open_store(str(tmp_path / "h")) as store:
        dev = "a1b2c3d4e5f63f2a"
        for t, mvc, ok in ((1.79e9, 5000, True), (1.7901e9, 4000, False), (1.7902e9, 3500, True)):
            store.add_calibration(dev, t, "emg_raw", 1, 70, mvc, ok, ok,
                                  "good calibration" if ok else "braces differed", {})
        lines = history(store).splitlines()
    assert len(lines) == 4
    assert lines[2].split()[7:10] == ["4000", "-", "no"]       # refused: no change computed
    assert lines[3].split()[7:10] == ["3500", "-30%", "yes"]   # against the last one kept


def test_a_flat_battery_is_said_in_words_and_refuses_a_session(tmp_path):
    import asyncio

    from corecue.commands.belt import _battery_words
    from corecue.link.client import WrongState
    from corecue.link.connect import Connection, Target
    assert _battery_words(0) == " (ok)" and _battery_words(4) == " (full)"
    assert "low: may not last" in _battery_words(1)
    assert "critical: too low to start" in _battery_words(2)
    assert "empty: flat" in _battery_words(3)
    assert _battery_words(255) == ""

    from runnerpair import pair_virtual
    keys = pair_virtual(tmp_path / "belt")

    async def body():
        async with Connection(Target("virtual", str(tmp_path / "belt")), keyring=keys) as conn:
            conn.virtual.board.battery = 3400
            # Readings 5 s apart: the median of five turns, then three judgements agree.
            await conn.sleep(36)
            try:
                await conn.belt.session_start()
            except WrongState as e:
                st = await conn.belt.status()
                return str(e), st.open_session, st.battery_level
    refused, open_session, level = asyncio.run(body())
    assert "battery low (3400 mV): charge the belt" in refused and open_session == 0
    # Connected, every reading is under the radio's load: 3.40 V there is CRITICAL (at rest it
    # would be EMPTY), and either refuses the session.
    assert _battery_words(level) == " (critical: too low to start a run, charge it)"


def test_no_answer_at_a_prompt_is_one_line(belt, capsys, monkeypatch):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO(""))       # standard input has ended
    assert corecue(capsys, "--virtual", belt, "pair")[0] == 0
    code, out, err = corecue(capsys, "calibrate")
    assert code == 2 and err.startswith("corecue: no answer") and "--yes" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_remembered_belt_must_be_the_one_that_answers(belt, capsys):
    os.makedirs(belt)                   # a virtual belt's folder, whose belt is another one
    with open_store() as store:
        store.remember_belt("00000000000000ff", "corecue-00FF", "virtual", belt)
    code, _, err = corecue(capsys, "status")
    assert code == 2 and err.startswith("corecue: the belt that answered is ")
    assert "not 00000000000000ff" in err and err.count("\n") == 1
