# The belt's first session list after boot on the heap of an ESP32-S3 without PSRAM:
#
#   micropython -X heapsize=8M   list_heap.py FIRMWARE DIR write N    # N closed sessions
#   micropython -X heapsize=256k list_heap.py FIRMWARE DIR list       # boot, list every page
#   micropython -X heapsize=256k list_heap.py FIRMWARE DIR pieces     # the same, heap in pieces
#
# "pieces" first breaks the free heap into holes of 2 KB (as hours of BLE traffic, runs and
# syncs leave it), so no buffer of several KB can be had any more. The script prints
# "listed N" or the MemoryError's one line. Imports follow main.py: the board
# first, then the app (the sim's modules compile from source and want the heap whole).
import sys

sys.path.insert(0, sys.argv[1])
from boards.sim import Board  # noqa: E402
from boards.scenarios import Responsive  # noqa: E402
import struct  # noqa: E402
from belt import config as _config  # noqa: E402
from belt import protocol as P  # noqa: E402
from belt.app import App  # noqa: E402
from belt.commands import Commands  # noqa: E402
from belt.storage import Storage  # noqa: E402


def boot(d):
    board = Board(d, Responsive())
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    return App(board, cfg, Storage(board.root + "/sessions"), lambda m: None)


def write(app, n):
    # The same stored sessions as test_faults' heap test, written by that test's own helper.
    sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/firmware")
    from test_faults import stored_sessions
    stored_sessions(app, n)


def pieces():
    import gc
    gc.collect()            # the garbage of boot freed first, so the holes below are all there is
    hold = []
    try:
        while True:
            hold.append(bytearray(2000))
    except MemoryError:
        pass
    for i in range(0, len(hold), 2):
        hold[i] = None
    gc.collect()
    return hold


def list_all(cmd):
    first = n = 0
    el = struct.calcsize(P.ENTRY)
    while True:
        t, _, _, payload = P.parse(cmd.handle(P.request("session_list", 1, first)))
        if t == P.T_ERROR:
            return "error %s" % bytes(payload[1:]).decode()
        (count,), tail = P.decode_fields(P.reply_format(t), payload)
        if count == 0:
            return "listed %d" % n
        n += count
        first = struct.unpack_from(P.ENTRY, tail, len(tail) - el)[0] + 1


app = boot(sys.argv[2])
try:
    if sys.argv[3] == "write":
        write(app, int(sys.argv[4]))
        print("wrote", sys.argv[4])
    else:
        cmd = Commands(app)         # made at boot, as the links make theirs
        held = pieces() if sys.argv[3] == "pieces" else None
        print(list_all(cmd))
except MemoryError as e:
    print("MemoryError: %s" % e)
