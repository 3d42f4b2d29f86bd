"""`corecue sync` is safe to interrupt at any moment, on the real firmware over the emulated radio
(corecue.virtualbelt): a dropped link resumes by itself; an interrupted sync keeps what arrived
and the next one continues from there; a session stored but not yet confirmed is confirmed by the
next sync without a second download; nothing is ever stored twice or confirmed unstored."""
import asyncio
import zlib

import pytest

import realbelt as R
from corecue import connect, sync
from corecue.connect import Connection, Target
from corecue.store import open_store


def run(body, limit_s=60):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


@pytest.fixture
def belt(tmp_path, monkeypatch):
    monkeypatch.setattr(connect, "RECONNECT_WAIT_S", 0.01)
    folder = str(tmp_path / "belt")
    files = R.write_sessions(folder, [9000, 12000])
    return folder, files, open_store(str(tmp_path / "history"))


def device_hex(folder):
    # The sim board keeps its made-up device id in its flash (boards/sim.py device_id).
    with open(folder + "/flash/device_id", "rb") as f:
        return f.read().hex()


def _stop_after(conn, fraction, action):
    """Call action() once the belt has sent `fraction` of a session's bytes."""
    state = {"done": False}

    def progress(sid, got, size):
        if not state["done"] and got >= size * fraction:
            state["done"] = True
            action()
    return progress


def test_a_dropped_link_reconnects_and_resumes_byte_identical(belt):
    folder, files, store = belt

    async def body():
        async with Connection(Target("virtual", folder)) as conn:
            lines = []
            progress = _stop_after(conn, 0.4, conn.virtual.drop_link)
            stored = await sync.sync(conn, store, out=lines.append, progress=progress)
            return stored, lines, conn.reconnects, conn.belt.last_download
    stored, lines, reconnects, last = run(body)
    assert len(stored) == 2 and reconnects == 1
    for local, sid in zip(stored, (1, 2)):
        assert store.session(local).raw == files[sid]
    assert len(lines) == 2 and all(line.startswith("#") for line in lines)


def test_an_interrupted_sync_keeps_what_arrived_and_the_next_one_continues(belt):
    folder, files, store = belt

    class Interrupted(Exception):
        pass

    def interrupt():
        raise Interrupted()

    async def first():
        async with Connection(Target("virtual", folder)) as conn:
            with pytest.raises(Interrupted):
                await sync.sync(conn, store, out=lambda _: None,
                                progress=_stop_after(conn, 0.5, interrupt))
            return await conn.belt.sessions()
    listed = run(first)
    crc1 = [e.crc for e in listed if e.id == 1][0]
    kept = store.partial(device_hex(folder), 1, crc1)
    assert 0 < len(kept) < len(files[1]) and files[1].startswith(kept)
    assert store.sessions() == [] and not any(e.synced for e in listed)   # nothing confirmed

    async def second():
        async with Connection(Target("virtual", folder)) as conn:
            offsets = []
            conn.belt.subscribe("data", lambda ev: offsets.append(ev.offset)
                                if ev.session == 1 else None)
            stored = await sync.sync(conn, store, out=lambda _: None)
            return stored, offsets, await conn.belt.sessions()
    stored, offsets, after = run(second)
    assert min(offsets) == len(kept)            # continued where the first sync stopped
    assert [store.session(i).raw for i in stored] == [files[1], files[2]]
    assert all(e.synced for e in after)
    assert store.partial(device_hex(folder), 1, crc1) == b""


def test_stored_but_unconfirmed_is_confirmed_without_a_second_download(belt):
    folder, files, store = belt

    async def first():
        async with Connection(Target("virtual", folder)) as conn:
            real = conn.belt.confirm

            async def lost(sid, crc):
                raise OSError("the computer slept here")
            conn.belt.confirm = lost
            with pytest.raises(OSError):
                await sync.sync(conn, store, out=lambda _: None)
            conn.belt.confirm = real
            return await conn.belt.sessions()
    listed = run(first)
    assert [r.belt_sid for r in store.sessions()] == [1] and not any(e.synced for e in listed)

    async def second():
        async with Connection(Target("virtual", folder)) as conn:
            lines = []
            reads = []
            conn.belt.subscribe("data", lambda ev: reads.append(ev.session))
            await sync.sync(conn, store, out=lines.append)
            return lines, reads, await conn.belt.sessions()
    lines, reads, after = run(second)
    assert lines[0] == "session 1: already stored; confirmed to the belt now"
    assert 1 not in reads and set(reads) == {2}        # session 1 was not downloaded again
    assert [r.belt_sid for r in store.sessions()] == [1, 2] and all(e.synced for e in after)
    assert zlib.crc32(store.session(store.sessions()[1].id).raw) == after[1].crc
