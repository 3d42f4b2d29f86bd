"""`corecue demo` (what `make demo` runs): the whole companion against a virtual belt, end to end.

A virtual belt (the firmware on the sim board, in this process, over the emulated Bluetooth LE
radio) worn by a simulated runner who follows the belt: pair, the guided calibration, the
warm-up holds, a 20-minute run in accelerated time with the belt coaching, the lie-down, sync,
the session's summary and its report. The belt and the history live in the demo's own folder,
so it never touches the person's own history."""
import asyncio
import csv
import os
import shutil
import time

from corecue.commands import calibrate, pairing
from corecue.history import sync
from corecue.history.sessions import load
from corecue.history.store import open_store
from corecue.link.connect import Connection, Target
from corecue.views import live, report
from corecue.views.tables import show

RUN_MIN = 20


def write_csv(path, adc, phases=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_ms", "adc"] + (["phase"] if phases is not None else []))
        for i, v in enumerate(adc):
            w.writerow([i, int(v)] + ([phases[i]] if phases is not None else []))


async def _wait_state(conn, state, limit_s):
    """Belt time passes until the run flow reaches `state` (the runner is simulated)."""
    waited = 0
    while conn.virtual.state != state and waited < limit_s:
        await conn.sleep(1)
        waited += 1
    return conn.virtual.state == state


async def _demo(belt_dir, store, out_dir, say):
    State = live.firmware_module("belt.runflow").State
    from corecue.history.keys import Keyring
    async with Connection(Target("virtual", belt_dir), keyring=Keyring(store),
                          pairing=True) as conn:
        vb = conn.virtual
        say(f"\n1. pair: the virtual belt in {belt_dir} (its flash), over the emulated radio; "
            "the runner holds its button until it buzzes twice")
        await pairing.pair(conn, store, out=lambda t: say("   " + t), yes=True)

        say("\n2. calibrate at home: relax, then three maximal braces")
        res = await calibrate.calibrate(conn, store, yes=True, out=lambda t: say("   " + t)
                                        if not t.startswith(("Lie", "Brace", "Relax")) else None)
        if not res.adopted:
            return None

        say("\n3. practise the brace at home, watching it live (10 s shown)")
        await conn.sleep(3)                    # a breath after the last maximal brace
        view = live.View((15.0, 30.0), live.LinePrinter(every=2.0))
        await live.watch(conn, 10, view)
        say("   " + view.summary())

        say("\n4. at the run: a short press starts the warm-up (side planks, bird dog, 30 s "
            "holds timed by the belt); the belt switches its radio off until the lie-down ends")
        vb.press("short")                      # the runner presses the belt's button
        await _wait_state(conn, State.WARMUP, 5)
        await conn.sleep(95)
        vb.press("short")                      # at the start line: prime the brace
        primed = await _wait_state(conn, State.RUN, 30)
        say("   at the start line the belt asks for the brace"
            + ("; braced: the run starts" if primed else "; no brace: the run did not start"))

        say(f"\n5. run {RUN_MIN} minutes in accelerated time; the belt buzzes when the brace "
            "drifts")
        t0 = time.monotonic()
        await conn.sleep(RUN_MIN * 60)
        say(f"   {RUN_MIN} minutes of the belt's time took {time.monotonic() - t0:.0f} s; the "
            f"motor ran {len(vb.board.motor_edges) // 2} times (warm-up signals, go, cues)")

        say("\n6. finish: a long press, then lie down for 10 minutes")
        vb.press("long")
        await _wait_state(conn, State.DONE, 11 * 60)
        await conn.reconnect()                 # the radio is back: the companion reconnects

        say("\n7. sync: download, check, store, confirm")
        stored = await sync.sync(conn, store, out=lambda t: say("   " + t))
    return stored


MARK = ".corecue-demo"       # in a folder the demo made: it may clear its own parts again
PARTS = ("virtual-belt", "history", "reports")


def _clear(out_dir, force):
    """The demo starts from a new belt each time: it clears the parts it made before, and only
    in a folder it made (or with force), never files of someone else's."""
    from corecue.views.outputs import OutputError
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise OutputError(f"{out_dir} is a file, not a folder: give the demo a folder "
                          "with -o")
    others = set(os.listdir(out_dir)) - set(PARTS) - {MARK} if os.path.isdir(out_dir) else ()
    if others and not force and not os.path.exists(os.path.join(out_dir, MARK)):
        raise OutputError(f"{out_dir} holds files the demo did not make: give it another "
                          "folder with -o, or add --force to let it replace its parts there")
    from corecue.views.outputs import make_folder
    make_folder(out_dir)
    for d in PARTS:
        shutil.rmtree(os.path.join(out_dir, d), ignore_errors=True)
    with open(os.path.join(out_dir, MARK), "w") as f:
        f.write("made by corecue demo: it clears virtual-belt/, history/ and reports/ here\n")


def run_demo(out_dir, interpreter=None, force=False):
    """interpreter: unused (the demo's belt runs in this process); kept for the option."""
    belt_dir = os.path.join(out_dir, "virtual-belt")
    data_dir = os.path.join(out_dir, "history")
    _clear(out_dir, force)
    t0 = time.monotonic()
    store = open_store(data_dir)
    try:
        stored = asyncio.run(_demo(belt_dir, store, out_dir, print))
        if not stored:
            print("the demo's run was not stored: see the lines above")
            return 1
        local = stored[-1]
        print("\n8. the session")
        print(show(store, local))
        row, sd, summary = load(store, local)
        png, html = report.session_report(sd, summary, os.path.join(out_dir, "reports"),
                                          row=row)
        print(f"\nreport: {png}\npage:   {html}")
        print(f"\ndemo finished in {time.monotonic() - t0:.0f} s; the history is in {data_dir} "
              f"(corecue --data-dir {data_dir} sessions)")
    finally:
        store.close()
    return 0
