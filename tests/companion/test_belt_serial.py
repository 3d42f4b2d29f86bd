"""The companion and the belt's own firmware, end to end over a serial line: `corecue virtual
serve` runs firmware/main.py on the sim board under the MicroPython interpreter with its stdin and
stdout on a pseudo-terminal's master, and the companion's pyserial transport opens the slave.

One conversation, as a person's first morning with the belt: HELLO, set the time, change a
setting (and have a bad value refused), calibrate through the protocol (rest, three braces with
pauses, commit), record a run (the simulated runner braces about 20 % during a session), list the
sessions, download each, check its CRC, confirm it, and see that only confirmed sessions are
marked synced. Then the belt restarts on the same flash and remembers, and its flash is read back
and compared with what was downloaded. Two more belts: one whose flash is nearly full, to see it
make room only from confirmed sessions, and one driven by the `corecue` commands themselves.

Virtual time runs SPEED times faster than real time; every wait is on the belt's own frame count
(10 frames per virtual second) with a bounded real-time deadline. Each belt is paired over its
line first (a cable is physical possession, as `corecue pair --port` does) and every later
connection authenticates with that key."""
import asyncio
import os
import re
import select
import signal
import subprocess
import sys
import time
import zlib

import pytest

from corecue.link import client as C
from corecue.twin import mpbelt as virtual
from corecue.interp import FIRMWARE, firmware_module, micropython_path
from corecue.link import auth
from corecue.link.usb import open_belt

fmt = firmware_module("belt.sessionformat")
read_session = firmware_module("belt.sessionread").read_session
NEED = firmware_module("belt.storage").DEFAULT_NEED
FILL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flash_fill.py")
SPEED = 40
RUN_FRAMES = 1200            # a two-minute session
NOW = 1_795_000_000          # 2026-11-18: the time the companion tells the belt


class Server:
    """`corecue virtual serve` in a subprocess; .port once the belt answers HELLO. SPEED 0 runs
    virtual time as fast as the belt can."""

    def __init__(self, flash, speed=SPEED):
        self.proc = subprocess.Popen(
            # --image: a LittleFS flash of the ESP32's size, for the room a session start needs.
            [sys.executable, "-m", "corecue", "virtual", "serve", str(flash), "--scenario",
             "responsive", "--speed", str(speed), "--image"], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        r, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline() if r else ""
        if not line.startswith("port: "):
            self.proc.kill()
            raise AssertionError(f"virtual serve did not start: {line!r} "
                                 f"{self.proc.stderr.read()!r}")
        self.port = line.split(": ", 1)[1].strip()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


HOST = auth.new_host_id()
_KEYS = {}                   # device id -> the pairing key this test's computer holds for it


async def open_owned(port, key=None, keyring=None):
    """The belt on port, HELLO done and authenticated: with key (or the keyring of a history
    that `corecue pair` filled), else the key of an earlier pairing with this belt, else paired
    now over the line."""
    belt = await open_belt(port, timeout=5.0)
    try:
        if keyring is not None:
            await auth.authenticate(belt, keyring.key(belt.info.device), keyring.host_id)
            return belt
        key = key or _KEYS.get(belt.info.device)
        if key is None:
            _KEYS[belt.info.device] = await auth.pair(belt, HOST)
        else:
            await auth.authenticate(belt, key, HOST)
        return belt
    except BaseException:
        await belt.close()
        raise


async def wait_frames(belt, n, speed=SPEED):
    """Until the belt has made n more frames (n / 10 virtual seconds), polling its status."""
    start = (await belt.status()).frames
    deadline = time.monotonic() + 10 + 5 * n / 10 / (speed or 100)
    while True:
        st = await belt.status()
        if st.frames >= start + n:
            return st
        assert time.monotonic() < deadline, f"belt made {st.frames - start} of {n} frames"
        await asyncio.sleep(0.02)


async def record(port, frames, unix=None, keyring=None):
    """A session of `frames` frames logged by the belt at --speed 0 (the simulated runner braces
    about 20 % while it is open); its id."""
    belt = await open_owned(port, keyring=keyring)
    try:
        if unix:
            await belt.time_set(unix)
        sid = await belt.session_start()
        await wait_frames(belt, frames, speed=0)
        await belt.session_stop()
        return sid
    finally:
        await belt.close()


async def conversation(port):
    r = {}
    belt = await open_owned(port)
    try:
        r["hello"] = belt.info
        r["anchor"] = await belt.time_set(NOW)
        r["status0"] = await belt.status()

        # Settings: one accepted, one refused without changing anything.
        r["cfg_set"] = await belt.config_set({"target_pm": 210})
        try:
            await belt.config_set({"target_pm": 220, "low_pm": 5000})
        except C.BeltError as e:
            r["cfg_refused"] = e
        r["cfg_after"] = await belt.config_get()

        # Line noise and REPL text between packets.
        belt.transport.write_raw(b"\r\n>>> import machine\r\n\xff\xfe\x00\x42\x13\x00garbage")
        r["status_after_noise"] = await belt.status()

        # Calibration, paced by the belt's own frames: rest 10 s, then 3 x (brace 5 s, pause 10 s).
        r["cal"] = [await belt.cal_begin("rest")]
        await wait_frames(belt, 100)
        for i in range(3):
            await belt.cal_begin("brace")
            await wait_frames(belt, 50)
            r["cal"].append(await belt.cal_status())
            if i < 2:
                await belt.cal_begin("pause")
                await wait_frames(belt, 100)
        r["commit"] = await belt.cal_commit()
        r["status_cal"] = await belt.status()
        r["cfg_cal"] = await belt.config_get()

        # A run: live effort on, two minutes, the open session refused for confirm and read.
        efforts = []
        belt.subscribe("effort", efforts.append)
        await belt.live(True)
        sid = await belt.session_start()
        r["sid"] = sid
        r["status_run"] = await belt.status()
        for what, call in (("confirm_open", belt.confirm(sid, 0)),
                           ("read_open", belt.request("session_read", sid, 0, 4, 512))):
            try:
                await call
            except C.BeltError as e:
                r[what] = e
        r["list_open"] = await belt.sessions()
        await wait_frames(belt, RUN_FRAMES)
        await belt.live(False)
        r["stopped"] = await belt.session_stop()
        r["efforts"] = efforts
        # A second, short session.
        r["sid2"] = await belt.session_start()
        await wait_frames(belt, 300)
        await belt.session_stop()

        # Sessions: list, download every one, confirm (a wrong CRC first).
        r["list"] = await belt.sessions()
        r["files"] = {}
        r["stats"] = {}
        r["small"] = {}
        for i, e in enumerate(r["list"]):
            r["files"][e.id] = await belt.download(e.id, window=(1, 8)[i % 2])
            r["stats"][e.id] = belt.last_download
            # Again in 64-byte chunks, four in flight: many windows over the real belt.
            r["small"][e.id] = (await belt.download(e.id, window=4, chunk=64),
                                belt.last_download)
        r["flash_before"] = await belt.status()
        try:
            await belt.confirm(sid, zlib.crc32(r["files"][sid]) ^ 0x80)
        except C.BeltError as e:
            r["confirm_wrong"] = e
        r["list_after_wrong"] = await belt.sessions()
        try:
            await belt.confirm(9999, 0)
        except C.BeltError as e:
            r["confirm_unknown"] = e
        for e in r["list"]:
            await belt.confirm(e.id, zlib.crc32(r["files"][e.id]))
        r["list_confirmed"] = await belt.sessions()
        r["flash_after"] = await belt.status()
        r["dropped"] = belt.transport.deframer.dropped
    finally:
        await belt.close()
    return r


@pytest.fixture(scope="module")
def morning(tmp_path_factory):
    flash = tmp_path_factory.mktemp("belt") / "flash"
    server = Server(flash)
    try:
        r = asyncio.run(asyncio.wait_for(conversation(server.port), 300))
    finally:
        r_stop = server.stop()
    r["serve_exit"] = r_stop
    # Then the belt comes back up on the same flash, and its flash is read back.
    again = Server(flash)
    try:
        async def reconnect():
            # The same owner: the key survived the restart in the belt's /keys.
            belt = await open_owned(again.port, key=_KEYS[r["hello"].device])
            try:
                return await belt.sessions(), await belt.time_set(NOW + 3600)
            finally:
                await belt.close()
        r["list_reboot"], r["anchor_reboot"] = asyncio.run(asyncio.wait_for(reconnect(), 60))
    finally:
        again.stop()
    out = tmp_path_factory.mktemp("dump")
    r["dumped"] = sorted(os.path.relpath(p, out) for p in virtual.dump(str(flash), str(out)))
    r["flash_files"] = virtual.sessions(str(flash))
    return r


def test_hello_time_and_status(morning):
    h = morning["hello"]
    assert h.version == 2 and h.oldest_companion == 2
    assert {"usb", "auth"} <= set(h.capability_names())
    assert h.max_payload == 1024 and h.firmware
    a = morning["anchor"]
    assert a.unix == NOW and a.boot_id >= 1
    st = morning["status0"]
    assert st.open_session == 0 and not st.calibrated and st.flash_free > 1_000_000


def test_a_setting_changes_and_a_refused_one_changes_nothing(morning):
    assert morning["cfg_set"]["target_pm"] == 210
    e = morning["cfg_refused"]
    assert isinstance(e, C.InvalidValue), e
    assert e.message.startswith("low_pm:") and "\n" not in str(e)
    after = morning["cfg_after"]
    assert after == morning["cfg_set"] and after["target_pm"] == 210 and after["low_pm"] == 150


def test_noise_on_the_line_does_not_break_the_conversation(morning):
    assert morning["status_after_noise"].frames >= morning["status0"].frames


def test_calibration_through_the_protocol_is_adopted(morning):
    cal = morning["cal"]
    assert cal[0].phase == 0
    rest = morning["commit"].rest
    assert all(c.phase == 1 and c.level > 3 * max(rest, 1) for c in cal[1:]), cal
    c = morning["commit"]
    assert c.adopted == 1 and c.ok and c.mvc > 3 * c.rest and len(c.trials) == 3, c
    assert morning["status_cal"].calibrated == 1 and morning["status_cal"].calibrating == 0
    cfg = morning["cfg_cal"]
    assert (cfg["cal_rest"], cfg["cal_mvc"]) == (c.rest, c.mvc) and cfg["cal_time"] >= NOW


def test_the_run_is_logged_and_the_open_session_is_protected(morning):
    sid = morning["sid"]
    assert morning["stopped"] == sid and morning["status_run"].open_session == sid
    listed = {e.id: e for e in morning["list_open"]}
    assert listed[sid].open and not listed[sid].synced
    assert isinstance(morning["confirm_open"], C.WrongState), morning["confirm_open"]
    assert isinstance(morning["read_open"], C.WrongState), morning["read_open"]
    efforts = [e.effort_pm for e in morning["efforts"]]
    assert len(efforts) >= RUN_FRAMES * 0.9
    steady = sorted(efforts[len(efforts) // 4:])
    median = steady[len(steady) // 2]
    assert 150 <= median <= 260, median            # the runner braces about 20 %MVC


def test_list_download_and_crc(morning):
    sid, sid2 = morning["sid"], morning["sid2"]
    entries = {e.id: e for e in morning["list"]}
    assert sorted(entries) == [sid, sid2]
    e = entries[sid]
    assert not e.open and not e.synced
    # The belt's time runs at 40x here, so a loaded machine lets a few virtual seconds pass
    # between the companion counting RUN_FRAMES and its stop arriving: the session holds at
    # least the run, and its duration is the frames it holds (a frame each 100 ms).
    run_frames = len(read_session(morning["files"][sid])[1])
    assert RUN_FRAMES <= run_frames <= RUN_FRAMES + 200, run_frames
    assert abs(e.duration_ms - run_frames * 100) <= 300, (e.duration_ms, run_frames)
    assert e.wall >= NOW and e.boot_id == morning["anchor"].boot_id
    for i, data in morning["files"].items():
        assert len(data) == entries[i].size and zlib.crc32(data) == entries[i].crc
        small, stats = morning["small"][i]
        assert small == data
        n = -(-len(data) // 64)
        assert stats.chunks == n and stats.rereads == 0 and stats.acks == -(-n // 4)  # window 4
    hdr, frames, events, trailer, status = read_session(morning["files"][sid])
    assert status == fmt.CLOSED
    assert hdr["cal_mvc"] == morning["commit"].mvc and hdr["cal_rest"] == morning["commit"].rest
    calibrated = [pm for pm, q in frames if pm >= 0]
    assert len(calibrated) > 0.9 * len(frames)
    stats = morning["stats"][sid]
    assert stats.chunks == -(-e.size // 1016) and stats.rereads == 0


def test_only_confirmed_sessions_are_synced_and_nothing_is_reclaimed_early(morning):
    sid = morning["sid"]
    assert isinstance(morning["confirm_wrong"], C.CrcMismatch), morning["confirm_wrong"]
    assert not {e.id: e for e in morning["list_after_wrong"]}[sid].synced
    assert isinstance(morning["confirm_unknown"], C.NotFound), morning["confirm_unknown"]
    assert all(e.synced for e in morning["list_confirmed"])
    assert [e.id for e in morning["list_confirmed"]] == [e.id for e in morning["list"]]
    # Confirming marks sessions reclaimable; the belt deletes them only when it needs the space.
    before, after = morning["flash_before"], morning["flash_after"]
    assert after.flash_used == before.flash_used


def test_the_belt_stops_cleanly_and_remembers_after_a_restart(morning):
    code, out, err = morning["serve_exit"]
    assert code == 0, err
    assert "Traceback" not in err
    listed = morning["list_reboot"]
    assert [e.id for e in listed] == [e.id for e in morning["list"]]
    assert all(e.synced for e in listed)
    assert morning["anchor_reboot"].boot_id == morning["anchor"].boot_id + 1


def test_what_was_downloaded_is_what_is_on_the_flash(morning):
    assert morning["flash_files"] == morning["files"]
    assert f"sessions/{morning['sid']:08d}.cy" in morning["dumped"]


def fill_flash(flash, free):
    """Ballast outside the session store until `free` bytes are left (the belt not running)."""
    p = subprocess.run([micropython_path(), FILL, FIRMWARE, str(flash), str(free)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and int(p.stdout) == free, (p.stdout, p.stderr)


def test_the_belt_reclaims_only_confirmed_sessions_and_only_when_it_needs_room(tmp_path):
    """A session start needs room for 8 hours (storage.DEFAULT_NEED). With the flash one block
    short of that, the belt refuses to start while no session is synced, deletes nothing that
    is not, and takes the room from a session only once the companion has confirmed it."""
    flash = tmp_path / "flash"

    async def record(port):
        belt = await open_owned(port)
        try:
            for _ in range(2):
                await belt.session_start()
                await wait_frames(belt, 600, speed=0)
                await belt.session_stop()
            return await belt.sessions()
        finally:
            await belt.close()

    async def full(port):
        r = {}
        belt = await open_owned(port)
        try:
            r["free"] = (await belt.status()).flash_free
            for attempt in ("start_unsynced", "start_wrong_crc"):
                if attempt == "start_wrong_crc":
                    try:
                        await belt.confirm(1, 12345)
                    except C.BeltError as e:
                        r["wrong_crc"] = e
                try:
                    r[attempt] = await belt.session_start()
                except C.BeltError as e:
                    r[attempt] = e
                r["list_" + attempt] = await belt.sessions()
            data = await belt.download(1)
            await belt.confirm(1, zlib.crc32(data))
            r["start_synced"] = await belt.session_start()
            await belt.session_stop()
            r["list_after"] = await belt.sessions()
        finally:
            await belt.close()
        return r

    server = Server(flash, speed=0)
    try:
        before = asyncio.run(asyncio.wait_for(record(server.port), 120))
    finally:
        server.stop()
    fill_flash(flash, NEED - 4096)
    server = Server(flash, speed=0)
    try:
        r = asyncio.run(asyncio.wait_for(full(server.port), 120))
    finally:
        assert server.stop()[0] == 0

    assert [e.id for e in before] == [1, 2] and not any(e.synced for e in before)
    assert r["free"] == NEED - 4096
    for attempt in ("start_unsynced", "start_wrong_crc"):
        e = r[attempt]
        assert isinstance(e, C.WrongState) and "flash full" in e.message, e
        assert r["list_" + attempt] == before            # nothing deleted, nothing changed
    assert isinstance(r["wrong_crc"], C.CrcMismatch)
    # Confirmed, session 1 made the room; session 2, never confirmed, is still there as it was.
    assert r["start_synced"] == 3
    assert [e.id for e in r["list_after"]][:2] == [2, 3]
    assert r["list_after"][0] == before[1]


def test_the_commands_against_the_virtual_belt(tmp_path):
    """`corecue --port ...` status, config, sessions and download --confirm on the real firmware."""
    server = Server(tmp_path / "flash", speed=0)

    def corecue(*args):
        return subprocess.run([sys.executable, "-m", "corecue", "--port", server.port, *args],
                              capture_output=True, text=True, timeout=60, env=env)
    env = dict(os.environ, CORECUE_DATA_DIR=str(tmp_path / "history"))
    from corecue.history.keys import Keyring
    from corecue.history.store import open_store
    try:
        refused = corecue("status")                 # not paired from this computer
        paired = corecue("pair")
        keys = Keyring(open_store(str(tmp_path / "history")))
        sid = asyncio.run(asyncio.wait_for(record(server.port, 600, NOW, keyring=keys), 60))
        st = corecue("status")
        cfg = corecue("config", "set", "low_pm=160", "high_pm=320")
        bad = corecue("config", "set", "low_pm=170", "high_pm=99999")
        got = corecue("config", "get", "high_pm")
        before = corecue("sessions", "--on-belt")
        out = tmp_path / "run.cs"
        dl = corecue("download", str(sid), "-o", str(out), "--confirm")
        after = corecue("sessions", "--on-belt")
        missing = corecue("download", "77", "-o", str(tmp_path / "x.cs"))
    finally:
        server.stop()
    assert refused.returncode == 2 and "not paired with corecue-" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert paired.returncode == 0, paired.stderr
    assert st.returncode == 0 and st.stdout.startswith("belt ") and "firmware 0.1.0" in st.stdout
    assert "state: idle; sensor: emg_raw; battery: 3.90 V (ok); on USB power, so charging until " \
        "full" in st.stdout, st.stdout
    assert (cfg.returncode, cfg.stdout) == (0, "low_pm = 160   (16 %)\nhigh_pm = 320   (32 %)\n"), cfg.stderr
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("corecue: the belt would refuse this: high_pm: 99999")
    assert got.stdout == "320\n"
    row = before.stdout.splitlines()[1].split()
    assert row[0] == str(sid) and row[-1] == "no" and row[1] == time.strftime(
        "%Y-%m-%d", time.localtime(NOW)), before.stdout
    assert dl.returncode == 0, dl.stderr
    data = out.read_bytes()
    assert f"{len(data)} bytes written" in dl.stdout and f"{zlib.crc32(data):08x}" in dl.stdout
    assert "confirmed" in dl.stdout
    assert after.stdout.splitlines()[1].split()[-1] == "yes"
    assert missing.returncode == 2 and missing.stderr == (
        "corecue: the belt has no session 77 (`corecue sessions --on-belt` lists those it has)\n")
    assert read_session(data)[4] == fmt.CLOSED


def test_the_runner_commands_over_usb(tmp_path):
    """pair, calibrate, sync, sessions and show over the serial line, the belt's run logged by
    the firmware itself (the simulated runner braces about 20 % while a session is open)."""
    server = Server(tmp_path / "flash", speed=0)
    env = dict(os.environ, CORECUE_DATA_DIR=str(tmp_path / "history"))

    def corecue(*args):
        return subprocess.run([sys.executable, "-m", "corecue", *args], capture_output=True,
                              text=True, timeout=120, env=env)

    try:
        pair = corecue("--port", server.port, "pair")
        cal = corecue("calibrate", "--yes")             # the paired belt, no options
        from corecue.history.keys import Keyring
        from corecue.history.store import open_store
        keys = Keyring(open_store(str(tmp_path / "history")))
        sid = asyncio.run(asyncio.wait_for(record(server.port, 1200, keyring=keys), 60))
        first = corecue("sync")
        again = corecue("sync")
        on_belt = corecue("sessions", "--on-belt")
        history = corecue("sessions")
        show = corecue("show", "1")
    finally:
        server.stop()
    assert pair.returncode == 0 and "over USB (" + server.port + ")" in pair.stdout, pair.stderr
    assert cal.returncode == 0 and "Saved on the belt" in cal.stdout, cal.stdout + cal.stderr
    assert first.returncode == 0, first.stderr
    line = first.stdout.splitlines()[0]
    assert line.startswith("#1 ") and "% in band" in line
    # At least the 1200 frames asked for; at full speed a loaded machine lets some seconds more
    # pass before the stop arrives, so the length is checked against the belt's own list. The
    # list's duration is the belt's clock from start to stop, the length the frames the file
    # holds: the stop comes anywhere in a frame, so the two whole seconds shown can differ by 1.
    length = re.search(r"length (\d+):(\d\d), run (\d+):(\d\d)", line).groups()
    assert length[:2] == length[2:] and int(length[0]) * 60 + int(length[1]) >= 120, line
    listed = re.search(r"(\d+):(\d\d) +[\d.]+ (?:B|KB|MB) ", on_belt.stdout.splitlines()[1])
    listed = listed.groups()
    assert abs((int(listed[0]) - int(length[0])) * 60 + int(listed[1]) - int(length[1])) <= 1, (
        line, on_belt.stdout)
    assert again.stdout == "nothing new on the belt\n"
    assert on_belt.stdout.splitlines()[1].split()[0] == str(sid)
    assert on_belt.stdout.splitlines()[1].split()[-1] == "yes"
    assert history.stdout.splitlines()[1].split()[0] == "1"
    assert show.stdout.startswith(f"session 1 (belt session {sid}), ")
