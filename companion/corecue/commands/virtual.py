"""The commands that run the belt's own firmware on the desktop: `corecue virtual run | serve |
ble` (the firmware on the simulated board: a scripted morning, a serial line for belt commands, a
controller for another Bluetooth host), `corecue replay` (its signal chain over CSV recordings)
and `corecue demo` (the whole companion against a virtual belt)."""
from corecue.commands.belt import Refused
from corecue.interp import micropython_path


def _virtual_run(args):
    from corecue.history import analytics, figures, sessiondata
    from corecue.twin import mpbelt
    from corecue.views import outputs
    if args.motor_log:
        outputs.check_file(args.motor_log, args.force)
    lines, log = mpbelt.run(args.dir, args.minutes, args.scenario, args.motor_log,
                            mode=args.mode, recording=args.recording, image=args.image)
    if args.verbose:
        for line in log:
            print(line)
    # Each session this morning logged, in the same words as sync and the history use (the
    # belt's own line, in the log, counts the coach's figures: docs/analytics.md).
    logged = [int(ln.split()[1].rstrip(":")) for ln in lines if ln.startswith("session ")]
    files = mpbelt.sessions(args.dir) if logged else {}
    for sid in logged:
        if sid in files:
            s = analytics.summarize(sessiondata.decode(files[sid]))
            print(f"belt session {sid}: {figures.one_line(s)}")
    for line in lines:
        if not line.startswith("session "):
            print(line)
    return 0


def _virtual_serve(args):
    from corecue.twin import mpbelt
    from corecue.views import outputs
    import signal
    if args.log:
        outputs.check_file(args.log, force=True)     # the belt adds to its log, never replaces

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

    if args.interpreter == "micropython":
        from corecue.twin.mpble import serve_hci
    else:
        from corecue.twin.virtualbelt import serve_hci

    def ready(name):
        print(f"{name} is on the air for the host on {args.hci}, its pairing window open for "
              "60 s (Ctrl-C stops it)", flush=True)
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
                       "MicroPython interpreter, with its flash kept in a folder of yours.",
                       epilog="examples:\n  corecue virtual run /tmp/belt --minutes 20\n"
                       "  corecue virtual serve /tmp/belt --speed 20")
    vsub = v.add_subparsers(dest="virtual_command", metavar="ACTION", required=True)
    vr = vsub.add_parser("run", help="a scripted morning in accelerated time",
                         description="Calibrate, warm up (side planks, bird dog), run N minutes "
                         "with scripted lapses, lie down 10 minutes; prints one line per "
                         "session logged, in the words `corecue sync` uses. The same DIR keeps "
                         "the same belt between calls; its calibration reaches your history at "
                         "the next sync.",
                         epilog="examples:\n  corecue virtual run /tmp/belt --minutes 20\n"
                         "  corecue --virtual /tmp/belt sync")
    vr.add_argument("dir", metavar="DIR", help="the virtual belt's flash folder (created if new)")
    vr.add_argument("--minutes", type=int, default=30, help="length of the run (default 30)")
    vr.add_argument("--scenario", default="morning", help="morning (default) or calibrate")
    vr.add_argument("--mode", choices=["emg_raw", "emg_env", "stretch"],
                    help="sensor mode of a new virtual belt")
    vr.add_argument("--motor-log", metavar="CSV", help="write the motor's on/off edges here")
    vr.add_argument("--force", action="store_true", help="replace an existing --motor-log file")
    vr.add_argument("--recording", metavar="FILE", help="play these raw 12-bit samples "
                    "(uint16 little-endian, the sensor mode's rate) instead of the scenario's")
    _image_option(vr)
    vr.add_argument("-v", "--verbose", action="store_true", help="show the belt's own log")
    vr.set_defaults(func=_virtual_run)
    vs = vsub.add_parser("serve", help="the virtual belt on a serial line, for belt commands",
                         description="Run the virtual belt on a pseudo-terminal and print "
                         "`port: /dev/pts/N` once it answers; belt commands then reach it with "
                         "`corecue --port /dev/pts/N ...`. Runs until Ctrl-C. The belt's error "
                         "output goes to DIR/belt.log.",
                         epilog="examples:\n  corecue virtual serve /tmp/belt --speed 20\n"
                         "  corecue --port /dev/pts/5 status")
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
                         description="Run the virtual belt (in this process, or under "
                         "MicroPython with --interpreter micropython) and put one more "
                         "controller on its emulated radio for another Bluetooth host: with "
                         "--hci vhci (the default; needs a kernel with Bluetooth and "
                         "/dev/vhci), BlueZ gets a new adapter on which bluetoothctl and bleak "
                         "see the belt. Runs until Ctrl-C. docs/ble-emulation.md.",
                         epilog="examples:\n  corecue virtual ble /tmp/belt\n"
                         "  corecue virtual ble /tmp/belt --hci tcp-server:127.0.0.1:9000")
    vb.add_argument("dir", metavar="DIR", help="the virtual belt's flash folder (created if new)")
    vb.add_argument("--hci", default="vhci", metavar="TRANSPORT",
                    help="a Bumble HCI transport: vhci, or tcp-server:HOST:PORT")
    vb.add_argument("--speed", type=float, default=1.0,
                    help="virtual seconds per real second (default 1)")
    vb.add_argument("--interpreter", choices=["cpython", "micropython"], default="cpython",
                    help="run the firmware in this process (cpython, the default) or as "
                    "MicroPython (main.py --board sim --ble, the unix port's bluetooth)")
    vb.set_defaults(func=_virtual_ble)


def _replay(args):
    from corecue.twin.replay import replay_files
    from corecue.views import outputs
    outputs.format_of(args.output, None, ("csv",))
    outputs.check_file(args.output, args.force, inputs=(args.raw, args.calibration))
    interp = args.interpreter or ("micropython" if micropython_path() else "cpython")
    res = replay_files(args.raw, args.calibration, args.mode, args.output, interp,
                       allow_gaps=args.allow_gaps)
    bad = sum(1 for _, q in res.frames if q)
    print(f"{len(res.frames)} frames written to {args.output} ({interp}); "
          f"{bad} flagged for signal quality")
    if res.gaps[0]:
        print(f"{res.gaps[0]} gaps in {args.raw} ({res.gaps[1]} ms in all) joined as if "
              "contiguous (--allow-gaps)")
    if not res.calibrated:
        from corecue.views.calreport import verdict_text
        raise Refused(f"the belt's calibration refused {args.calibration}: "
                      f"{verdict_text(res)}; effort in {args.output} is left blank")
    return 0


def add_replay_parser(sub):
    r = sub.add_parser("replay", help="run the belt's own signal chain over a recording",
                       description="Run the firmware's signal chain over a raw sensor recording "
                       "and write effort (%MVC) at 10 Hz. RAW.csv: t_ms,adc. CAL.csv: "
                       "t_ms,adc,phase (rest, brace, pause). Exit status 1 when the calibration "
                       "recording is refused (effort is then left blank).",
                       epilog="examples:\n  corecue replay run.csv --calibration cal.csv -o "
                       "effort.csv\n  corecue replay env.csv --calibration cal.csv --mode "
                       "emg_env -o effort.csv --force")
    r.add_argument("raw", metavar="RAW.csv", help="the raw recording: t_ms,adc")
    r.add_argument("--calibration", required=True, metavar="CAL.csv",
                   help="the at-home calibration recording: t_ms,adc,phase")
    r.add_argument("--mode", default="emg_raw", help="sensor mode: emg_raw, emg_env or stretch")
    r.add_argument("-o", "--output", required=True, metavar="OUT.csv",
                   help="where to write t_ms,effort_pct,quality (never one of the inputs)")
    r.add_argument("--force", action="store_true", help="replace OUT.csv if it exists")
    r.add_argument("--interpreter", choices=["micropython", "cpython"],
                   help="default: micropython when installed, else cpython")
    r.add_argument("--allow-gaps", action="store_true",
                   help="replay across gaps in t_ms, joining their sides (default: refuse)")
    r.set_defaults(func=_replay)


def _demo(args):
    from corecue.commands.demo import run_demo
    return run_demo(args.output, args.interpreter, force=args.force)


def add_demo_parser(sub):
    d = sub.add_parser("demo", help="a simulated run through the belt's firmware, end to end",
                       description="Pair, calibrate, practise, warm up, a 20-minute run, the "
                       "lie-down, sync and the report, on a virtual belt worn by a simulated "
                       "runner, with its own belt and history in the demo's folder (yours are "
                       "never touched). Each run starts from a new belt.",
                       epilog="examples:\n  corecue demo\n  corecue demo -o /tmp/demo")
    d.add_argument("-o", "--output", default="out/demo", metavar="DIR",
                   help="the demo's folder (default out/demo); one that holds other files "
                   "than an earlier demo's needs --force")
    d.add_argument("--force", action="store_true",
                   help="use a folder that holds files the demo did not make")
    d.add_argument("--interpreter", choices=["micropython", "cpython"], default=None,
                   help="kept for scripts; the demo's belt runs in this process")
    d.set_defaults(func=_demo)
