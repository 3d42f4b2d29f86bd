# The belt's entry point: the one place that picks a board. On the ESP32 it runs at boot with no
# arguments and uses the reference board. On the desktop it is the virtual belt:
#
#   micropython firmware/main.py --board sim --flash DIR [--scenario morning] [--minutes 30]
#
# --help lists the options. Everything after the board is the same app, tasks and files.
import sys

import asyncio

from belt.app import App
from belt import config as _config
from belt.storage import Storage

_HELP = """usage: main.py [--board sim|xiao_esp32s3] [options]
The corecue belt. Without options (on the ESP32) it runs on the reference board.
sim board options:
  --flash DIR        where the virtual belt's flash (a LittleFS image) lives; created if new
  --scenario NAME    scripted morning: morning (calibrate, warm up, run, lie down) or calibrate
  --minutes N        length of the run in the morning scenario (default 30)
  --recording FILE   play raw 12-bit samples (uint16 little-endian) instead of the scenario's
  --tick-start T     start the virtual millisecond clock at T (to cross the 2**30 wrap)
  --mode MODE        sensor mode for a new belt: emg_raw, emg_env or stretch
  --motor-log FILE   write the motor's on/off edges as CSV (t_ms,level)"""


def _options(argv):
    opts = {"board": "xiao_esp32s3", "flash": ".", "scenario": "morning", "minutes": "30",
            "recording": None, "tick-start": "0", "mode": None, "motor-log": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(_HELP)
            sys.exit(0)
        if not a.startswith("--") or a[2:] not in opts or i + 1 >= len(argv):
            print("main.py: bad option %s (see --help)" % a)
            sys.exit(2)
        opts[a[2:]] = argv[i + 1]
        i += 2
    return opts


def _board(opts):
    if opts["board"] == "sim":
        from boards.sim import Board
        try:
            return Board(opts["flash"], opts["scenario"], int(opts["minutes"]),
                         int(opts["tick-start"]), opts["recording"])
        except ValueError as e:
            print("main.py: %s" % e)
            sys.exit(2)
    from boards.xiao_esp32s3 import Board
    return Board()


async def _run(app, board):
    app.start()
    if board.name != "sim":
        while True:
            await asyncio.sleep_ms(60000)
    while not board.finished():
        await board.sleep_ms(1000)
    app.shutdown()


def main(argv):
    opts = _options(argv)
    board = _board(opts)
    root = getattr(board, "root", "")

    def log(msg):
        board.log(msg)

    config, reason = _config.load(root + "/corecue.cfg")
    if reason:
        log("config: %s; using defaults" % reason)
    if opts["mode"] and opts["mode"] != config["mode"]:
        config.update({"mode": opts["mode"]})
        config.save()
    app = App(board, config, Storage(root + "/sessions"), log)
    asyncio.run(_run(app, board))
    if board.name == "sim":
        board.report(app, opts["motor-log"])


main(sys.argv[1:] if len(sys.argv) > 1 else [])
