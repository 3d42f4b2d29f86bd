# The belt's owners: one 32-byte pairing key per paired computer, named by the computer's 8-byte
# host id, in one small file on the flash (/keys, outside the session directory, kept like the
# config: written to a temporary name and renamed, with a CRC).
#
#   header line  b"CQKY <version> <crc32 of the body, 8 hex digits> <body length>\n"
#                (belt.checkedfile)
#   body         up to SLOTS x (host id 8 bytes | key 32 bytes)
#
# A belt whose file is missing has no owner; one whose file is damaged (bad header, CRC,
# length) is in the "pair again" state. Either way no key is known, so nothing but HELLO and
# pairing is served (belt.auth), and pairing over Bluetooth needs the wearer's pairing window:
# a damaged key file never leaves the belt open. A factory reset writes an empty file.
from micropython import const

from belt import checkedfile
from belt.atomicfile import read_atomic, write_atomic

DEFAULT_PATH = "/keys"
VERSION = const(1)
SLOTS = const(4)
HOST_ID_LEN = const(8)
KEY_LEN = const(32)
_SLOT = const(40)
_MAGIC = b"CQKY"

OWNED = "owned"
UNPAIRED = "unpaired"
BROKEN = "pair again"


class KeyStoreFull(Exception):
    pass


def dumps(slots):
    return checkedfile.pack(_MAGIC, VERSION, b"".join([h + k for h, k in slots]))


def parse(data):
    """A key file's bytes -> ([(host id, key)], None) or (None, why it is refused)."""
    body, why = checkedfile.unpack(_MAGIC, VERSION, data)
    if why:
        return None, why
    n = len(body)
    if n % _SLOT or n > SLOTS * _SLOT:
        return None, "bad length"
    return [(bytes(body[i:i + HOST_ID_LEN]), bytes(body[i + HOST_ID_LEN:i + _SLOT]))
            for i in range(0, n, _SLOT)], None


class KeyStore:
    def __init__(self, path=DEFAULT_PATH):
        self.path = path
        self.slots = []
        slots, why = read_atomic(path, parse)
        if why is None:
            self.slots = slots
            self.note = None
        else:
            self.note = None if why == "missing" else "keys: %s" % why
        self.broken = why is not None and why != "missing"

    @property
    def state(self):
        if self.slots:
            return OWNED
        return BROKEN if self.broken else UNPAIRED

    def key(self, host_id):
        for h, k in self.slots:
            if h == host_id:
                return k
        return None

    def hosts(self):
        return [h for h, _ in self.slots]

    def _save(self, slots):
        write_atomic(self.path, dumps(slots))     # OSError: nothing changes in RAM either
        self.slots = slots
        self.broken = False
        self.note = None

    def add(self, host_id, key):
        """Remember (or replace) host_id's key and save; KeyStoreFull when SLOTS other
        computers are paired. OSError from the flash leaves the keys as they were."""
        if len(host_id) != HOST_ID_LEN or len(key) != KEY_LEN:
            raise ValueError("host id of 8 bytes and key of 32")
        slots = [(h, k) for h, k in self.slots if h != host_id]
        if len(slots) >= SLOTS:
            raise KeyStoreFull("%d computers are paired" % SLOTS)
        slots.append((bytes(host_id), bytes(key)))
        self._save(slots)

    def can_add(self, host_id):
        return self.key(host_id) is not None or len(self.slots) < SLOTS

    def remove(self, host_id):
        """Forget host_id's key and save; False when it had none."""
        if self.key(host_id) is None:
            return False
        self._save([(h, k) for h, k in self.slots if h != host_id])
        return True

    def clear(self):
        """Factory reset: no owner any more (an empty, valid file)."""
        self._save([])
