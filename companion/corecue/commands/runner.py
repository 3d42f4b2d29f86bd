"""The runner's `corecue` commands: scan, pair, devices, calibrate, live, sync (with a belt), and
sessions, show, report, export (the history, no belt needed). Each is a small function here; the
work is in the module named after it."""
import asyncio
import os
import sys

from corecue.commands.belt import open_history, run, uses_store


def _yes_option(p):
    p.add_argument("--yes", action="store_true", help="do not wait for Enter: each step starts "
                   "on its own and the result is saved (for scripts)")


# -- with a belt ---------------------------------------------------------------------------------

def _scan(args):
    from corecue.link.connect import scan
    found = asyncio.run(scan(args.seconds, args.virtual))
    if not found:
        print(f"no belt heard in {args.seconds:g} s (is it switched on and near?)")
        return 1
    for name, rssi in found:
        print(f"{name}" + (f"  signal {rssi} dBm" if rssi is not None else ""))
    return 0


def _pair(args):
    from corecue.commands import pairing
    store = open_history(args)

    @uses_store
    async def command(conn, a, s):
        await pairing.pair(conn, s)
        return 0
    return run(command, args, target=pairing.pair_target(args), store=store)


def _devices(args):
    from corecue.commands import pairing
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
        return 0 if res.adopted else 1
    # A person at the keyboard follows a virtual belt in real time; a script runs it flat out.
    return run(command, args, speed=0.0 if args.yes else 1.0)


def _live(args):
    from corecue.views.live import live

    async def command(conn, a, store):
        await live(conn, a.seconds, warmup=a.warmup, yes=a.yes)
        return 0
    return run(command, args, speed=0.0 if args.yes else 1.0)


def _sync(args):
    from corecue.history.sync import sync
    from corecue.views.bar import progress_bar

    @uses_store
    async def command(conn, a, store):
        await sync(conn, store, progress=progress_bar())
        return 0
    return run(command, args)


# -- the history ---------------------------------------------------------------------------------

def _sessions(args):
    if args.on_belt or args.port or args.belt or args.virtual:
        from corecue.commands.belt import on_belt, sessions
        return run(on_belt(sessions), args)
    from corecue.views.tables import sessions_table
    with open_history(args, create=False) as store:
        print(sessions_table(store))
    return 0


def _show(args):
    from corecue.views.export import placement_name
    from corecue.views.tables import show
    with open_history(args, create=False) as store:
        print(show(store, args.id, placement_name=_placement(args, store, placement_name)))
    return 0


def _placement(args, store, placement_name):
    row = store.session(args.id)
    if row is None:
        return None
    from corecue.history import sessiondata
    try:
        code = sessiondata.decode(row.raw).placement
    except sessiondata.SessionFileError:
        return None
    return f"{code} ({placement_name(code)})"


def _report(args):
    from corecue.history import analytics
    from corecue.views import report
    from corecue.history.sessions import load
    with open_history(args, create=False) as store:
        if args.trend:
            rows = [(r.start_utc, analytics.Summary.from_dict(r.summary))
                    for r in store.sessions()]
            png, html = report.trend_report(rows, args.out)
        else:
            if args.id is None:
                raise report.ReportError("report takes a session ID (see `corecue sessions`) or "
                                         "--trend")
            _, sd, summary = load(store, args.id)
            # Named by the history's own number: a belt's session ids can repeat (a wiped belt).
            png, html = report.session_report(sd, summary, args.out, name=f"session-{args.id}")
    print(f"report: {png}\npage:   {html}")
    return 0


def _export(args):
    from corecue.views import export
    from corecue.history.sessions import load
    with open_history(args, create=False) as store:
        if args.all:
            ids = [r.id for r in store.sessions()]
        elif args.ids:
            ids = args.ids
        else:
            raise export.ExportError("export takes session IDs or --all")
        items = []
        for i in ids:
            row, sd, _ = load(store, i)
            items.append((row, sd))
        if args.output == "-":
            export.export_sessions(items, args.format, sys.stdout)
        else:
            path = export.export_sessions(items, args.format, args.output)
            print(f"{len(items)} session{'s' if len(items) != 1 else ''} written to {path}")
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
                       "listens on the emulated radio of that virtual belt.")
    p.add_argument("--seconds", type=_seconds_arg, default=5.0, help="how long to listen (5)")
    p.set_defaults(func=_scan)

    p = sub.add_parser("pair", parents=[belt_parent],
                       help="remember a belt, so other commands need no options",
                       description="Connect to a belt (--port, --belt NAME, --virtual DIR, or the "
                       "first belt heard over Bluetooth) and remember it as your default belt.")
    p.set_defaults(func=_pair)

    p = sub.add_parser("devices", parents=[data_parent], help="the belts you have paired",
                       description="List remembered belts (* marks the default); --forget NAME "
                       "forgets one (its sessions stay in the history).")
    p.add_argument("--forget", metavar="NAME", help="forget this belt (name, XXXX or device id)")
    p.set_defaults(func=_devices)

    p = sub.add_parser("calibrate", parents=[belt_parent],
                       help="measure your maximal brace at home (guided, about a minute)",
                       description="Guided calibration: relax 10 s, then brace as hard as you can "
                       "three times for 5 s with rests, watching the signal live. The belt's "
                       "verdict is shown in plain words, and the calibration is kept on the belt "
                       "only when you agree. Every attempt is kept in the history.")
    _yes_option(p)
    p.add_argument("--history", action="store_true",
                   help="list past calibrations and how the maximum changed (no belt needed)")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("live", parents=[belt_parent],
                       help="watch your brace live: practise holding about 20 %%",
                       description="Show effort (%% of your maximum) live with the band and the "
                       "belt's cues. --warmup guides the side planks and bird dogs before a run.")
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
                       "not have). Safe to interrupt: run it again to resume.")
    p.set_defaults(func=_sync)

    p = sub.add_parser("sessions", parents=[belt_parent],
                       help="your runs: date, length, time in band, cues, fade",
                       description="The history of synced runs, oldest first. --on-belt lists "
                       "the sessions on the belt itself instead (as does naming a belt with "
                       "--port, --belt or --virtual).")
    p.add_argument("--on-belt", action="store_true", help="the belt's own list")
    p.set_defaults(func=_sessions)

    p = sub.add_parser("show", parents=[data_parent], help="one run in detail")
    p.add_argument("id", type=int, metavar="ID", help="the run's number in `corecue sessions`")
    p.set_defaults(func=_show)

    p = sub.add_parser("report", parents=[data_parent],
                       help="a picture of one run, or of your trend (PNG and HTML)",
                       description="Write a PNG of effort over the run (band shaded, cues, "
                       "signal gaps, where the brace faded) and an HTML page with it; --trend "
                       "for time in band and endurance across runs.")
    p.add_argument("id", type=int, nargs="?", metavar="ID")
    p.add_argument("--trend", action="store_true", help="across all runs")
    p.add_argument("--out", default=os.path.join("out", "reports"),
                   help="folder for the files (default out/reports)")
    p.set_defaults(func=_report)

    p = sub.add_parser("export", parents=[data_parent], help="runs as CSV or JSON",
                       description="Write runs in open formats (docs/export-format.md): CSV, "
                       "one row per 100 ms frame; JSON, one object per run. Times in UTC.")
    p.add_argument("ids", type=int, nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="every stored run")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("-o", "--output", default="-", metavar="FILE", help="default: standard output")
    p.set_defaults(func=_export)
