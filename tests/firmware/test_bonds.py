# The Bluetooth bond secrets (belt.bonds) as MicroPython's NimBLE binding hands them to the IRQ
# handler (_IRQ_SET_SECRET 30, _IRQ_GET_SECRET 29, _IRQ_ENCRYPTION_UPDATE 28): kept across a
# reload, found by key and by index, bounded, a damaged file read as "no bonds" without a crash,
# cleared by the factory reset, and the BLE link asking the stack for LE Secure Connections with
# bonding and handing these events on. Over a real (emulated) stack: tests/companion/test_lesc.py.
import asyncio

import beltrig as rig
from fwtest import IS_MPY, allocated, eq, record
from flashsim import tmp_dir
from belt import bonds as B

OUR, PEER = 1, 2                     # BLE_STORE_OBJ_TYPE_OUR_SEC, _PEER_SEC
GET, SET = 29, 30                    # _IRQ_GET_SECRET, _IRQ_SET_SECRET
A1 = b"\x00\x01\x02\x03\x04\x05\x06"  # ble_addr_t: type, then the address little-endian
A2 = b"\x00\x11\x12\x13\x14\x15\x16"
V1 = bytes(range(80))
V2 = bytes(range(100, 180))


class Flag:
    def __init__(self):
        self.n = 0

    def set(self):
        self.n += 1


def _bonds(path, log=None):
    lines = [] if log is None else log
    return B.Bonds(path, Flag(), lines.append)


def _path(name):
    return tmp_dir(name) + "/bonds"


def test_secrets_are_found_by_key_and_by_index_and_survive_a_reload():
    p = _path("bd1")
    b = _bonds(p)
    eq(b.irq(GET, (OUR, 0, memoryview(A1))), None, "nothing yet")
    eq(b.irq(SET, (PEER, memoryview(A1), memoryview(V2))), True, "peer's kept")
    eq(b.irq(SET, (OUR, memoryview(A1), memoryview(V1))), True, "ours kept")
    eq(b._flag.n, 2, "the keeper task woken for each")
    eq(bytes(b.irq(GET, (OUR, 0, memoryview(A1)))), V1, "ours by key")
    eq(bytes(b.irq(GET, (PEER, 0, None))), V2, "the first peer by index")
    eq(b.irq(GET, (PEER, 1, None)), None, "no second peer")
    eq(b.irq(GET, (OUR, 0, memoryview(A2))), None, "another computer: none")
    b.save()
    again = _bonds(p)
    eq(sorted(again.entries()), sorted([(OUR, A1, V1), (PEER, A1, V2)]), "reloaded")
    eq(again.dirty, False, "nothing to write back after a reload")
    eq(again.irq(SET, (OUR, memoryview(A1), None)), True, "deleted")
    eq(again.irq(SET, (OUR, memoryview(A1), None)), False, "already gone")
    again.save()
    eq(_bonds(p).entries(), [(PEER, A1, V2)], "the deletion on flash")
    record("bond_file_bytes", len(B.dumps([(OUR, A1, V1), (PEER, A1, V2)])))


def test_the_irq_side_allocates_nothing():
    if not IS_MPY:
        return
    b = _bonds(_path("bd2"))
    key, val = memoryview(A1), memoryview(V1)
    b.irq(SET, (OUR, key, val))       # a slot's first value makes its view
    args = (OUR, 0, key)
    sargs = (OUR, key, val)
    eq(allocated(lambda: b.irq(GET, args)), 0, "a secret looked up")
    eq(allocated(lambda: b.irq(SET, sargs)), 0, "a secret replaced")


def test_bounded_oldest_computer_evicted_and_oversized_refused():
    b = _bonds(_path("bd3"))
    n = 0
    while n + 2 <= B.SLOTS:
        addr = bytes((0, n, 0, 0, 0, 0, 0))
        eq(b.irq(SET, (PEER, addr, V2)), True, "peer %d" % n)
        eq(b.irq(SET, (OUR, addr, V1)), True, "ours %d" % n)
        n += 2
    while n < B.SLOTS:                  # NimBLE's own IRK (SECRET_TYPE_OUR_IRK) fills the rest
        eq(b.irq(SET, (10, b"irk%d" % n, bytes(16))), True, "irk")
        n += 1
    eq(b.count(), B.SLOTS, "full")
    eq(b.irq(SET, (PEER, A2, V2)), True, "a new computer still bonds")
    eq(b.irq(GET, (OUR, 0, bytes(7))), None, "the first computer's secrets went")
    eq(b.irq(GET, (PEER, 0, bytes(7))), None, "all of them")
    eq(b.count(), B.SLOTS - 1, "both its slots freed")
    eq(b.irq(SET, (OUR, A2, bytes(B.VALUE_MAX + 1))), False, "too long: refused")
    eq(b.refused, 1, "counted")


def test_a_damaged_file_is_no_bonds_never_a_crash():
    p = _path("bd4")
    good = B.dumps([(OUR, A1, V1), (PEER, A1, V2)])
    cases = [good[:-1], good[:10], b"\xff" * 40, good.replace(b"CQBD", b"CQBX"),
             good[:-3] + bytes((good[-3] ^ 1,)) + good[-2:], b""]
    # A body whose CRC fits but whose entry lengths run past it.
    body = bytes((OUR, 7, 200)) + A1 + V1
    import binascii
    cases.append(b"CQBD 1 %08x %d\n" % (binascii.crc32(body) & 0xFFFFFFFF, len(body)) + body)
    for n, data in enumerate(cases):
        with open(p, "wb") as f:
            f.write(data)
        log = []
        b = _bonds(p, log)
        eq((b.count(), b.irq(GET, (OUR, 0, A1))), (0, None), "case %d" % n)
        eq(len(log), 1, "said once in the log, case %d" % n)
        eq(b.irq(SET, (OUR, A1, V1)), True, "bonds again, case %d" % n)
        b.save()
        eq(_bonds(p).entries(), [(OUR, A1, V1)], "a good file again, case %d" % n)


def test_the_factory_reset_clears_the_bonds_with_the_keys():
    from test_owners import _boot
    d = rig.fresh("bonds-reset")
    board, app, owner, _ = _boot(d)
    owner.bonds.irq(SET, (OUR, A1, V1))
    owner.bonds.save()
    board, app, owner, _ = _boot(d)
    eq(owner.bonds.entries(), [(OUR, A1, V1)], "kept across a boot")
    board, app, owner, _ = _boot(d, held=True)
    eq(owner.bonds.count(), 0, "the button held at power-on: no bonds")
    board, app, owner, _ = _boot(d)
    eq(owner.bonds.count(), 0, "and none after the next boot")


class Radio:
    """bluetooth.BLE as far as BleLink's set-up and its IRQ handler go."""

    def __init__(self):
        self.configured = {}
        self.handler = None

    def active(self, on=None):
        return True

    def config(self, **kw):
        self.configured.update(kw)

    def irq(self, handler):
        self.handler = handler

    def gatts_register_services(self, services):
        return ((1, 2, 3), (4, 5, 6), (7,))

    def gatts_set_buffer(self, *args):
        pass

    def gatts_write(self, *args):
        return 0


def test_the_link_asks_for_secure_connections_and_hands_the_secrets_on():
    from belt.blelink import BleLink
    from test_owners import _boot
    d = rig.fresh("bonds-link")
    board, app, owner, lines = _boot(d)
    radio = Radio()
    link = BleLink(app, radio, lambda u: u if isinstance(u, bytes) else str(u).encode(),
                   owner=owner, bonds=owner.bonds)
    eq(radio.configured, {"gap_name": link.name, "mtu": 247, "bond": True, "le_secure": True,
                          "mitm": False, "io": 3}, "the stack's configuration")
    eq([n for n, _ in link.tasks()][-1], "ble-bonds", "the keeper runs with the link")
    h = radio.handler
    eq(h(30, (OUR, memoryview(A1), memoryview(V1))), True, "a secret kept through the handler")
    eq(bytes(h(29, (OUR, 0, memoryview(A1)))), V1, "and given back")
    h(28, (0, 1, 0, 1, 16))

    async def run():
        task = asyncio.create_task(owner.bonds.keep())
        for _ in range(5):
            await asyncio.sleep(0)
        task.cancel()
    asyncio.run(run())
    eq(owner.bonds.last_update, (0, 1, 0, 1, 16), "the link's security, seen by the task")
    eq(owner.bonds.dirty, False, "saved by the keeper")
    eq(B.Bonds(board.root + "/bonds", Flag(), print).entries(), [(OUR, A1, V1)], "on flash")
    plain = Radio()
    BleLink(app, plain, lambda u: u if isinstance(u, bytes) else str(u).encode())
    eq("bond" in plain.configured, False, "without a bond store the stack is left as it was")
