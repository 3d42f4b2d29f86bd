"""The virtual belt deep-sleeps after its idle time as the firmware decides (belt.idle): its
radio goes quiet, and the wearer's press wakes it, ready, on the same clock. A companion that
connects to a sleeping virtual belt presses its button for the runner."""
import asyncio

from corecue.link import ble as T
from corecue.link.connect import Connection, Target
from corecue.twin.virtualbelt import VirtualBelt

from runnerpair import pair_virtual


def test_an_idle_virtual_belt_sleeps_goes_quiet_and_a_press_wakes_it(tmp_path):
    async def body():
        vb = await VirtualBelt(str(tmp_path / "belt")).start()
        try:
            heard_awake = [n for n, _, _ in await T.scan(timeout=0.5, backend=vb.backend())]
            await vb.sleep(200)                     # idle past sleep_s (180 s by default)
            asleep = vb.asleep
            slept_at = vb.board.sleeps[0][0]
            heard_asleep = [n for n, _, _ in await T.scan(timeout=0.5, backend=vb.backend())]
            await vb.sleep(3600)                    # an hour passes with the chip asleep
            edges_before = len(vb.board.motor_edges)
            vb.press("short")
            await vb.sleep(2)
            woke = (vb.asleep, vb.board.woken, len(vb.board.motor_edges) - edges_before)
            heard_again = [n for n, _, _ in await T.scan(timeout=0.5, backend=vb.backend())]
            return heard_awake, asleep, slept_at, heard_asleep, woke, heard_again, vb.name
        finally:
            await vb.close()
    awake, asleep, slept_at, quiet, woke, again, name = asyncio.run(body())
    assert awake == [name] and asleep and 180000 <= slept_at <= 182000
    assert quiet == []
    assert woke == (False, True, 6)                 # awake pattern: three ticks, on and off
    assert again == [name]


def test_connecting_to_a_sleeping_virtual_belt_wakes_it(tmp_path):
    folder = str(tmp_path / "belt")
    keyring = pair_virtual(folder, tmp_path / "history")

    async def body():
        vb = await VirtualBelt(folder).start()
        try:
            await vb.sleep(200)
            assert vb.asleep
            async with Connection(Target("virtual", folder), keyring=keyring,
                                  virtual=vb) as conn:
                st = await conn.belt.status()
            return st.state, vb.board.woken
        finally:
            await vb.close()
    state, woken = asyncio.run(body())
    assert state == 0 and woken
