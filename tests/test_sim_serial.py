"""The virtual belt in --serial mode: firmware/main.py on the sim board speaking the device
protocol on its stdin and stdout, as the companion starts it. Pipes and a pseudo-terminal; the end
of stdin stops the belt with its open session closed; --speed holds virtual time to real time;
a reboot over the protocol boots the same belt again. Every belt is paired over its line first, as
`corecue pair --port` does (a cable is physical possession), and talked to sealed. Waits are on
the belt's replies with a real-time deadline, never sleeps."""
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from corecue.link import auth
from corecue.twin import mpbelt as virtual
from corecue.interp import FIRMWARE, SHIMS, firmware_module, micropython_path

P = firmware_module("belt.protocol")
framing = firmware_module("belt.framing")
read_session = firmware_module("belt.sessionread").read_session
MAIN = os.path.join(FIRMWARE, "main.py")


def _interp(name):
    if name == "micropython":
        return [micropython_path(), "-X", virtual.HEAP]
    return [sys.executable]


class Belt:
    def __init__(self, flash, *args, interp="micropython", terminal=False):
        cmd = _interp(interp) + [MAIN, "--board", "sim", "--flash", str(flash), "--serial"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join((FIRMWARE, SHIMS)))
        if terminal:
            self.fd, slave = pty.openpty()         # left cooked: the belt makes it raw
            self.proc = subprocess.Popen(cmd + list(args), stdin=slave, stdout=slave,
                                         stderr=subprocess.PIPE, cwd=FIRMWARE, env=env)
            os.close(slave)
            self.wfd = self.fd
        else:
            self.proc = subprocess.Popen(cmd + list(args), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         cwd=FIRMWARE, env=env)
            self.fd = self.proc.stdout.fileno()
            self.wfd = self.proc.stdin.fileno()
        self.deframer = framing.Deframer()
        self.packets = []
        self.text = bytearray()
        self.req = 0
        self.channel = None
        self.host = auth.new_host_id()
        self.key = None

    def pair(self):
        """Pair over the line and authenticate (the belt keeps the key); then authenticate()
        after every boot."""
        device = self.call("hello", P.VERSION, P.VERSION)[0][3]
        pairing = auth.Pairing(self.host)
        (belt_public,), _ = self.call_raw(pairing.request(self._next()))
        self.key = pairing.key(belt_public, device)
        self.authenticate(device)

    def authenticate(self, device=None):
        self.channel = None
        device = device or self.call("hello", P.VERSION, P.VERSION)[0][3]
        ch = auth.Challenge(self.key, device, self.host)
        (nonce, proof), _ = self.call_raw(ch.request(self._next()))
        answer = ch.answer(self._next(), nonce, proof)
        self.channel = ch.channel()
        os.write(self.wfd, framing.encode(answer))          # the handshake's last: plain
        self._answer(self.req, 30)

    def _next(self):
        self.req += 1
        return self.req

    def call_raw(self, pkt, within=30):
        os.write(self.wfd, framing.encode(self.channel.seal(pkt) if self.channel else pkt))
        got = self._answer(pkt[2] | pkt[3] << 8, within)
        if got[0] == "ERROR":
            raise AssertionError(got)
        return got

    def _read(self, until):
        r, _, _ = select.select([self.fd], [], [], max(0.0, until - time.monotonic()))
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            return False
        self.text.extend(data)
        self.deframer.feed(data, lambda p: self.packets.append(bytes(p)))
        return True

    def wait_text(self, needle, within=30):
        end = time.monotonic() + within
        while needle not in self.text:
            assert self._read(end), f"no {needle!r} in {bytes(self.text[-300:])!r}"

    def call(self, name, *fields, tail=b"", within=30):
        pkt = P.request(name, self._next(), *fields, tail=tail)
        os.write(self.wfd, framing.encode(self.channel.seal(pkt) if self.channel else pkt))
        return self._answer(self.req, within)

    def _answer(self, rid, within):
        end = time.monotonic() + within
        while True:
            for p in self.packets:
                if self.channel is not None and p[1] & P.F_AUTH:
                    p = self.channel.open(p)
                t, _, req, payload = P.parse(p)
                if req == rid and (t & P.REPLY or t == P.T_ERROR):
                    self.packets = [q for q in self.packets if (q[2] | q[3] << 8) != rid]
                    if t == P.T_ERROR:
                        return "ERROR", payload[0], payload[1:].decode()
                    fmt = P.reply_format(t) if P.name_of(t) else next(
                        m[3] for m in auth.A.MESSAGES if m[1] | P.REPLY == t)
                    return P.decode_fields(fmt or "", payload)
            assert self._read(end), f"no reply to {rid}: {bytes(self.text[-300:])!r}"

    def frames(self):
        return self.call("status")[0][5]

    def close_input(self):
        if self.wfd == self.fd:
            os.close(self.fd)
        else:
            self.proc.stdin.close()
        return self.proc.wait(timeout=60), self.proc.stderr.read().decode()


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_end_of_stdin_closes_the_open_session_and_exits(tmp_path, interp):
    flash = tmp_path / "belt"
    flash.mkdir()
    b = Belt(flash, "--speed", "0", interp=interp)
    (version, _, caps, dev, maxp), fw = b.call("hello", P.VERSION, P.VERSION)
    assert (version, maxp, fw) == (2, 1024, b"0.1.0") and caps & P.CAP_AUTH
    assert b.call("session_start")[:2] == ("ERROR", P.E_AUTH), "a stranger on the line"
    b.pair()
    sid = b.call("session_start")[0][0]
    start = b.frames()
    while b.frames() < start + 50:          # five virtual seconds of a session
        pass
    rc, err = b.close_input()
    assert rc == 0 and "Traceback" not in err, err
    if interp == "micropython":
        files = virtual.sessions(str(flash))
    else:                                   # CPython's flash is a plain folder
        d = flash / "flash" / "sessions"
        files = {int(n.split(".")[0]): (d / n).read_bytes() for n in os.listdir(d)
                 if n.endswith((".cs", ".cy"))}
    hdr, frames, events, trailer, status = read_session(files[sid])
    assert status == "closed" and trailer["closed_by"] == 1, "closed by the belt, not recovery"
    assert len(frames) >= 50


def test_a_terminal_is_made_raw_and_bytes_pass_untouched(tmp_path):
    b = Belt(tmp_path, "--speed", "0", terminal=True)
    b.wait_text(b"sessions: ")              # booted: from here the line is raw
    b.pair()
    # A config value full of bytes a cooked terminal would act on (^C ^D ^Z ^\ CR LF).
    r = b.call("config_set", tail=b'{"patterns": {"go": [800]}}\r\n\x04\x1a\x1c')
    assert r[0] == "ERROR" and r[1] == P.E_MALFORMED
    assert b.call("config_set", tail=b'{"patterns": {"go": [800]}}')[1].find(b'"go":[800]') > 0
    assert b"\r\n" not in b.text.split(b"sessions: ")[1].split(b"\x00")[0], "no CR added"
    rc, err = b.close_input()
    assert rc == 0, err


def test_speed_holds_virtual_time_to_real_time(tmp_path):
    b = Belt(tmp_path, "--speed", "20")
    b.pair()
    t0 = time.monotonic()
    f0 = b.frames()
    while b.frames() < f0 + 100:            # 10 virtual seconds: at least 0.5 s of real time
        pass
    assert time.monotonic() - t0 >= 0.45
    b.close_input()
    fast = Belt(tmp_path, "--speed", "0")
    fast.host, fast.key = b.host, b.key
    fast.authenticate()
    t0 = time.monotonic()
    f0 = fast.frames()
    while fast.frames() < f0 + 100:
        pass
    assert time.monotonic() - t0 < 5.0, "--speed 0 runs faster than real time"
    fast.close_input()


def test_minutes_end_the_responsive_belt_and_a_reboot_boots_it_again(tmp_path):
    b = Belt(tmp_path, "--speed", "0")
    b.pair()
    boot = b.call("time_set", 1767225600)[0][0]
    assert b.call("reboot") == ((), b"")
    b.authenticate()                        # a new boot: prove it again, with the kept key
    assert b.call("time_set", 1767225700)[0][0] == boot + 1, "booted again"
    assert b.frames() < 600, "the clock started again"
    b.close_input()
    timed = Belt(tmp_path, "--speed", "0", "--minutes", "1")
    rc = timed.proc.wait(timeout=60)
    assert rc == 0 and timed.proc.stderr.read() == b""
