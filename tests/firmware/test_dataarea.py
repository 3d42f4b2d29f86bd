# A data area formatted anew at boot is said three ways (issue 13): the board's log line, the
# status reply's data area code, and the data_formatted pattern on the motor at start. The board
# says what its mount found (board.data_area, belt.dataarea's codes); the app does the rest, the
# same on every board. Both interpreters: the sim board's folder flash stands for any mount.
from fwtest import eq, skip_unless_micropython

import beltrig as rig
from belt import config as _config
from belt import dataarea, haptics
from belt import protocol as P
from belt.app import App
from belt.commands import Commands
from belt.storage import Storage
from boards.scenarios import Responsive
from boards.sim import Board

_DATA_AREA = 15     # the status reply's field


def _boot(d, found=None):
    board = Board(d, Responsive())
    if found is not None:
        board.data_area = found      # what the board's mount found
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = App(board, cfg, Storage(board.root + "/sessions"), lambda line: None)
    return board, app


def _first_second(board, app):
    """The motor's edges in the first 3 s after start, and the status reply's data area."""
    got = []

    async def body():
        await rig.advance(board, 3000)
        got.append(rig.reply(Commands(app).handle(P.request("status", 1)))[2][_DATA_AREA])
    rig.run(board, app, body)
    return [e for e in board.motor_edges if e[0] < 3000], got[0]


def _rhythm(edges):
    """The on/off durations the edges make (the last one on -> off)."""
    return tuple(edges[i + 1][0] - edges[i][0] for i in range(len(edges) - 1))


def test_a_data_area_formatted_anew_buzzes_at_start_and_shows_in_the_status():
    board, app = _boot(rig.fresh("area-formatted"), dataarea.FORMATTED)
    edges, code = _first_second(board, app)
    eq(code, dataarea.FORMATTED, "status: formatted anew")
    name, _, duty, steps = haptics.TABLE[haptics.DATA_FORMATTED]
    eq(name, "data_formatted", "the pattern's name (config patterns take it)")
    eq(len(edges), len(steps) + 1, "the pattern's edges: %r" % (edges,))
    eq(edges[0][1], duty, "at its strength")
    eq(_rhythm(edges), steps, "in its rhythm")


def test_a_data_area_mounted_as_it_was_is_quiet():
    for found in (None, dataarea.AS_IS, dataarea.SHARED):
        board, app = _boot(rig.fresh("area-quiet"), found)
        edges, code = _first_second(board, app)
        eq(code, found or dataarea.AS_IS, "status: %r" % found)
        eq(edges, [], "no pattern at start: %r" % found)


def test_the_sim_board_says_what_its_image_mount_found():
    skip_unless_micropython("the sim board's image is LittleFS, mounted through MicroPython's vfs")
    from boards import simflash
    d = rig.fresh("area-image")
    board = Board(d, Responsive(), image=True)
    eq(board.data_area, dataarea.AS_IS, "a new image: made, not repaired")
    with open(d + "/flash.img", "r+b") as f:
        f.write(bytes(2 * simflash.BLOCK))           # both superblocks zeroed
    board = Board(d, Responsive(), image=True)
    eq(board.data_area, dataarea.FORMATTED, "a damaged image: formatted anew")
    board = Board(d, Responsive(), image=True)
    eq(board.data_area, dataarea.AS_IS, "the next boot: as it is")
