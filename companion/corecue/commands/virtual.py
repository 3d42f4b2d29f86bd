"""The commands that run the belt's own firmware on the desktop: `corecue virtual run | serve |
ble` (the firmware on the simulated board: a scripted morning, a serial line for belt commands, a
controller for another Bluetooth host), `corecue replay` (its signal chain over CSV recordings)
and `corecue demo` (the whole companion against a virtual belt)."""
from corecue.interp import micropython_path


def _virtual_run(args):
    from corecue.twin import mpbelt
    lines, log = mpbelt.run(args.dir, args.minutes, args.scenario, args.motor_log,
                            mode=args.mode, recording=args.recording, image=args.image)
    for line in (log if args.verbose else lines):
        print(line)
    return 0


def _virtual_serve(args):
    from corecue.twin import mpbelt
    import signal

    def interrupted(*_):
        raise KeyboardInterrupt
    # Ctrl-C and a plain kill both stop the belt cleanly, even when started in the background
    # (where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    def ready(port):
        print(f"port: {port}", flush=True)
    mpbelt.serve(args.dir, args.scenario, args.speed, on_port=ready, log_path=args.log,
                 image=args.image)
    return 0


def _virtual_ble(args):
    import asyncio

    from corecue.twin.virtualbelt import serve_hci

    def ready(name):
        print(f"{name} is on the air for the host on {args.hci} (Ctrl-C stops it)", flush=True)
    try:
        asyncio.run(serve_hci(args.dir, args.hci, args.speed, on_ready=ready))
    except KeyboardInterrupt:
        pass
    return 0


def _image_option(parser):
    parser.add_argument("--image", action="store_true", help="a new belt keeps its flash in a "
                        "LittleFS image of an ESP32's size, as on the belt (only the MicroPython "
                        "virtual belt can read it; default: a plain folder every command shares)")


def add_virtual_parsers(sub):
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


def _replay(args):
    from corecue.twin.replay import replay_files
    interp = args.interpreter or ("micropython" if micropython_path() else "cpython")
    res = replay_files(args.raw, args.calibration, args.mode, args.output, interp)
    bad = sum(1 for _, q in res.frames if q)
    print(f"{len(res.frames)} frames written to {args.output} ({interp}); "
          f"{bad} flagged for signal quality")
    if not res.calibrated:
        from corecue.views.calreport import verdict_text
        print(f"calibration refused: {verdict_text(res)}; effort left blank")
    return 0


def add_replay_parser(sub):
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


def _demo(args):
    from corecue.commands.demo import run_demo
    return run_demo(args.out, args.interpreter)


def add_demo_parser(sub):
    d = sub.add_parser("demo", help="a simulated run through the belt's firmware, end to end")
    d.add_argument("--out", default="out/demo", help="where to write the demo's files")
    d.add_argument("--interpreter", choices=["micropython", "cpython"], default=None)
    d.set_defaults(func=_demo)
