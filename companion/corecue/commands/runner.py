"""The runner's `corecue` commands with a belt: scan, pair, devices, calibrate, live, sync (the
history's own, no belt needed, are in runs.py). Each is a small function here; the work is in
the module named after it."""
import asyncio

from corecue.commands.belt import open_history, run, uses_store


def _yes_option(p):
    p.add_argument("--yes", action="store_true", help="do not wait for Enter: each step starts "
                   "on its own and the result is saved (for scripts)")


# -- with a belt ---------------------------------------------------------------------------------

def _scan(args):
    from corecue.commands.belt import existing_virtual
    from corecue.link.connect import scan
    if args.virtual:
        existing_virtual(args.virtual)         # a mistyped folder is not a new belt to hear
    found = asyncio.run(scan(args.seconds, args.virtual))
    if not found:
        print(f"no belt heard in {args.seconds:g} s (is it switched on and near?)")
        return 1
    for name, rssi in found:
        print(f"{name}" + (f"  signal {rssi} dBm" if rssi is not None else ""))
    return 0


def _pair(args):
    from corecue.commands import pairing
    store = open_history(args, new=True)

    @uses_store
    async def command(conn, a, s):
        await pairing.pair(conn, s, yes=a.yes)
        return 0
    return run(command, args, target=pairing.pair_target(args), store=store, new_belt=True,
               pairing=True)


def _devices(args):
    from corecue.commands import pairing
    for name in ("port", "belt", "virtual", "timeout"):
        setattr(args, name, getattr(args, name, None))
    if args.forget and args.revoke:
        store = open_history(args, create=False)
        rec = store.find_belt(args.forget)
        if rec is None:
            store.close()
            raise pairing.BeltError(f"no remembered belt {args.forget} (see `corecue devices`)")
        from corecue.link.connect import Target

        @uses_store
        async def command(conn, a, s):
            await pairing.revoke(conn, s)
            return 0
        return run(command, args, target=Target(rec.transport, rec.address, remembered=True,
                                                device=rec.device), store=store)
    if args.revoke:
        raise pairing.BeltError("--revoke goes with --forget NAME")
    with open_history(args, create=False) as store:
        if args.forget:
            pairing.forget(store, args.forget)
        else:
            pairing.devices(store)
    return 0


def _calibrate(args):
    from corecue.commands.calibrate import calibrate, history
    if args.history:
        with open_history(args, create=False) as store:
            print(history(store))
        return 0

    @uses_store
    async def command(conn, a, store):
        res = await calibrate(conn, store, yes=a.yes)
        # 0: saved, or a good one the runner chose not to keep; 1: the belt refused it.
        return 0 if res.adopted or res.ok else 1
    # A person at the keyboard follows a virtual belt in real time; a script runs it flat out.
    return run(command, args, speed=0.0 if args.yes else 1.0)


def _live(args):
    from corecue.views.live import live

    async def command(conn, a, store):
        from corecue.commands.belt import Refused
        if not (await conn.belt.status()).calibrated:
            raise Refused("the belt is not calibrated yet, so it has no effort to show: run "
                          "`corecue calibrate` first")
        await live(conn, a.seconds, warmup=a.warmup, yes=a.yes)
        return 0
    return run(command, args, speed=0.0 if args.yes else 1.0)


def _sync(args):
    if args.watch:
        return _watch(args)
    from corecue.history.sync import sync
    from corecue.views.bar import progress_bar

    @uses_store
    async def command(conn, a, store):
        await sync(conn, store, progress=progress_bar())
        return 0
    return run(command, args)


def _watch(args):
    from corecue.commands.belt import existing_virtual
    from corecue.commands.watch import watch
    from corecue.link.connect import resolve
    from corecue.link.errors import BeltError
    if args.port:
        raise BeltError("--watch listens for a Bluetooth belt: over USB, run `corecue sync` "
                        "while the belt is plugged in")
    if args.virtual:
        existing_virtual(args.virtual)
    store = open_history(args)
    try:
        target = resolve(None, args.belt, args.virtual, store)
        if target.transport == "usb":
            raise BeltError("no Bluetooth belt to watch for: pair one with `corecue pair` (or "
                            "name it with --belt)")
        print(f"watching for {target.describe()}: each time it is in reach, its new runs are "
              "synced (Ctrl-C stops)", flush=True)
        asyncio.run(watch(target, store, every_s=args.every, timeout=args.timeout))
    finally:
        store.close()
    return 0


def _seconds_arg(text):
    import argparse
    try:
        v = float(text)
    except ValueError:
        v = -1
    if not 0 < v <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"seconds between 0 and a day, not {text}")
    return v


def add_parsers(sub, belt_parent, data_parent):
    p = sub.add_parser("scan", parents=[belt_parent], help="list the belts advertising nearby",
                       description="Listen for belts over Bluetooth LE (found by the corecue "
                       "service they advertise) and list them by name. With --virtual DIR, "
                       "listens on the emulated radio of that virtual belt.",
                       epilog="examples:\n  corecue scan\n  corecue scan --seconds 10")
    p.add_argument("--seconds", type=_seconds_arg, default=5.0, help="how long to listen (5)")
    p.set_defaults(func=_scan)

    p = sub.add_parser("pair", parents=[belt_parent],
                       help="remember a belt, so other commands need no options",
                       description="Make this computer the belt's owner and remember it as your "
                       "default belt (--port, --belt NAME, --virtual DIR, or the first belt "
                       "heard over Bluetooth). Over USB it pairs at once; over Bluetooth, hold "
                       "the belt's button until it buzzes twice (the pairing window, 60 s). "
                       "--virtual DIR makes a virtual belt in DIR when there is none yet; it "
                       "also starts your history when you have none.",
                       epilog="examples:\n  corecue pair\n  corecue pair --belt 3F2A\n"
                       "  corecue pair --port /dev/ttyACM0\n"
                       "  corecue --virtual /tmp/belt pair --yes")
    p.add_argument("--yes", action="store_true", help="unattended, for scripts: no word on "
                   "what the runner does (a virtual belt's button is always held for them)")
    p.set_defaults(func=_pair)

    p = sub.add_parser("devices", parents=[data_parent], help="the belts you have paired",
                       description="List remembered belts (* marks the default); --forget NAME "
                       "forgets one (its sessions stay in the history).",
                       epilog="examples:\n  corecue devices\n  corecue devices --forget 3F2A\n"
                       "  corecue devices --forget 3F2A --revoke")
    p.add_argument("--forget", metavar="NAME", help="forget this belt (name, XXXX or device id)")
    p.add_argument("--revoke", action="store_true", help="with --forget: connect first and "
                   "have the belt drop this computer's key, so nobody with this history can "
                   "reach it again")
    p.set_defaults(func=_devices)

    p = sub.add_parser("calibrate", parents=[belt_parent],
                       help="measure your maximal brace at home (guided, about a minute)",
                       description="Guided calibration: relax 10 s, then brace as hard as you can "
                       "three times for 5 s with rests, watching the signal live. The belt's "
                       "verdict is shown in plain words, and the calibration is kept on the belt "
                       "only when you answer yes. You press Enter before each brace; the rests "
                       "are timed by the belt, with the seconds left shown. Every attempt, and "
                       "every calibration the belt made by itself, is kept in the history. Exit "
                       "status 0 when saved or declined, 1 when the belt refuses it.",
                       epilog="examples:\n  corecue calibrate\n  corecue calibrate --history")
    _yes_option(p)
    p.add_argument("--history", action="store_true",
                   help="list past calibrations and how the maximum changed (no belt needed)")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("live", parents=[belt_parent],
                       help="watch your brace live: practise holding about 20 %%",
                       description="Show effort (% of your maximum) live with the band and the "
                       "belt's cues. --warmup guides the side planks and bird dogs before a run. "
                       "Exit status 1 when the belt is not calibrated yet.",
                       epilog="examples:\n  corecue live\n  corecue live --seconds 120\n"
                       "  corecue live --warmup")
    p.add_argument("--seconds", type=_seconds_arg, default=60.0,
                   help="how long to watch (default 60)")
    p.add_argument("--warmup", action="store_true",
                   help="the pre-run holds as the belt has them (side planks, bird dog)")
    _yes_option(p)
    p.set_defaults(func=_live)

    p = sub.add_parser("sync", parents=[belt_parent],
                       help="copy every new run off the belt into your history",
                       description="Download each new session, check its CRC, store it, and "
                       "only then tell the belt it is safe (the belt never deletes a run you do "
                       "not have). Safe to interrupt: run it again to resume. Prints one line "
                       "per new run with its figures (docs/analytics.md). --watch keeps "
                       "listening for the belt and syncs it by itself once each time it comes "
                       "within reach (after a run's lie-down, or when woken), one line per sync; "
                       "the user guide shows how to start it at login.",
                       epilog="examples:\n  corecue sync\n  corecue --virtual /tmp/belt sync\n"
                       "  corecue sync --watch\n  corecue sync --watch --every 60")
    p.add_argument("--watch", action="store_true",
                   help="keep listening and sync the paired belt whenever it is in reach")
    p.add_argument("--every", type=_seconds_arg, default=30.0, metavar="SECONDS",
                   help="with --watch: how often to listen for the belt (default 30)")
    p.set_defaults(func=_sync)
