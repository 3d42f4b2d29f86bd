"""Bond secrets kept by the firmware, as MicroPython's NimBLE binding keeps them: a Bumble `KeyStore`
that asks the firmware's IRQ handler instead of keeping anything itself.

MicroPython (extmod/nimble/modbluetooth_nimble.c, `ble_secret_store_read/write/delete`) gives
NimBLE's store callbacks to the IRQ handler: `_IRQ_SET_SECRET` (30) with `(sec_type, key, value)`
(value None deletes; a false result is BLE_HS_ESTORE_CAP, no bond), `_IRQ_GET_SECRET` (29) with
`(sec_type, index, key)` (key None: the index'th secret of that type) answered by the handler's
return value. Types: BLE_STORE_OBJ_TYPE_OUR_SEC 1, _PEER_SEC 2; the key is the peer's
`ble_addr_t` (type byte, then the address little-endian); a value whose length is not the
stack's record is "not found", as there. NimBLE writes only when the pairing bonded (both sides
asked for bonding), the peer's record before ours; it reads ours when a bonded central
re-encrypts the link. Bumble's SMP calls `update` after every pairing and `get` on an LTK request,
so this store is where the two meet. The record is NimBLE's `ble_store_value_sec` fields, packed
(`RECORD_LEN` bytes; the chip's has padding and is a little longer): the firmware must treat it
as opaque, as it must on the chip.
"""
from __future__ import annotations

import os
import struct

from bumble import hci
from bumble.keys import KeyStore, PairingKeys
from bumble.pairing import PairingConfig, PairingDelegate

_IRQ_GET_SECRET = 29
_IRQ_SET_SECRET = 30
OUR_SEC = 1
PEER_SEC = 2
OUR_IRK = 10            # SECRET_TYPE_OUR_IRK, MicroPython's own
# peer_addr(7) key_size(1) ediv(2) rand_num(8) ltk(16) ltk_present(1) irk(16) irk_present(1)
# csrk(16) csrk_present(1) flags(1: authenticated, sc)
_RECORD = struct.Struct("<7sBH8s16sB16sB16sBB")
RECORD_LEN = _RECORD.size


_IO = PairingDelegate.IoCapability
# MicroPython's _IO_CAPABILITY_* (0..4) as SMP's IO capabilities.
_IO_CAPABILITIES = {0: _IO.DISPLAY_OUTPUT_ONLY, 1: _IO.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
                    2: _IO.KEYBOARD_INPUT_ONLY, 3: _IO.NO_OUTPUT_NO_INPUT,
                    4: _IO.DISPLAY_OUTPUT_AND_KEYBOARD_INPUT}


class _NoUserDelegate(PairingDelegate):
    """The peripheral's side of pairing without _IRQ_PASSKEY_ACTION (not emulated): Just Works
    is accepted; anything that needs a passkey or a confirmation from the firmware is refused."""

    async def accept(self) -> bool:
        return True

    async def confirm(self, auto: bool = False) -> bool:
        return True             # Just Works: NimBLE goes on without asking the firmware

    async def compare_numbers(self, number: int, digits: int) -> bool:
        return False

    async def get_number(self) -> int | None:
        return None

    async def display_number(self, number: int, digits: int) -> None:
        return None


def pairing_config(bond: bool, mitm: bool, le_secure: bool, io: int) -> PairingConfig:
    """ble_hs_cfg's sm_bonding, sm_mitm, sm_sc and sm_io_cap as Bumble's pairing configuration."""
    return PairingConfig(sc=le_secure, mitm=mitm, bonding=bond,
                         delegate=_NoUserDelegate(_IO_CAPABILITIES[io]))


async def load_irk(ble) -> None:
    """NimBLE's start-up (load_irk): SECRET_TYPE_OUR_IRK (10) under the key b"irk" from the
    firmware; if it has none of 16 bytes, a random one, offered to it with _IRQ_SET_SECRET (a
    firmware that keeps no secrets gets NimBLE's fixed default)."""
    irk = await ble._ask(_IRQ_GET_SECRET, (OUR_IRK, 0), (b"irk",))
    if irk is None or len(irk) != 16:
        irk = os.urandom(16)
        if not await ble._ask(_IRQ_SET_SECRET, (OUR_IRK,), (b"irk", irk)):
            return
    ble._dev.irk = bytes(irk)
    await ble.secrets.restore_irks()    # ble_hs_misc_restore_irks: loading an IRK clears them


def addr_key(address: hci.Address) -> bytes:
    """NimBLE's ble_addr_t for an address: its type (public 0, random 1), then little-endian."""
    return bytes((int(address.address_type) & 1,)) + bytes(address)


def _record(key: bytes, ltk: PairingKeys.Key | None, irk=None, csrk=None, sc=False) -> bytes:
    def part(k):
        return (k.value if k else bytes(16)), (1 if k else 0)
    l, lp = part(ltk)
    i, ip = part(irk)
    c, cp = part(csrk)
    flags = (1 if ltk is not None and ltk.authenticated else 0) | (2 if sc else 0)
    return _RECORD.pack(key, 16, (ltk.ediv or 0) if ltk else 0,
                        (ltk.rand or bytes(8)) if ltk else bytes(8), l, lp, i, ip, c, cp, flags)


class FirmwareSecrets(KeyStore):
    """The peripheral's key store: every secret goes to, and comes from, the firmware (`ble`, the
    emulated `BLE`, whose `_ask(event, items, buffers)` delivers one event and returns the
    handler's answer). Records which connections' keys the firmware took (`bonded`)."""

    def __init__(self, ble) -> None:
        self._ble = ble
        #: addresses (str) whose secrets the firmware accepted at the last pairing
        self.bonded: set[str] = set()
        #: addresses whose LTK the firmware gave back (a re-encryption from the bond)
        self.restored: set[str] = set()
        self._peers: list[tuple[str, PairingKeys]] = []

    def _connection(self, name: str):
        for conn in self._ble._conns.values():
            if str(conn.peer_address) == name:
                return conn
        return None

    async def update(self, name: str, keys: PairingKeys) -> None:
        conn = self._connection(name)
        session = None if conn is None else self._ble._dev.smp_manager.sessions.get(conn.handle)
        self.bonded.discard(name)
        if session is None or not session.bonding:
            return              # NimBLE persists keys only when the pairing bonded
        key = addr_key(hci.Address(name))
        sc = bool(session.sc)
        ours = keys.ltk if sc else keys.ltk_central   # Bumble files a responder's own LTK there
        peer = keys.ltk if sc else keys.ltk_peripheral
        stored = await self._ble._ask(
            _IRQ_SET_SECRET, (PEER_SEC,), (key, _record(key, peer, keys.irk, keys.csrk, sc)))
        stored = stored and await self._ble._ask(
            _IRQ_SET_SECRET, (OUR_SEC,), (key, _record(key, ours, None, None, sc)))
        if stored:
            self.bonded.add(name)

    async def get(self, name: str) -> PairingKeys | None:
        key = addr_key(hci.Address(name))
        raw = await self._ble._ask(_IRQ_GET_SECRET, (OUR_SEC, 0), (key,))
        if raw is None:
            return None
        raw = bytes(raw)
        if len(raw) != RECORD_LEN:
            return None         # "Invalid key data": not found (ble_secret_store_read)
        (_addr, _size, ediv, rand, ltk, ltk_present, _irk, _ip, _csrk, _cp,
         flags) = _RECORD.unpack(raw)
        if not ltk_present:
            return None
        keys = PairingKeys()
        if flags & 2:
            keys.ltk = PairingKeys.Key(ltk, bool(flags & 1))
        else:
            # Legacy pairing: our own LTK with its EDIV and Rand, wherever Bumble looks for it.
            own = PairingKeys.Key(ltk, bool(flags & 1), ediv, rand)
            keys.ltk_central = keys.ltk_peripheral = own
        self.restored.add(name)
        return keys

    async def delete(self, name: str) -> None:
        key = addr_key(hci.Address(name))
        await self._ble._ask(_IRQ_SET_SECRET, (PEER_SEC,), (key, None))
        await self._ble._ask(_IRQ_SET_SECRET, (OUR_SEC,), (key, None))

    async def restore_irks(self) -> None:
        """NimBLE reads the peers' records by index (key None) only when it loads its IRK at
        start (ble_hs_misc_restore_irks); what it read is what Bumble's resolving list gets."""
        out = []
        for index in range(64):
            raw = await self._ble._ask(_IRQ_GET_SECRET, (PEER_SEC, index, None), ())
            if raw is None:
                break
            if len(raw) != RECORD_LEN:
                continue
            fields = _RECORD.unpack(bytes(raw))
            keys = PairingKeys()
            if fields[7]:
                keys.irk = PairingKeys.Key(fields[6])
            addr = fields[0]
            out.append((str(hci.Address(addr[1:], hci.AddressType(addr[0] & 1))), keys))
        self._peers = out

    async def get_all(self) -> list[tuple[str, PairingKeys]]:
        # Bumble asks after every pairing (its resolving list); NimBLE does not read the store
        # then, so neither does this: the peers read at the last start.
        return list(self._peers)

    async def delete_all(self) -> None:
        for name, _ in await self.get_all():
            await self.delete(name)
