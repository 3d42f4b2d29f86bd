# The Bluetooth bond secrets the stack hands the belt (docs/protocol.md, "Defence in depth: LE
# Secure Connections"). MicroPython's NimBLE binding keeps no bonds itself: when a pairing with
# bonding completes it gives the IRQ handler each secret (_IRQ_SET_SECRET: type, key, value; a
# value of None deletes), and asks for them back when a bonded central encrypts the link again
# (_IRQ_GET_SECRET: type, index, key; key None means "the index'th secret of this type"). The
# stack's key is the peer's ble_addr_t (7 bytes), its value a ble_store_value_sec (about 80
# bytes, opaque here). Bonds are extra: nothing in the protocol depends on them, the owners' keys
# (belt.keystore) stay the authority, and a belt without this file simply pairs again.
#
# The IRQ handler's side (irq) copies into preallocated slots and wakes the keeper task, which
# writes the file; it allocates nothing once a slot has held a value of the stack's length.
#
#   header line  b"CQBD <version> <crc32 of the body, 8 hex digits> <body length>\n"
#                (belt.checkedfile)
#   body         entries: type (1 byte) | key length (1) | value length (1) | key | value
#
# A missing file is "no bonds"; a damaged one (header, CRC, lengths) is "no bonds" too, said once
# in the log, never a crash. At most SLOTS secrets (two per bonded computer, ours and its); a new
# one when full evicts every secret of the computer that bonded longest ago.
from micropython import const

from belt import checkedfile
from belt.atomicfile import read_atomic, write_atomic

VERSION = const(1)
SLOTS = const(9)
KEY_MAX = const(16)
VALUE_MAX = const(112)
_MAGIC = b"CQBD"
_IRQ_ENCRYPTION_UPDATE = const(28)
_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)


def parse(data):
    """A bond file's bytes -> ([(type, key, value)], None) or (None, why it is refused)."""
    body, why = checkedfile.unpack(_MAGIC, VERSION, data)
    if why:
        return None, why
    n = len(body)
    out = []
    at = 0
    while at < n:
        if n - at < 3:
            return None, "bad entry"
        t, kn, vn = body[at], body[at + 1], body[at + 2]
        end = at + 3 + kn + vn
        if not t or not 0 < kn <= KEY_MAX or not 0 < vn <= VALUE_MAX or end > n:
            return None, "bad entry"
        out.append((t, bytes(body[at + 3:at + 3 + kn]), bytes(body[at + 3 + kn:end])))
        at = end
    if len(out) > SLOTS:
        return None, "too many entries"
    return out, None


def _copy(dst, at, src):
    # Byte by byte: a slice assignment would build a slice object on the heap.
    for j in range(len(src)):
        dst[at + j] = src[j]


def dumps(entries):
    return checkedfile.pack(_MAGIC, VERSION,
                            b"".join([bytes((t, len(k), len(v))) + k + v for t, k, v in entries]))


class Bonds:
    def __init__(self, path, flag, log=print):
        self.path = path
        self.log = log
        self._flag = flag                     # board.flag(): wakes keep() from the IRQ
        # One buffer for every slot's key, one for every value (slot i at i * KEY_MAX, i *
        # VALUE_MAX): a few hundred bytes of heap less than a buffer per slot.
        self._type = bytearray(SLOTS)         # 0: free
        self._klen = bytearray(SLOTS)
        self._age = [0] * SLOTS               # when each slot was written (a counter)
        self._keys = bytearray(SLOTS * KEY_MAX)
        self._vals = bytearray(SLOTS * VALUE_MAX)
        self._views = [None] * SLOTS          # slot i's value, as the stack is given it
        self._clock = 0
        self.dirty = False
        self.refused = 0          # secrets not kept (too long): the stack then has no bond
        self.encrypted = 0        # _IRQ_ENCRYPTION_UPDATE seen with the link encrypted
        self.bonded = 0           # ... and bonded
        self.last_update = None   # (conn, encrypted, authenticated, bonded, key size), by keep()
        self._update = [0, 0, 0, 0, 0]
        self._new_update = False
        self.note = None
        entries, why = read_atomic(path, parse)
        if why is not None and why != "missing":
            self.note = "bonds: %s: none kept" % why
            log(self.note)
            entries = []
        for entry in entries or ():
            self._put(entry)
        self.dirty = False                    # what was read is what the file holds

    def count(self):
        n = 0
        for t in self._type:
            if t:
                n += 1
        return n

    def entries(self):
        return [(self._type[i], bytes(self._keys[i * KEY_MAX:i * KEY_MAX + self._klen[i]]),
                 bytes(self._views[i])) for i in range(SLOTS) if self._type[i]]

    # -- the IRQ handler's side: records, never raises in normal running ----------------------
    def irq(self, event, data):
        # Few locals here too (see _same); each event in its own small method.
        if event == _IRQ_GET_SECRET:
            return self._get(data[0], data[1], data[2])
        if event == _IRQ_SET_SECRET:
            return self._secret(data)
        if event == _IRQ_ENCRYPTION_UPDATE:
            self._encryption(data)
        return None

    def _secret(self, data):
        # data: (type, key, value or None to delete)
        i = self._find(data[0], data[1])
        if data[2] is None:
            ok = i >= 0
            if ok:
                self._type[i] = 0
                self.dirty = True
        elif i >= 0:
            ok = self._fill(i, data)
        else:
            ok = self._put(data)
        self._flag.set()
        return ok

    def _encryption(self, data):
        u = self._update
        for i in range(5):
            u[i] = int(data[i])
        self._new_update = True
        if data[1]:
            self.encrypted += 1
            if data[3]:
                self.bonded += 1
        self._flag.set()

    def _same(self, i, t, key):
        # Few locals: a frame of more than about 11 words comes from the heap.
        if self._type[i] != t or self._klen[i] != len(key):
            return False
        k = self._keys
        i *= KEY_MAX
        for j in range(len(key)):
            if k[i + j] != key[j]:
                return False
        return True

    def _get(self, t, index, key):
        for i in range(SLOTS):
            if key is None:
                if self._type[i] == t:
                    if not index:
                        return self._views[i]
                    index -= 1
            elif self._same(i, t, key):
                return self._views[i]
        return None

    def _find(self, t, key):
        for i in range(SLOTS):
            if self._same(i, t, key):
                return i
        return -1

    def _put(self, data):
        # A new slot (allocates a frame: only when a computer bonds for the first time).
        t, key, value = data
        if not 0 < len(key) <= KEY_MAX or not 0 < len(value) <= VALUE_MAX or not t:
            self.refused += 1
            return False
        free = -1
        for i in range(SLOTS):
            if not self._type[i]:
                free = i
                break
        if free < 0:
            # Full: the computer that bonded longest ago goes (all its secrets, whatever type).
            old = 0
            for i in range(SLOTS):
                if self._age[i] < self._age[old]:
                    old = i
            n0 = self._klen[old]
            for i in range(SLOTS):
                if i != old and self._type[i] and self._klen[i] == n0 and \
                        self._keys[i * KEY_MAX:i * KEY_MAX + n0] == \
                        self._keys[old * KEY_MAX:old * KEY_MAX + n0]:
                    self._type[i] = 0
            self._type[old] = 0
            free = old
        return self._fill(free, data)

    def _fill(self, i, data):
        if len(data[2]) > VALUE_MAX:
            self.refused += 1
            return False
        _copy(self._keys, i * KEY_MAX, data[1])
        _copy(self._vals, i * VALUE_MAX, data[2])
        view = self._views[i]
        if view is None or len(view) != len(data[2]):
            # Once per slot: the stack's values all have one length.
            self._views[i] = memoryview(self._vals)[i * VALUE_MAX:i * VALUE_MAX + len(data[2])]
        self._type[i] = data[0]
        self._klen[i] = len(data[1])
        self._clock += 1
        self._age[i] = self._clock
        self.dirty = True
        return True

    # -- the task's side ------------------------------------------------------------------------
    def save(self):
        """Write the file now (OSError from the flash: the bonds stay in RAM, dirty)."""
        write_atomic(self.path, dumps(self.entries()))
        self.dirty = False

    def clear(self):
        """Factory reset: no bonds (an empty, valid file)."""
        for i in range(SLOTS):
            self._type[i] = 0
        self.save()

    async def keep(self):
        """The task: saves what the IRQ recorded, logs the link's security as the stack reports it."""
        while True:
            await self._flag.wait()
            if self._new_update:
                self._new_update = False
                self.last_update = tuple(self._update)
                self.log("ble: link %s" % ("encrypted and bonded"
                                            if self._update[1] and self._update[3] else
                                            "encrypted, not bonded" if self._update[1] else
                                            "not encrypted"))
            if self.dirty:
                try:
                    self.save()
                except OSError as e:
                    self.log("bonds: not saved: %r" % e)
