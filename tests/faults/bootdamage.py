# Damaged files and a damaged data area at boot: the belt's own boot path (firmware/main.py's
# _boot on the sim board, its flash a LittleFS image under MicroPython) on an image of a belt
# that has run (calibrated, clock set, sessions on it), with one thing damaged at a time. Checked
# for every image: the belt boots and runs (frames come), it says what it found in one log line
# naming the file (or the data area), a session still starts and closes whole, and every session
# the damage did not touch is still there, byte for byte. Run by the MicroPython interpreter:
#
#   micropython -X heapsize=8M tests/faults/bootdamage.py FIRMWARE STEP
#
# STEP 1 damages every block of the data area in turn (and every bit position of the list);
# STEP n every n-th. Prints "<row> tried N failed N lost N" (lost: sessions the damage did not
# touch that were gone or changed; for the data area, the sessions the damaged blocks held are
# counted apart) and a line per failure; exit status 1 when anything failed.
import sys

sys.path.insert(0, sys.argv[1])
import os  # noqa: E402

import vfs  # noqa: E402

from belt import config as _config  # noqa: E402
from belt.sessionlog import SessionWriter, read_session  # noqa: E402
from belt.storage import Storage  # noqa: E402
from boards import simflash  # noqa: E402
from boards.sim import Board  # noqa: E402

DIR = "/tmp/cq-bootdamage-" + "".join("%02x" % b for b in os.urandom(6))
MAIN = sys.argv[1] + "/main.py"
LOG = []


def _log(self, msg):
    LOG.append(msg)


Board.log = _log        # the boot's log lines, kept to check what the belt said


class Person:
    """Starts a session 2 s after boot and stops it at 6 s; the run ends at 8 s."""
    end_s = 8

    def __init__(self):
        self.sid = None
        self.stopped = None

    def effort(self, app, ms, motor):
        if ms >= 2000 and self.sid is None:
            self.sid = app.start_session() or -1
        if ms >= 6000 and self.stopped is None and self.sid:
            self.stopped = app.stop_session()
        return 20, True


def _main_namespace():
    """firmware/main.py's functions, without running its main()."""
    with open(MAIN) as f:
        src = f.read()
    src = src[:src.rindex("main(sys.argv")]
    ns = {"__name__": "bootdamage"}
    exec(src, ns)
    return ns


MAIN_NS = _main_namespace()


def boot(person):
    """The belt's boot as main.py does it, on DIR's image; returns (app, board)."""
    del LOG[:]
    opts = MAIN_NS["_options"](["--board", "sim", "--flash", DIR, "--image"])
    opts["scenario"] = person
    return MAIN_NS["_boot"](opts, None)


def make_belt():
    """A belt that has run: calibrated, its clock set, three sessions (the first synced)."""
    os.mkdir(DIR)
    board = Board(DIR, Person(), image=True)
    root = board.root
    cfg, _ = _config.load(root + "/corecue.cfg")
    cfg.set_calibration(120, 2400, cfg.mode, 1767225600)
    cfg.save()
    store = Storage(root + "/sessions")
    from belt.clock import Clock
    clock = Clock(store.root, lambda: 0)
    clock.set(1767225600, 0)
    for k in range(3):
        sid, path = store.new_session()
        w = SessionWriter(path, sid, 1000 * k, 1767225600 + 3600 * k, 0, 120, 2400, 0,
                          (150, 200, 300))
        for i in range(1500):
            w.add_frame(150 + (i * 7 + k) % 120, 0)
        w.close()
        store.closed(sid)
    store.confirm(1, store.crc(1))
    store.ensure_space()
    sessions = {}
    for name in os.listdir(store.root):
        if name[:-3].isdigit():
            with open(store.root + "/" + name, "rb") as f:
                sessions[name] = f.read()
    vfs.umount("/flash")
    with open(DIR + "/flash.img", "rb") as f:
        return f.read(), sessions


def garble(n, seed):
    out = bytearray(n)
    x = seed * 2654435761 + 1
    for i in range(min(n, 4096)):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    for i in range(4096, n, 4096):          # a whole image: each block its own
        out[i:i + 4096] = out[:4096]
        out[i] ^= (i >> 12) & 0xFF
    return out


def area_damages(image, step):
    """(label, image) of the whole data area erased, zeroed, garbled; then every step-th block
    of it erased, and garbled, one at a time. Made one at a time: each is the size of the flash."""
    yield "erased", b"\xff" * len(image)
    yield "zeroed", b"\x00" * len(image)
    yield "garbled", garble(len(image), 3)
    for blk in range(0, len(image) // simflash.BLOCK, step):
        a = blk * simflash.BLOCK
        for what in ("erased", "garbled"):
            img = bytearray(image)
            img[a:a + simflash.BLOCK] = (b"\xff" * simflash.BLOCK if what == "erased" else
                                         garble(simflash.BLOCK, blk))
            if img != image:
                yield "block %d %s" % (blk, what), img


def file_damages(step):
    """(label, transform) for a small file's bytes; transform returns the new bytes or None to
    remove the file."""
    out = [("missing", lambda b: None), ("empty", lambda b: b""),
           ("erased", lambda b: b"\xff" * len(b)), ("zeroed", lambda b: b"\x00" * len(b)),
           ("half", lambda b: b[:len(b) // 2]), ("one byte short", lambda b: b[:-1]),
           ("one byte more", lambda b: b + b"\n"), ("garbled", lambda b: garble(len(b), 7))]
    for pos in range(0, 64, step * 4):
        out.append(("bit %d flipped" % pos, lambda b, pos=pos: flip(b, pos)))
    return out


def flip(b, pos):
    if not b:
        return b
    i = (pos * 37) % (len(b) * 8)
    out = bytearray(b)
    out[i // 8] ^= 1 << (i % 8)
    return bytes(out)


def write_image(image):
    try:
        vfs.umount("/flash")            # the last boot's mount
    except OSError:
        pass
    with open(DIR + "/flash.img", "wb") as f:
        f.write(image)


def damage_files(image, names, transform):
    """The image with the named files (paths under the data area) changed by transform."""
    write_image(image)
    dev = simflash.FileBlockDevice(DIR + "/flash.img", create=False)
    vfs.mount(vfs.VfsLfs2(dev), "/flash")
    try:
        for name in names:
            p = "/flash/" + name
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            new = transform(data)
            if new is None:
                os.remove(p)
            else:
                with open(p, "wb") as f:
                    f.write(new)
    finally:
        vfs.umount("/flash")
        dev.f.close()


def check(sessions, expect_kept, said, strict=True):
    """(why it failed or None, sessions of expect_kept gone or changed). said: words one log
    line must hold, or None. strict: a session gone or changed is a failure."""
    person = Person()
    try:
        app, board = boot(person)
    except Exception as e:
        return "boot failed: %r" % e, 0
    if app.frames < 50:
        return "only %d frames" % app.frames, 0
    if said and not any(all(w in ln for w in said) for ln in LOG):
        return "no log line says %s: %s" % (" ".join(said), LOG[:4]), 0
    if not person.sid or person.sid < 0 or person.stopped != person.sid:
        return "no session started and stopped (%r, %r): %s" % (person.sid, person.stopped,
                                                               LOG[-3:]), 0
    store = app.store
    if read_session(store.find(person.sid))[4] != "closed":
        return "the new session is not closed", 0
    lost = 0
    for name in expect_kept:
        try:
            with open(store.root + "/" + name, "rb") as f:
                if f.read() != sessions[name]:
                    lost += 1
        except OSError:
            lost += 1
    return ("%d sessions lost" % lost if lost and strict else None), lost


FILES = (("config", ["corecue.cfg"], ["config", "defaults"]),
         ("clock file", ["sessions/clock"], ["clock"]),
         ("both clock files", ["sessions/clock", "sessions/clock.2"], ["clock"]),
         ("id file", ["sessions/next_id"], ["next_id"]),
         ("both id files", ["sessions/next_id", "sessions/next_id.2"], ["next_id"]),
         ("reserve", ["sessions/reserve"], None),
         ("device id", ["device_id"], None))


def main():
    step = int(sys.argv[2])
    image, sessions = make_belt()
    bad = 0
    rows = []
    for label, names, said in FILES:
        tried = failed = lost = 0
        for what, transform in file_damages(step):
            damage_files(image, names, transform)
            # A missing file is not damage: nothing to say (the belt makes it anew). Nor is an
            # id file's newline, which is not part of its value (the CRC covers the number).
            benign = what == "missing" or (names[0].endswith("next_id") and "byte" in what)
            words = None if benign else said
            why, n = check(sessions, sessions, words)
            tried += 1
            lost += n
            if why:
                failed += 1
                print("FAIL %s %s: %s" % (label, what, why))
        rows.append("%s damaged at boot tried %d failed %d lost %d" % (label, tried, failed,
                                                                      lost))
        bad += failed
    # The data area: whole, then one block at a time (every step-th), erased or garbled.
    tried = failed = lost = 0
    for what, img in area_damages(image, step):
        write_image(img)
        img = None                          # 2 MB: gone before the boot needs the heap
        why, n = check(sessions, sessions, None, strict=False)
        tried += 1
        lost += n
        if why:
            failed += 1
            print("FAIL data area %s: %s" % (what, why))
    # lost here: sessions on a block that was damaged (their CRC refuses them, or the data area
    # was formatted): what the damage took, not what the belt lost.
    rows.append("data area damaged at boot tried %d failed %d lost 0 (sessions on the damaged "
                "blocks: %d)" % (tried, failed, lost))
    bad += failed
    for name in os.listdir(DIR):
        os.remove(DIR + "/" + name)
    os.rmdir(DIR)
    for r in rows:
        print(r)
    sys.exit(1 if bad else 0)


main()
