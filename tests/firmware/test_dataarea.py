# A data area formatted anew at boot is said three ways (issue 13): the board's log line, the
# status reply's data area code, and the data_formatted pattern on the motor at start. The board
# says what its mount found (board.data_area, belt.dataarea's codes); the app does the rest, the
# same on every board. Both interpreters: the sim board's folder flash stands for any mount.
from fwtest import eq, skip_unless_micropython

from flashsim import BLOCK, RamFlash

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


def test_a_data_area_mounted_as_it_was_or_new_is_quiet():
    # NEW: blank at boot (a new belt's first boot after its partition table was flashed), so
    # nothing was lost and nothing is felt; the status says it.
    for found in (None, dataarea.AS_IS, dataarea.SHARED, dataarea.NEW):
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


class _Counted(RamFlash):
    """A RAM flash that counts its reads and the largest one."""

    def __init__(self, nblocks, data=None):
        super().__init__(nblocks, data)
        self.reads = self.largest = 0

    def readblocks(self, n, buf, off=0):
        self.reads += 1
        self.largest = max(self.largest, len(buf))
        super().readblocks(n, buf, off)


def test_only_an_area_of_nothing_but_0xff_is_blank():
    erased = _Counted(8, bytearray(b"\xff" * (8 * BLOCK)))
    eq(dataarea.blank(erased), True, "every byte 0xFF: blank")
    eq((erased.reads, erased.largest), (8 * BLOCK // 512, 512), "read to its end, 512 bytes at "
       "a time, never all of it at once")
    for at in (0, 5 * BLOCK + 1234, 8 * BLOCK - 1):
        data = bytearray(b"\xff" * (8 * BLOCK))
        data[at] = 0xFE
        dev = _Counted(8, data)
        eq(dataarea.blank(dev), False, "one byte not 0xFF, at %d" % at)
        eq(dev.reads, at // 512 + 1, "and the reading stops there (%d)" % at)
    eq(dataarea.blank(RamFlash(8)), False, "zeroed")


def test_the_mount_formats_a_blank_area_quietly_and_a_damaged_one_with_a_warning():
    skip_unless_micropython("the data area is LittleFS, mounted through MicroPython's vfs")
    import vfs
    garbled = bytearray(((j * 131) ^ (j >> 3)) & 0xFF for j in range(16 * BLOCK))
    one_byte = bytearray(b"\xff" * (16 * BLOCK))
    one_byte[9 * BLOCK + 77] = 0x00                 # erased but for one byte: not a new area
    for what, data, code, words in (
            ("erased", bytearray(b"\xff" * (16 * BLOCK)), dataarea.NEW, "blank"),
            ("zeroed", bytearray(16 * BLOCK), dataarea.FORMATTED, "formatted anew"),
            ("garbled", garbled, dataarea.FORMATTED, "formatted anew"),
            ("erased but one byte", one_byte, dataarea.FORMATTED, "formatted anew")):
        flash = RamFlash(16, data)
        got, note = dataarea.mount(vfs, flash, "/cqarea")
        try:
            eq(got, code, what)
            eq(words in note, True, "%s: the log line %r" % (what, note))
            with open("/cqarea/f", "w") as f:
                f.write("x")
        finally:
            vfs.umount("/cqarea")
        eq(dataarea.mount(vfs, flash, "/cqarea"), (dataarea.AS_IS, None), what + ": then as is")
        try:
            eq(open("/cqarea/f").read(), "x", what + ": and what was written on it is kept")
        finally:
            vfs.umount("/cqarea")
