# The per-session cache in arrays made at boot (belt.idcache): a hit only for the size it was
# stored with, entries replaced in turn when full, dropped and cleared; and it allocates nothing.
from fwtest import allocated, eq, skip_unless_micropython

from belt.idcache import IdCache
from array import array


def test_a_hit_needs_the_same_id_and_size():
    c = IdCache(4, 2)
    out = array("I", [0, 0])
    eq(c.get(7, 100, out), False, "empty")
    c.put(7, 100, (0xFFFFFFFF, 3))
    eq((c.get(7, 100, out), list(out)), (True, [0xFFFFFFFF, 3]), "stored, the full u32 range")
    eq(c.get(7, 101, out), False, "a file of another size is read again")
    c.put(7, 101, (5, 6))
    eq((c.get(7, 101, out), list(out), c.get(7, 100, out)), (True, [5, 6], False),
       "the same id stored again takes its own slot")
    c.drop(7)
    eq(c.get(7, 101, out), False, "dropped")


def test_a_full_cache_replaces_in_turn_and_never_answers_wrong():
    c = IdCache(3, 1)
    out = array("I", [0])
    for sid in range(1, 8):
        c.put(sid, sid * 10, (sid * 100,))
    hits = [sid for sid in range(1, 8) if c.get(sid, sid * 10, out) and out[0] == sid * 100]
    eq(len(hits), 3, "as many as it holds: %r" % hits)
    eq(all(not c.get(s, s * 10, out) or out[0] == s * 100 for s in range(1, 8)), True,
       "every hit is its own value")
    c.clear()
    eq([s for s in range(1, 8) if c.get(s, s * 10, out)], [], "cleared")


def test_lookups_and_stores_allocate_nothing():
    skip_unless_micropython("mem_total is MicroPython's")
    c = IdCache(128, 4)
    out = array("I", [0] * 4)
    vals = array("I", [1, 2, 3, 4])
    c.put(5, 10, vals)

    def work():
        c.get(5, 10, out)
        c.get(99, 10, out)
        c.put(6, 10, vals)
        c.drop(6)
    eq(allocated(work), 0, "bytes allocated")
