"""A week of a runner's life on the virtual belt, and where its charge goes.

    .venv/bin/python bench/power_week.py            # five runs of 30-90 minutes (a few minutes)
    .venv/bin/python bench/power_week.py --quick    # the same week with 5-minute runs

The firmware itself runs the week on the sim board (corecue.twin.virtualbelt) in accelerated
time: the belt deep-sleeps after its idle time (config sleep_s), the runner's press wakes it for
each run (warm-up, prime, run, lie-down), and after each lie-down the companion syncs it as
`corecue sync --watch` would, over the emulated radio. The sim board meters the time the
firmware spent in each power state (boards/sim.py power_states), and the advertising events the
radio sent; this prices those with hardware/power_budget.py's currents, typical and worst (an
advertising event costs the same charge at any interval: power_budget.adv_event_mah).

The week runs twice in one go: with the belt's advertising windows as configured by default
(belt/radiowindow.py: every 200 ms for 60 s after a wake, after the lie-down, on a double press;
every 1000 ms otherwise), and with the baseline, the belt as it was before windows: advertising
every 200 ms whenever awake and not running (the same firmware with adv_slow_ms 200). A fresh
belt left on a shelf for 30 days is the last case. Figures go in docs/performance.md.
"""
import argparse
import asyncio
import contextlib
import io
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hardware"))
import power_budget as B  # noqa: E402

from corecue import cli  # noqa: E402
from corecue.commands import calibrate  # noqa: E402
from corecue.history.keys import Keyring  # noqa: E402
from corecue.history import sync  # noqa: E402
from corecue.history.store import open_store  # noqa: E402
from corecue.interp import firmware_module  # noqa: E402
from corecue.link.connect import Connection, Target  # noqa: E402
from corecue.link.errors import BeltError  # noqa: E402
from corecue.twin.virtualbelt import VirtualBelt  # noqa: E402

State = firmware_module("belt.runflow").State
DAY_MS = 86400 * 1000
WEEK = (45, None, 60, None, 30, 90, 60)     # run minutes each day (None: a rest day)
RUN_AT_H = 7                                # the runner heads out at 7:00
WATCH_S = 30                                # sync --watch looks every 30 s

# Current of each metered state on top of what is always drawn (mA, typical and worst).
STATES = (
    ("deep sleep", "deep_sleep", (B.XIAO_DEEP_SLEEP[0] + B.SWITCH_LEAKAGE[0],
                                  B.XIAO_DEEP_SLEEP[1] + B.SWITCH_LEAKAGE[1])),
    ("awake, sampling", "awake", tuple(B.XIAO_AWAKE[i] + B.MYOWARE[i] + B.LIFT_NETWORK[i]
                                        for i in (0, 1))),
    ("radio advertising", "advertising", None),         # priced by its events, below
    ("radio connected", "connected", (B.BLE_SYNC[0] - B.XIAO_AWAKE[0],
                                      B.BLE_SYNC[1] - B.XIAO_AWAKE[1])),
    ("motor (full strength)", "motor", (B.MOTOR_ON_MA, B.MOTOR_ON_MA)),
)
ALWAYS = tuple(B.BATTERY_DIVIDER[i] + B.PROTECTION_CIRCUIT[i] for i in (0, 1))


def charge(states, elapsed_ms, fixed_share=0.0):
    """[(name, hours in state, mAh typical, mAh worst)] and the totals, self-discharge included.
    Advertising: its events times one event's charge, plus fixed_share of the radio's allowance
    for every hour it advertised (power_budget.adv_current: 0 assumes it all per event)."""
    rows = []
    for name, key, ma in STATES:
        h = states[key] / 3.6e6
        if ma is None:
            ev = B.adv_event_mah(fixed_share)
            rows.append((name, h, states["adv_events"] * ev[0] + h * B.BLE_ON[0] * fixed_share,
                         states["adv_events"] * ev[1] + h * B.BLE_ON[1] * fixed_share))
            continue
        rows.append((name, h, h * ma[0], h * ma[1]))
    h = elapsed_ms / 3.6e6
    rows.append(("always (dividers, protection)", h, h * ALWAYS[0], h * ALWAYS[1]))
    sd = B.BATTERY_MAH * B.SELF_DISCHARGE_PER_MONTH * h / (30 * 24)
    rows.append(("self-discharge", h, sd, sd))
    return rows, sum(r[2] for r in rows), sum(r[3] for r in rows)


async def _until(vb, state, limit_s):
    waited = 0
    while vb.state != state and waited < limit_s:
        await vb.sleep(1)
        waited += 1
    return vb.state == state


async def _to(vb, at_ms):
    if at_ms > vb.board.elapsed_ms:
        await vb.sleep((at_ms - vb.board.elapsed_ms) / 1000)


async def week(folder, store, quick):
    keys = Keyring(store)
    vb = await VirtualBelt(folder).start()
    per_day, log = [], []
    try:
        board = vb.board
        # Day 0, 6:50: calibrate at home with the companion (the press that wakes it first).
        await _to(vb, RUN_AT_H * 3600000 - 600000)
        async with Connection(Target("virtual", folder), keyring=keys, virtual=vb) as conn:
            with contextlib.redirect_stdout(io.StringIO()):     # its live bar
                res = await calibrate.calibrate(conn, store, yes=True, out=lambda t: None)
            if not res.adopted:
                raise SystemExit("the virtual belt refused its calibration")
        for day, run_min in enumerate(WEEK):
            if run_min is not None:
                run_min = 5 if quick else run_min
                await _to(vb, day * DAY_MS + RUN_AT_H * 3600000)
                woke = vb.asleep
                vb.press("short")                   # wakes it (or it is awake already)
                await vb.sleep(5)
                vb.press("short")                   # the warm-up
                await _until(vb, State.WARMUP, 5)
                await vb.sleep(95)
                vb.press("short")                   # at the start line: prime
                await _until(vb, State.RUN, 30)
                await vb.sleep(run_min * 60)
                vb.press("long")                    # finish: the lie-down
                await _until(vb, State.DONE, 11 * 60)
                missed, stored = True, []
                for _ in range(3):                  # the watcher tries again at its next look
                    await vb.sleep(WATCH_S)
                    if vb.asleep:
                        break
                    try:
                        async with Connection(Target("virtual", folder), keyring=keys,
                                              virtual=vb) as conn:
                            stored = await sync.sync(conn, store, out=lambda t: None)
                        missed = False
                        break
                    except BeltError:
                        continue
                log.append((day, run_min, woke, missed, len(stored)))
            await _to(vb, (day + 1) * DAY_MS)
            per_day.append(dict(board.power_states(), elapsed=board.elapsed_ms))
        return per_day, log
    finally:
        await vb.close()


async def shelf(folder, days):
    vb = await VirtualBelt(folder).start()
    try:
        await vb.sleep(days * 86400)
        return vb.board.power_states(), vb.board.elapsed_ms
    finally:
        await vb.close()


def _table(rows, total_t, total_w):
    print(f"  {'state':30} {'hours':>8} {'mAh typical':>12} {'mAh worst':>10}")
    for name, h, t, w in rows:
        print(f"  {name:30} {h:8.2f} {t:12.1f} {w:10.1f}")
    print(f"  {'total':30} {'':8} {total_t:12.1f} {total_w:10.1f}")


def _paired_week(tmp, name, quick, config=None):
    """(per_day, log, runs stored, seconds taken) of a week on a new belt in tmp/name, paired
    first as a runner does (`corecue --virtual DIR pair --yes`); config: settings saved on the
    belt's flash before it boots, as `corecue config set` leaves them."""
    folder, history = os.path.join(tmp, name), os.path.join(tmp, name + "-history")
    with contextlib.redirect_stdout(io.StringIO()):
        if cli.main(["--data-dir", history, "--virtual", folder, "pair", "--yes"]) != 0:
            raise SystemExit("pairing the virtual belt failed")
    if config:
        board = firmware_module("boards.sim").Board(folder, firmware_module(
            "boards.scenarios").Responsive())           # mounts the flash; never started
        cfg, _ = firmware_module("belt.config").load(board.root + "/corecue.cfg")
        cfg.update(config)
        cfg.save()
    store = open_store(history, create=True)
    t0 = time.monotonic()
    try:
        per_day, log = asyncio.run(week(folder, store, quick))
        return per_day, log, len(store.sessions()), time.monotonic() - t0
    finally:
        store.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5-minute runs")
    args = ap.parse_args()
    usable = (B.BATTERY_MAH * B.USABLE, B.BATTERY_MAH * B.USABLE * B.AGED * B.COLD)
    with tempfile.TemporaryDirectory() as tmp:
        per_day, log, stored, took = _paired_week(tmp, "belt", args.quick)
        # The baseline in the same run: the same firmware advertising every 200 ms whenever it
        # advertises at all, as the belt did before its windows.
        base_days, base_log, base_stored, base_took = _paired_week(
            tmp, "always-fast", args.quick, {"adv_fast_ms": 200, "adv_slow_ms": 200})
        states = per_day[-1]
        rows, tot_t, tot_w = charge(states, states["elapsed"])
        runs = "5-minute runs" if args.quick else \
            "runs of " + ", ".join(str(m) for m in WEEK if m) + " minutes"
        print(f"A week on the virtual belt ({runs}), simulated in {took:.0f} s:")
        for day, run_min, woke, missed, n in log:
            print(f"  day {day}: {run_min}-minute run, woken from deep sleep: "
                  f"{'yes' if woke else 'no'}; synced after the lie-down: "
                  f"{'missed' if missed else f'{n} new run'}")
        print(f"  {stored} of the {sum(1 for m in WEEK if m)} runs are in the history")
        _table(rows, tot_t, tot_w)
        print(f"  this week's pattern lasts {usable[0] / (tot_t / 7):.0f} days per charge "
              f"(typical), {usable[1] / (tot_w / 7):.0f} days (worst)")
        # Advertising windows against the baseline, both measured above.
        base = base_days[-1]
        base_rows, base_t, base_w = charge(base, base["elapsed"])
        missed = sum(1 for e in base_log if e[3])
        print(f"Advertising, windows (default settings) against the baseline (every 200 ms "
              f"whenever awake and not running; simulated in {base_took:.0f} s, "
              f"{base_stored} runs in its history, {missed} syncs missed):")
        print(f"  {'':30} {'hours':>8} {'events':>8} {'mAh typical':>12} {'mAh worst':>10} "
              f"{'week mAh typ.':>14} {'days/charge':>12}")
        for label, st, rw, t, w in (("windows", states, rows, tot_t, tot_w),
                                    ("baseline, always fast", base, base_rows, base_t, base_w)):
            adv = [r for r in rw if r[0] == "radio advertising"][0]
            print(f"  {label:30} {adv[1]:8.2f} {st['adv_events']:8d} {adv[2]:12.2f} "
                  f"{adv[3]:10.2f} {t:14.1f} {usable[0] / (t / 7):8.1f} typ, "
                  f"{usable[1] / (w / 7):.1f} worst")
        print("  the baseline's week, state by state:")
        _table(base_rows, base_t, base_w)
        half = [charge(st, st["elapsed"], B.ADV_FIXED_SHARE)[0] for st in (states, base)]
        adv_half = [[r for r in rw if r[0] == "radio advertising"][0][2] for rw in half]
        print(f"  if half the radio's allowance were drawn whatever the interval: advertising "
              f"{adv_half[0]:.2f} mAh typical with windows, {adv_half[1]:.2f} baseline")
        # The week without deep sleep, from the same meter: the firmware before deep sleep
        # stayed awake and advertising (every 200 ms) whenever it was idle, so its deep-sleep
        # hours are priced that way.
        awake = dict(states)
        awake["awake"] += awake["deep_sleep"]
        awake["advertising"] += awake["deep_sleep"]
        awake["adv_events"] += awake["deep_sleep"] // B.ADV_REF_MS
        awake["deep_sleep"] = 0
        _, nosleep_t, nosleep_w = charge(awake, states["elapsed"])
        print(f"  the same week without deep sleep (idle awake and advertising): "
              f"{nosleep_t:.0f} mAh typical, {nosleep_w:.0f} worst: "
              f"{usable[0] / (nosleep_t / 7):.1f} days per charge typical, "
              f"{usable[1] / (nosleep_w / 7):.1f} worst")
        # A day with a one-hour run, from the day meters (day 2 runs 60 minutes).
        if not args.quick:
            d1, d2 = per_day[1], per_day[2]
            day_states = {k: d2[k] - d1[k] for k in d2}
            _, day_t, day_w = charge(day_states, DAY_MS)
            print(f"  a day with a one-hour run and its sync: {day_t:.1f} mAh typical, "
                  f"{day_w:.1f} worst: {usable[0] / day_t:.1f} such days per charge typical, "
                  f"{usable[1] / day_w:.1f} worst (target: 7)")
        shelf_states, shelf_ms = asyncio.run(shelf(os.path.join(tmp, "shelf"), 30))
        rows, sh_t, sh_w = charge(shelf_states, shelf_ms)
        print("A fresh belt left on the shelf for 30 days:")
        _table(rows, sh_t, sh_w)
        print(f"  on the shelf from a full charge: {usable[0] / (sh_t / 30):.0f} days typical, "
              f"{usable[1] / (sh_w / 30):.0f} days worst (target: 30)")


if __name__ == "__main__":
    main()
