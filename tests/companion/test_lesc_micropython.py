"""LE Secure Connections with bonding (docs/protocol.md, "Defence in depth") with the firmware under
MicroPython: main.py on the sim board with --ble in a child process (twin/mpble.py), its
`bluetooth` the unix port's, whose Bumble peripheral carries out SMP with the companion's central
when bleak's pair() asks and puts _IRQ_GET_SECRET / _IRQ_SET_SECRET to the firmware's IRQ
handler across the radio server's socket, waiting for its answer as NimBLE waits. The same story
as test_lesc.py (the firmware under CPython): bonded and encrypted, a reconnection that uses the
bond, the factory reset forgetting it, a damaged bond file read as no bonds."""
import asyncio
import os

import realbelt as R  # noqa: F401  (puts firmware/ on sys.path)
from corecue.link import ble as T
from corecue.twin.mpble import MpBleBelt

from belt import bonds as B


def run(body, limit_s=180):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


def _bonds(folder):
    with open(os.path.join(folder, "flash", "bonds"), "rb") as f:
        entries, why = B.parse(f.read())
    assert why is None, why
    return entries


def encrypted(transport):
    connection = transport.client._backend._connection
    return bool(connection is not None and connection.encryption)


async def _until(cond, what, tries=600):
    for _ in range(tries):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never: " + what)


def test_the_firmware_under_micropython_bonds_reconnects_forgets_and_survives_damage(tmp_path):
    folder = str(tmp_path)
    said = b"ble: link encrypted and bonded"

    async def body():
        mp = await MpBleBelt(folder, speed=1).start()
        try:
            transport = await T.connect(backend=mp.backend())
            assert await T.bond(transport) is None
            assert encrypted(transport)
            await mp.wait_output(said)
            await _until(lambda: os.path.exists(os.path.join(folder, "flash", "bonds"))
                         and len(_bonds(folder)) == 2, "both secrets on the flash")
            kept = _bonds(folder)
            await transport.close()
            # Again: encrypted from the bond, the LTK given back by the firmware.
            transport = await T.connect(backend=mp.backend())
            assert encrypted(transport)
            await _until(lambda: mp.output.count(said) == 2, "a second bonded encryption")
            assert _bonds(folder) == kept
            await transport.close()
        finally:
            await mp.close()

        # The factory reset: no bonds; the companion's stale bond is refused, pairing bonds anew.
        mp = await MpBleBelt(folder, speed=1, extra=("--hold-button",)).start()
        try:
            await mp.wait_output(b"every paired computer forgotten")
            assert _bonds(folder) == []
            transport = await T.connect(backend=mp.backend())
            assert not encrypted(transport)
            assert await T.bond(transport) is None
            await mp.wait_output(said)
            await transport.close()
        finally:
            await mp.close()

        # A damaged file: said once, no bonds, the belt runs and bonds again.
        with open(os.path.join(folder, "flash", "bonds"), "r+b") as f:
            f.seek(-4, 2)
            f.write(b"\x00\xff\x00\xff")
        mp = await MpBleBelt(folder, speed=1).start()
        try:
            await mp.wait_output(b"bonds: crc mismatch: none kept")
            transport = await T.connect(backend=mp.backend())
            assert not encrypted(transport)
            assert await T.bond(transport) is None
            await mp.wait_output(said)
            await _until(lambda: len(_bonds(folder)) == 2, "bonded anew, on the flash")
            await transport.close()
        finally:
            await mp.close()

    run(body)
