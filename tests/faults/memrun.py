# MemoryError at each allocation site the run time reaches, under MicroPython: the real app on the
# sim board with its session on LittleFS (tests/faults/taskfail.py's belt: a session started at
# 1 s, its brace changing every second, 60 s in all).
#
# The sites are named (tests/faults/allocsites.py): the functions and methods of the run time's
# modules (the app, its tasks, the coach, the run flow, the patterns, the session writer and its
# coder, the store, the clock, the battery, the button, idle and the radio window; the signal
# chain is left out: its per-sample and per-frame code is proved to allocate nothing by
# test_effort and test_sampler). A first run counts each site's calls from 21 s on,
# and which of them took heap; then, for each site that did, the belt runs again with a
# MemoryError raised at its first call from 21 s on (and, with MOMENTS 2, also at the middle one).
# A second row keeps the heap full from there to the scheduler's next turn, as a heap that ran out
# stays full until garbage is collected: the guard's own handling must then still work. Each
# trial must end with the belt running to the end (a task restarted by its guard) or reset by
# its watchdog and recovered, and the session, read back after a reboot, holding every frame
# written but at most the block (100 frames) being written.
#
#   micropython -X heapsize=8M tests/faults/memrun.py FIRMWARE [MOMENTS [STRIDE]]
#
# STRIDE: every STRIDE-th site only. Prints "<row> tried N failed N lost N" (lost: frames lost
# beyond the block being written) and a line per failure.
import sys

_HERE = __file__.rsplit("/", 1)[0]
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, _HERE)
import os  # noqa: E402

import taskfail as tf  # noqa: E402
import allocsites  # noqa: E402
from allocsites import INJ  # noqa: E402
from belt import (app, battery, button, clock, coach, haptics, idle, radiowindow,  # noqa: E402
                  runflow, sessioncodec, sessionformat, sessionlog, storage, tasks)

MODULES = (app, tasks, coach, runflow, haptics, sessionlog, sessioncodec, sessionformat, storage,
           clock, battery, button, idle, radiowindow)
# The harness's own writer records each frame before the real one takes it; the writer's
# methods stay sites through super().
SKIP = ("app.App.log",)         # the boot log's list in the harness


def trial(target):
    INJ.calls = {}
    INJ.target = target
    INJ.fired = False
    holder = {}

    def hook(board, a, ts):
        INJ.full = False                # the heap is full until the scheduler's next turn
        if "dead" not in holder:
            for t in ts:
                if t.done():            # a guard let its task die: nothing restarts it
                    holder["dead"] = True
        if "on" not in holder:
            holder["on"] = True
            INJ.after = lambda: board.elapsed_ms >= tf.FAULT_FROM_MS
            INJ.on = True
        if board.elapsed_ms >= tf.RUN_S * 1000 - 200:
            INJ.on = False              # the orderly end is not a trial's
    try:
        board, a, lines, sid = tf.run(hook)
    finally:
        INJ.on = False
        INJ.after = None
    a.task_died = "dead" in holder
    return board, a, lines, sid


def lost_frames(got, written):
    """Frames missing beyond one block, or None when what was read is not the written frames
    with at most one stretch missing."""
    if got == written:
        return 0
    p = 0
    while p < len(got) and p < len(written) and got[p] == written[p]:
        p += 1
    s = 0
    while (s < len(got) - p and s < len(written) - p
           and got[len(got) - 1 - s] == written[len(written) - 1 - s]):
        s += 1
    if p + s != len(got):
        return None
    missing = len(written) - len(got)
    return missing - 100 if missing > 100 else 0


def check(board, a, sid):
    written = list(tf.Writer.frames)
    if a.task_died:
        return "a task ended: its guard raised", 0
    if not board.wdt_expired and a.frames < (tf.RUN_S - 2) * 10:
        return "frames stopped at %d" % a.frames, 0
    status, got = tf.read_back(sid)
    if status != "closed":
        return "session %s" % status, 0
    lost = lost_frames(got, written)
    if lost is None:
        return "frames read back are not the frames written (%d of %d)" % (len(got),
                                                                          len(written)), 0
    if lost:
        return "%d frames lost beyond the block being written" % lost, lost
    return None, 0


ROWS = (
    (False, "MemoryError once at each allocation site of the run time"),
    (True, "MemoryError from each allocation site of the run time to the task's next pause"),
)


def main(argv):
    moments = int(argv[2]) if len(argv) > 2 else 1
    stride = int(argv[3]) if len(argv) > 3 else 1
    os.mkdir(tf.DIR)
    allocsites.instrument(MODULES, skip=SKIP)
    board, a, _, sid = trial(None)
    why, _ = check(board, a, sid)
    if why:
        print("FAIL the run without faults: %s" % why)
        return 1
    counted = dict(INJ.calls)
    INJ.known = set(INJ.allocating)
    sites = sorted(s for s in counted if s in INJ.allocating or not INJ.allocating)
    rows = []
    for held, row in ROWS:
        INJ.held = held
        tried = failed = lost_all = 0
        for k, site in enumerate(sites):
            if k % stride:
                continue
            calls = [1] if moments < 2 or counted[site] < 2 else [1, counted[site] // 2 + 1]
            for call in calls:
                try:
                    os.remove(tf.DIR + "/flash.img")
                except OSError:
                    pass
                board, a, lines, sid = trial((site, call))
                tried += 1
                why, lost = check(board, a, sid)
                if not INJ.fired:
                    why = why or "never reached"
                lost_all += lost
                if why:
                    failed += 1
                    if failed <= 20:
                        print("FAIL %s call %d%s: %s" % (site, call, " (held)" if held else "",
                                                         why))
        rows.append((row, tried, failed, lost_all))
    for name in os.listdir(tf.DIR):
        os.remove(tf.DIR + "/" + name)
    os.rmdir(tf.DIR)
    bad = 0
    for row, tried, failed, lost_all in rows:
        print("%s (%d sites that took heap, of %d called) tried %d failed %d lost %d" % (
            row, len(sites), len(counted), tried, failed, lost_all))
        bad += failed
    return 1 if bad else 0


sys.exit(main(sys.argv))
