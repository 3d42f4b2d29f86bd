"""`corecue flash`: the deploy manifest covers the firmware, mpy-cross really compiles it for the
ESP32-S3, the plan never touches the belt's data, and mpremote really carries the plan out on
the MicroPython unix port standing in for the belt (a folder as its file system)."""
import glob
import os
import subprocess
import sys
import tty

import pytest

from corecue.flash import deploy
from corecue.interp import FIRMWARE, micropython_path

MPY_ARCH_XTENSAWIN = 10     # MicroPython's MP_NATIVE_ARCH_XTENSAWIN
ENTRIES = deploy.read_manifest()


# --- the manifest -------------------------------------------------------------------------------

def test_every_firmware_file_is_in_the_deploy_manifest():
    on_disk = {os.path.relpath(p, FIRMWARE)
               for p in glob.glob(os.path.join(FIRMWARE, "**", "*.py"), recursive=True)}
    listed = {e.source for e in ENTRIES}
    assert on_disk - listed == set(), "add these to firmware/manifest.txt (deploy or desktop)"
    assert listed - on_disk == set(), "firmware/manifest.txt lists files that do not exist"


def test_the_manifest_sends_the_board_and_core_but_not_the_simulator():
    kinds = {e.source: e.kind for e in ENTRIES}
    assert kinds["main.py"] == "source"
    assert kinds["boards/xiao_esp32s3.py"] == "mpy" and kinds["boards/stdio.py"] == "mpy"
    assert {s for s, k in kinds.items() if k == "desktop"} == {
        "boards/sim.py", "boards/simsignal.py", "boards/simflash.py", "boards/scenarios.py"}
    assert all(kinds[s] == "mpy" for s in kinds if s.startswith("belt/"))
    assert deploy.code_dirs(ENTRIES) == ["belt", "boards"]


def test_deployed_code_does_not_import_the_simulator():
    # main.py names boards.sim only on its --board sim path, which never runs on the belt.
    sim = [e.source[:-3].replace("/", ".") for e in ENTRIES if e.kind == "desktop"]
    for e in deploy.deployed(ENTRIES):
        if e.source == "main.py":
            continue
        text = open(os.path.join(FIRMWARE, e.source)).read()
        for mod in sim:
            assert f"import {mod.split('.')[-1]}" not in text and f"from {mod} " not in text, \
                f"{e.source} imports {mod}, which is not deployed"


@pytest.mark.parametrize("line", ["belt/x.py  zip", "belt/x.txt mpy", "belt/x.py"])
def test_a_bad_manifest_line_is_named(tmp_path, line):
    m = tmp_path / "manifest.txt"
    m.write_text("# comment\nmain.py source\n" + line + "\n")
    with pytest.raises(deploy.DeployError) as e:
        deploy.read_manifest(str(m))
    assert "manifest.txt line 3" in str(e.value) and "\n" not in str(e.value)


# --- building with the real mpy-cross -----------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return deploy.build(str(tmp_path_factory.mktemp("build")))


def test_build_compiles_every_deployed_file_for_the_esp32s3(built):
    assert [dev for _, dev in built] == [e.device for e in deploy.deployed(ENTRIES)]
    native = 0
    for local, dev in built:
        data = open(local, "rb").read()
        if dev == "main.py":
            assert local == os.path.join(FIRMWARE, "main.py")
            continue
        assert dev.endswith(".mpy") and local.endswith(dev)
        assert data[0:1] == b"M" and data[1] == 6, f"{dev}: not a MicroPython .mpy v6 file"
        arch = data[2] >> 2
        src = open(os.path.join(FIRMWARE, dev[:-4] + ".py")).read()
        if "@micropython.viper" in src or "@micropython.native" in src:
            assert arch == MPY_ARCH_XTENSAWIN, f"{dev}: native code not for xtensawin"
            native += 1
        else:
            assert arch in (0, MPY_ARCH_XTENSAWIN)
    assert native >= 1, "the viper kernel (belt/frontend.py) should carry machine code"


def test_a_compile_failure_names_the_file_and_line(tmp_path):
    fw = tmp_path / "fw"
    (fw / "belt").mkdir(parents=True)
    (fw / "main.py").write_text("import belt.bad\n")
    (fw / "belt" / "bad.py").write_text("x = 1\ndef f(:\n    pass\n")
    entries = [deploy.Entry("main.py", "source"), deploy.Entry("belt/bad.py", "mpy")]
    with pytest.raises(deploy.DeployError) as e:
        deploy.build(str(tmp_path / "out"), entries, firmware_dir=str(fw))
    msg = str(e.value)
    assert msg.startswith("firmware/belt/bad.py line 2: ") and "\n" not in msg
    assert not (tmp_path / "out" / "belt" / "bad.mpy").exists()


# --- the plan -----------------------------------------------------------------------------------

BUILT = [("/b/belt/app.mpy", "belt/app.mpy"), ("/b/belt/coach.mpy", "belt/coach.mpy"),
         ("/b/boards/xiao_esp32s3.mpy", "boards/xiao_esp32s3.mpy"), ("/fw/main.py", "main.py")]
BELT = {"boot.py", "main.py", "corecue.cfg", "corecue.cfg.tmp", "keys", "notes.txt",
        "sessions/", "sessions/00000007.cs", "sessions/00000006.cy", "sessions/next_id",
        "sessions/clock", "sessions/old.py",
        "belt/", "belt/app.py", "belt/app.mpy", "belt/gone.mpy", "belt/readme.txt",
        "belt/sub/", "lib/", "lib/other.mpy"}


def test_the_plan_replaces_code_and_leaves_data_alone():
    actions = deploy.plan(BUILT, BELT)
    assert actions[:2] == [("mkdir", "boards"), ("rm", "main.py")]  # no half-old firmware boots
    assert actions[-2] == ("cp", "/fw/main.py", "main.py")  # main.py back only at the end
    assert actions[-1] == ("reset",)
    removed = {a[1] for a in actions if a[0] == "rm"}
    # belt/app.py would shadow belt/app.mpy on import; belt/gone.mpy left the manifest
    assert removed == {"main.py", "belt/app.py", "belt/gone.mpy"}
    assert ("mkdir", "belt") not in actions
    assert {a[2] for a in actions if a[0] == "cp"} == {dev for _, dev in BUILT}
    touched = {a[-1] for a in actions if a[0] != "reset"}
    for path in BELT - {"main.py", "belt/app.py", "belt/app.mpy", "belt/gone.mpy"}:
        assert path not in touched, f"the plan touches {path}"
    assert all(not deploy.is_data(p) for p in touched)


def test_a_fresh_micropython_gets_folders_and_no_removals():
    actions = deploy.plan(BUILT, {"boot.py"}, restart=False)
    assert [a[0] for a in actions] == ["mkdir", "mkdir", "cp", "cp", "cp", "cp"]
    assert actions[-1] == ("cp", "/fw/main.py", "main.py")


@pytest.mark.parametrize("dev", ["sessions/evil.mpy", "corecue.cfg", "boot.py", "keys", "bonds"])
def test_a_plan_that_would_write_data_is_refused(dev):
    with pytest.raises(deploy.DeployError) as e:
        deploy.plan(BUILT + [("/b/x", dev)], set())
    assert dev in str(e.value) and "data" in str(e.value)


def test_a_file_where_a_code_folder_belongs_is_refused():
    with pytest.raises(deploy.DeployError, match="/belt is a file on the belt"):
        deploy.plan(BUILT, {"belt", "main.py"})


def test_the_listing_is_read_between_its_markers():
    out = ("MPY: soft reboot\r\ncorecue-listing\r\nM 11014\r\nD belt/\r\nF belt/app.mpy\r\n"
           "F main.py\r\ncorecue-listing\r\n")
    assert deploy.parse_listing(out) == ({"belt/", "belt/app.mpy", "main.py"}, 11014)
    with pytest.raises(deploy.DeployError, match="MicroPython"):
        deploy.parse_listing(">>> hello from something else\r\n")


def test_a_micropython_that_cannot_load_the_build_is_refused(built):
    fmt = deploy.build_format(built)
    assert fmt == (6, 3)                     # mpy-cross 1.29, from the viper kernel's file
    frontend = next(local for local, dev in built if dev == "belt/frontend.mpy")
    assert deploy.mpy_format(frontend) == (6, 3, deploy.ARCHS.index("xtensawin"))
    esp32s3 = fmt[0] | fmt[1] << 8 | deploy.ARCHS.index("xtensawin") << 10
    deploy.check_device(esp32s3, fmt)        # accepted
    with pytest.raises(deploy.DeployError, match="loads .mpy 6.2, the firmware is built as 6.3"):
        deploy.check_device(esp32s3 - (1 << 8), fmt)
    with pytest.raises(deploy.DeployError, match="unknown format"):
        deploy.check_device(0, fmt)
    rp2040 = fmt[0] | fmt[1] << 8 | deploy.ARCHS.index("armv6m") << 10
    with pytest.raises(deploy.DeployError, match="is a armv6m MicroPython, not an ESP32-S3"):
        deploy.check_device(rp2040, fmt)
    deploy.check_device(rp2040, fmt, expect_arch=None)


# --- the mpremote command lines -----------------------------------------------------------------

def test_mpremote_accepts_the_command_lines():
    from mpremote import main as mp
    actions = deploy.plan(BUILT, BELT)
    args = deploy.mpremote_base("/dev/ttyACM0", fresh=False) + deploy.action_args(actions)
    assert args[:6] == [sys.executable, "-m", "mpremote", "connect", "/dev/ttyACM0", "resume"]
    assert args[6:8] == ["exec", deploy.QUIESCE]
    commands = " ".join(args[6:]).split(" + ")
    assert commands[-1] == "reset" and "reset" in mp._BUILTIN_COMMAND_EXPANSIONS
    fs = mp.argparse_filesystem()
    for cmd, act in zip(commands[1:-1], actions[:-1]):
        words = cmd.split(" ")
        assert words[0] in mp._COMMANDS
        parsed = fs.parse_args(words[1:])
        assert parsed.command == [act[0]] and parsed.path[-1] == ":/" + act[-1]
    p = subprocess.run([sys.executable, "-m", "mpremote", "--help"], capture_output=True,
                       text=True)
    assert p.returncode == 0 and "connect" in p.stdout


def test_port_errors_are_one_line(tmp_path):
    with pytest.raises(deploy.DeployError, match="no port given"):
        deploy.flash(None, str(tmp_path))
    with pytest.raises(deploy.DeployError, match="no such port"):
        deploy.flash(str(tmp_path / "ttyACM9"), str(tmp_path))
    # A path that is no serial port: mpremote's own refusal, turned into one line.
    notaport = tmp_path / "plain"
    notaport.write_text("")
    with pytest.raises(deploy.DeployError) as e:
        deploy.flash(str(notaport), str(tmp_path / "out"))
    assert str(e.value).startswith(f"{notaport}: busy or not accessible")


def test_a_device_without_a_raw_repl_is_called_not_micropython(tmp_path):
    # What mpremote prints when the device never shows the raw REPL banner.
    def run(args, **kw):
        return subprocess.CompletedProcess(args, 1, "", "mpremote.transport.TransportError: "
                                           "could not enter raw repl\n")
    port = tmp_path / "tty"
    port.write_text("")
    with pytest.raises(deploy.DeployError, match="no MicroPython prompt answered"):
        deploy.flash(str(port), str(tmp_path / "out"), run=run)


# --- end to end: mpremote against the MicroPython unix port -------------------------------------

@pytest.fixture
def standin(tmp_path):
    """The unix port's REPL on a pseudo-terminal, its working folder acting as the belt's flash:
    (port, device folder)."""
    mp = micropython_path()
    if not mp:
        pytest.skip("no MicroPython unix port")
    dev = tmp_path / "belt-flash"
    dev.mkdir()
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([mp], stdin=master, stdout=master, stderr=master, cwd=dev)
    yield os.ttyname(slave), dev
    proc.kill()
    proc.wait()
    os.close(master)
    os.close(slave)


def test_flash_replaces_code_and_keeps_data_on_a_micropython_device(standin, tmp_path):
    port, dev = standin
    data = {"corecue.cfg": b"corecue-config 1\nmode emg_raw\n", "boot.py": b"# boot\n",
            "keys": b"CQKY 1 00000000 0\n",
            "sessions/00000003.cs": bytes(range(256)) * 4, "sessions/next_id": b"4 1234abcd\n",
            "sessions/clock": b"2 1:5:1700000000 0badf00d\n"}
    code = {"main.py": b"print('old firmware')\n", "belt/app.py": b"old = 1\n",
            "belt/retired.mpy": b"M\x06old", "boards/sim.py": b"old sim\n"}
    for rel, body in {**data, **code}.items():
        (dev / rel).parent.mkdir(parents=True, exist_ok=True)
        (dev / rel).write_bytes(body)

    before = {p: p.read_bytes() for p in dev.rglob("*") if p.is_file()}
    # The real device check first: a MicroPython that is not an ESP32-S3 is refused untouched.
    with pytest.raises(deploy.DeployError, match=r"is a x64 MicroPython, not an ESP32-S3"):
        deploy.flash(port, str(tmp_path / "out"), root=str(dev), fresh=False, restart=False)
    assert {p: p.read_bytes() for p in dev.rglob("*") if p.is_file()} == before

    report = deploy.flash(port, str(tmp_path / "out"), root=str(dev), fresh=False,
                          restart=False, expect_arch=None)

    for rel, body in data.items():
        assert (dev / rel).read_bytes() == body, f"{rel} changed"
    for rel in ("belt/app.py", "belt/retired.mpy", "boards/sim.py"):
        assert not (dev / rel).exists(), f"stale {rel} left on the belt"
    assert (dev / "main.py").read_bytes() == open(os.path.join(FIRMWARE, "main.py"), "rb").read()
    for e in deploy.deployed(ENTRIES):
        assert (dev / e.device).exists(), f"{e.device} not deployed"
    assert sorted(report.removed) == ["belt/app.py", "belt/retired.mpy", "boards/sim.py"]
    assert {"corecue.cfg", "boot.py", "keys", "sessions/"} <= set(report.kept)
    assert len(report.copied) == len(deploy.deployed(ENTRIES))

    # The compiled package loads on MicroPython (__init__.mpy included; no native code here).
    p = subprocess.run([micropython_path(), "-c", "import belt, belt.ticks; "
                        "print(belt.FIRMWARE_VERSION, belt.ticks.__file__)"], cwd=dev,
                       capture_output=True, text=True)
    assert p.stdout.split()[1:] == ["belt/ticks.mpy"], p.stderr

    # A second flash copies nothing but main.py (removed first, so a cut flash cannot boot).
    again = deploy.flash(port, str(tmp_path / "out2"), root=str(dev), fresh=False,
                         restart=False, expect_arch=None)
    assert again.copied == ["main.py"] and again.removed == []
    assert len(again.unchanged) == len(deploy.deployed(ENTRIES)) - 1


def test_a_busy_port_is_named(standin, tmp_path):
    import serial
    port, _ = standin
    with serial.Serial(port, exclusive=True):       # another program holding it (flock)
        with pytest.raises(deploy.DeployError) as e:
            deploy.flash(port, str(tmp_path / "out"), fresh=False, restart=False)
    assert str(e.value).startswith(f"{port}: busy or not accessible")


def test_an_mpremote_failure_ends_with_its_last_line_and_changes_nothing(standin, tmp_path):
    port, dev = standin
    (dev / "main.py").write_text("old = 1\n")
    # A root the device cannot write under: the first action (making belt/) fails.
    root = str(dev / "main.py" / "x")
    with pytest.raises(deploy.DeployError) as e:
        deploy.flash(port, str(tmp_path / "out"), root=root, fresh=False, restart=False,
                     expect_arch=None)
    msg = str(e.value)
    assert msg.startswith(f"mpremote failed on {port}: mpremote: mkdir:") and "\n" not in msg
    assert sorted(os.listdir(dev)) == ["main.py"] and (dev / "main.py").read_text() == "old = 1\n"
