"""Every command as a runner meets it with bad paths, damaged inputs and an absent belt: each error
is one line that says what to do next, with exit status 2, never the system's "[Errno 13]
Permission denied: ..." or a traceback, and nothing is made or changed. Run against the virtual
belt in a temporary history, through the `corecue` entry point (cli.main; one test through a new
process, as the installed command runs)."""
import errno
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from constructed import KNOWN, put_runs

from corecue import cli
from corecue.link import oserrors

# The system's own words for the errors these tests cause: none may reach the runner.
RAW = [os.strerror(n) for n in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR,
                                errno.EISDIR, errno.EEXIST)] + ["Errno", "Traceback"]


def corecue(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def says_what_to_do(err):
    """One line, ours, none of the system's words, and a next step in brackets or after a
    colon."""
    assert err.count("\n") == 1 and err.startswith("corecue: "), err
    assert not [w for w in RAW if w in err], err
    return err


def _cannot_write(folder):
    probe = os.path.join(folder, ".corecue-probe")
    try:
        open(probe, "x").close()
    except OSError:
        return True
    os.remove(probe)
    return False


@pytest.fixture
def locked(tmp_path):
    """A folder this process may not write in: a read-only one of ours, or (as root, whom
    permissions do not stop) /sys, which refuses new files to everyone."""
    if os.geteuid() != 0:
        d = tmp_path / "locked"
        d.mkdir()
        d.chmod(0o555)
        yield str(d)
        d.chmod(0o755)
        return
    if os.path.isdir("/sys") and _cannot_write("/sys"):
        yield "/sys"
        return
    pytest.skip("no folder this process may not write in")


@pytest.fixture
def history(tmp_path, monkeypatch, capsys):
    """A paired virtual belt with one run, synced into a temporary history."""
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    monkeypatch.chdir(tmp_path)
    d = str(tmp_path / "belt")
    put_runs(d, [KNOWN])
    assert corecue(capsys, "--virtual", d, "pair")[0] == 0
    assert corecue(capsys, "--virtual", d, "sync")[0] == 0
    return d


@pytest.fixture
def recordings(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("t_ms,adc\n0,2048\n")
    cal = tmp_path / "cal.csv"
    cal.write_text("t_ms,adc,phase\n0,2048,rest\n")
    return str(raw), str(cal)


def _commands(belt, recordings, place):
    """Every command that writes somewhere, writing at `place`."""
    raw, cal = recordings
    return [
        ("export", "1", "-o", os.path.join(place, "run.csv")),
        ("report", "1", "-o", os.path.join(place, "reports")),
        ("report", "--trend", "-o", os.path.join(place, "reports")),
        ("download", "1", "-o", os.path.join(place, "run.cs")),
        ("replay", raw, "--calibration", cal, "-o", os.path.join(place, "effort.csv")),
        ("virtual", "run", os.path.join(place, "belt"), "--minutes", "1"),
        ("virtual", "run", belt, "--minutes", "1", "--motor-log",
         os.path.join(place, "motor.csv")),
        ("virtual", "serve", belt, "--log", os.path.join(place, "belt.log")),
        ("--virtual", os.path.join(place, "belt"), "pair"),
        ("--data-dir", os.path.join(place, "history"), "--virtual", belt, "pair"),
        ("demo", "-o", os.path.join(place, "demo")),
    ]


def _listing(folder):
    return sorted(os.listdir(folder))


# -- a folder the runner may not write in ------------------------------------------------------

def test_a_folder_that_may_not_be_written_is_said_in_words(history, recordings, locked, capsys):
    before = _listing(locked)
    for argv in _commands(history, recordings, locked):
        code, _, err = corecue(capsys, *argv)
        assert code == 2, (argv, err)
        says_what_to_do(err)
        assert "not allowed there (check the permissions, or choose a folder of your own)" \
            in err, (argv, err)
        assert locked in err, (argv, err)
    assert _listing(locked) == before


def test_the_installed_command_says_it_in_one_line_too(history, locked, tmp_path):
    env = dict(os.environ, CORECUE_DATA_DIR=str(tmp_path / "history"))
    p = subprocess.run([sys.executable, "-m", "corecue", "demo", "-o",
                        os.path.join(locked, "demo")], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"corecue: cannot make the folder {os.path.join(locked, 'demo')}: not "
                        "allowed there (check the permissions, or choose a folder of your own)\n")


# -- a folder that is not there, a file where a folder is due, a folder where a file is due -----

def test_a_missing_folder_is_said_as_such(history, recordings, tmp_path, capsys):
    nope = tmp_path / "nope"
    for argv in [("export", "1", "-o", nope / "run.csv"),
                 ("download", "1", "-o", nope / "run.cs"),
                 ("replay", *recordings[:1], "--calibration", recordings[1], "-o",
                  nope / "effort.csv")]:
        code, _, err = corecue(capsys, *argv)
        assert code == 2 and says_what_to_do(err) == \
            f"corecue: there is no folder {nope}: make it first, or give another path\n", argv
    assert not nope.exists()


def test_a_file_where_a_folder_is_due(history, recordings, tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine\n")
    for argv in [("export", "1", "-o", f / "run.csv"), ("download", "1", "-o", f / "run.cs"),
                 ("replay", *recordings[:1], "--calibration", recordings[1], "-o",
                  f / "sub" / "effort.csv")]:
        code, _, err = corecue(capsys, *argv)
        assert code == 2 and says_what_to_do(err) == \
            f"corecue: {f} is a file, not a folder: give a path in a folder\n", argv
    for argv in [("report", "1", "-o", f), ("demo", "-o", f)]:
        code, _, err = corecue(capsys, *argv)
        assert code == 2 and f"{f} is a file, not a folder: give " in says_what_to_do(err), argv
    assert f.read_text() == "mine\n"


def test_a_folder_where_a_file_is_due(history, recordings, tmp_path, capsys):
    d = tmp_path / "out"
    d.mkdir()
    for argv in [("export", "1", "-o", d), ("download", "1", "-o", d),
                 ("replay", *recordings[:1], "--calibration", recordings[1], "-o", d),
                 ("virtual", "run", history, "--minutes", "1", "--motor-log", d),
                 ("virtual", "serve", history, "--log", d)]:
        code, _, err = corecue(capsys, *argv)
        assert code == 2 and says_what_to_do(err) == f"corecue: {d} is a folder: give a file " \
            "name\n", argv
    assert _listing(d) == []


# -- inputs that cannot be read ---------------------------------------------------------------

def test_recordings_missing_a_folder_or_not_text(recordings, tmp_path, capsys):
    raw, cal = recordings
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    out = tmp_path / "effort.csv"
    cases = [(tmp_path / "nope.csv", f"cannot read {tmp_path / 'nope.csv'}: there is no such "
              "file or folder (check the path)"),
             (tmp_path, f"cannot read {tmp_path}: it is a folder (give a file name)"),
             (binary, f"{binary}: line 1: not text (a recording is a CSV text file; is this "
              "the right file?)")]
    for bad, said in cases:
        code, _, err = corecue(capsys, "replay", bad, "--calibration", cal, "-o", out)
        assert code == 2 and says_what_to_do(err) == f"corecue: {said}\n", bad
        code, _, err = corecue(capsys, "replay", raw, "--calibration", bad, "-o", out)
        assert code == 2 and says_what_to_do(err) == f"corecue: {said}\n", bad
    assert not out.exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_history_is_one_line_and_left_as_it_is(history, tmp_path, capsys, damage):
    db = tmp_path / "history" / "corecue.db"
    if damage == "garbage":
        db.write_bytes(b"not a database, my notes\n" * 300)
    else:
        with open(db, "r+b") as f:
            f.truncate(os.path.getsize(db) // 3)
    kept = db.read_bytes()
    for argv in [("sessions",), ("show", "1"), ("report", "1"), ("export", "1"),
                 ("calibrate", "--history"), ("devices",), ("--virtual", history, "sync")]:
        code, _, err = corecue(capsys, *argv)
        assert code == 2, (argv, err)
        assert says_what_to_do(err) == (f"corecue: {db} is not a corecue database, or is "
                                        "damaged: move it away (the next `corecue pair` starts "
                                        "a new one) or restore a backup\n"), argv
    assert db.read_bytes() == kept


def _set_column(db_path, sql):
    db = sqlite3.connect(db_path)
    db.execute(sql)
    db.commit()
    db.close()


def test_a_damaged_stored_summary_is_made_again_from_the_run(history, tmp_path, capsys):
    code, before, _ = corecue(capsys, "sessions", "--json")
    _set_column(tmp_path / "history" / "corecue.db", "UPDATE sessions SET summary = '{torn'")
    code, after, err = corecue(capsys, "sessions", "--json")
    assert code == 0 and json.loads(after) == json.loads(before), err


def test_a_damaged_stored_run_is_one_line(history, tmp_path, capsys):
    db = tmp_path / "history" / "corecue.db"
    _set_column(db, "UPDATE session_files SET raw = x'00112233'")
    for argv in [("show", "1"), ("report", "1"), ("export", "1")]:
        code, _, err = corecue(capsys, *argv)
        assert code == 2 and "stored session 1 is damaged" in says_what_to_do(err)
        assert err.rstrip().endswith(f"restore a backup of {db}"), err


# -- the belt is not there ----------------------------------------------------------------------

def test_a_paired_virtual_belt_that_is_gone_is_not_made_anew(history, capsys):
    import shutil
    shutil.rmtree(history)
    for argv in [("status",), ("sync",), ("config", "get"), ("sessions", "--on-belt")]:
        code, _, err = corecue(capsys, *argv)
        assert code == 2 and says_what_to_do(err) == (
            f"corecue: the virtual belt you paired, in {history}, is not there any more: pair "
            "another (`corecue --virtual DIR pair`) or name a belt with --port, --belt or "
            "--virtual\n"), argv
    assert not os.path.exists(history)


def test_a_bluetooth_host_device_that_is_not_there(history, tmp_path, capsys):
    code, _, err = corecue(capsys, "virtual", "ble", history, "--hci",
                           f"file:{tmp_path / 'vhci'}")
    assert code == 2 and says_what_to_do(err) == (
        f"corecue: cannot open the HCI transport file:{tmp_path / 'vhci'} ({tmp_path / 'vhci'}): "
        "there is no such file or folder (vhci needs Linux with Bluetooth and /dev/vhci; or "
        "give --hci tcp-server:HOST:PORT)\n")


def test_listening_for_a_mistyped_virtual_belt_makes_none(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    code, _, err = corecue(capsys, "scan", "--virtual", tmp_path / "blet", "--seconds", "1")
    assert code == 2 and says_what_to_do(err) == (
        f"corecue: no virtual belt in {tmp_path / 'blet'}: check the path, or make one there "
        f"with `corecue --virtual {tmp_path / 'blet'} pair`\n")
    assert not (tmp_path / "blet").exists()


def test_a_port_that_is_not_there(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    code, _, err = corecue(capsys, "--port", tmp_path / "ttyACM9", "status")
    assert code == 2 and "is the belt plugged in?" in says_what_to_do(err)
    code, _, err = corecue(capsys, "--port", tmp_path, "status")
    assert code == 2 and f"{tmp_path}: not a serial port (`corecue " in says_what_to_do(err)


# -- a mistyped command line ---------------------------------------------------------------------

@pytest.mark.parametrize("argv, said", [
    (("show",), "the following arguments are required: ID (see `corecue show --help`)"),
    (("show", "abc"), "argument ID: invalid int value: 'abc' (see `corecue show --help`)"),
    (("download", "1", "-o", "x.cs", "--window", "0"),
     "argument --window: window must be 1..256 chunks, not 0 (see `corecue download --help`)"),
    (("config", "set"), "the following arguments are required: NAME=VALUE (see `corecue "
     "config set --help`)"),
])
def test_a_mistyped_command_line_is_one_line_with_where_to_look(argv, said, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == "" and says_what_to_do(err) == f"corecue: {said}\n"


# -- the one place that words the system's errors ------------------------------------------------

@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
                                  errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EIO,
                                  errno.ENAMETOOLONG, errno.EXDEV, 99999])
def test_every_system_error_is_said_in_words_with_a_next_step(code):
    e = OSError(code, os.strerror(code) if code != 99999 else "Mystery", "/tmp/.x.partial")
    line = oserrors.sentence(e, "/home/r/run.csv", "write")
    assert line.startswith("cannot write /home/r/run.csv: ") and line.endswith(")")
    assert e.strerror not in line and "Errno" not in line and ".partial" not in line


def test_an_error_no_command_words_still_reaches_the_runner_as_one_line(monkeypatch, capsys):
    def fails(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/x")
    monkeypatch.setattr(cli, "_doctor", fails)
    code, _, err = corecue(capsys, "doctor")
    assert code == 2 and says_what_to_do(err) == (
        "corecue: cannot use /srv/x: not allowed there (check the permissions, or choose a "
        "folder of your own)\n")


def test_an_interruption_is_130_and_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_doctor", interrupted)
    code, _, err = corecue(capsys, "doctor")
    assert code == 130 and err == "corecue: interrupted\n"
