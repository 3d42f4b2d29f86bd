"""The `corecue` command. Each subcommand lives in a small function; errors a person can fix are
printed as one line with exit status 2, never as a traceback."""
import argparse
import sys

from corecue.client import BeltError
from corecue.recording import RecordingError


def _replay(args):
    from corecue.replay import replay_files
    from corecue.interp import micropython_path
    interp = args.interpreter or ("micropython" if micropython_path() else "cpython")
    res = replay_files(args.raw, args.calibration, args.mode, args.output, interp)
    bad = sum(1 for _, q in res.frames if q)
    print(f"{len(res.frames)} frames written to {args.output} ({interp}); "
          f"{bad} flagged for signal quality")
    if not res.calibrated:
        from corecue.calreport import verdict_text
        print(f"calibration refused: {verdict_text(res)}; effort left blank")
    return 0


def _virtual_run(args):
    from corecue import virtual
    lines, log = virtual.run(args.dir, args.minutes, args.scenario, args.motor_log,
                             mode=args.mode, recording=args.recording, image=args.image)
    for line in (log if args.verbose else lines):
        print(line)
    return 0


def _virtual_serve(args):
    from corecue import virtual
    import signal

    def interrupted(*_):
        raise KeyboardInterrupt
    # Ctrl-C and a plain kill both stop the belt cleanly, even when started in the background
    # (where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    def ready(port):
        print(f"port: {port}", flush=True)
    virtual.serve(args.dir, args.scenario, args.speed, on_port=ready, log_path=args.log,
                  image=args.image)
    return 0


def _virtual_ble(args):
    import asyncio

    from corecue.virtualbelt import serve_hci

    def ready(name):
        print(f"{name} is on the air for the host on {args.hci} (Ctrl-C stops it)", flush=True)
    try:
        asyncio.run(serve_hci(args.dir, args.hci, args.speed, on_ready=ready))
    except KeyboardInterrupt:
        pass
    return 0


def _demo(args):
    from corecue.demo import run_demo
    return run_demo(args.out, args.interpreter)


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
                        "emulated radio (created if new; the same DIR is the same belt)")
    parser.add_argument("--timeout", type=_seconds, metavar="S", default=default,
                        help="seconds to wait for each answer from the belt (default 3)")


def _data_options(parser, default):
    parser.add_argument("--data-dir", metavar="DIR", default=default,
                        help="where your history is kept (default: $CORECUE_DATA_DIR, else "
                        "your user data folder)")


def _image_option(parser):
    parser.add_argument("--image", action="store_true", help="a new belt keeps its flash in a "
                        "LittleFS image of an ESP32's size, as on the belt (only the MicroPython "
                        "virtual belt can read it; default: a plain folder every command shares)")


def build_parser():
    from corecue import beltcli
    from corecue import runnercli
    p = argparse.ArgumentParser(prog="corecue", description="corecue: the core-bracing belt's "
                                "companion. Pair, calibrate, practise, sync and understand your "
                                "bracing. Without --port, --belt or --virtual, belt commands use "
                                "the belt you paired.")
    _port_options(p, None)
    _data_options(p, None)
    # The same options after a command; SUPPRESS keeps them from undoing the global ones.
    data_parent = argparse.ArgumentParser(add_help=False)
    _data_options(data_parent, argparse.SUPPRESS)
    port_parent = argparse.ArgumentParser(add_help=False, parents=[data_parent])
    _port_options(port_parent, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    runnercli.add_parsers(sub, port_parent, data_parent)

    r = sub.add_parser("replay", help="run the belt's own signal chain over a recording",
                       description="Run the firmware's signal chain over a raw sensor recording "
                       "and write effort (%%MVC) at 10 Hz. RAW.csv: t_ms,adc. CAL.csv: "
                       "t_ms,adc,phase (rest, brace, pause).")
    r.add_argument("raw", metavar="RAW.csv")
    r.add_argument("--calibration", required=True, metavar="CAL.csv")
    r.add_argument("--mode", default="emg_raw", help="sensor mode: emg_raw, emg_env or stretch")
    r.add_argument("-o", "--output", required=True, metavar="OUT.csv")
    r.add_argument("--interpreter", choices=["micropython", "cpython"],
                   help="default: micropython when installed, else cpython")
    r.set_defaults(func=_replay)

    v = sub.add_parser("virtual", help="the virtual belt: the firmware on a simulated board",
                       description="The belt's own firmware on a simulated board, under the "
                       "MicroPython interpreter, with its flash kept in a folder of yours.")
    vsub = v.add_subparsers(dest="virtual_command", metavar="ACTION", required=True)
    vr = vsub.add_parser("run", help="a scripted morning in accelerated time",
                         description="Calibrate, warm up (side planks, bird dog), run N minutes "
                         "with scripted lapses, lie down 10 minutes; prints one line per "
                         "session logged. The same DIR keeps the same belt between calls.")
    vr.add_argument("dir", metavar="DIR", help="the virtual belt's flash folder (created if new)")
    vr.add_argument("--minutes", type=int, default=30, help="length of the run (default 30)")
    vr.add_argument("--scenario", default="morning", help="morning (default) or calibrate")
    vr.add_argument("--mode", choices=["emg_raw", "emg_env", "stretch"],
                    help="sensor mode of a new virtual belt")
    vr.add_argument("--motor-log", metavar="CSV", help="write the motor's on/off edges here")
    vr.add_argument("--recording", metavar="FILE", help="play these raw 12-bit samples "
                    "(uint16 little-endian, the sensor mode's rate) instead of the scenario's")
    _image_option(vr)
    vr.add_argument("-v", "--verbose", action="store_true", help="show the belt's own log")
    vr.set_defaults(func=_virtual_run)
    vs = vsub.add_parser("serve", help="the virtual belt on a serial line, for belt commands",
                         description="Run the virtual belt on a pseudo-terminal and print "
                         "`port: /dev/pts/N` once it answers; belt commands then reach it with "
                         "`corecue --port /dev/pts/N ...`. Runs until Ctrl-C. The belt's error "
                         "output goes to DIR/belt.log.")
    vs.add_argument("dir", metavar="DIR", help="the virtual belt's flash folder (created if new)")
    vs.add_argument("--scenario", default="responsive",
                    help="what the simulated person does (default responsive: follows the "
                    "calibration phases, braces about 20 %% during a session)")
    vs.add_argument("--speed", type=float, default=1.0,
                    help="virtual seconds per real second (default 1; 0: as fast as it can)")
    vs.add_argument("--log", metavar="FILE", help="the belt's error output (default "
                    "DIR/belt.log)")
    _image_option(vs)
    vs.set_defaults(func=_virtual_serve)

    vb = vsub.add_parser("ble", help="the virtual belt on a real Bluetooth host (Linux vhci)",
                         description="Run the virtual belt in this process and put one more "
                         "controller on its emulated radio for another Bluetooth host: with "
                         "--hci vhci (the default; needs a kernel with Bluetooth and "
                         "/dev/vhci), BlueZ gets a new adapter on which bluetoothctl and bleak "
                         "see the belt. Runs until Ctrl-C. docs/ble-emulation.md.")
    vb.add_argument("dir", metavar="DIR", help="the virtual belt's flash folder (created if new)")
    vb.add_argument("--hci", default="vhci", metavar="TRANSPORT",
                    help="a Bumble HCI transport: vhci, or tcp-server:HOST:PORT")
    vb.add_argument("--speed", type=float, default=1.0,
                    help="virtual seconds per real second (default 1)")
    vb.set_defaults(func=_virtual_ble)

    d = sub.add_parser("demo", help="a simulated run through the belt's firmware, end to end")
    d.add_argument("--out", default="out/demo", help="where to write the demo's files")
    d.add_argument("--interpreter", choices=["micropython", "cpython"], default=None)
    d.set_defaults(func=_demo)
    beltcli.add_parsers(sub, port_parent)

    f = sub.add_parser("flash", parents=[port_parent], help="put this firmware on your belt (USB)",
                       description="Compile the firmware (mpy-cross) and copy it to an ESP32 "
                       "running MicroPython with mpremote. Your settings, calibration and "
                       "sessions on the belt are kept (docs/deploy.md).")
    f.set_defaults(func=_flash)
    dr = sub.add_parser("doctor", parents=[port_parent],
                        help="check this computer and your belt: Python, Bluetooth, ports, belt",
                        description="Check Python and the packages, the MicroPython interpreter "
                        "of the virtual belt, a Bluetooth adapter, USB serial ports, the history "
                        "folder, and whether your belt answers.")
    dr.set_defaults(func=_doctor)
    return p


def _flash(args):
    from corecue import deploy
    return deploy.flash_command(args)


def _doctor(args):
    from corecue import doctor
    from corecue.beltcli import open_history, run
    remembered = probe = None
    named = args.port or args.belt or args.virtual
    if not named:
        from corecue.store import StoreError
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
    from corecue.deploy import DeployError
    from corecue.export import ExportError
    from corecue.report import ReportError
    from corecue.sessiondata import SessionFileError
    from corecue.store import StoreError
    return (RecordingError, BeltError, StoreError, ReportError, ExportError, DeployError,
            SessionFileError)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
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


if __name__ == "__main__":
    sys.exit(main())
