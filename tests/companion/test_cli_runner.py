"""The command line as a runner meets it, against the virtual belt in a temporary history:
settings that would break the belt, files that must not be lost, errors and their exit codes,
help, time, and the guided calibration. One test (or a few) per class of mistake."""
import io
import json
import os

import pytest
from constructed import KNOWN, put_runs

from corecue import cli


def corecue(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    return err.count("\n") == 1 and err.startswith("corecue: ") and "Traceback" not in err


@pytest.fixture
def belt(tmp_path, monkeypatch, capsys):
    """A paired virtual belt, calibrated through its settings (rest 100, maximum 4000)."""
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    d = str(tmp_path / "belt")
    assert corecue(capsys, "--virtual", d, "pair")[0] == 0
    code, _, err = corecue(capsys, "config", "set", "cal_rest=100", "cal_mvc=4000",
                           "cal_mode=emg_raw")
    assert code == 0, err
    return d


# -- 4: settings that would break the belt ------------------------------------------------------

@pytest.mark.parametrize("change, why", [
    ("cal_mvc=0", "cal_mvc"), ("cal_rest=5000", "cal_rest"), ("cal_rest=3000", "cal_rest"),
    ("cal_mode=", "cal_mode"), ("low_pm=200", "low_pm")])
def test_settings_that_break_the_belt_are_refused_and_change_nothing(belt, capsys, change, why):
    code, _, err = corecue(capsys, "config", "set", change)
    assert code == 2 and one_line(err) and why in err
    code, out, _ = corecue(capsys, "config", "get", "--json")
    cfg = json.loads(out)
    assert (cfg["cal_rest"], cfg["cal_mvc"], cfg["cal_mode"]) == (100, 4000, "emg_raw")
    assert cfg["low_pm"] == 150


def test_a_repeated_setting_is_an_error(belt, capsys):
    code, _, err = corecue(capsys, "config", "set", "low_pm=100", "low_pm=120")
    assert code == 2 and one_line(err) and "low_pm" in err and "twice" in err
    assert corecue(capsys, "config", "get", "low_pm")[1].strip() == "150"


def test_settings_in_the_runners_units(belt, capsys):
    code, out, err = corecue(capsys, "config", "set", "low_pm=12%", "under_dwell_ms=4s")
    assert code == 0, err
    assert corecue(capsys, "config", "get", "low_pm")[1].strip() == "120"
    assert corecue(capsys, "config", "get", "under_dwell_ms")[1].strip() == "4000"
    code, out, _ = corecue(capsys, "config", "get")
    lines = {ln.split()[0]: ln for ln in out.splitlines()}
    assert "12 %" in lines["low_pm"] and "4 s" in lines["under_dwell_ms"]


# -- 5: files -------------------------------------------------------------------------------------

@pytest.fixture
def history(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    d = str(tmp_path / "belt")
    put_runs(d, [KNOWN])
    assert corecue(capsys, "--virtual", d, "pair")[0] == 0
    assert corecue(capsys, "--virtual", d, "sync")[0] == 0
    return d


def test_an_existing_file_is_kept_without_force(history, capsys, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("my own notes\n")
    code, _, err = corecue(capsys, "export", "1", "-o", str(path))
    assert code == 2 and one_line(err) and "--force" in err
    assert path.read_text() == "my own notes\n"
    assert corecue(capsys, "export", "1", "-o", str(path), "--force")[0] == 0
    assert path.read_text().startswith("session,device")


def test_format_follows_the_suffix(history, capsys, tmp_path):
    code, _, err = corecue(capsys, "export", "1", "--format", "csv", "-o",
                           str(tmp_path / "x.json"))
    assert code == 2 and one_line(err) and not (tmp_path / "x.json").exists()
    code, _, err = corecue(capsys, "export", "1", "-o", str(tmp_path / "x.txt"))
    assert code == 2 and one_line(err) and not (tmp_path / "x.txt").exists()


def test_replay_never_writes_over_its_input(tmp_path, capsys):
    raw = tmp_path / "raw.csv"
    raw.write_text("t_ms,adc\n0,2048\n")
    cal = tmp_path / "cal.csv"
    cal.write_text("t_ms,adc,phase\n0,2048,rest\n")
    for out in (raw, cal):
        code, _, err = corecue(capsys, "replay", str(raw), "--calibration", str(cal),
                               "-o", str(out), "--force")
        assert code == 2 and one_line(err)
    assert raw.read_text() == "t_ms,adc\n0,2048\n"


def test_a_mistyped_belt_folder_is_an_error_not_a_new_belt(history, capsys, tmp_path):
    code, _, err = corecue(capsys, "--virtual", str(tmp_path / "blet"), "status")
    assert code == 2 and one_line(err) and "pair" in err
    assert not (tmp_path / "blet").exists()


def test_a_mistyped_history_folder_is_an_error_not_a_new_history(history, capsys, tmp_path):
    code, _, err = corecue(capsys, "--data-dir", str(tmp_path / "histroy"), "--virtual",
                           history, "sync")
    assert code == 2 and one_line(err) and "corecue pair" in err
    assert not (tmp_path / "histroy").exists()


# -- 8: errors, exit codes and the next step --------------------------------------------------

def test_nothing_paired_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    code, _, err = corecue(capsys, "status")
    assert code == 2 and one_line(err)
    assert "corecue pair" in err and "--virtual DIR" in err


def test_a_file_where_a_folder_is_expected(tmp_path, monkeypatch, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    monkeypatch.setenv("CORECUE_DATA_DIR", str(f))
    code, _, err = corecue(capsys, "sessions")
    assert code == 2 and one_line(err) and "not a folder" in err and "no history" not in err
    for argv in (("--virtual", str(f), "status"), ("virtual", "run", str(f), "--minutes", "1")):
        code, _, err = corecue(capsys, *argv)
        assert code == 2 and one_line(err) and "not a folder" in err, (argv, err)
        assert "Errno" not in err and "File exists" not in err


def test_live_on_an_uncalibrated_belt_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    d = str(tmp_path / "belt")
    assert corecue(capsys, "--virtual", d, "pair")[0] == 0
    code, out, err = corecue(capsys, "live", "--seconds", "2", "--yes")
    assert code == 1 and one_line(err) and "corecue calibrate" in err
    assert "no signal" not in out


# -- 9: help -----------------------------------------------------------------------------------

def commands():
    p = cli.build_parser()
    sub = next(a for a in p._actions if a.dest == "command")
    return sub.choices


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("corecue ")


def test_every_command_and_option_is_described_with_an_example():
    import argparse
    todo = list(commands().items())
    while todo:
        name, p = todo.pop()
        assert p.description, name
        assert "%%" not in p.format_help() and "example" in (p.epilog or "").lower(), name
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                todo += [(f"{name} {n}", q) for n, q in a.choices.items()]
            elif a.help is not argparse.SUPPRESS:
                assert a.help, (name, a.dest)


def test_one_name_per_option():
    """An output file or folder is -o/--output in every command that writes one."""
    todo = list(commands().items())
    while todo:
        name, p = todo.pop()
        for a in p._actions:
            if hasattr(a, "choices") and isinstance(a.choices, dict) and a.dest.endswith(
                    "command"):
                todo += [(f"{name} {n}", q) for n, q in a.choices.items()]
            assert "--out" not in a.option_strings, name
            if "--output" in a.option_strings:
                assert "-o" in a.option_strings, name


def test_status_as_json(belt, capsys):
    code, out, _ = corecue(capsys, "status", "--json")
    s = json.loads(out)
    assert code == 0 and s["calibrated"] is True and s["open_session"] is None
    assert s["data_area"] == "as_is"        # the virtual belt's flash, mounted as it was


# -- 6: guided calibration ----------------------------------------------------------------------

def answers(monkeypatch, *lines):
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))


def test_calibration_asks_again_until_yes_or_no_and_a_no_exits_0(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    d = str(tmp_path / "belt")
    assert corecue(capsys, "--virtual", d, "pair")[0] == 0
    # Enter before each of the three braces only, then "maybe" (asked again), then "no".
    answers(monkeypatch, "", "", "", "maybe", "no")
    code, out, err = corecue(capsys, "calibrate")
    assert code == 0, err
    assert out.count("press Enter to start the brace") == 3
    assert "please answer y or n" in out.lower()
    assert "Not saved" in out
    assert "10 s left" in out and "1 s left" in out         # a countdown per timed phase
    assert "0 %" in out and "100 %" in out                  # the bar's scale
    code, out, _ = corecue(capsys, "status", "--json")
    assert json.loads(out)["calibrated"] is False


def test_what_is_shown_is_what_the_belt_saved(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    d = str(tmp_path / "belt")
    assert corecue(capsys, "--virtual", d, "pair")[0] == 0
    for _ in range(3):
        code, out, err = corecue(capsys, "calibrate", "--yes")
        assert code == 0, err
        shown = out.split("Result: ")[1].split("(rest ")[1]
        rest, mvc = int(shown.split(",")[0]), int(shown.split("maximum ")[1].split(",")[0])
        cfg = json.loads(corecue(capsys, "config", "get", "--json")[1])
        assert (cfg["cal_rest"], cfg["cal_mvc"]) == (rest, mvc)


def test_a_calibration_made_on_the_belt_reaches_the_history(tmp_path, monkeypatch, capsys):
    from corecue.twin import mpbelt
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    d = str(tmp_path / "belt")
    assert corecue(capsys, "--virtual", d, "pair")[0] == 0
    mpbelt.run(d, 4, "morning")                 # the scripted morning calibrates first
    assert corecue(capsys, "sync")[0] == 0
    code, out, _ = corecue(capsys, "calibrate", "--history")
    header, row = out.splitlines()
    assert "on the belt" in row and row.split()[-4] == "yes" or "yes" in row.split()


def test_the_numbers_shown_are_saved_however_long_the_answer_takes(tmp_path):
    """The runner reads the result before answering: the belt's time goes on meanwhile (here
    5 s of it before the commit), and what it then saves must be what was shown, trial by
    trial (the last brace must not go on recording)."""
    import asyncio

    from corecue.commands.calibrate import calibrate
    from corecue.history.store import open_store
    from corecue.link.connect import Connection, Target

    from runnerpair import pair_virtual
    keys = pair_virtual(tmp_path / "belt")
    shown = []

    async def body():
        async with Connection(Target("virtual", str(tmp_path / "belt")), keyring=keys) as conn:
            commit = conn.belt.cal_commit

            async def slow_commit():
                # While the runner reads, the simulated person braces harder than in any
                # brace: a belt still recording the last brace would take it as a new maximum.
                conn.virtual.person._brace = 130
                await conn.sleep(5)
                return await commit()
            conn.belt.cal_commit = slow_commit
            with open_store(str(tmp_path / "history")) as store:
                res = await calibrate(conn, store, yes=True, out=shown.append)
            return res, await conn.belt.config_get()
    res, cfg = asyncio.run(body())
    result = next(line for line in shown if line.startswith("Result: "))
    saved = (f"(rest {cfg['cal_rest']}, maximum {cfg['cal_mvc']}, braces "
             f"{', '.join(str(t) for t in res.trials)},")
    assert res.adopted and saved in result, (saved, result)
