"""The fault-injection suite in its reduced form (`make faults` runs it in full; figures in
docs/reliability.md): power cuts at every third program and erase operation of a session, and in
the middle of each, on LittleFS over an emulated NOR flash under MicroPython, every image booted
through the firmware's own path; and cuts during that boot recovery itself. A flash that fails a
write (EIO) or is full (ENOSPC) at every other write of a 40 s session of the real app. Damaged
config, clock, id and device-id files and a damaged data area at boot, through main.py's boot.
An exception in each task once, and a watchdog reset once, in a session of the real app.
MemoryError at every ninth call of each allocation site of a sync (every fifteenth with
ownership in front), at every other call of each allocation site of the links' own code (USB
and Bluetooth LE, each without and with ownership), and at every fourth allocation site of a
run. The companion killed twice during a sync over each transport."""
import os
import subprocess
import sys

from corecue.interp import FIRMWARE, micropython_path

HERE = os.path.join(os.path.dirname(__file__), "faults")


def _run(script, *args):
    p = subprocess.run([micropython_path(), "-X", "heapsize=8M", os.path.join(HERE, script),
                        FIRMWARE, *map(str, args)], capture_output=True, text=True, timeout=600)
    return p.returncode, (p.stdout + p.stderr).strip().splitlines()


def test_power_cuts_lose_nothing_beyond_the_block_being_written():
    rc, lines = _run("powercut.py", 300, 3)
    rows = [line for line in lines if " tried " in line]
    assert rc == 0 and len(rows) == 2, "\n".join(lines[-20:])
    for row in rows:
        tried, failed, lost = (int(row.split(w + " ")[1].split()[0])
                               for w in ("tried", "failed", "lost"))
        assert tried > 20 and failed == 0 and lost == 0, row


def _rows(lines):
    rows = [line for line in lines if " tried " in line]
    return rows, [tuple(int(row.split(w + " ")[1].split()[0]) for w in ("tried", "failed", "lost"))
                  for row in rows]


def test_a_failing_or_full_flash_loses_nothing_beyond_the_block_being_written():
    rc, lines = _run("writefail.py", 40, 2)
    rows, figures = _rows(lines)
    assert rc == 0 and len(rows) == 3, "\n".join(lines[-20:])
    for row, (tried, failed, lost) in zip(rows, figures):
        assert tried >= 5 and failed == 0 and lost == 0, row


def test_a_damaged_file_or_data_area_at_boot_still_boots_and_says_so():
    rc, lines = _run("bootdamage.py", 60)
    rows, figures = _rows(lines)
    assert rc == 0 and len(rows) == 8, "\n".join(lines[-20:])
    for row, (tried, failed, lost) in zip(rows, figures):
        assert tried >= 8 and failed == 0 and lost == 0, row


def test_an_exception_in_each_task_or_a_watchdog_reset_keeps_the_session():
    rc, lines = _run("taskfail.py", 1)
    rows, figures = _rows(lines)
    assert rc == 0 and len(rows) == 3, "\n".join(lines[-20:])
    for row, (tried, failed, lost) in zip(rows, figures):
        assert tried >= 1 and failed == 0 and lost == 0, row


def test_memory_running_out_at_each_allocation_site_of_a_sync_loses_nothing():
    rc, lines = _run("memfail.py", 9)
    rows, figures = _rows(lines)
    assert rc == 0 and len(rows) == 2, "\n".join(lines[-20:])
    for row, (tried, failed, lost) in zip(rows, figures):
        assert tried >= 200 and failed == 0 and lost == 0, row


def test_memory_running_out_below_the_handler_of_an_owned_sync_loses_nothing():
    rc, lines = _run("memfail.py", 15, "owned")
    rows, figures = _rows(lines)
    assert rc == 0 and len(rows) == 2, "\n".join(lines[-20:])
    for row, (tried, failed, lost) in zip(rows, figures):
        assert tried >= 150 and failed == 0 and lost == 0, row


def test_memory_running_out_in_each_links_own_code_loses_nothing_and_the_link_goes_on():
    for link, least in (("usb", 20), ("usb-owned", 25), ("ble", 15), ("ble-owned", 20)):
        rc, lines = _run("memlink.py", 2, link)
        rows, figures = _rows(lines)
        assert rc == 0 and len(rows) == 2, "\n".join(lines[-20:])
        for row, (tried, failed, lost) in zip(rows, figures):
            assert tried >= least and failed == 0 and lost == 0, row


def test_memory_running_out_at_each_allocation_site_of_a_run_keeps_the_session():
    rc, lines = _run("memrun.py", 1, 4)
    rows, figures = _rows(lines)
    assert rc == 0 and len(rows) == 2, "\n".join(lines[-20:])
    for row, (tried, failed, lost) in zip(rows, figures):
        assert tried >= 5 and failed == 0 and lost == 0, row


def test_the_companion_killed_during_a_sync_stores_each_session_once_and_confirms_none_unstored():
    p = subprocess.run([sys.executable, os.path.join(HERE, "killsync.py"), "2"],
                       capture_output=True, text=True, timeout=600)
    lines = (p.stdout + p.stderr).strip().splitlines()
    rows, figures = _rows(lines)
    assert p.returncode == 0 and len(rows) == 2, "\n".join(lines[-20:])
    for row, (tried, failed, lost) in zip(rows, figures):
        assert tried == 2 and failed == 0 and lost == 0, row
