# Damaged files at boot say so in the boot log (tests/faults/bootdamage.py tries every file and
# the data area through main.py's boot; this is the cause it found, on both interpreters): a
# damaged clock file was never logged, only seen later as a time gone missing.
from fwtest import eq

import beltrig as rig
from belt.clock import Clock


def _damaged(d, names):
    board, app, _ = rig.boot(d)
    root = app.store.root
    for name in names:
        with open(root + "/" + name, "wb") as f:
            f.write(b"\xff" * 30)              # erased flash where the file was
    lines = []
    clock = Clock(root, None, lines.append, lambda: 7)
    return clock, [ln for ln in lines if ln.startswith("clock:")]


def test_a_damaged_clock_file_is_said_at_boot_and_the_other_copy_used():
    clock, said = _damaged(rig.fresh("clock-one"), ["clock"])
    eq(len(said), 1, "one line: %s" % said)
    eq("bad clock file" in said[0] and "the other copy used" in said[0], True, said[0])


def test_both_clock_files_damaged_is_said_with_the_boot_id_taken():
    clock, said = _damaged(rig.fresh("clock-both"), ["clock", "clock.2"])
    eq(clock.boot_id, 8, "above every boot a session names")
    eq(len(said), 1, "one line: %s" % said)
    eq("boot id 8" in said[0] and "time unknown" in said[0], True, said[0])


def test_missing_clock_files_are_a_new_belt_not_damage():
    d = rig.fresh("clock-new")
    board, app, _ = rig.boot(d)
    lines = []
    import os
    for name in ("clock", "clock.2"):
        os.remove(app.store.root + "/" + name)
    Clock(app.store.root, None, lines.append)
    eq([ln for ln in lines if ln.startswith("clock:")], [], "nothing to say")
