"""`corecue sync` is safe to interrupt at any moment, on the real firmware over the emulated radio
(corecue.twin.virtualbelt): a dropped link resumes by itself; an interrupted sync keeps what arrived
and the next one continues from there; a session stored but not yet confirmed is confirmed by the
next sync once its bytes, read again, are found stored (by SHA-256: the belt's CRC32 misses the
header); nothing is ever stored twice or confirmed unstored."""
import asyncio
import zlib

import pytest

import realbelt as R
from runnerpair import pair_virtual
from corecue.history.keys import Keyring
from corecue.link import connect
from corecue.history import sync
from corecue.link.connect import Connection, Target
from corecue.history.store import open_store


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
    pair_virtual(folder, tmp_path / "history")
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
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
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
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
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
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
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


def test_stored_but_unconfirmed_is_read_again_and_confirmed_once_found_identical(belt):
    folder, files, store = belt

    async def first():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
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
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            lines = []
            reads = []
            conn.belt.subscribe("data", lambda ev: reads.append(ev.session))
            await sync.sync(conn, store, out=lines.append)
            return lines, reads, await conn.belt.sessions()
    lines, reads, after = run(second)
    assert lines[0] == "session 1: already stored; confirmed to the belt now"
    # Read again to prove it is the stored file (its CRC32 alone cannot), and stored once.
    assert set(reads) == {1, 2}
    assert [r.belt_sid for r in store.sessions()] == [1, 2] and all(e.synced for e in after)
    assert zlib.crc32(store.session(store.sessions()[1].id).raw) == after[1].crc


def test_a_cancelled_sync_keeps_what_arrived_and_confirms_nothing(belt):
    """Ctrl-C is a cancellation of the running command: it must get through a download in full
    flow (on Python 3.11 asyncio.wait_for could swallow it) and leave the partial bytes kept."""
    folder, files, store = belt

    async def first():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            task = asyncio.current_task()
            with pytest.raises(asyncio.CancelledError):
                try:
                    await sync.sync(conn, store, out=lambda _: None,
                                    progress=_stop_after(conn, 0.5, task.cancel))
                finally:
                    task.uncancel()
            return await conn.belt.sessions()
    listed = run(first)
    kept = store.partial(device_hex(folder), 1, listed[0].crc)
    assert 0 < len(kept) < len(files[1]) and files[1].startswith(kept)
    assert store.sessions() == [] and not any(e.synced for e in listed)


def test_a_kept_partial_that_is_wrong_is_dropped_and_read_again(belt):
    folder, files, store = belt

    async def listing():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            return await conn.belt.sessions()
    crc1 = run(listing)[0].crc
    bad = bytearray(files[1][:3000])
    bad[1500] ^= 0x40                               # one bit flipped in what was kept
    store.save_partial(device_hex(folder), 1, crc1, bytes(bad))

    async def again():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            lines = []
            stored = await sync.sync(conn, store, out=lines.append)
            return stored, lines
    stored, lines = run(again)
    assert [store.session(i).raw for i in stored] == [files[1], files[2]]
    assert all(line.startswith("#") for line in lines)


def test_a_wiped_belt_counting_from_one_again_is_not_mistaken_for_what_is_stored(belt):
    """Same device, same session id, another run (the belt's flash was wiped and MicroPython put
    back): the new run is downloaded and stored as a run of its own before it is confirmed."""
    import shutil
    folder, files, store = belt

    async def sync_all():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            lines = []
            stored = await sync.sync(conn, store, out=lines.append)
            return stored, lines, await conn.belt.sessions()
    first, _, _ = run(sync_all)
    sessions = folder + "/flash/sessions"
    shutil.rmtree(sessions)                         # the wipe: ids start from 1 again
    new = R.write_sessions(folder, [5000])
    assert new[1] != files[1]
    stored, lines, after = run(sync_all)
    assert len(stored) == 1 and stored[0] not in first
    assert store.session(stored[0]).raw == new[1]
    assert lines[0].startswith("#") and "already stored" not in lines[0]
    assert after[0].synced and [r.belt_sid for r in store.sessions()].count(1) == 2


def test_a_new_run_with_the_crc_of_a_stored_one_is_stored_as_a_run_of_its_own(belt):
    """The file CRC does not see the header (it ends with its own CRC32, which leaves CRC32 in
    the same state for every header): a wiped belt's new run over the same frames had the CRC of
    the stored one and was "already stored; confirmed to the belt now", though it never was.
    Known by the SHA-256 of every byte, it is stored as a run of its own, then confirmed."""
    import shutil
    import struct
    folder, files, store = belt

    async def sync_all():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            lines = []
            stored = await sync.sync(conn, store, out=lines.append)
            return stored, lines, await conn.belt.sessions()
    first, _, _ = run(sync_all)
    sessions = folder + "/flash/sessions"
    shutil.rmtree(sessions)                         # the wipe: ids start from 1 again
    R.write_sessions(folder, [9000])                # the same frames as the stored session 1
    path = sessions + "/00000001.cs"
    raw = bytearray(open(path, "rb").read())
    struct.pack_into("<I", raw, 12, 777000)         # another start: another run
    struct.pack_into("<I", raw, 36, zlib.crc32(bytes(raw[:36])))
    open(path, "wb").write(raw)
    assert zlib.crc32(bytes(raw)) == zlib.crc32(files[1]) and bytes(raw) != files[1]
    stored, lines, after = run(sync_all)
    assert "already stored" not in lines[0] and lines[0].startswith("#"), lines
    assert len(stored) == 1 and stored[0] not in first
    assert store.session(stored[0]).raw == bytes(raw)
    assert store.session(first[0]).raw == files[1]  # the older run is kept as it was
    assert after[0].synced


def test_kept_bytes_of_another_run_with_the_same_crc_are_not_resumed(belt):
    """Bytes kept from an interrupted download of one run, then the belt wiped and a run over the
    same frames recorded under that id: the kept header and the new frames pass the CRC check,
    but they are not the file the belt lists, so they are dropped and the file read whole."""
    import struct
    folder, files, store = belt
    path = folder + "/flash/sessions/00000001.cs"
    raw = bytearray(open(path, "rb").read())
    struct.pack_into("<I", raw, 12, 777000)         # another start: another run
    struct.pack_into("<I", raw, 36, zlib.crc32(bytes(raw[:36])))
    open(path, "wb").write(raw)
    assert zlib.crc32(bytes(raw)) == zlib.crc32(files[1])

    async def listing():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            return await conn.belt.sessions()
    assert run(listing)[0].crc == zlib.crc32(files[1])
    store.save_partial(device_hex(folder), 1, zlib.crc32(files[1]), files[1][:3000])

    async def again():
        async with Connection(Target("virtual", folder), keyring=Keyring(store)) as conn:
            return await sync.sync(conn, store, out=lambda _: None)
    stored = run(again)
    assert [store.session(i).raw for i in stored] == [bytes(raw), files[2]]
