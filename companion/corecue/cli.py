"""The `corecue` command. Each subcommand lives in a small function; errors a person can fix are
printed as one line with exit status 2, never as a traceback."""
import argparse
import sys

from corecue.link.client import BeltError
from corecue.twin.recording import RecordingError


def _seconds(text):
    try:
        s = float(text)
    except ValueError:
        s = 0
    if not 0 < s <= 3600:
        raise argparse.ArgumentTypeError(f"--timeout takes seconds above 0, not {text}")
    return s


def _port_options(parser, default):
    parser.add_argument("--port", metavar="PATH", default=default,
                        help="the belt on this USB serial port")
    parser.add_argument("--belt", metavar="NAME", default=default,
                        help="the belt of this name over Bluetooth LE (corecue-3F2A, or 3F2A), "
                        "or a remembered belt of this name")
    parser.add_argument("--virtual", metavar="DIR", default=default,
                        help="the virtual belt whose flash is in DIR, in this process over an "
                        "emulated radio (made by `pair` when new; the same DIR is the same belt)")
    parser.add_argument("--timeout", type=_seconds, metavar="S", default=default,
                        help="seconds to wait for each answer from the belt (default 3)")


def _data_options(parser, default):
    parser.add_argument("--data-dir", metavar="DIR", default=default,
                        help="where your history is kept (default: $CORECUE_DATA_DIR, else "
                        "your user data folder)")


class _Help(argparse.HelpFormatter):
    """Descriptions wrapped to the terminal; examples (an epilog) kept line by line."""

    def _fill_text(self, text, width, indent):
        if text.startswith("example"):
            return "".join(indent + line + "\n" for line in text.splitlines())
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    def __init__(self, *a, **kw):
        kw.setdefault("formatter_class", _Help)
        super().__init__(*a, **kw)

    def error(self, message):
        """A mistyped command line is one line too, with where to read how it goes (argparse
        prints the whole usage block first, a screenful for some commands); exit status 2."""
        self.exit(2, f"corecue: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def _version():
    from importlib.metadata import PackageNotFoundError, version
    try:
        v = version("corecue")
    except PackageNotFoundError:
        v = "unknown"
    from corecue.interp import firmware_module
    return f"corecue {v} (firmware {firmware_module('belt').FIRMWARE_VERSION})"


def build_parser():
    from corecue.commands import belt as beltcli
    from corecue.commands import runner as runnercli
    from corecue.commands import runs, settings
    from corecue.commands import virtual
    p = Parser(prog="corecue", description="corecue: the core-bracing belt's companion. Pair, "
               "calibrate, practise, sync and understand your bracing. Without --port, --belt or "
               "--virtual, belt commands use the belt you paired. Two numbers name a run: its "
               "number in your history (ID, the first column of `corecue sessions`) and the "
               "belt's own session number, shown beside it.",
               epilog="examples:\n  corecue pair\n  corecue calibrate\n  corecue sync\n"
               "  corecue sessions\n  corecue report 3\n"
               "  corecue --virtual /tmp/belt pair    # no belt yet: a virtual one")
    p.add_argument("--version", action="version", version=_version(),
                   help="the companion's and its firmware's version")
    _port_options(p, None)
    _data_options(p, None)
    # The same options after a command; SUPPRESS keeps them from undoing the global ones.
    data_parent = Parser(add_help=False)
    _data_options(data_parent, argparse.SUPPRESS)
    port_parent = Parser(add_help=False, parents=[data_parent])
    _port_options(port_parent, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    runnercli.add_parsers(sub, port_parent, data_parent)
    runs.add_parsers(sub, port_parent, data_parent)
    virtual.add_replay_parser(sub)
    virtual.add_virtual_parsers(sub)
    virtual.add_demo_parser(sub)
    beltcli.add_parsers(sub, port_parent)
    settings.add_parsers(sub, port_parent)

    f = sub.add_parser("flash", parents=[port_parent], help="put this firmware on your belt (USB)",
                       description="Compile the firmware (mpy-cross) and copy it to an ESP32 "
                       "running MicroPython with mpremote. Your settings, calibration and "
                       "sessions on the belt are kept (docs/deploy.md).",
                       epilog="examples:\n  corecue flash --port /dev/ttyACM0")
    f.set_defaults(func=_flash)
    dr = sub.add_parser("doctor", parents=[port_parent],
                        help="check this computer and your belt: Python, Bluetooth, ports, belt",
                        description="Check Python and the packages, the MicroPython interpreter "
                        "of the virtual belt, a Bluetooth adapter, USB serial ports, the history "
                        "folder, and whether your belt answers.",
                        epilog="examples:\n  corecue doctor\n  corecue doctor --port "
                        "/dev/ttyACM0")
    dr.set_defaults(func=_doctor)
    return p


def _flash(args):
    from corecue.flash import deploy
    return deploy.flash_command(args)


def _doctor(args):
    from corecue.commands import doctor
    from corecue.commands.belt import open_history, run
    remembered = probe = None
    named = args.port or args.belt or args.virtual
    if not named:
        from corecue.history.store import StoreError
        try:
            with open_history(args, create=False) as store:
                rec = store.default_belt()
        except StoreError:
            rec = None
        remembered = rec.name if rec else None
    if named or remembered:
        async def ask(conn, a, store):
            return f"{conn.belt.info.device} answers, firmware {conn.belt.info.firmware}"

        async def probe():
            import asyncio
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, run, ask, args)
        remembered = remembered or named
    return doctor.main(args, probe=probe, remembered=remembered)


def _errors():
    """Every error a person can cause or fix: printed as one line, exit status 2."""
    from corecue.commands.belt import UsageError
    from corecue.flash.deploy import DeployError
    from corecue.history.sessiondata import SessionFileError
    from corecue.history.store import StoreError
    from corecue.views.export import ExportError
    from corecue.views.outputs import OutputError
    from corecue.views.report import ReportError
    return (OutputError, RecordingError, BeltError, StoreError, ReportError, ExportError, DeployError,
            SessionFileError, UsageError)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from corecue.commands.belt import Refused
    try:
        return args.func(args)
    except Refused as e:
        print("corecue: " + " ".join(str(e).splitlines()), file=sys.stderr)
        return 1
    except _errors() as e:
        print("corecue: " + " ".join(str(e).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("corecue: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`corecue config get | head`): nothing more to say to it.
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        # A file or folder the runner named that no command above put in words: still one line
        # with the next step, never the system's "[Errno 13] ...".
        from corecue.link.oserrors import sentence
        print("corecue: " + sentence(e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
