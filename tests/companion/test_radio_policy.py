"""The belt's radio is off for the run (hardware/power.md): from the warm-up press to the end of
the lie-down it neither advertises nor keeps a connection, and it is back once the run flow is
done. Awake and not running, it advertises fast in windows and slowly outside them
(belt.radiowindow). The real firmware (corecue.twin.virtualbelt) on the emulated radio, seen through bleak, by
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


def test_fast_after_wake_slow_later_fast_on_the_double_press_and_after_the_lie_down_never_in_a_run(
        tmp_path):
    """How often the belt advertises, as the emulated radio itself is doing it (its interval;
    0 when it does not advertise), sampled every virtual second: belt.radiowindow's windows with
    the default settings (200 ms for 60 s, 1000 ms outside), on the real firmware."""
    async def body():
        vb = await VirtualBelt(str(tmp_path / "belt")).start()
        seen, events = {}, {}

        async def watch(what, seconds):
            got = seen.setdefault(what, [])
            before = vb.board.power_states()["adv_events"]
            for _ in range(seconds):
                await vb.sleep(1)
                got.append(0 if vb.asleep else vb.link.ble.adv_interval_us)
            events[what] = vb.board.power_states()["adv_events"] - before
        try:
            await watch("boot", 50)
            await watch("later", 120)                # 60 s to 170 s: slow
            await vb.sleep(30)                       # asleep after 180 s idle
            seen["asleep"] = [vb.asleep, vb.link.ble.adv_interval_us if not vb.asleep else 0]
            vb.press("short")                        # wakes it
            await watch("woken", 50)
            await watch("woken later", 30)
            vb.press("double")
            await vb.sleep(2)
            seen["double state"] = [vb.state]
            await watch("asked", 50)
            await watch("asked later", 30)
            vb.press("short")                        # the warm-up: off until the lie-down ends
            await watch("warm-up", 95)
            vb.press("short")                        # prime
            await vb.sleep(2)
            vb.press("short")                        # uncalibrated: skip priming, run
            await watch("run", 60)
            vb.press("long")                         # the lie-down
            await watch("lie-down", 598)
            await vb.sleep(4)
            await watch("after", 50)
            await watch("after later", 30)
            return seen, vb.state, events
        finally:
            await vb.close()
    seen, state, events = asyncio.run(body())
    fast, slow = 200000, 1000000
    assert set(seen["boot"]) == {fast}
    assert set(seen["later"][12:]) == {slow}         # the first 60 s have ended by then
    assert seen["asleep"] == [True, 0]
    assert set(seen["woken"]) == {fast} and set(seen["woken later"][12:]) == {slow}
    assert seen["double state"] == [State.IDLE]      # the double press starts no warm-up
    assert set(seen["asked"]) == {fast} and set(seen["asked later"][12:]) == {slow}
    assert set(seen["warm-up"][1:]) == {0} and set(seen["run"]) == {0}
    assert set(seen["lie-down"]) == {0}
    assert state == State.DONE
    assert set(seen["after"]) == {fast} and set(seen["after later"][12:]) == {slow}
    # The sim board's meter counts the radio's advertising events: five a second in a window,
    # one outside; none in a run.
    assert 245 <= events["boot"] <= 255
    assert abs(events["later"] - (10 * 5 + 110)) <= 10    # 50-60 s fast, then 110 s slow
    assert events["run"] == events["lie-down"] == 0
