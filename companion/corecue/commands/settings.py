"""`corecue config get | set`: the belt's settings, shown and set in a runner's units.

Every setting keeps its internal name (`low_pm`, `under_dwell_ms`, ... docs/device-config.md),
so scripts stay stable, and its value is shown in the belt's units with the runner's beside it
(`low_pm = 150   (15 %)`). A value may be given either way: a plain number is in the belt's
units (150), one with a unit in the runner's (`15%`, `3s`, `2min`, a date `2026-01-31` for
cal_time). Before anything is sent, the change is checked with the firmware's own rules
(belt.config.check), so the companion never sends a setting the belt would refuse, and a
setting named twice is an error, not the last one winning."""
import datetime as _dt
import json

from corecue.commands.belt import UsageError, on_belt, run
from corecue.history import figures
from corecue.interp import firmware_module

_UNIT_HELP = "a plain number in the belt's units, or with a unit: 15%, 3s, 2min, 2026-01-31"


def runner_value(name, value):
    """The value in a runner's words, or None where the belt's own says it already."""
    if type(value) is not int:
        return None
    if name.endswith("_pm_per_10min"):
        return f"{value / 10:g} % per 10 min"
    if name.endswith("_pm"):
        return f"{value / 10:g} %"
    if name.endswith("_ms"):
        return f"{value / 1000:g} s" if value < 120000 else f"{value / 60000:g} min"
    if name == "cal_time":
        return figures.when(value) if value else "unknown"
    if name in ("cal_rest", "cal_mvc"):
        return "sensor units"
    return None


def from_runner(name, text):
    """The belt's value for `text` given for setting `name`: JSON (the belt's units), or a
    number with %, s or min, or a date for cal_time. UsageError for a unit the setting has not."""
    t = text.strip()
    low = t.lower().replace(" ", "")
    for unit, scale, fits in (("%", 10, name.endswith("_pm")),
                              ("min", 60000, name.endswith("_ms")),
                              ("s", 1000, name.endswith("_ms"))):
        if low.endswith(unit) and low[:-len(unit)].replace(".", "", 1).lstrip("-").isdigit():
            if not fits:
                raise UsageError(f"{name} is not set in {unit}: give it "
                                 f"{_unit_of(name) or 'in its own units'}")
            return int(round(float(low[:-len(unit)]) * scale))
    if name == "cal_time" and len(t) == 10 and t[4] == "-" and t[7] == "-":
        try:
            return int(_dt.datetime.strptime(t, "%Y-%m-%d").astimezone().timestamp())
        except ValueError:
            raise UsageError(f"cal_time: {t} is not a date (YYYY-MM-DD)") from None
    try:
        return json.loads(t)
    except ValueError:
        return t


def _unit_of(name):
    if name.endswith("_pm"):
        return "in % (15%)"
    if name.endswith("_ms"):
        return "in s or min (3s)"
    return None


def parse_assignments(items):
    """["low_pm=12%", "mode=emg_env", 'holds=[[1,30000]]'] -> {name: belt value}."""
    changes = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise UsageError(f"config set takes NAME=VALUE, not {item!r}")
        if name in changes:
            raise UsageError(f"{name} is given twice: give each setting once")
        changes[name] = from_runner(name, text)
    return changes


def precheck(current, changes):
    """The firmware's own verdict on the change, before it is sent: None, or "field: why".
    Only when this companion knows exactly the belt's settings (same firmware schema)."""
    cf = firmware_module("belt.config")
    if set(current) != set(cf.NAMES):
        return None
    return cf.check({**current, **changes}, changes)


async def config_get(belt, args):
    cfg = await belt.config_get()
    if args.json:
        print(json.dumps(cfg, indent=2))
        return 0
    if args.name:
        if args.name not in cfg:
            raise UsageError(f"the belt has no setting {args.name} "
                             f"(it has: {', '.join(cfg)})")
        print(json.dumps(cfg[args.name]))
        return 0
    width = max(len(k) for k in cfg)
    for k, v in cfg.items():
        words = runner_value(k, v)
        text = f"{k:<{width}} = {json.dumps(v)}"
        print(text + (f"   ({words})" if words else ""))
    return 0


async def config_set(belt, args):
    changes = parse_assignments(args.assignments)
    why = precheck(await belt.config_get(), changes)
    if why:
        raise UsageError(f"the belt would refuse this: {why}; nothing was changed")
    cfg = await belt.config_set(changes)
    for k in changes:
        words = runner_value(k, cfg.get(k))
        print(f"{k} = {json.dumps(cfg.get(k))}" + (f"   ({words})" if words else ""))
    return 0


def add_parsers(sub, port_parent):
    c = sub.add_parser(
        "config", help="read or change the belt's settings (docs/device-config.md)",
        description="The belt's settings, by their names in docs/device-config.md, each shown "
        "in the belt's units with a runner's beside it (150 = 15 %).",
        epilog="examples:\n  corecue config get\n  corecue config set low_pm=15% high_pm=30%")
    csub = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    g = csub.add_parser(
        "get", parents=[port_parent], help="all settings, or one",
        description="All settings with their values in a runner's units; one NAME prints its "
        "value alone, as JSON in the belt's units (for scripts).",
        epilog="examples:\n  corecue config get\n  corecue config get low_pm\n"
        "  corecue config get --json")
    g.add_argument("name", nargs="?", metavar="NAME", help="one setting (e.g. low_pm)")
    g.add_argument("--json", action="store_true", help="every setting as one JSON object")
    g.set_defaults(func=lambda a: run(on_belt(config_get), a))
    st = csub.add_parser(
        "set", parents=[port_parent], help="change settings, all or nothing",
        description="Change settings, all or nothing: checked against the belt's own rules "
        "before anything is sent, and refused whole if any value is out of range or breaks a "
        "relation (the band's order, a calibration the belt could not use). VALUE is JSON in "
        "the belt's units (150, [[1,30000]]), a plain word (emg_env), or a number with a "
        f"runner's unit: {_UNIT_HELP}. Each setting once.",
        epilog="examples:\n  corecue config set low_pm=15% high_pm=30%\n"
        "  corecue config set under_dwell_ms=4s\n  corecue config set mode=emg_env")
    st.add_argument("assignments", nargs="+", metavar="NAME=VALUE",
                    help="a setting and its new value")
    st.set_defaults(func=lambda a: run(on_belt(config_set), a))
