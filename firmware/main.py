# The belt's entry point: the one place that picks a board. On the ESP32 it runs at boot with no
# arguments and uses the reference board. On the desktop it is the virtual belt:
#
#   micropython firmware/main.py --board sim --flash DIR [--scenario morning] [--minutes 30]
#   micropython firmware/main.py --board sim --flash DIR --serial [--speed 1]
#   micropython firmware/main.py --board sim --flash DIR --ble [--speed 1]
#
# --help lists the options. Everything after the board is the same app, tasks and files; the
# protocol link runs wherever there is a USB serial line (always on the ESP32; on the sim with
# --serial, over the process's stdin and stdout), and over Bluetooth LE on the ESP32, on the sim
# in the companion's process (corecue.twin.virtualbelt), and on the sim with --ble (the unix
# port's `bluetooth`, companion/corecue/twin/unixport, whose stack the companion runs:
# corecue.twin.mpble).
import sys

import asyncio

_HELP = """usage: main.py [--board sim|xiao_esp32s3] [options]
The corecue belt. Without options (on the ESP32) it runs on the reference board.
sim board options:
  --flash DIR        where the virtual belt's flash lives (DIR/flash, a folder); created if new
  --image            a new belt keeps its flash in a LittleFS image (DIR/flash.img) instead
  --ble              speak the device protocol over Bluetooth LE (the `bluetooth` module on
                     the path: on the desktop, the unix port's, whose stack the companion runs)
  --serial           speak the device protocol on stdin/stdout (a terminal is put in raw mode);
                     the belt stops, closing any open session, when stdin ends
  --speed X          virtual time runs X times real time; 0 runs as fast as possible
                     (default 1 with --serial or --ble, else 0)
  --scenario NAME    morning (calibrate, warm up, run, lie down), calibrate, or responsive (a
                     person who follows the belt: the default with --serial or --ble)
  --minutes N        morning: length of the run (default 30); responsive: stop after N minutes
                     (default: run until stopped)
  --recording FILE   play raw 12-bit samples (uint16 little-endian) instead of the scenario's
  --tick-start T     start the virtual millisecond clock at T (to cross the 2**30 wrap)
  --wall-time T      the belt's clock starts at unix time T (as if a companion had set it)
  --mode MODE        sensor mode for a new belt: emg_raw, emg_env or stretch
  --motor-log FILE   write the motor's on/off edges as CSV (t_ms,level)
  --hold-button      the button is held at power-on: the factory reset of the keys
  --long-press MS    the wearer holds the button MS ms after boot (opens the pairing window)"""

_FLAGS = ("serial", "image", "ble", "hold-button")


def _options(argv):
    opts = {"board": "xiao_esp32s3", "flash": ".", "scenario": None, "minutes": None,
            "recording": None, "tick-start": "0", "wall-time": "0", "mode": None,
            "motor-log": None, "speed": None, "serial": False, "image": False, "ble": False,
            "hold-button": False, "long-press": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(_HELP)
            sys.exit(0)
        if a.startswith("--") and a[2:] in _FLAGS:
            opts[a[2:]] = True
            i += 1
            continue
        if not a.startswith("--") or a[2:] not in opts or i + 1 >= len(argv):
            print("main.py: bad option %s (see --help)" % a)
            sys.exit(2)
        opts[a[2:]] = argv[i + 1]
        i += 2
    linked = opts["serial"] or opts["ble"]
    if opts["scenario"] is None:
        opts["scenario"] = "responsive" if linked else "morning"
    if opts["speed"] is None:
        opts["speed"] = "1" if linked else "0"
    return opts


def _compile(*names):
    # On the desktop the modules are compiled from source. Garbage left by one module's compile
    # and collected only when the heap runs out leaves it in pieces too small for the next; a
    # collection after each keeps the 256 KB heap whole, as loading .mpy files on the belt does.
    import gc
    for name in names:
        __import__(name)
        gc.collect()


def _board(opts, usb):
    if opts["board"] == "sim":
        from boards.sim import Board
        try:
            minutes = int(opts["minutes"]) if opts["minutes"] else None
            speed = float(opts["speed"])
            if speed < 0:
                raise ValueError("--speed must not be negative")
            board = Board(opts["flash"], opts["scenario"], minutes, int(opts["tick-start"]),
                          opts["recording"], wall_time=int(opts["wall-time"]), usb=usb,
                          speed=speed, image=opts["image"],
                          bluetooth=__import__("bluetooth") if opts["ble"] else None,
                          button_held=opts["hold-button"])
            if opts["long-press"]:
                board.press("long", int(opts["long-press"]))
            return board
        except ValueError as e:
            print("main.py: %s" % e)
            sys.exit(2)
    from boards.xiao_esp32s3 import Board
    return Board()


async def _run(app, board, links):
    tasks = app.start(tuple(t for link in links for t in link.tasks()))
    if board.name != "sim":
        while True:
            await asyncio.sleep_ms(60000)
    while not board.finished():
        await board.sleep_ms(1000)
    app.shutdown()
    for t in tasks:
        t.cancel()


def _boot(opts, usb, board=None):
    sim = opts["board"] == "sim"
    # Ownership guards the links: a sim belt without any (`virtual run`) needs none of it, and
    # its heap is spared the modules (unless the button is held for a factory reset).
    owned = not sim or usb or opts["ble"] or opts["hold-button"]
    _compile(*(("boards.sim",) if sim else ()) + ("belt.app", "belt.config", "belt.storage",
                                                  "belt.link") + (
        ("belt.mac", "belt.aesctr", "belt.aescmac", "belt.channel", "belt.checkedfile",
         "belt.keystore", "belt.bonds", "belt.auth", "belt.owned", "belt.owners",
         "belt.ownedlink") if owned else ()))
    board = board or _board(opts, usb)
    from belt.app import App
    from belt import config as _config
    from belt.storage import Storage
    root = getattr(board, "root", "")

    def log(msg):
        board.log(msg)

    note = board.reset_note() if hasattr(board, "reset_note") else None
    if note:
        log(note)
    if getattr(board, "flash_note", None):
        log(board.flash_note)
    config, reason = _config.load(root + "/corecue.cfg")
    if reason:
        log("config: %s; using defaults" % reason)
    if opts["mode"] and opts["mode"] != config["mode"]:
        config.update({"mode": opts["mode"]})
        config.save()
    app = App(board, config, Storage(root + "/sessions"), log)
    links = []
    if not owned:
        asyncio.run(_run(app, board, links))
        return app, board
    # Ownership on both links (docs/protocol.md, "Ownership"): nothing but HELLO and pairing
    # before a computer has proved it holds a key the belt keeps in /keys.
    from belt import owners
    from belt.ownedlink import OwnedLink
    owner = owners.setup(app, root)
    import gc
    gc.collect()
    if board.name != "sim" or usb:
        links.append(OwnedLink(app, owner, on_paired=owners.paired(app, "USB")))
        gc.collect()    # each link's buffers then find the heap whole (256 KB on the ESP32)
    radio = board.ble()
    if radio:
        # The same protocol over Bluetooth LE; each link has its own commands and download, so
        # the USB cable and the radio can both be in use.
        from belt.blelink import BleLink
        links.append(BleLink(app, *radio, owner=owner,
                             on_paired=owners.paired(app, "Bluetooth"), bonds=owner.bonds))
    asyncio.run(_run(app, board, links))
    return app, board


def main(argv):
    opts = _options(argv)
    usb = None
    if opts["serial"] and opts["board"] == "sim":
        from boards.stdio import StdioPort
        usb = StdioPort(raw=True)
    board, logged = None, []
    while True:
        app, board = _boot(opts, usb, board)
        logged += app.sessions_logged
        if getattr(board, "asleep", False) and board.sleep_until_pressed():
            pass                        # woken from deep sleep: a new boot, the sim's time goes on
        elif getattr(board, "rebooting", False):
            board = None
        else:
            break
        asyncio.new_event_loop()        # the old boot's tasks go with its loop
    app.sessions_logged = logged
    if usb:
        usb.close()
    elif board.name == "sim":
        board.report(app, opts["motor-log"])


main(sys.argv[1:] if len(sys.argv) > 1 else [])
