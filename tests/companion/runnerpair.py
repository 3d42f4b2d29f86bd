"""Pairing a virtual belt as its runner would, for tests that talk to one: `corecue --virtual DIR
pair --yes` (the belt's simulated button held for the runner, then the key agreement and the
first authentication over the emulated radio), into the test's history. What comes back is that
history's keys, for corecue.link.connect.Connection(keyring=...). There is no other way in."""
from corecue import cli
from corecue.history.keys import Keyring
from corecue.history.store import open_store


def pair_virtual(folder, data_dir=None):
    """Pair the virtual belt in folder (made if new) into the history in data_dir (default: the
    test's own, $CORECUE_DATA_DIR); returns the Keyring of that history."""
    where = ["--data-dir", str(data_dir)] if data_dir else []
    assert cli.main(where + ["--virtual", str(folder), "pair", "--yes"]) == 0, "the runner paired"
    return Keyring(open_store(str(data_dir) if data_dir else None))
