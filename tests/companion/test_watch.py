"""`corecue sync --watch`: once per advertising window, one line per sync, and it keeps going
when a sync fails or the computer's Bluetooth goes away. The windows are the belt's own: the
real firmware on the virtual belt stops advertising for the run and starts again after the
lie-down (test_radio_policy.py), and the watcher follows that through bleak."""
import asyncio
import os
import subprocess
import sys

import realbelt as R
from runnerpair import pair_virtual

from corecue.commands.watch import Watcher
from corecue.link.client import Belt
from corecue.link.connect import Heard, RadioUnavailable, Reach, Target
from corecue.link.errors import BeltError
from corecue.history.sync import sync

from corecue.link import ble as T


class Script:
    """What heard() says look after look, and how many times sync_now ran."""

    def __init__(self, heard, fail_first=0):
        self.heard_seq = list(heard)
        self.fail_first = fail_first
        self.syncs = 0
        self.waits = []

    async def heard(self):
        h = self.heard_seq.pop(0)
        if isinstance(h, Exception):
            raise h
        if h is True:                   # heard, from a belt that does not count requests
            return Heard()
        return None if h is False else h

    async def sync_now(self):
        self.syncs += 1
        if self.syncs <= self.fail_first:
            raise BeltError("the link dropped")
        return [self.syncs]

    async def sleep(self, s):
        self.waits.append(s)


def watched(script, looks):
    out = []
    w = Watcher("corecue-3F2A", script.heard, script.sync_now, out=out.append,
                sleep=script.sleep, every_s=7, now=lambda: 1.8e9)
    results = []

    async def go():
        for _ in range(looks):
            results.append(await w.look())
            await w.sleep(w.every_s)
    asyncio.run(go())
    return results, out


def test_one_sync_per_window():
    s = Script([True, True, True, False, False, True, True])
    results, out = watched(s, 7)
    assert results == ["synced", "done", "done", "away", "away", "synced", "done"]
    assert s.syncs == 2
    assert len(out) == 2 and all("corecue-3F2A: synced, 1 new run" in ln for ln in out)
    assert s.waits == [7] * 7                 # the injected clock, never the wall's


def test_a_failed_sync_is_tried_again_in_the_same_window():
    s = Script([True, True, True], fail_first=1)
    results, out = watched(s, 3)
    assert results == ["failed", "synced", "done"]
    assert "sync failed (the link dropped); trying again in 7 s" in out[0]
    assert len(out) == 2


def test_each_sync_the_belt_counts_as_asked_for_is_made_once():
    # The belt stays within reach throughout, so the stretch of hearing it never ends: only its
    # count of requests (one per double press) tells the watcher to sync again, once per count.
    s = Script([Heard(0), Heard(0), Heard(1), Heard(1), Heard(2), Heard(2), Heard(2),
                Heard(0), Heard(1), Heard(None), Heard(None)])
    fails = {3}                             # the sync for the second request fails once

    async def sync_now():
        s.syncs += 1
        if s.syncs in fails:
            raise BeltError("the link dropped")
        return []
    s.sync_now = sync_now
    results, out = watched(s, 11)
    # The first count heard is where counting starts, not a request; a failed sync is tried again
    # at the next look; a reboot (0) asks for nothing; a belt that does not count (None) is not
    # synced again while it stays within reach, as before counts were advertised.
    assert results == ["synced", "done", "synced", "done", "failed", "synced", "done", "done",
                       "synced", "done", "done"], results
    assert s.syncs == 5
    assert len(out) == 5 and "asked" not in out[0] and "sync failed" in out[2]
    assert [i for i, ln in enumerate(out)
            if "corecue-3F2A: sync asked for on the belt; synced, nothing new" in ln] == [1, 3, 4]


def test_the_count_is_read_only_from_the_belts_own_field():
    from bleak.backends.scanner import AdvertisementData

    def adv(manufacturer):
        return AdvertisementData(local_name="corecue-3F2A", manufacturer_data=manufacturer,
                                 service_data={}, service_uuids=[T.SERVICE_UUID], tx_power=None,
                                 rssi=-60, platform_data=())
    assert T.sync_asked(adv({0xFFFF: b"\x01\x07"})) == 7
    assert T.sync_asked(adv({0xFFFF: b"\x01\x00"})) == 0
    # Older firmware, another maker's data, another format or length: the belt does not say.
    for other in ({}, {0x02E5: b"\x01\x07"}, {0xFFFF: b"\x02\x07"}, {0xFFFF: b"\x01"},
                  {0xFFFF: b"\x01\x07\x00"}):
        assert T.sync_asked(adv(other)) is None, other


def test_bluetooth_going_away_is_said_once_and_the_watch_goes_on():
    gone = RadioUnavailable("adapter not found")
    s = Script([gone, gone, gone, True])
    results, out = watched(s, 4)
    assert results == ["no radio"] * 3 + ["synced"]
    assert len(out) == 3
    assert "Bluetooth is not available (adapter not found)" in out[0]
    assert "Bluetooth is back" in out[1] and "synced" in out[2]



async def _looks(reach, store, steps, looks, out):
    """`looks` looks of a Watcher at the virtual belt in reach, 30 s apart, syncing into store;
    between two looks the next of steps (coroutine functions) runs on the belt's clock. Each
    look listens longer than the belt's slow advertising interval (1 s by default,
    belt.radiowindow; sync --watch itself listens 5 s)."""
    async def between(_):
        if steps:
            await steps.pop(0)()

    async def sync_now():
        async with reach.connect() as conn:
            return await sync(conn, store, out=lambda line: None)

    w = Watcher(reach.name, lambda: reach.heard(1.5), sync_now, out=out.append, sleep=between,
                every_s=30)
    results = []
    for _ in range(looks):
        results.append(await w.look())
        await w.sleep(w.every_s)
    return results

def test_a_runners_day_over_the_virtual_belt(tmp_path):
    # Two runs wait on the belt. The watcher syncs them; the runner warms up (the belt stops
    # advertising), runs and lies down; when the belt advertises again the new run is synced,
    # once. Everything stored is confirmed to the belt only after it is stored.
    folder = str(tmp_path / "belt")
    keyring = pair_virtual(folder, tmp_path / "history")
    R.write_sessions(folder, [3000, 2000])
    # The belt's time runs flat out here while the scans take real time: kept awake (a
    # physio's setting), so that deep sleep after its idle time (test_sleep) stays out of it.
    R.write_config(folder, {"sleep_s": 0})
    store = keyring.store
    out = []

    async def body():
        async with Reach(Target("virtual", folder), speed=0.0, keyring=keyring) as reach:
            vb = reach.virtual
            async def press_and_wait(vb, kind, s):
                vb.press(kind)
                await vb.sleep(s)

            async def run_and_lie_down():
                await vb.sleep(95)
                vb.press("short")                   # prime
                await vb.sleep(2)
                vb.press("short")                   # uncalibrated: straight to the run
                await vb.sleep(120)
                vb.press("long")                    # finish: the lie-down
                await vb.sleep(11 * 60)

            steps = [
                lambda: press_and_wait(vb, "short", 2),         # warm-up: radio off
                run_and_lie_down,                               # the run, the lie-down
                lambda: vb.sleep(60),
            ]

            results = await _looks(reach, store, steps, 4, out)
            async with reach.connect() as conn:
                listed = await conn.belt.sessions()
            return results, listed
    try:
        results, listed = asyncio.run(body())
        assert results == ["synced", "away", "synced", "done"], out
        assert len(out) == 2
        assert "2 new runs (#1, #2)" in out[0] and "1 new run (#3)" in out[1]
        assert [r.id for r in store.sessions()] == [1, 2, 3]
        assert [e.synced for e in listed] == [True, True, True]
    finally:
        store.close()


def test_a_double_press_while_the_belt_is_heard_makes_the_watcher_sync_again(tmp_path):
    # The belt never leaves reach: after the first sync it advertises slowly, and the runner's
    # double press (its fast window over before the next look) is told apart from the belt merely
    # being in range by the count in its advertisement, through bleak on the emulated radio.
    folder = str(tmp_path / "belt")
    keyring = pair_virtual(folder, tmp_path / "history")
    R.write_sessions(folder, [1500])
    R.write_config(folder, {"sleep_s": 0, "adv_window_s": 10})
    store = keyring.store
    out = []

    async def body():
        async with Reach(Target("virtual", folder), speed=0.0, keyring=keyring) as reach:
            vb = reach.virtual

            async def double_then(s):
                vb.press("double")
                await vb.sleep(s)
            steps = [lambda: vb.sleep(30),             # the boot's window over: slow
                     lambda: double_then(30),          # asked; its window over by the look
                     lambda: vb.sleep(30),
                     lambda: double_then(2)]           # asked again; looked at in its window

            results = await _looks(reach, store, steps, 5, out)
            return results, vb.link.app.window.asked
    try:
        results, asked = asyncio.run(body())
    finally:
        store.close()
    assert results == ["synced", "done", "synced", "done", "synced"], out
    assert asked == 2
    assert len(out) == 3 and "1 new run (#1)" in out[0] and "asked" not in out[0]
    assert all("sync asked for on the belt; synced, nothing new" in ln for ln in out[1:])


def test_the_command_watches_a_virtual_belt_and_stops_on_ctrl_c(tmp_path):
    folder = str(tmp_path / "belt")
    data = str(tmp_path / "history")
    env = dict(os.environ, CORECUE_DATA_DIR=data)
    cli = [sys.executable, "-m", "corecue.cli"]
    subprocess.run(cli + ["--virtual", folder, "pair", "--yes"], env=env, check=True,
                   capture_output=True)
    R.write_sessions(folder, [1500])
    p = subprocess.Popen(cli + ["--virtual", folder, "sync", "--watch", "--every", "1"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [p.stdout.readline(), p.stdout.readline()]
    finally:
        p.send_signal(2)                    # Ctrl-C
        rest, err = p.communicate(timeout=60)
    assert lines[0].startswith("watching for virtual belt")
    assert "synced, 1 new run (#1)" in lines[1]
    assert p.returncode == 130 and "Traceback" not in err


def test_watch_refuses_a_usb_belt_in_one_line(tmp_path):
    env = dict(os.environ, CORECUE_DATA_DIR=str(tmp_path))
    p = subprocess.run([sys.executable, "-m", "corecue.cli", "sync", "--watch", "--port",
                        "/dev/null"], env=env, capture_output=True, text=True)
    assert p.returncode == 2 and "over USB, run `corecue sync`" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_a_look_finds_a_belt_advertising_at_the_slowest_interval_allowed(tmp_path):
    # adv_slow_ms at its limit (2500 ms, configschema): one of sync --watch's looks (SCAN_S) still
    # hears the belt outside its fast window, and a command still connects to it.
    from corecue.commands.watch import SCAN_S
    folder = str(tmp_path / "belt")
    keyring = pair_virtual(folder, tmp_path / "history")
    R.write_config(folder, {"sleep_s": 0, "adv_window_s": 10, "adv_slow_ms": 2500})

    async def body():
        async with Reach(Target("virtual", folder), speed=0.0, keyring=keyring) as reach:
            vb = reach.virtual
            await vb.sleep(20)
            interval = vb.link.ble.adv_interval_us
            heard = await reach.heard(SCAN_S)
            async with reach.connect() as conn:
                state = (await conn.belt.status()).state
            return interval, heard, state
    try:
        interval, heard, state = asyncio.run(body())
    finally:
        keyring.store.close()
    assert interval == 2500000
    assert heard == Heard(0) and state == 0    # heard, and no sync asked for since boot
