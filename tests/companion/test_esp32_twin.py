"""The reference board's own code under MicroPython: firmware/main.py with no arguments (the ESP32
path) and boards/xiao_esp32s3.py, unchanged, on the unix port with the twin's `machine` and
`bluetooth` (companion/corecue/twin). The companion finds it over the emulated air through bleak,
as it finds a belt; the sampler is fed by the board's Timer and ADC from the simulated input."""
import asyncio

from corecue.link import auth
from corecue.link import ble as T
from corecue.link.client import Belt
from corecue.interp import firmware_module
from corecue.twin.esp32twin import Esp32Twin

P = firmware_module("belt.protocol")
State = firmware_module("belt.runflow").State

MAC = bytes.fromhex("3030f9a1b2c3")


def run(body, limit_s=60):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


def test_the_reference_board_boots_under_micropython_and_answers_over_ble(tmp_path):
    async def body():
        twin = await Esp32Twin(str(tmp_path), mac=MAC, hold_ms=200).start()
        try:
            await twin.wait_output(b"pairing window open")
            found = await T.scan(timeout=2.0, backend=twin.backend())
            assert [n for n, _, _ in found] == ["corecue-B2C3"], twin.output
            transport = await T.connect("corecue-B2C3", backend=twin.backend())
            belt = Belt(transport)
            hello = await belt.hello()
            assert hello.device_id == MAC + b"\0\0"        # machine.unique_id(), padded
            assert hello.capabilities & P.CAP_AUTH
            await auth.pair(belt, auth.new_host_id())       # the runner held the button
            first = await belt.status()
            assert first.battery_mv == 3900                  # ADC read_uv through the divider
            # The Timer's soft callback feeds the sampler from the ADC: frames go on.
            while (await belt.status()).frames < first.frames + 20:
                pass
            await transport.close()
        finally:
            await twin.close()
        assert b"Unhandled exception" not in twin.output, twin.output
    run(body)


def test_the_twins_own_modules_fit_in_the_heap_they_are_given():
    # They are C in flash on the chip; here they take heap, and the twin adds that much to the
    # 256 KB an ESP32-S3 without PSRAM leaves the firmware.
    import subprocess
    from corecue.interp import micropython_path
    from corecue.twin import esp32twin
    code = ("import gc; gc.collect(); a = gc.mem_alloc()\n"
            "import silicon, machine, esp32, bluetooth, flashchip\n"
            "gc.collect(); print(gc.mem_alloc() - a)")
    p = subprocess.run([micropython_path(), "-X", "heapsize=1M", "-c", code], capture_output=True,
                       text=True, env={"MICROPYPATH": esp32twin.UNIXPORT + ":.frozen"})
    used = int(p.stdout)
    assert 0 < used <= esp32twin.TWIN_HEAP_KB * 1024, used


def test_the_button_and_the_usb_line_of_the_reference_board_under_micropython(tmp_path):
    # The world presses the button (pin 4 to GND for 200 ms, through the pin's soft IRQ) on an
    # idle belt: the warm-up starts, as the belt's USB line (stdin and stdout) then reports to
    # the computer that paired over that cable (physical possession: no pairing window).
    async def body():
        twin = await Esp32Twin(str(tmp_path), mac=MAC, press_ms=1500).start()
        try:
            await twin.wait_output(b"sessions:")
            hello = await twin.usb_call("hello", P.VERSION, P.VERSION)
            assert hello[2] & P.CAP_USB and hello[2] & P.CAP_AUTH
            belt = await twin.usb_client()
            await auth.pair(belt, auth.new_host_id())
            while (await belt.status()).state == State.IDLE:
                pass
            assert (await belt.status()).state == State.WARMUP
            await belt.close()
        finally:
            await twin.close()
        assert b"Unhandled exception" not in twin.output, twin.output
    run(body)
