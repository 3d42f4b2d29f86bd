"""Ownership tried as an attacker would, over the emulated Bluetooth LE link against the belt's own
firmware (corecue.twin.virtualbelt, in this process): a belt with an owner, then a stranger in
range. docs/reliability.md's attack table cites these tests."""
import asyncio
import os

import pytest

from runnerpair import pair_virtual
from corecue.interp import firmware_module
from corecue.link import auth
from corecue.link import ble as T
from corecue.link.client import AuthRequired, Belt
from corecue.twin.virtualbelt import VirtualBelt

P = firmware_module("belt.protocol")
A = firmware_module("belt.auth")


def run(body, limit_s=120):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


def flash_bytes(folder):
    out = {}
    for root, _, files in os.walk(os.path.join(folder, "flash")):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


def _zeros(fmt):
    """Fields of the right types for a request format, all zero (and a JSON tail)."""
    f = fmt.rstrip("*") or "<"
    import struct
    return P.decode_fields(f, bytes(struct.calcsize(f)))[0]


async def _stranger(vb):
    transport = await T.connect(vb.name, backend=vb.backend())
    belt = Belt(transport, timeout=2.0)
    await belt.hello()
    return belt


def test_a_stranger_is_refused_every_message_and_changes_nothing(tmp_path):
    folder = str(tmp_path / "belt")
    pair_virtual(folder)                                # the belt has an owner

    async def body():
        vb = await VirtualBelt(folder).start()
        try:
            async with vb.real_time():
                before = flash_bytes(folder)
                state = (vb.app.flow.state, vb.app.config.to_json(), vb.app.live_views)
                belt = await _stranger(vb)
                tried = []
                for name, _t, req_fmt, reply_fmt in P.MESSAGES:
                    if name == "hello" or reply_fmt is None:
                        continue
                    with pytest.raises(AuthRequired, match="authenticate first"):
                        await belt.request(name, *_zeros(req_fmt), tail=b"{}")
                    tried.append(name)
                # session_ack has no reply: sent, and nothing happens either.
                await belt.request("session_ack", 1, 100)
                # A packet dressed as sealed, and revoking a key: refused the same way.
                with pytest.raises(AuthRequired):
                    await belt.request("unpair", bytes(8))
                belt.sealed = auth.Channel(bytes(80))
                with pytest.raises(Exception):
                    await belt.request("status")
                # Pairing outside the window.
                belt.sealed = None
                with pytest.raises(AuthRequired, match="window closed"):
                    await auth.pair(belt, auth.new_host_id())
                after = flash_bytes(folder)
                now = (vb.app.flow.state, vb.app.config.to_json(), vb.app.live_views)
                return tried, before, after, state, now, vb.owner.keys.hosts()
        finally:
            await vb.close()
    tried, before, after, state, now, hosts = run(body)
    assert len(tried) == len(P.MESSAGES) - 2            # all but hello and session_ack
    assert after == before, "the flash is byte-identical"
    assert now == state
    assert len(hosts) == 1, "still one owner"


def test_a_stranger_s_idle_connection_is_dropped_and_the_owner_gets_in(tmp_path):
    folder = str(tmp_path / "belt")
    keys = pair_virtual(folder)

    async def body():
        vb = await VirtualBelt(folder).start()
        try:
            async with vb.real_time():
                stranger = await _stranger(vb)
                # The belt still advertises while its connection has not authenticated.
                assert vb.link._advertising
                assert vb.link.conn is not None and stranger.info is not None
                await vb.sleep(6)                       # past the 5 s for authenticating
                assert vb.link.conn is None, "the stranger was dropped"
                owner = await _stranger(vb)
                await auth.authenticate(owner, keys.key(owner.info.device), keys.host_id)
                st = await owner.status()
                return st.open_session, vb.link._advertising
        finally:
            await vb.close()
    open_session, advertising = run(body)
    assert open_session == 0 and not advertising, "served alone, no longer advertising"
