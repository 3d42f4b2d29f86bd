"""The runner's history, no belt needed: `corecue sessions`, `show ID`, `report ID | --trend`,
`export ID... | --all`. The figures are history/analytics.py's in history/figures.py's words;
every file written follows views/outputs.py (no file replaced without --force)."""
import json
import os
import sys

from corecue.commands.belt import open_history, run

ID_HELP = ("the run's number in your history (the first column of `corecue sessions`; the "
           "belt's own session number is another, shown beside it)")


def _print_json(obj):
    json.dump(obj, sys.stdout, indent=2, allow_nan=False)
    print()


def _sessions(args):
    if args.on_belt or args.port or args.belt or args.virtual:
        from corecue.commands.belt import on_belt, sessions
        return run(on_belt(sessions), args)
    from corecue.views import tables
    with open_history(args, create=False) as store:
        if args.json:
            _print_json(tables.sessions_json(store))
        else:
            tables.print_table(tables.sessions_table(store))
    return 0


def _show(args):
    from corecue.views import tables
    with open_history(args, create=False) as store:
        if args.json:
            _print_json(tables.show_json(store, args.id))
        else:
            print(tables.show(store, args.id))
    return 0


def _report(args):
    from corecue.history import trend as T
    from corecue.history.sessions import load
    from corecue.views import report, trendreport
    from corecue.views.tables import session_rows
    with open_history(args, create=False) as store:
        if args.trend:
            rows = session_rows(store)
            if not rows:
                raise report.ReportError("no sessions stored yet: run `corecue sync` after a "
                                         "run")
            tr = T.trend([s for _, s in rows])
            png, html = trendreport.trend_report(tr, args.output, force=args.force)
            print(T.trend_text(tr))
        else:
            if args.id is None:
                raise report.ReportError("report takes a session ID (see `corecue sessions`) or "
                                         "--trend")
            row, sd, summary = load(store, args.id)
            png, html = report.session_report(sd, summary, args.output, row=row,
                                              force=args.force)
    print(f"report: {png}\npage:   {html}")
    return 0


def _export(args):
    from corecue.history.sessions import load
    from corecue.views import export, outputs
    with open_history(args, create=False) as store:
        if args.all:
            ids = [r.id for r in store.sessions()]
        elif args.ids:
            ids = args.ids
        else:
            raise export.ExportError("export takes session IDs or --all")
        if args.output != "-":
            fmt = outputs.format_of(args.output, args.format, export.FORMATS)
            outputs.check_file(args.output, args.force)
        items = []
        for i in ids:
            row, sd, _ = load(store, i)
            items.append((row, sd))
        if args.output == "-":
            export.export_sessions(items, args.format or "csv", sys.stdout)
        else:
            path = export.export_sessions(items, fmt, args.output)
            print(f"{len(items)} session{'s' if len(items) != 1 else ''} written to {path}")
    return 0


def force_option(p):
    p.add_argument("--force", action="store_true",
                   help="replace a file that is already there (never one of the inputs)")


def json_option(p, what):
    p.add_argument("--json", action="store_true",
                   help=f"{what} as JSON, every figure unrounded (for scripts)")


def add_parsers(sub, belt_parent, data_parent):
    p = sub.add_parser(
        "sessions", parents=[belt_parent], help="your runs: start, length, time in band, cues",
        description="The history of synced runs, oldest first: start (local time), the "
        "session's length, the run's, time in band (percent of the judged run), the longest "
        "stretch in band, cues (all four kinds), the minute the brace faded, the time of bad "
        "signal left out of the percentages, and the belt's own number for the session "
        "(docs/analytics.md defines each). --on-belt lists the sessions on the belt itself "
        "instead (as does naming a belt with --port, --belt or --virtual).",
        epilog="examples:\n  corecue sessions\n  corecue sessions --json | jq '.sessions[-1]'"
        "\n  corecue sessions --on-belt")
    p.add_argument("--on-belt", action="store_true", help="the belt's own list")
    json_option(p, "the history")
    p.set_defaults(func=_sessions)

    p = sub.add_parser(
        "show", parents=[data_parent], help="one run in detail",
        description="Every figure of one run: length, time in band, under and over the band, "
        "bad signal left out, the longest stretch in band, whether and when the brace faded, "
        "how the last third held against the first, the cues, the calibration it was measured "
        "with, and the belt's own count beside the companion's.",
        epilog="examples:\n  corecue show 3\n  corecue show 3 --json")
    p.add_argument("id", type=int, metavar="ID", help=ID_HELP)
    json_option(p, "the run")
    p.set_defaults(func=_show)

    p = sub.add_parser(
        "report", parents=[data_parent],
        help="a picture of one run, or of your trend (PNG and HTML)",
        description="Write a PNG of effort over the run (band shaded, cues, gaps where the "
        "signal was bad, where the brace faded) and an HTML page with it and every figure; "
        "--trend for time in band and the brace holding across runs (only with enough runs: "
        "docs/analytics.md). Times are your computer's local time, with its zone.",
        epilog="examples:\n  corecue report 3\n  corecue report --trend -o ~/runs/reports")
    p.add_argument("id", type=int, nargs="?", metavar="ID", help=ID_HELP)
    p.add_argument("--trend", action="store_true", help="across all runs")
    p.add_argument("-o", "--output", default=os.path.join("out", "reports"), metavar="DIR",
                   help="folder for the files (default out/reports)")
    force_option(p)
    p.set_defaults(func=_report)

    p = sub.add_parser(
        "export", parents=[data_parent], help="runs as CSV or JSON",
        description="Write runs in open formats (docs/export-format.md): CSV, one row per "
        "100 ms frame; JSON, one object per run. The format follows the file's suffix (.csv, "
        ".json); to standard output it is --format (default csv). Times in UTC (ISO 8601); "
        "frames with bad signal have no effort value.",
        epilog="examples:\n  corecue export 3 -o run3.csv\n  corecue export --all -o all.json"
        "\n  corecue export 3 --format json | jq .sessions[0].summary")
    p.add_argument("ids", type=int, nargs="*", metavar="ID", help=ID_HELP)
    p.add_argument("--all", action="store_true", help="every stored run")
    p.add_argument("--format", choices=["csv", "json"],
                   help="csv or json; with -o FILE it must agree with the suffix")
    p.add_argument("-o", "--output", default="-", metavar="FILE",
                   help="the file to write (default: standard output)")
    force_option(p)
    p.set_defaults(func=_export)
