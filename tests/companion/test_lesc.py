"""LE Secure Connections with bonding as defence in depth (docs/protocol.md), over the emulated
link in one process: the firmware's BleLink with its bond store (belt.bonds) on the emulated
`bluetooth` (corecue.twin.radio), whose Bumble peripheral carries out real SMP with the
companion's Bumble central when bleak's pair() asks, and hands the bond secrets to the firmware
through _IRQ_SET_SECRET / _IRQ_GET_SECRET as MicroPython's NimBLE binding does. The same with the
firmware under MicroPython: test_lesc_micropython.py."""
import asyncio

import pytest
from bleak.exc import BleakError

import realbelt as R  # noqa: F401  (puts firmware/ on sys.path)
from corecue.link import ble as T
from corecue.twin.radio import EmulatedAir
from corecue.twin.radio.secrets import OUR_SEC, PEER_SEC, RECORD_LEN

from belt import bonds as B
from belt import config as _config
from belt import owners
from belt.app import App
from belt.blelink import BleLink
from belt.storage import Storage
from boards.scenarios import Responsive
from boards.sim import Board

_SC = 2         # the record's flags: LE Secure Connections (secrets.py, _RECORD)


def boot(folder, bluetooth, held=False):
    board = Board(folder, Responsive(), bluetooth=bluetooth, button_held=held, speed=1)
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    lines = []
    app = App(board, cfg, Storage(board.root + "/sessions"), lines.append)
    owner = owners.setup(app, board.root)
    link = BleLink(app, *board.ble(), owner=owner, bonds=owner.bonds)
    return board, app, owner, link, app.start(link.tasks()), lines


def run(body, limit_s=30):
    async def bounded():
        async with asyncio.timeout(limit_s):
            return await body()
    return asyncio.run(bounded())


async def until(cond, what):
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never: " + what)


async def stop(tasks, bluetooth=None):
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if bluetooth is not None:
        # The chip resets: its stack and IRQ handler go with it (the next boot sets its own).
        ble = bluetooth.BLE()
        ble.irq(None)
        ble.active(False)
        await ble.settle()


def encrypted(transport):
    connection = transport.client._backend._connection
    return bool(connection is not None and connection.encryption)


def test_pairing_bonds_with_secure_connections_and_a_reconnection_uses_the_bond(tmp_path):
    folder = str(tmp_path)

    async def body():
        air = EmulatedAir()
        await air.start()
        dev = await air.add_peripheral()
        bluetooth = air.bluetooth_module(dev)
        board, app, owner, link, tasks, log = boot(folder, bluetooth)
        backend = air.bleak_backends()
        try:
            bonds = owner.bonds
            seen = []       # (event, secrets kept) as the handler gets each event
            irq = bonds.irq

            def watch(event, data):
                seen.append((event, bonds.count()))
                return irq(event, data)
            bonds.irq = watch
            transport = await T.connect(backend=backend)
            assert not encrypted(transport) and bonds.encrypted == 0
            assert await T.bond(transport) is None                  # bleak's pair(): bonded
            assert encrypted(transport)
            await until(lambda: bonds.last_update is not None and not bonds.dirty,
                        "the keeper task saw _IRQ_ENCRYPTION_UPDATE and saved")
            conn, enc, authenticated, bonded, size = bonds.last_update
            assert (conn, enc, authenticated, bonded, size) == (link.conn, 1, 0, 1, 16)
            kept = B.Bonds(board.root + "/bonds", board.flag(), print).entries()
            assert sorted(t for t, _, _ in kept) == [OUR_SEC, PEER_SEC]
            assert all(len(v) == RECORD_LEN and v[-1] & _SC for _, _, v in kept), \
                "LE Secure Connections keys, on the flash"
            assert "ble: link encrypted and bonded" in log
            assert seen == [(30, 0), (30, 1), (28, 2)], \
                "as NimBLE: the central's secrets, ours, then the update once both are kept"

            # Again: the central encrypts from its bond and the belt gives the LTK back.
            await transport.close()
            await until(lambda: link.conn is None, "the belt saw the disconnect")
            transport = await T.connect(backend=backend)
            await until(lambda: bonds.bonded == 2, "a second bonded encryption")
            assert encrypted(transport)
            assert bonds.last_update[1:4] == (1, 0, 1)
            assert B.Bonds(board.root + "/bonds", board.flag(), print).entries() == kept, \
                "no new pairing: the same secrets"
            assert await T.bond(transport) is None                  # already paired: nothing
            assert bonds.bonded == 2
            await transport.close()
            await until(lambda: link.conn is None, "the belt saw the disconnect")
        finally:
            await stop(tasks)
            await air.close()

    run(body)


def test_the_factory_reset_forgets_the_bond_and_a_damaged_file_is_no_bond(tmp_path):
    folder = str(tmp_path)

    async def body():
        air = EmulatedAir()
        await air.start()
        dev = await air.add_peripheral()
        bluetooth = air.bluetooth_module(dev)
        backend = air.bleak_backends()
        board, app, owner, link, tasks, _ = boot(folder, bluetooth)
        try:
            transport = await T.connect(backend=backend)
            assert await T.bond(transport) is None
            await until(lambda: owner.bonds.count() == 2 and not owner.bonds.dirty, "bonded")
            await transport.close()
            await until(lambda: link.conn is None, "disconnected")
            await stop(tasks, bluetooth)

            # The button held at power-on: keys and bonds go. The computer still holds its bond;
            # the belt has none to give back, so the link stays unencrypted until pairing again.
            board, app, owner, link, tasks, _ = boot(folder, bluetooth, held=True)
            assert owner.bonds.count() == 0
            transport = await T.connect(backend=backend)
            assert not encrypted(transport)
            assert owner.bonds.encrypted == 0
            assert await T.bond(transport) is None
            await until(lambda: owner.bonds.count() == 2 and not owner.bonds.dirty, "bonded anew")
            await transport.close()
            await until(lambda: link.conn is None, "disconnected")
            await stop(tasks, bluetooth)

            # A damaged bond file: no bonds, said in the log, the belt boots and bonds again.
            with open(board.root + "/bonds", "r+b") as f:
                f.seek(-5, 2)
                f.write(b"\xff\x00\xff\x00\xff")
            board, app, owner, link, tasks, log = boot(folder, bluetooth)
            assert owner.bonds.count() == 0
            assert any("bonds: crc mismatch" in ln for ln in log)
            transport = await T.connect(backend=backend)
            assert not encrypted(transport), "the belt had no LTK to give back"
            assert await T.bond(transport) is None
            assert encrypted(transport)
            await until(lambda: owner.bonds.count() == 2 and not owner.bonds.dirty, "bonded anew")
            await transport.close()
        finally:
            await stop(tasks)
            await air.close()

    run(body)


def test_a_restarted_stack_asks_the_firmware_for_its_irk_as_nimble_does(tmp_path):
    folder = str(tmp_path)

    async def body():
        air = EmulatedAir()
        await air.start()
        dev = await air.add_peripheral()
        bluetooth = air.bluetooth_module(dev)
        board, app, owner, link, tasks, _ = boot(folder, bluetooth)
        try:
            await asyncio.sleep(0.05)
            assert owner.bonds.count() == 0, "at boot the handler is set after active(True)"
            link.restart()          # Bluetooth off and on, the handler kept: load_irk asks
            await until(lambda: [t for t, _, _ in owner.bonds.entries()] == [10], "our IRK kept")
            (_, key, irk), = owner.bonds.entries()
            assert key == b"irk" and len(irk) == 16 and dev.irk == irk
            link.restart()
            await bluetooth.BLE().settle()
            assert owner.bonds.entries() == [(10, b"irk", irk)], "given back, not made anew"
            assert dev.irk == irk
            transport = await T.connect(backend=air.bleak_backends())
            assert await T.bond(transport) is None, "and the stack still bonds"
            await until(lambda: owner.bonds.count() == 3, "the bond beside it")
            await transport.close()
            await until(lambda: link.conn is None, "disconnected")
            assert await dev.keystore.get_all() == [], "NimBLE reads peers only at its start"
            link.restart()          # ble_hs_misc_restore_irks: the peers read back by index
            await bluetooth.BLE().settle()
            peers = await dev.keystore.get_all()
            assert [name for name, _ in peers] == ["CE:00:00:00:00:01/P"], "the central, bonded"
        finally:
            await stop(tasks)
            await air.close()

    run(body)


def test_the_stack_is_as_strict_as_nimble_about_the_pairing_keys(tmp_path):
    async def body():
        air = EmulatedAir()
        await air.start()
        dev = await air.add_peripheral()
        ble = air.bluetooth_module(dev).BLE()
        try:
            ble.active(True)
            ble.config(bond=1, le_secure=[], mitm=None, io=True)     # truthiness, an int
            assert ble._pairing == {"bond": True, "le_secure": False, "mitm": False, "io": 1}
            with pytest.raises(TypeError):
                ble.config(io="3")
            with pytest.raises(TypeError):
                ble.config(io=3.0)
            with pytest.raises(ValueError):
                ble.config(io=7)
            with pytest.raises(ValueError):
                ble.config(bonding=True)                             # not a key: unknown
            with pytest.raises(ValueError):
                ble.config("bond")                                   # not readable back
        finally:
            await air.close()

    run(body)


class _Client:
    def __init__(self, exc):
        self.exc = exc

    async def pair(self):
        if self.exc is None:
            await asyncio.Event().wait()        # a system that never finishes
        raise self.exc


@pytest.mark.parametrize("exc, words", [
    (NotImplementedError("Pairing is not available in Core Bluetooth."), "CoreBluetooth"),
    (BleakError("Could not pair with device: FAILED"), "did not pair (BleakError)"),
    (OSError(5, "Input/output error"), "did not pair (OSError)"),
    (None, "did not pair (TimeoutError)"),
])
def test_a_refused_or_impossible_bond_is_a_logged_note_never_an_error(exc, words, caplog):
    class Transport:
        client = _Client(exc)
        name = "corecue-0001"
    caplog.set_level("INFO", logger="corecue.link.ble")
    why = asyncio.run(asyncio.wait_for(T.bond(Transport(), timeout=0.05), 5))   # never hangs
    assert words in why
    assert "Bluetooth bond with corecue-0001 not made" in caplog.text
