"""The reference board's data area on its own partition (issue 13): firmware/main.py and
boards/xiao_esp32s3.py, unchanged, under MicroPython on the twin's flash chip laid out by the
belt's partition table (firmware/partitions-8MiB.csv). A damaged data partition is formatted anew
by the board's own boot path, alone: the code's "vfs" partition stays byte for byte; the belt
says so in its log, in the status reply over USB and on the motor; the next boot is clean. A
blank one (all 0xFF, a new belt's first boot) is formatted quietly and called new. A
healthy one keeps its sessions. Without the belt's table the data shares the code's file system
and the status says that; a damaged code file system stops in MicroPython's own _boot.py."""
import asyncio
import os

from corecue.interp import firmware_module
from corecue.link import auth
from corecue.twin.esp32twin import BELT_TABLE, Esp32Twin

D = firmware_module("belt.dataarea")
H = firmware_module("belt.haptics")
MAC = bytes.fromhex("3030f9a1b2c4")
FULL = H.TABLE[H.DATA_FORMATTED][2] * 655      # the pattern's duty on the motor pin (duty_u16)


def run(body, limit_s=120):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


async def _boot(folder, install=False, table=BELT_TABLE, session=False, stuck=None):
    """Boot the twin on folder's flash; pair over USB; (status, sessions, motor edges, output).
    The twin runs in real time and data_formatted lasts 2.0 s from the start: pairing's own
    pattern, a flow pattern too, would cut it short, so the computer pairs after that."""
    twin = Esp32Twin(folder, mac=MAC, table=table, install=install, stuck=stuck)
    if os.path.exists(twin.pwm_log):
        os.remove(twin.pwm_log)            # this boot's edges only
    await twin.start()
    try:
        await twin.wait_output(b"sessions:")
        await asyncio.sleep(2.5)
        belt = await twin.usb_client()
        await auth.pair(belt, auth.new_host_id())
        if session:
            sid = await belt.session_start()
            while (await belt.status()).frames < 150:       # more than one block of frames
                pass
            assert await belt.session_stop() == sid
        st = await belt.status()
        sessions = [(e.id, e.size) for e in await belt.sessions()]
        await belt.close()
    finally:
        await twin.close()
    assert b"Unhandled exception" not in twin.output, twin.output
    return st, sessions, twin.motor_edges(), bytes(twin.output)


def _pulses(edges, duty):
    """How many times the motor went to `duty`."""
    return sum(1 for _, d in edges if d == duty)


def _damage(twin, how):
    _, size = twin.partition("data")
    if how == "erased":
        return b"\xff" * size
    if how == "zeroed":
        return bytes(size)
    block = bytes(((j * 131) ^ (j >> 3)) & 0xFF for j in range(4096))
    return block * (size // 4096)


def test_a_damaged_data_partition_is_formatted_alone_and_said_and_the_next_boot_is_clean(
        tmp_path):
    folder = str(tmp_path)
    twin = Esp32Twin(folder, table=BELT_TABLE)

    async def body():
        # A new belt: the data partition is blank flash (esptool leaves it all 0xFF), formatted
        # at the first boot quietly: nothing was on it, so the runner's first boot buzzes no
        # warning, and the status says "new".
        st, sessions, edges, out = await _boot(folder, install=True, session=True)
        assert b"Performing initial setup" in out       # MicroPython's own, for "vfs"
        assert st.data_area == D.NEW and len(sessions) == 1, (st, sessions)
        assert _pulses(edges, FULL) == 0 and b"formatted anew" not in out, edges
        assert b"data area blank" in out, out[-800:]
        assert st.data_area_words()[0] == "new"                     # corecue status --json
        # A healthy data partition: sessions kept, nothing said, nothing felt, no code written.
        code = twin.read_partition("vfs")
        st, kept, edges, out = await _boot(folder)
        assert st.data_area == D.AS_IS and kept == sessions, (st, kept)
        assert _pulses(edges, FULL) == 0 and b"formatted anew" not in out
        assert twin.read_partition("vfs") == code
        for how in ("garbled", "zeroed", "erased"):
            twin.write_partition("data", _damage(twin, how))
            st, after, edges, out = await _boot(folder)
            if how == "erased":
                # Erased (esptool erase-region over the whole partition) is blank: a new area,
                # formatted quietly, as at the first boot.
                assert b"data area blank" in out and b"formatted anew" not in out, out[-800:]
                assert st.data_area == D.NEW and _pulses(edges, FULL) == 0, (st, edges)
            else:
                assert b"data area unreadable" in out and b"formatted anew" in out, (
                    how, out[-800:])
                assert st.data_area == D.FORMATTED, how             # seen over USB
                assert st.data_area_words()[0] == "formatted", how
                assert _pulses(edges, FULL) == 4, (how, edges)      # felt: four pulses
            assert after == [], (how, after)                        # nothing could be read
            assert twin.read_partition("vfs") == code, how          # the code untouched
            st, _, edges, out = await _boot(folder)
            assert st.data_area == D.AS_IS and _pulses(edges, FULL) == 0, how
            assert b"formatted anew" not in out, how
    run(body, limit_s=300)


def test_corecue_status_words_each_data_area_code_and_only_formatted_speaks_of_a_loss():
    from corecue.link.records import Status
    words = {code: Status(*([0] * 15), data_area=code).data_area_words()
             for code in (D.AS_IS, D.FORMATTED, D.SHARED, D.NEW, 9)}
    assert [w[0] for w in words.values()] == ["as_is", "formatted", "shared", "new", "9"]
    assert "gone" in words[D.FORMATTED][1]
    assert "blank" in words[D.NEW][1] and "gone" not in words[D.NEW][1]
    assert words[9][1] == "unknown (9)"


def test_a_data_partition_that_cannot_even_be_formatted_leaves_the_belt_running(tmp_path):
    # Worn-out flash: the partition is garbled and every erase or program in it fails, so the
    # board's format fails too. The belt keeps its files on the code's file system, says so,
    # and records a session there.
    folder = str(tmp_path)
    twin = Esp32Twin(folder, table=BELT_TABLE)

    async def body():
        await _boot(folder, install=True)
        twin.write_partition("data", _damage(twin, "garbled"))
        st, sessions, edges, out = await _boot(folder, stuck="data", session=True)
        assert b"partition cannot be mounted or formatted" in out, out[-800:]
        assert st.data_area == D.SHARED and len(sessions) == 1, (st, sessions)
        assert _pulses(edges, FULL) == 0
    run(body)


def test_without_the_belts_table_the_data_shares_the_code_and_the_status_says_so(tmp_path):
    async def body():
        st, _, edges, out = await _boot(str(tmp_path), install=True, table=None, session=True)
        assert st.data_area == D.SHARED
        assert out.count(b"no 'data' partition") == 1
        assert _pulses(edges, FULL) == 0
    run(body)


def test_a_damaged_code_partition_stops_in_micropythons_own_boot_and_erasing_it_alone_helps(
        tmp_path):
    # The limit docs/reliability.md states: stock _boot.py mounts "vfs" before main.py and loops
    # on one it cannot mount that is not blank; the belt's code never runs. The data partition is
    # not touched, and erasing the code partition alone (MicroPython then formats it), then
    # flashing the firmware, brings the belt back with its sessions.
    folder = str(tmp_path)
    twin = Esp32Twin(folder, table=BELT_TABLE)

    async def body():
        _, sessions, _, _ = await _boot(folder, install=True, session=True)
        data = twin.read_partition("data")
        _, size = twin.partition("vfs")
        twin.write_partition("vfs", bytes(size))
        stuck = Esp32Twin(folder, mac=MAC, table=BELT_TABLE, install=False)
        await stuck.start()
        try:
            await stuck.wait_output(b"The filesystem appears to be corrupted")
        finally:
            await stuck.close()
        assert b"sessions:" not in stuck.output
        assert twin.read_partition("data") == data
        twin.write_partition("vfs", b"\xff" * size)       # esptool erase-region
        st, kept, _, out = await _boot(folder, install=True)
        assert b"Performing initial setup" in out
        assert st.data_area == D.AS_IS and kept == sessions, (st, kept, sessions)
    run(body)


def test_the_twins_partitions_are_as_strict_as_the_chip(tmp_path):
    # NOR flash under esp32.Partition: a program only clears bits (without an erase, the AND of
    # old and new stays), an erase is of whole 4 KiB sectors, nothing reaches past a partition.
    import subprocess
    from corecue.interp import micropython_path
    from corecue.twin import esp32twin
    code = f"""
import silicon, flashchip, partitiontable, esp32
silicon.flash = flashchip.Chip({str(tmp_path / "chip.bin")!r})
silicon.partitions = partitiontable.table(open({BELT_TABLE!r}).read())
P = esp32.Partition
data = P.find(P.TYPE_DATA, label="data")[0]
vfs = P.find(P.TYPE_DATA, label="vfs")[0]
def fails(f, *a):
    try:
        f(*a)
    except OSError:
        return 1
    return 0
buf = bytearray(4)
print(data.info()[2:5], data.ioctl(4, 0), data.ioctl(5, 0))
data.writeblocks(3, b"\\xf0\\xf0\\xf0\\xf0", 8)
data.writeblocks(3, b"\\x3c\\x3c\\x3c\\x3c", 8)
data.readblocks(3, buf, 8); print(bytes(buf).hex())
data.ioctl(6, 3); data.readblocks(3, buf, 8); print(bytes(buf).hex())
data.writeblocks(2, bytes(4096)); data.readblocks(2, buf); print(bytes(buf).hex())
print(fails(data.writeblocks, 1, bytes(100)), fails(data.readblocks, 1280, buf),
      fails(data.writeblocks, 1279, bytes(8), 4092), fails(data.ioctl, 6, 1280),
      fails(vfs.readblocks, 255, bytearray(8), 4092))
print(P.find(P.TYPE_DATA, label="none"), fails(silicon.flash.erase, 4096, 100))
"""
    p = subprocess.run([micropython_path(), "-c", code], capture_output=True, text=True,
                       env={"MICROPYPATH": esp32twin.UNIXPORT + ":.frozen"})
    assert p.stdout.split("\n")[:6] == [
        "(3145728, 5242880, 'data') 1280 4096",
        "30303030",                 # 0xf0 AND 0x3c: programmed twice without an erase
        "ffffffff",                 # erased
        "00000000",                 # the simple protocol erases, then writes
        "1 1 1 1 1",                # not whole sectors; past the partition's end, in every call
        "[] 1"], p.stdout + p.stderr
