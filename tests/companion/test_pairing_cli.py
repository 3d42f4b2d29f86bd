"""`corecue pair`, `devices --forget --revoke` and the keys they keep, against the virtual belt
(its firmware in this process, over the emulated radio; its button held for the runner)."""
import os

from corecue import cli
from corecue.history.keys import belt_key, host_id
from corecue.history.store import open_store
from corecue.interp import firmware_module

KS = firmware_module("belt.keystore")
BD = firmware_module("belt.bonds")


def corecue(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def belt_hosts(folder):
    return KS.KeyStore(os.path.join(folder, "flash", "keys")).hosts()


def belt_bonds(folder):
    with open(os.path.join(folder, "flash", "bonds"), "rb") as f:
        entries, why = BD.parse(f.read())
    assert why is None, why
    return entries


def test_pair_says_what_the_runner_does_and_only_a_paired_computer_gets_in(tmp_path, capsys):
    belt = str(tmp_path / "belt")
    me, other = str(tmp_path / "me"), str(tmp_path / "other")
    code, out, err = corecue(capsys, "--data-dir", me, "--virtual", belt, "pair")
    assert code == 0, err
    assert "hold the belt's button until it buzzes twice" in out
    assert "paired with corecue-" in out
    with open_store(me) as s:
        mine = host_id(s)
        device = s.default_belt().device
        assert len(belt_key(s, device)) == 32
    assert belt_hosts(belt) == [mine], "the belt keeps this computer's key"
    assert sorted(t for t, _, _ in belt_bonds(belt)) == [1, 2], \
        "and the Bluetooth bond bleak's pair() made (ours and the computer's secrets)"
    assert corecue(capsys, "--data-dir", me, "status")[0] == 0
    # Another computer that was never paired: one line, exit 2, nothing served.
    code, out, err = corecue(capsys, "--data-dir", other, "--virtual", belt, "status")
    assert code == 2 and err.count("\n") == 1 and "not paired with corecue-" in err, err
    assert "buzzes twice" in err
    # Unattended: --yes says nothing of the button, and holds it all the same.
    code, out, err = corecue(capsys, "--data-dir", other, "--virtual", belt, "pair", "--yes")
    assert code == 0 and "buzzes" not in out, out
    assert len(belt_hosts(belt)) == 2
    # Pairing again from a computer the belt knows: nothing to do, the same key.
    with open_store(me) as s:
        key = belt_key(s, device)
    assert corecue(capsys, "--data-dir", me, "--virtual", belt, "pair", "--yes")[0] == 0
    with open_store(me) as s:
        assert belt_key(s, device) == key


def test_forget_with_revoke_has_the_belt_drop_this_computer(tmp_path, capsys):
    belt = str(tmp_path / "belt")
    me, other = str(tmp_path / "me"), str(tmp_path / "other")
    assert corecue(capsys, "--data-dir", me, "--virtual", belt, "pair", "--yes")[0] == 0
    assert corecue(capsys, "--data-dir", other, "--virtual", belt, "pair", "--yes")[0] == 0
    with open_store(me) as s:
        mine, name, device = host_id(s), s.default_belt().name, s.default_belt().device
    code, out, err = corecue(capsys, "--data-dir", me, "devices", "--forget", name, "--revoke")
    assert code == 0, err
    assert "no longer knows this computer (1 other computer paired)" in out
    assert "forgot " + name in out
    assert mine not in belt_hosts(belt) and len(belt_hosts(belt)) == 1
    with open_store(me) as s:
        assert s.belts() == [] and belt_key(s, device) is None, "forgotten here too, key and all"
    # The other computer is still served.
    assert corecue(capsys, "--data-dir", other, "status")[0] == 0
    # And this one is not, until it pairs again.
    code, _, err = corecue(capsys, "--data-dir", me, "--virtual", belt, "status")
    assert code == 2 and "not paired" in err
    code, _, err = corecue(capsys, "--data-dir", me, "devices", "--revoke")
    assert code == 2 and "--revoke goes with --forget" in err
