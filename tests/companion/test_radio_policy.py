"""The belt's radio is off for the run (hardware/power.md): from the warm-up press to the end of
the lie-down it neither advertises nor keeps a connection, and it is back once the run flow is
done. The real firmware (corecue.twin.virtualbelt) on the emulated radio, seen through bleak, by
the computer its runner paired (an unauthenticated connection would be dropped after 5 s anyway)."""
import asyncio

from runnerpair import pair_virtual
from corecue.link import auth
from corecue.link import ble as T
from corecue.link.client import Belt
from corecue.interp import firmware_module
from corecue.twin.virtualbelt import VirtualBelt

State = firmware_module("belt.runflow").State


async def names_heard(vb):
    # A scan takes real time: the belt's time runs no faster meanwhile (it sleeps after its idle
    # time, test_virtual_sleep.py, and at full speed half a second would be minutes of it).
    async with vb.real_time():
        return [n for n, _, _ in await T.scan(timeout=0.5, backend=vb.backend())]


def test_no_radio_from_warm_up_to_the_end_of_the_lie_down(tmp_path):
    keys = pair_virtual(tmp_path / "belt")

    async def body():
        vb = await VirtualBelt(str(tmp_path / "belt")).start()
        try:
            backend = vb.backend()
            heard = await names_heard(vb)
            async with vb.real_time():
                transport = await T.connect(vb.name, backend=backend)
                belt = Belt(transport)
                await belt.hello()
                await auth.authenticate(belt, keys.key(vb.device), keys.host_id)
            lost = asyncio.Event()
            belt._on_lost.append(lost.set)

            vb.press("short")                            # warm-up: the run flow starts
            await vb.sleep(2)
            async with asyncio.timeout(5):
                await lost.wait()                        # the belt closed the link itself
            during = await names_heard(vb)
            state_during = vb.state

            await vb.sleep(95)                           # the holds
            vb.press("short")                            # prime
            await vb.sleep(2)
            vb.press("short")                            # uncalibrated: skip priming, run
            await vb.sleep(60)
            state_run = vb.state
            vb.press("long")                             # finish: the lie-down
            await vb.sleep(60)
            lying = await names_heard(vb)
            await vb.sleep(10 * 60)
            after = await names_heard(vb)
            state_after = vb.state
            await transport.close()
            return (heard, during, (state_during, state_run), lying, after, state_after,
                    vb.link.connections)
        finally:
            await vb.close()
    heard, during, state_during, lying, after, state_after, connections = asyncio.run(body())
    assert len(heard) == 1 and heard[0].startswith("corecue-")
    assert state_during == (State.WARMUP, State.RUN) and during == [] and lying == []
    assert state_after == State.DONE and after == heard
    assert connections == 1
