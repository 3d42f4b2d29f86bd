"""The protocol client with ownership (corecue.link.auth's pair and authenticate) against the belt's
own code: belt.owned in front of belt.commands on a real app on the sim board, in this process and
on its virtual clock. The links do not carry ownership yet (docs/protocol.md, "Ownership"), so
the transport here hands packets to belt.owned directly, each way in a later loop iteration."""
import asyncio

import pytest

import realbelt  # noqa: F401 -- puts firmware/ and the shims on sys.path
from belt import auth as A  # noqa: E402
from belt import protocol as P  # noqa: E402
from belt.commands import Commands  # noqa: E402
from belt.keystore import KeyStore  # noqa: E402
from belt.owned import Owned  # noqa: E402
from corecue.link import auth  # noqa: E402
from corecue.link.client import AuthRequired, Belt, BeltTimeout  # noqa: E402


class OwnedTransport:
    """One connection to the belt: its own belt.owned session, over USB or Bluetooth."""

    def __init__(self, rig, usb=True):
        self.rig = rig
        self.owned = Owned(rig.commands, rig.owner, usb=usb)
        self.owned.connected(rig.board.ticks_ms())
        self.sent = []
        self.tamper = None

    def bind(self, receiver):
        self.receiver = receiver
        self.loop = asyncio.get_running_loop()

    async def send(self, pkt):
        self.sent.append(pkt)
        out, _ = self.owned.handle(pkt, self.rig.board.ticks_ms())
        for p in out:
            if self.tamper:
                p = self.tamper(p)
            self.loop.call_soon(self.receiver.packet_received, p)

    async def close(self):
        pass


class Rig:
    def __init__(self, folder):
        line = realbelt.BeltLine(lambda p: None, lambda p: None)
        self.board, self.app, _, self.log = realbelt.boot(str(folder), line)
        self.commands = Commands(self.app)
        self.owner = A.Owner(KeyStore(self.board.root + "/keys"), self.board.device_id())

    def run(self, body):
        async def main():
            tasks = self.app.start(())
            try:
                return await asyncio.wait_for(body(), 120)
            finally:
                for t in tasks:
                    t.cancel()
                self.board.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
        loop = realbelt.SimTimeLoop(self.board)
        try:
            return loop.run_until_complete(main())
        finally:
            loop.close()

    async def client(self, usb=True):
        belt = Belt(OwnedTransport(self, usb))
        await belt.hello()
        return belt


def test_pair_over_usb_then_every_request_is_sealed(tmp_path):
    rig = Rig(tmp_path)
    host = auth.new_host_id()

    async def body():
        belt = await rig.client()
        with pytest.raises(AuthRequired):
            await belt.status()                          # a stranger, for now
        key = await auth.pair(belt, host)
        n = len(belt.transport.sent)
        st = await belt.status()
        cfg = await belt.config_set({"low_pm": 160})
        assert (st.open_session, cfg["low_pm"]) == (0, 160)
        assert [p[1] & P.F_AUTH for p in belt.transport.sent[n:]] == [P.F_AUTH] * 2, "sealed"
        assert belt.refused == 0
        # A later connection: the stored key, no pairing; a wrong key gets no proof from us.
        again = await rig.client(usb=False)
        await auth.authenticate(again, key, host)
        assert (await again.config_get())["low_pm"] == 160
        other = await rig.client(usb=False)
        with pytest.raises(auth.NotYourBelt):
            await auth.authenticate(other, bytes(32), host)
        with pytest.raises(AuthRequired, match="not paired"):
            await auth.authenticate(other, key, auth.new_host_id())
        return key
    key = rig.run(body)
    assert rig.owner.keys.key(host) == key


def test_pairing_over_bluetooth_outside_the_window_is_refused(tmp_path):
    rig = Rig(tmp_path)

    async def body():
        belt = await rig.client(usb=False)
        with pytest.raises(AuthRequired, match="buzzes twice"):
            await auth.pair(belt, auth.new_host_id())
        rig.owner.open_window(rig.board.ticks_ms())
        await auth.pair(belt, auth.new_host_id())
        assert (await belt.status()).open_session == 0
    rig.run(body)
    assert len(rig.owner.keys.hosts()) == 1


def test_the_client_refuses_what_the_belt_did_not_send(tmp_path):
    rig = Rig(tmp_path)

    async def body():
        belt = await rig.client()
        belt.timeout = 1.0
        await auth.pair(belt, auth.new_host_id())
        belt.transport.tamper = lambda p: p[:-1] + bytes([p[-1] ^ 1])
        with pytest.raises(BeltTimeout):
            await belt.status()
        assert belt.refused == 1
    rig.run(body)
