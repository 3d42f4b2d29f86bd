# MemoryError at every allocation site of the links' own code, one at a time, under MicroPython
# (and CPython): tests/faults/memfail.py fails the command handler and its download sender as a
# link calls them; this fails the link itself, driven as a companion drives it
# (tests/faults/linkcompanion.py), its tasks running under the app's guard beside the real app:
#   usb        belt.link and belt.framing: framed bytes in on the sim board's serial line;
#   usb-owned  the same with belt.ownedlink, paired over the line first, everything sealed;
#   ble        belt.blelink on tests/firmware/test_blelink.py's stand-in radio: requests written
#              to the control characteristic, replies and data notified;
#   ble-owned  the same with ownership, paired over the air in the wearer's window first.
# The belt has three closed sessions (one confirmed) and one open.
#
# The sites are named (tests/faults/allocsites.py): every call of a function or method of the
# link's modules, and every call they make to what allocates. A first run counts each site's
# calls in a whole sync, and which took heap (MicroPython); then, for each site that did (every
# site under CPython) and each of its calls (every STRIDE-th), a fresh belt is synced with a
# MemoryError raised at exactly that call, and then synced again with nothing injected. The
# companion waits 300 ms of virtual time for each reply and asks again (a new request id) when
# none came; a download that stops is resumed from what it holds. Each trial must end with:
#   - no exception out of the link's tasks (the app's guard restarts a task that raises; here
#     that is a failure: what the task was doing is lost with it);
#   - no session confirmed (synced) that the companion did not hold byte for byte;
#   - every closed session file byte-identical to before, the open one still open;
#   - every reply an ERROR of one line or a packet that parses (and, sealed, opens);
#   - after the second sync, every closed session synced and its bytes the file's.
#
#   micropython -X heapsize=8M tests/faults/memlink.py FIRMWARE [STRIDE [LINK]]
#   python tests/faults/memlink.py FIRMWARE [STRIDE [LINK]]
#
# Two rows: the allocation fails once; or it fails and every later one of the link's sites that
# took heap fails too until the companion next runs (the scheduler's turn), as a heap that ran
# out stays full until garbage is collected. Prints the sites tried, then "<row> tried N failed
# N lost N" (lost: sessions confirmed without being held, or changed) and a line per failure.
import sys

_HERE = __file__.rsplit("/", 1)[0]
sys.path.insert(0, _HERE + "/../firmware")
sys.path.insert(0, _HERE)
if sys.implementation.name != "micropython":
    sys.path.insert(0, _HERE + "/../../companion/corecue/twin/mpshim")     # `micropython`
import fwtest  # noqa: E402,F401  (puts the checkout's firmware first: FIRMWARE goes before it)
sys.path.insert(0, sys.argv[1])
from belt import blelink as _blelink  # noqa: E402
from belt import framing as _framing  # noqa: E402
from belt import link as _link  # noqa: E402
from belt import ownedlink as _ownedlink  # noqa: E402
import allocsites  # noqa: E402
import linkcompanion as lc  # noqa: E402  (the companion's codec, before instrument())
from allocsites import INJ  # noqa: E402

TRANSPORTS = {
    # The tasks themselves are entered by the app's guard: their allocation is the guard's.
    "usb": (lc.Usb, (_link, _framing), ("link.Link.rx", "link.Link.tx")),
    # The IRQ handler and its ring allocate nothing (test_blelink proves it), and one that
    # raises is switched off by MicroPython, the path test_blelink's own tests take; bringing
    # Bluetooth up is boot's, not a sync's. _done, the bookkeeping after a notification went
    # out, adds an int and pops a list: it takes no heap (under MicroPython the counting run
    # finds so), and failing it would stand for a notification both sent and not.
    "usb-owned": (lc.UsbOwned, (_link, _framing, _ownedlink),
                  ("link.Link.rx", "link.Link.tx", "ownedlink.OwnedLink.rx",
                   "ownedlink.OwnedLink.tx")),
    "ble": (lc.Ble, (_blelink,), ("blelink.BleLink.rx", "blelink.BleLink.tx",
                                  "blelink.BleLink.radio", "blelink.BleLink._irq",
                                  "blelink.BleLink._put", "blelink.BleLink._bring_up",
                                  "blelink.BleLink.tasks", "blelink.BleLink._done")),
}
TRANSPORTS["ble-owned"] = (lc.BleOwned,) + TRANSPORTS["ble"][1:]


def trial(make, target, k):
    transport = make("memlink")     # made afresh each trial
    app, link = transport.app, transport.link
    companion = lc.Companion(transport)
    before, open_id = allocsites.session_files(app)
    INJ.calls = {}
    INJ.target = target
    INJ.fired = False
    result = {}

    async def body():
        await transport.connect()
        companion.armed = True
        await companion.sync()
        companion.armed = False
        result["mid"] = allocsites.session_files(app)[0]
        result["restarts"] = app.task_restarts
        result["error"] = app.last_error
        await companion.sync()

    lc.rig.run(transport.board, app, body, link.tasks())
    INJ.on = INJ.full = False
    mid = result["mid"]
    after, open_after = allocsites.session_files(app)
    why = companion.problem or getattr(transport, "problem", None)
    if result["restarts"]:
        why = why or "a task raised: %s" % result["error"]
    lost = 0
    for sid, (synced, data) in mid.items():
        if sid == open_id:
            continue
        if synced and not before[sid][0] and companion.held.get(sid) != data:
            lost += 1
            why = why or "session %d confirmed though the companion did not hold it" % sid
    for sid, (synced, data) in after.items():
        if sid == open_id:
            if synced:
                why = why or "the open session was confirmed"
            continue
        if data != before[sid][1]:
            lost += 1
            why = why or "session %d changed" % sid
        elif not synced:
            why = why or "session %d not synced after the second sync" % sid
        elif not before[sid][0] and companion.held.get(sid) != data:
            lost += 1
            why = why or "session %d held as other bytes" % sid
    if open_after != open_id:
        why = why or "the open session is no longer open"
    return INJ.fired, why, lost


_NAMES = {"usb": "USB link", "usb-owned": "USB link with ownership", "ble": "Bluetooth LE link",
          "ble-owned": "Bluetooth LE link with ownership"}
ROWS = (
    (False, "MemoryError once at each allocation site of the %s"),
    (True, "MemoryError from each allocation site of the %s to the scheduler's next turn"),
)


def main(argv):
    stride = int(argv[2]) if len(argv) > 2 else 1
    which = argv[3] if len(argv) > 3 else "usb"
    if which not in TRANSPORTS:
        print("memlink: the link is usb, usb-owned, ble or ble-owned, not %r" % which)
        return 2
    make, modules, skip = TRANSPORTS[which]
    allocsites.instrument(modules, skip=skip)
    return allocsites.sweep(lambda target, k: trial(make, target, k),
                            [(held, row % _NAMES[which]) for held, row in ROWS], stride,
                            show_sites=True)


sys.exit(main(sys.argv))
