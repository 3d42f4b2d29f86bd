"""The serial transport on a real pseudo-terminal whose other side is the belt's own firmware, run
in this process on the sim board (realbelt.PtyBelt): REPL text and noise on the line, timeouts,
port errors, auto-detection, and the CLI's one-line errors. Waits here are real but short and
bounded."""
import asyncio
import errno
import subprocess
import sys
import zlib

import pytest
import serial

import realbelt as R
from corecue.link import client as C
from corecue.link import usb as T

NOISE = (b"MicroPython v1.28.0 on 2026-11-01; ESP32S3 module with ESP32S3\r\n"
         b"Type \"help()\" for more information.\r\n>>> \xff\xfe\x80 line noise \x03"
         b"\x00\x07\x01\x02\x03\x04\x00"                   # a frame whose CRC cannot match
         b"Traceback (most recent call last):\r\n  File \"main.py\", line 1\r\n")


@pytest.fixture
def pty_belt():
    made = []

    def make(**kw):
        b = R.PtyBelt(**kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_repl_text_and_garbage_around_every_frame_do_not_break_the_client(pty_belt):
    pb = pty_belt(sessions=[20000], noise=NOISE)
    data = pb.files[1]
    assert all(b in data for b in (0x00, 0x03, 0x10))    # bytes the framing must escape

    async def go():
        belt = await T.open_belt(pb.port, timeout=2.0)
        try:
            belt.transport.write_raw(b"garbage from a confused host\r\n\x00\x00\x05\x00")
            info = belt.info
            st = await belt.status()
            got = await belt.download(1, window=4)
            await belt.confirm(1, zlib.crc32(got))
            synced = (await belt.sessions())[0].synced
            return info, st, got, synced, belt.transport.deframer.dropped, belt.malformed
        finally:
            await belt.close()
    info, st, got, synced, dropped, malformed = run(go())
    assert info.firmware == R.FIRMWARE_VERSION and st.battery_mv == 3900
    assert info.device == pb.board.device_id().hex()
    assert got == data and synced
    assert pb.link.deframer.dropped >= 1              # the host's garbage, dropped by the belt
    assert dropped >= 5 and malformed == 0            # the damaged frames were dropped, not read


def test_a_silent_port_times_out_with_one_clear_line(pty_belt):
    pb = pty_belt()
    pb.silent = True
    with pytest.raises(T.PortError) as e:
        run(T.open_belt(pb.port, timeout=0.3))
    assert str(e.value) == (f"{pb.port}: no belt answered within 0.3 s (is it running the corecue "
                            "firmware, and is no other program using the port?)")
    assert "hello" in pb.seen.names()                 # the belt heard it; nothing came back


def test_a_request_that_gets_no_answer_times_out(pty_belt):
    pb = pty_belt()

    async def go():
        belt = await T.open_belt(pb.port, timeout=0.3)
        try:
            pb.silent = True
            with pytest.raises(C.BeltTimeout) as e:
                await belt.config_get()
            pb.silent = False
            return str(e.value), await belt.config_get()
        finally:
            await belt.close()
    msg, cfg = run(go())
    assert msg == "the belt did not answer config_get within 0.3 s" and cfg["low_pm"] == 150


def test_port_errors_are_one_line_each(tmp_path, monkeypatch):
    with pytest.raises(T.PortError) as e:
        T.SerialTransport(str(tmp_path / "ttyACM9"))
    assert str(e.value).startswith(f"{tmp_path}/ttyACM9: no such port")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(T.PortError) as e:
        T.SerialTransport(str(f))
    assert str(e.value) == (f"{f}: not a serial port (`corecue --port` takes a path like "
                            "/dev/ttyACM0)")
    with pytest.raises(T.PortError) as e:
        T.SerialTransport(str(tmp_path))
    assert str(e.value) == (f"{tmp_path}: not a serial port (`corecue --port` takes a path like "
                            "/dev/ttyACM0)")

    def refuse(code):
        class Refusing(serial.Serial):
            def open(self):
                raise serial.SerialException(code, f"could not open port {self.port}: "
                                                   f"[Errno {code}] x")
        return Refusing
    monkeypatch.setattr(T.serial, "Serial", refuse(errno.EACCES))
    with pytest.raises(T.PortError) as e:
        T.SerialTransport("/dev/ttyACM0")
    assert str(e.value) == ("/dev/ttyACM0: permission denied: add yourself to the group that "
                            "owns it (dialout or uucp), then log in again")
    monkeypatch.setattr(T.serial, "Serial", refuse(errno.EBUSY))
    with pytest.raises(T.PortError) as e:
        T.SerialTransport("/dev/ttyACM0")
    assert "busy" in str(e.value)


class Port:
    """What serial.tools.list_ports reports for one port."""

    def __init__(self, device, vid=None, pid=None, description="n/a"):
        self.device, self.vid, self.pid, self.description = device, vid, pid, description


def test_candidates_put_espressif_first_and_skip_ports_without_usb_ids():
    ports = [Port("/dev/ttyS0"), Port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102"),
             Port("/dev/ttyACM1", 0x303A, 0x8001), Port("/dev/ttyACM0", 0x303A, 0x1001)]
    assert [d for d, _ in T.candidate_ports(ports)] == ["/dev/ttyACM0", "/dev/ttyACM1",
                                                        "/dev/ttyUSB0"]


def test_auto_detection_keeps_the_port_that_answers_hello(pty_belt):
    quiet = pty_belt()
    quiet.silent = True
    real = pty_belt()
    ports = [Port(quiet.port, 0x303A, 0x1001), Port(real.port, 0x1A86, 0x7523)]

    async def go():
        belt = await T.find_belt(ports, timeout=1.0, probe_timeout=0.3)
        port = belt.transport.port
        await belt.close()
        return port
    assert run(go()) == real.port

    real.silent = True
    with pytest.raises(T.PortError) as e:
        run(T.find_belt(ports, timeout=1.0, probe_timeout=0.3))
    msg = str(e.value)
    assert msg.startswith(f"no belt answered ({quiet.port}: no belt answered within 0.3 s")
    assert real.port in msg and msg.endswith("name its port with --port") and "\n" not in msg


def test_two_answering_belts_ask_for_a_choice(pty_belt):
    a, b = pty_belt(), pty_belt()
    ports = [Port(a.port, 0x303A, 0x1001), Port(b.port, 0x303A, 0x1001)]
    with pytest.raises(T.PortError) as e:
        run(T.find_belt(ports, timeout=1.0, probe_timeout=0.5))
    assert str(e.value) == f"belts answer on {a.port}, {b.port}: choose one with --port"


def corecue(*args):
    return subprocess.run([sys.executable, "-m", "corecue", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args, message", [
    (["--port", "/dev/corecue-no-such-port", "status"],
     "corecue: /dev/corecue-no-such-port: no such port"),
    (["sessions", "--port", "/etc/hostname"], "corecue: /etc/hostname: not a serial port"),
    (["--port", "/dev/null", "config", "get"], "corecue: /dev/null: not a serial port"),
])
def test_cli_bad_port_is_one_line_and_exit_2(args, message):
    p = corecue(*args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith(message) and p.stderr.count("\n") == 1, p.stderr
    assert p.stdout == ""


def test_cli_silent_port_is_one_line_and_exit_2(pty_belt):
    pb = pty_belt()
    pb.silent = True
    p = corecue("--port", pb.port, "--timeout", "0.3", "status")
    assert p.returncode == 2
    assert p.stderr == (f"corecue: {pb.port}: no belt answered within 0.3 s (is it running the "
                        "corecue firmware, and is no other program using the port?)\n")


def test_cli_commands_against_the_belt(pty_belt, tmp_path):
    pb = pty_belt(sessions=[4000], owned=True)
    data = pb.files[1]
    p = corecue("--port", pb.port, "status")
    assert p.returncode == 2 and "not paired with corecue-" in p.stderr, p.stderr
    p = corecue("--port", pb.port, "pair")                  # over the cable: at once
    assert p.returncode == 0 and "paired with corecue-" in p.stdout, p.stderr
    from corecue.history.keys import Keyring
    from corecue.history.store import open_store
    from corecue.link import auth
    keys = Keyring(open_store(None))

    async def record():
        belt = await T.open_belt(pb.port, timeout=2.0)
        try:
            await auth.authenticate(belt, keys.key(belt.info.device), keys.host_id)
            return await belt.session_start()
        finally:
            await belt.close()
    assert run(record()) == 2
    p = corecue("--port", pb.port, "status")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"belt {pb.board.device_id().hex()}, firmware "
                               f"{R.FIRMWARE_VERSION}, protocol 2 (usb, live, auth)"), p.stdout
    assert "battery: 3.90 V" in p.stdout and "session being recorded: 2" in p.stdout

    p = corecue("--port", pb.port, "config", "set", "target_pm=210", "low_pm=140")
    assert (p.returncode, p.stdout) == (0, "target_pm = 210   (21 %)\nlow_pm = 140   (14 %)\n"), p.stderr
    p = corecue("--port", pb.port, "config", "set", "target_pm=230", "high_pm=9000")
    assert p.returncode == 2
    assert p.stderr == ("corecue: the belt would refuse this: high_pm: 9000 above maximum 2000; "
                        "nothing was changed\n")
    p = corecue("config", "get", "target_pm", "--port", pb.port)
    assert (p.returncode, p.stdout) == (0, "210\n")
    assert (pb.app.config.target_pm, pb.app.config.low_pm) == (210, 140)
    p = corecue("--port", pb.port, "config", "get", "nonsense")
    assert p.returncode == 2 and p.stderr.startswith("corecue: the belt has no setting nonsense")
    p = corecue("--port", pb.port, "config", "set", "target_pm")
    assert p.returncode == 2 and "NAME=VALUE" in p.stderr

    p = corecue("--port", pb.port, "sessions")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["id", "start", "duration", "size", "synced"]
    assert lines[1].split()[0] == "1" and lines[1].endswith("no")
    assert lines[2].split()[0] == "2" and lines[2].endswith("open")

    out = tmp_path / "s1.cs"
    p = corecue("--port", pb.port, "download", "1", "-o", str(out), "--confirm")
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == data
    assert f"{zlib.crc32(data):08x}" in p.stdout
    p = corecue("--port", pb.port, "sessions")
    assert p.stdout.splitlines()[1].endswith("yes"), p.stdout
    p = corecue("--port", pb.port, "download", "2", "-o", str(tmp_path / "s2.cs"))
    assert p.returncode == 2
    assert p.stderr == "corecue: session 2 is still being recorded: stop it first\n"
    assert not (tmp_path / "s2.cs").exists()


def test_dtr_and_rts_are_set_before_the_port_opens_and_never_hold_an_esp32_in_reset(monkeypatch):
    # pyserial's own port object, recording what it does: the states it opens with and the order
    # it applies them in. The device sees the lines the OS raises as the port opens (Linux and
    # macOS raise both), then each state pyserial applies; DTR off with RTS on holds an
    # ESP32-S3's USB-Serial/JTAG in reset (esptool's reset sequences step around it).
    import os
    import pty
    seen = []

    class Recording(serial.Serial):
        def open(self):
            seen.append(("open", self._dtr_state, self._rts_state))
            super().open()

        def _update_dtr_state(self):
            seen.append(("dtr", self._dtr_state))
            self._line(super()._update_dtr_state)

        def _update_rts_state(self):
            seen.append(("rts", self._rts_state))
            self._line(super()._update_rts_state)

        @staticmethod
        def _line(apply):
            try:
                apply()
            except OSError as e:       # a pseudo-terminal has no modem lines
                assert e.errno in (errno.EINVAL, errno.ENOTTY)

    master, slave = pty.openpty()
    monkeypatch.setattr(T.serial, "Serial", Recording)
    try:
        t = T.SerialTransport(os.ttyname(slave))
        t._ser.close()
    finally:
        os.close(master)
        os.close(slave)
    assert seen[0] == ("open", True, True), seen          # set before it opened
    assert [k for k, _ in seen[1:]] == ["dtr", "rts"]
    dtr, rts = True, True                                  # as the OS raised them
    for kind, state in seen[1:]:
        dtr, rts = (state, rts) if kind == "dtr" else (dtr, state)
        assert (dtr, rts) != (False, True), seen
