# The belt the command fuzzing talks to, the same under MicroPython and CPython: the real App and
# command handler (belt.commands) on the sim board, with three closed sessions and one open, a
# calibration and a clock. check(pkt) hands one packet to the handler and, when the belt refuses
# it (an ERROR reply), checks that nothing changed: config, sessions, ids, calibration, run
# flow, clock, download and live state (beltrig.state). Used by tests/test_faults_commands.py
# (hypothesis, CPython) and tests/faults/cmdreplay.py (the same inputs, MicroPython).
import binascii
import os
import struct

import beltrig as rig
from belt import protocol as P
from belt.commands import Commands
from belt.sessionformat import EV_BOOT
from belt.sessionlog import SessionWriter


class Belt:
    def __init__(self, name):
        d = rig.fresh(name)
        self.board, self.app, self.lines = rig.boot(d)
        store = self.app.store
        for k in range(3):
            sid, path = store.new_session()
            w = SessionWriter(path, sid, 1000 * k, 0, 0, 0, 0, 0, (150, 200, 300))
            w.add_event(EV_BOOT, 1)
            for i in range(300):
                w.add_frame(150 + (i * 7 + k) % 120, 0)
            w.close()
            store.closed(sid)
        store.confirm(1, store.crc(1))
        self.app.start_session()
        self.cmd = Commands(self.app)
        self.tried = 0
        self.refused = 0
        self.digest = 0         # CRC32 over (reply type, error code) of every reply, in order

    def check(self, pkt):
        """Hand pkt to the handler; None, or why the belt failed (a refusal that changed
        something, or a reply that does not parse)."""
        self.tried += 1
        before = rig.state(self.app, self.cmd)
        try:
            out = self.cmd.handle(pkt)
        except Exception as e:          # the handler must answer, never raise
            return "raised %r" % e
        if out is None:
            self.digest = binascii.crc32(b"-", self.digest)
            return None
        try:
            r = rig.reply(out)
        except Exception as e:
            return "a reply that does not parse: %r" % e
        code = r[2] if r[0] == "ERROR" else 0
        self.digest = binascii.crc32(struct.pack("<BB", P.parse(out)[0], code), self.digest)
        if r[0] != "ERROR":
            return None
        self.refused += 1
        if "\n" in r[3]:
            return "an error of more than one line: %r" % r[3]
        if rig.state(self.app, self.cmd) != before:
            return "refused (%s), but the belt changed" % r[3]
        return None


def acts(pkt):
    """Whether pkt is a well-formed request that ends the belt's run (reboot): not fuzz."""
    try:
        t, flags, _, payload = P.parse(pkt)
    except P.ProtocolError:
        return False
    return t == 0x0F and not flags and not payload


def hexlines(packets):
    return "".join(binascii.hexlify(p).decode() + "\n" for p in packets)
