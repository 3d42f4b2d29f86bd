# One measurement of a session start on the heap, under MicroPython: the real app on the sim
# board (a folder), as tests/faults/list_heap.py boots it. Run by bench/session_start_heap.py:
#
#   micropython -X heapsize=8M bench/session_start_heap_mpy.py FIRMWARE DIR WHO count
#   micropython -X heapsize=8M bench/session_start_heap_mpy.py FIRMWARE DIR WHO pieces HOLE
#
# WHO: "boot", the app's own writer buffers made at boot; "own", every writer makes its own (the
# app's buffers taken away: each session start allocates them, as every one did before they were
# made at boot). count prints "boot B retained R start S writer W": bytes the heap handed out for
# the boot's buffers (B; R of them still held after a collection), for a session start (S, the
# second since boot: the first made the store's files) and for the writer's part of it (W: the
# writer made and its first block written). pieces breaks the free heap into holes of HOLE bytes
# first, then starts a session and writes 250 frames; prints "ok" or the MemoryError's line.
import gc
import sys

import micropython

sys.path.insert(0, sys.argv[1])
# the heap broken into holes the way the firmware tests break it (tests/firmware/heapholes.py)
sys.path.append((__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../tests/firmware")
from heapholes import pieces  # noqa: E402
from boards.sim import Board  # noqa: E402
from boards.scenarios import Responsive  # noqa: E402
from belt import config as _config  # noqa: E402
from belt import sessionlog  # noqa: E402
from belt.app import App  # noqa: E402
from belt.storage import Storage  # noqa: E402


def boot(d):
    board = Board(d, Responsive())
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    return App(board, cfg, Storage(board.root + "/sessions"), lambda m: None)


def counted(fn):
    before = micropython.mem_total()
    r = fn()
    return micropython.mem_total() - before, r


def main():
    d, who, what = sys.argv[2], sys.argv[3], sys.argv[4]
    gc.collect()
    held = gc.mem_alloc()
    # An older firmware (FIRMWARE from before the buffers were made at boot) has none to make.
    boot_bytes, bufs = counted(getattr(sessionlog, "SessionBuffers", lambda: None))
    gc.collect()
    retained = gc.mem_alloc() - held
    bufs = None
    app = boot(d)
    if who == "own":
        app.session_buffers = None
    app.start_session()
    app.stop_session()
    if what == "count":
        gc.collect()
        start, _ = counted(app.start_session)
        app.stop_session()
        sid, path = app.store.new_session()
        b = getattr(app, "session_buffers", None)

        def writer():
            w = sessionlog.SessionWriter(path, sid, 0, 0, 0, 0, 0, 0, (150, 200, 300), bufs=b) \
                if b is not None else sessionlog.SessionWriter(path, sid, 0, 0, 0, 0, 0, 0,
                                                               (150, 200, 300))
            w.add_event(sessionlog.EV_BOOT, 1)
            w.flush()
            return w
        gc.collect()
        wbytes, w = counted(writer)
        w.close()
        print("boot %d retained %d start %d writer %d" % (boot_bytes, retained, start, wbytes))
        return
    hole = int(sys.argv[5])
    held = pieces(hole)
    try:
        app.start_session()
        for i in range(250):
            app.writer.add_frame(150 + (i * 7) % 90, 0)
        held = None
        print("ok")
    except MemoryError as e:
        held = None
        print("MemoryError: %s" % e)


main()
