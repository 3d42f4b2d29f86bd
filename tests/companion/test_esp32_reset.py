"""Resets end to end on the reference board's twin: firmware/main.py and boards/xiao_esp32s3.py,
unchanged, under MicroPython on the twin's chip with the belt's partition table. A chip that
resets boots again from its flash, and machine.reset_cause() says why (twin/chipreset.py: as
MicroPython's ESP32 port gives it, HARD_RESET after machine.reset(), WDT_RESET after its
watchdog). A `reboot` asked over USB: the belt closes its open session, resets, boots again, and
the same owner's key opens the channel over the cable and over the air, with every session and
setting kept. A hang
in the middle of a run (the CPU stuck in a sensor conversion that never completes): nothing feeds
the watchdog, it resets the chip, and boot recovery closes the session that was being written
with every block that reached the flash. Then the chip's own rule on a small main.py of its own:
the cause of each boot, and a process that ends otherwise boots nothing.

The twin runs in real time (its clock is the host's): about 40 s in all."""
import asyncio

from corecue.interp import firmware_module
from corecue.link import auth
from corecue.twin.chipreset import HARD_RESET, PWRON_RESET, WDT_RESET
from corecue.twin.esp32twin import BELT_TABLE, Esp32Twin
from test_esp32_sleep import over_the_air, run

MAC = bytes.fromhex("3030f9a1b2c7")
PRESS_MS = 500          # the button starts a run this long after the firmware listens to it
HANG_MS = 14500         # the CPU hangs this long after the first sensor conversion
WDT_MS = 8000           # boards/xiao_esp32s3.py: machine.WDT(timeout=8000)
BLOCK = 100             # frames a session block holds (made durable as it fills)
LIMIT_S = 120           # each test's bound, on the twin's real-time clock


async def _frames_past(belt, n):
    while (await belt.status()).frames < n:
        await asyncio.sleep(0.2)


def test_a_reboot_asked_over_usb_boots_the_same_belt_with_its_owner_sessions_and_settings(
        tmp_path):
    async def body():
        twin = await Esp32Twin(str(tmp_path), mac=MAC, table=BELT_TABLE).start()
        try:
            await twin.wait_output(b"sessions:")
            belt = await twin.usb_client()
            host = auth.new_host_id()
            key = await auth.pair(belt, host)
            await belt.config_set({"target_pm": 220})
            first = await belt.session_start()
            at = (await belt.status()).frames
            await _frames_past(belt, at + 30)
            assert await belt.session_stop() == first
            second = await belt.session_start()                 # left open
            # Counted from this session's own start: a slow stop and start on a loaded machine
            # lets the frame count run on between them.
            await _frames_past(belt, (await belt.status()).frames + 30)
            before = {e.id: e for e in await belt.sessions()}
            assert before[second].open and not before[first].open
            mark = len(twin.output)
            await belt.reboot()                                 # the reply comes first
            await belt.close()
            await twin.wait_boots(2)
            await twin.wait_output(b"sessions:", since=mark)
            assert twin.boots == [PWRON_RESET, HARD_RESET]
            assert b"machine.reset()" in twin.output[mark:]
            assert b"boot: reset (asked" in twin.output[mark:]
            # The reboot closed the open session itself: boot recovery found nothing to close.
            assert b"sessions: 2 ok, 0 closed" in twin.output[mark:], twin.output[mark:]

            belt = await twin.usb_client()
            await auth.authenticate(belt, key, host)            # the same owner, nothing paired
            after = {e.id: e for e in await belt.sessions()}
            assert sorted(after) == [first, second]
            assert after[first] == before[first]                # untouched
            assert not after[second].open and after[second].size >= before[second].size
            assert after[second].boot_id == before[second].boot_id
            assert (await belt.config_get())["target_pm"] == 220
            head, frames, _, trailer, status = firmware_module("belt.sessionread").read_session(
                await belt.download(second))
            assert status == "closed" and trailer is not None and len(frames) >= 30
            await belt.close()
            # The radio is back on the same air: the belt advertises and its owner authenticates.
            transport, air = await over_the_air(twin, "corecue-B2C7", key, host)
            assert sorted(e.id for e in await air.sessions()) == [first, second]
            await transport.close()
        finally:
            await twin.close()
        assert b"Unhandled exception" not in twin.output, twin.output
    run(body, LIMIT_S)


def test_a_hang_mid_run_starves_the_watchdog_and_the_next_boot_recovers_the_session(tmp_path):
    async def body():
        twin = await Esp32Twin(str(tmp_path), mac=MAC, table=BELT_TABLE, press_ms=PRESS_MS,
                               hang_ms=HANG_MS).start()
        try:
            await twin.wait_output(b"sessions:")
            await twin.wait_boots(2, timeout=HANG_MS / 1000 + WDT_MS / 1000 + 20)
            mark = twin.output.index(b"watchdog: not fed")
            await twin.wait_output(b"sessions:", since=mark)
            assert twin.boots == [PWRON_RESET, WDT_RESET]
            assert b"boot: reset by the watchdog" in twin.output[mark:]
            assert b"boot: reset" not in twin.output[:mark]     # not after power-on
            # The torn session, the one being written when the chip hung, is closed at boot.
            assert b"sessions: 0 ok, 1 closed" in twin.output[mark:], twin.output[mark:]

            belt = await twin.usb_client()
            host = auth.new_host_id()
            await auth.pair(belt, host)
            (entry,) = await belt.sessions()
            assert not entry.open
            _, frames, _, trailer, status = firmware_module("belt.sessionread").read_session(
                await belt.download(entry.id))
            await belt.close()
        finally:
            await twin.close()
        # Logged from the press until the hang (10 frames a second; the twin may run late, never
        # early): every block that filled reached the flash, at most the one being written is lost.
        logged = (HANG_MS - PRESS_MS) // 100
        assert status == "closed" and trailer is not None
        assert BLOCK <= len(frames) <= logged and len(frames) % BLOCK == 0, len(frames)
        assert b"Unhandled exception" not in twin.output, twin.output
    run(body, LIMIT_S)


_RESETS_MAIN = '''import machine
cause = machine.reset_cause()
print("cause", cause)
if cause == machine.PWRON_RESET:
    machine.reset()
elif cause == machine.HARD_RESET:
    import asyncio

    async def idle():
        await asyncio.sleep_ms(3000)
    machine.WDT(timeout=300)
    asyncio.run(idle())
    print("still running")
else:
    import sys
    sys.exit(3)
'''


class _ResetsTwin(Esp32Twin):
    """The twin's chip running a /main.py of its own that resets, then starves its watchdog."""

    def command(self):
        cmd = super().command()
        if "--install" in cmd:
            with open(cmd[cmd.index("--install") + 1] + "/main.py", "w") as f:
                f.write(_RESETS_MAIN)
        return cmd


def test_each_reset_boots_the_chip_with_its_cause_and_any_other_end_boots_nothing(tmp_path):
    async def body():
        twin = await _ResetsTwin(str(tmp_path), mac=MAC).start()
        try:
            await twin.wait_output(b"cause %d" % WDT_RESET, timeout=30)
            await twin._reader
            ended = ""
            try:
                await twin.wait_output(b"cause 4", timeout=5)
            except AssertionError as e:
                ended = str(e)
            return twin.boots, bytes(twin.output), twin.proc.returncode, ended
        finally:
            await twin.close()
    boots, out, code, ended = run(body, LIMIT_S)
    assert boots == [PWRON_RESET, HARD_RESET, WDT_RESET]
    assert out.index(b"cause 1") < out.index(b"machine.reset()") < out.index(b"cause 2")
    assert out.index(b"watchdog: not fed") < out.index(b"cause 3")
    assert b"still running" not in out
    assert code == 3 and "the belt ended" in ended          # exit 3 is no reset: it stays down
