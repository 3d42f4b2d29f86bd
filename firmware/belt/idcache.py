# What the belt remembers about each closed session file (its CRC, what its header and trailer
# say), kept in arrays made at boot. A dict of tuples grew one session at a time during the first
# session list after boot, and on a 256 KB heap in pieces its next table (1,168 bytes for 60
# sessions) could not be had: the belt could not list, so could not sync. Here nothing grows.
#
#   cache = IdCache(capacity, fields)
#   cache.put(sid, size, (v1, v2, ...))     # fields values, each 0..2**32-1
#   cache.get(sid, size, out)               # True and out[:] filled when cached for this size
#   cache.drop(sid); cache.clear()
#
# A file is cached with its size: a file that changed size is read again. When the belt holds
# more sessions than the capacity the oldest entry made room for, so a list costs a read of those
# files again, never a wrong answer.
from array import array

_EMPTY = -1


class IdCache:
    def __init__(self, capacity, fields):
        self.capacity = capacity
        self.fields = fields
        self._ids = array("i", [_EMPTY] * capacity)
        self._sizes = array("I", [0] * capacity)
        self._vals = array("I", [0] * (capacity * fields))
        self._next = 0          # the slot a new entry takes when none is free

    def _slot(self, sid):
        ids = self._ids
        i = 0
        n = self.capacity
        while i < n:
            if ids[i] == sid:
                return i
            i += 1
        return -1

    def get(self, sid, size, out):
        i = self._slot(sid)
        if i < 0 or self._sizes[i] != size:
            return False
        k = i * self.fields
        j = 0
        while j < self.fields:
            out[j] = self._vals[k + j]
            j += 1
        return True

    def put(self, sid, size, values):
        i = self._slot(sid)
        if i < 0:
            i = self._slot(_EMPTY)
        if i < 0:
            i = self._next
            self._next = (i + 1) % self.capacity
        self._ids[i] = sid
        self._sizes[i] = size
        k = i * self.fields
        j = 0
        while j < self.fields:
            self._vals[k + j] = values[j]
            j += 1

    def drop(self, sid):
        i = self._slot(sid)
        if i >= 0:
            self._ids[i] = _EMPTY

    def clear(self):
        i = 0
        while i < self.capacity:
            self._ids[i] = _EMPTY
            i += 1
