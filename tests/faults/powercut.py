# Power cuts at every program and erase operation of a session, and in the middle of each, on
# MicroPython's vfs.VfsLfs2 over an emulated NOR flash, each image then booted through the
# firmware's own path (belt.dataarea.mount, Storage, recover_all); and cuts at every operation of
# boot recovery itself, booted again. Run by the MicroPython interpreter:
#
#   micropython -X heapsize=8M tests/faults/powercut.py FIRMWARE FRAMES STEP
#
# STEP 1 cuts at every operation; STEP n at every n-th. Prints one line per row:
#   "<row> tried N failed N lost N" with lost = frames lost beyond the block being written, and
# a line per failure. Exit status 1 when anything failed.
import sys

sys.path.insert(0, sys.argv[1])
import os  # noqa: E402
import vfs  # noqa: E402
from belt import dataarea  # noqa: E402
from belt.sessionlog import SessionWriter, read_session  # noqa: E402
from belt.storage import Storage  # noqa: E402

BLOCK = 4096
NBLOCKS = 64
MP = "/cut"


class NorFlash:
    """A NOR flash for LittleFS: erase sets a block to 0xFF, program can only clear bits (what is
    written is ANDed with what is there), as the ESP32's SPI flash does. Every operation is
    logged so an image can be rebuilt as a power cut after any of them (or half of one) left it."""

    def __init__(self, data):
        self.data = data
        self.ops = None

    def readblocks(self, n, buf, off=0):
        a = n * BLOCK + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, n, buf, off=0):
        a = n * BLOCK + (off or 0)
        if self.ops is not None:
            self.ops.append((a, bytes(buf)))
        program(self.data, a, buf)

    def ioctl(self, op, arg):
        if op == 4:
            return NBLOCKS
        if op == 5:
            return BLOCK
        if op == 6:
            if self.ops is not None:
                self.ops.append((arg * BLOCK, None))
            erase(self.data, arg * BLOCK, BLOCK)
        return 0


def program(data, a, buf):
    for i in range(len(buf)):
        data[a + i] &= buf[i]


def erase(data, a, n):
    for i in range(n):
        data[a + i] = 0xFF


def apply(data, op, half=False):
    a, buf = op
    if buf is None:
        erase(data, a, BLOCK // 2 if half else BLOCK)
    else:
        program(data, a, buf[:len(buf) // 2] if half else buf)


def boot(image):
    """The belt's boot path on an image: mount (formatting an unmountable one), recover."""
    flash = NorFlash(image)
    note = dataarea.mount(vfs, flash, MP)[1]
    store = Storage(MP + "/sessions")
    store.recover_all()
    return flash, store, note


def session(flash, frames_n):
    """A session as the app writes it; returns (frames, durable) where durable[k] is the number
    of frames on the flash for sure once k operations are done."""
    store = Storage(MP + "/sessions")
    store.ensure_space(8 * BLOCK)
    sid, path = store.new_session()
    w = SessionWriter(path, sid, 0, 0, 0, 0, 0, 0, (150, 200, 300))
    frames, marks = [], [(0, 0)]
    for i in range(frames_n):
        pm = 150 + (i * 7) % 90
        blocks = w.stats.blocks
        w.add_frame(pm, 0)
        frames.append(pm - pm % 5 if pm % 5 < 3 else pm + 5 - pm % 5)
        if w.stats.blocks != blocks:
            marks.append((len(flash.ops), w.stats.frames))
    w.close()
    store.closed(sid)
    marks.append((len(flash.ops), frames_n))
    return sid, frames, marks


def durable_at(marks, k):
    got = 0
    for ops, frames in marks:
        if ops <= k:
            got = frames
    return got


def check(store, sid, frames, need):
    """None when the store holds session sid closed, its frames a prefix of `frames` with at
    least `need` of them; else why not."""
    path = store.find(sid)
    if path is None:
        return None if need == 0 else "session gone (%d frames were on the flash)" % need
    _, got, _, _, status = read_session(path)
    if status != "closed":
        return "status %s" % status
    if [e for e, _ in got] != frames[:len(got)]:
        return "a frame differs from what was written"
    if len(got) < need:
        return "%d frames, %d were on the flash" % (len(got), need)
    return None


def main():
    frames_n, step = int(sys.argv[2]), int(sys.argv[3])
    base = bytearray(b"\xff" * (BLOCK * NBLOCKS))
    flash = NorFlash(base)
    vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), MP)
    Storage(MP + "/sessions")
    vfs.umount(MP)
    start = bytearray(base)
    flash.ops = []                  # from here every operation is logged, the mount's too
    vfs.mount(vfs.VfsLfs2(flash), MP)
    sid, frames, marks = session(flash, frames_n)
    ops = flash.ops
    vfs.umount(MP)
    bad = 0
    rows = []
    # Row 1: a cut at every (step-th) operation of the session, and in the middle of each.
    tried = failed = lost = 0
    torn = []
    for k in range(0, len(ops), step):
        for half in (False, True):
            img = bytearray(start)
            for op in ops[:k]:
                apply(img, op)
            apply(img, ops[k], half)
            tried += 1
            need = durable_at(marks, k)
            try:
                _, store, note = boot(img)
                why = note or check(store, sid, frames, need)
                if why is None:
                    p = store.find(sid)
                    n = len(read_session(p)[1]) if p else 0
                    lost += max(0, need - n)
            except Exception as e:
                why = "boot failed: %r" % e
            try:
                vfs.umount(MP)
            except OSError:
                pass
            if why:
                failed += 1
                print("FAIL session cut at op %d%s: %s" % (k, " (half)" if half else "", why))
    rows.append("power cut during a session tried %d failed %d lost %d" % (tried, failed, lost))
    bad += failed
    # Row 2: a cut at every (step-th) operation of boot recovery of an image cut in the middle
    # of an operation (six of them, spread over the session), booted again.
    first = marks[1][0]
    for j in range(6):
        k = first + (len(ops) - 1 - first) * j // 5
        img = bytearray(start)
        for op in ops[:k]:
            apply(img, op)
        apply(img, ops[k], True)
        torn.append(img)
    tried = failed = 0
    for img0 in torn:
        flash = NorFlash(bytearray(img0))
        vfs.mount(vfs.VfsLfs2(flash), MP)
        flash.ops = []
        store = Storage(MP + "/sessions")
        store.recover_all()
        rops = flash.ops
        vfs.umount(MP)
        for k in range(0, len(rops), step):
            for half in (False, True):
                img = bytearray(img0)
                for op in rops[:k]:
                    apply(img, op)
                apply(img, rops[k], half)
                tried += 1
                try:
                    _, store, note = boot(img)
                    why = note or check(store, sid, frames, 0)
                except Exception as e:
                    why = "boot failed: %r" % e
                try:
                    vfs.umount(MP)
                except OSError:
                    pass
                if why:
                    failed += 1
                    print("FAIL recovery cut at op %d%s: %s" % (k, " (half)" if half else "", why))
    rows.append("power cut during boot recovery tried %d failed %d lost 0" % (tried, failed))
    bad += failed
    for r in rows:
        print(r)
    sys.exit(1 if bad else 0)


main()
