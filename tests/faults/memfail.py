# MemoryError at every allocation site of the sync path, one at a time, under MicroPython (and
# CPython): the belt's command handler and its download sender (belt.commands, belt.outbound, as
# both links use them) serve a companion that lists, reads, acknowledges and confirms the sessions
# of a belt (tests/faults/cmdbelt.py: three closed sessions, one confirmed, one open).
#
# The sites are named (tests/faults/allocsites.py): every call of a function or method of the
# modules on the path, and every call those modules make to what allocates. A first run counts
# each site's calls in a whole sync, and which took heap (MicroPython); then, for each site that
# did (every site under CPython) and each of its calls (every STRIDE-th), a fresh belt is synced
# with a MemoryError raised at exactly that call, and then synced again with nothing injected, as
# a companion tries again. Each trial must end with:
#   - no exception out of the handler: a refusal is an ERROR reply of one line;
#   - no session confirmed (synced) that the companion did not hold byte for byte;
#   - every session file byte-identical to before, the open one still open;
#   - after the second sync, every closed session synced and its bytes the file's.
#
#   micropython -X heapsize=8M tests/faults/memfail.py FIRMWARE [STRIDE [owned]]
#   python tests/faults/memfail.py FIRMWARE [STRIDE [owned]]
#
# With "owned" the sync goes through the ownership layer as main.py builds it (belt.owned in
# front of the handler, paired over USB first, every request and what the belt sends sealed),
# whose modules (owned, auth, channel, mac and the ciphers) are sites too.
#
# Two rows: the allocation fails once; or it fails and every later one in the same request
# fails too, as a heap that ran out stays full until the request's garbage is collected (the
# refusal itself must then still go out). Prints "<row> tried N failed N lost N" (lost: sessions
# confirmed without being held, or changed) and a line per failure.
import sys

_HERE = __file__.rsplit("/", 1)[0]
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, _HERE + "/../firmware")
sys.path.insert(0, _HERE)
if sys.implementation.name != "micropython":
    sys.path.insert(0, _HERE + "/../../companion/corecue/twin/mpshim")     # `micropython`
import binascii  # noqa: E402
import struct  # noqa: E402

from belt import commands as _commands  # noqa: E402
from belt import idcache as _idcache  # noqa: E402
from belt import outbound as _outbound  # noqa: E402
from belt import protocol as P  # noqa: E402
from belt import sessioncodec as _sessioncodec  # noqa: E402
from belt import sessionformat as _sessionformat  # noqa: E402
from belt import sessionread as _sessionread  # noqa: E402
from belt import sessionsync as _sessionsync  # noqa: E402
from belt import storage as _storage  # noqa: E402
from belt.outbound import DATA_HEAD, Outbound  # noqa: E402
from belt.sessionsync import CHUNK_MAX  # noqa: E402
from cmdbelt import Belt  # noqa: E402
import allocsites  # noqa: E402
from allocsites import INJ  # noqa: E402

MODULES = (_commands, _sessionsync, _storage, _idcache, _sessionread, _sessioncodec,
           _sessionformat, _outbound, P)
_CHUNK = 300                # the companion's chunk size: a session takes several chunks
_WINDOW = 2


def instrument():
    # handle() itself is entered by the link: its allocations are the link's.
    allocsites.instrument(MODULES, skip=("commands.Commands.handle", "owned.Owned.handle"),
                          keep_bytes=(_sessionread,))


# The companion's own codec: never a site (taken before instrument()).
_parse, _decode, _request, _reply_format = P.parse, P.decode_fields, P.request, P.reply_format
_T_DATA = P.type_of("data")


def _reply(pkt):
    t, _, _, payload = _parse(pkt)
    if t == P.T_ERROR:
        return None, bytes(payload[1:]).decode()
    fields, tail = _decode(_reply_format(t), payload)
    return fields, tail


class Companion:
    """The companion's side of a sync, as corecue.link does it: list, read each unsynced closed
    session with a window of acknowledgements, confirm it with the CRC of what it holds. It
    never raises for what the belt does: refusals and lost chunks are counted, and the caller
    syncs again."""

    def __init__(self, belt, owned=False):
        self.belt = belt
        self.cmd = belt.cmd
        self.out = Outbound(belt.app, belt.cmd, lambda: None)
        self.pkt = bytearray(DATA_HEAD + CHUNK_MAX + P.AUTH_LEN)
        self.owned = self.host = None
        if owned:
            # The path as main.py builds it: belt.owned in front of the handler, paired over
            # USB before anything is injected; requests and what the belt sends are sealed.
            from belt import auth as A
            from belt.keystore import KeyStore
            from belt.owned import Owned
            from test_owned import _pair
            board = belt.board
            owner = A.Owner(KeyStore(board.root + "/keys"), board.device_id())
            self.owned = Owned(self.cmd, owner, True)
            self.host = _pair(self.owned, 0)
        self.held = {}          # id -> the bytes the companion stored
        self.req = 0
        self.problem = None     # the first thing that breaks the rules
        self.armed = False      # the injector counts (and may fire) in the belt's code

    def call(self, name, *fields):
        self.req += 1
        pkt = _request(name, self.req, *fields)
        if self.host is not None:
            pkt = self.host.seal(pkt)           # the companion's own sealing is no site
        INJ.on = self.armed
        try:
            if self.owned is None:
                out = self.cmd.handle(pkt)
            else:
                sent, _ = self.owned.handle(pkt, 0)
                out = sent[0] if sent else None
        except Exception as e:          # the handler must answer, never raise
            self.problem = self.problem or "%s raised %r" % (name, e)
            return None, "raised"
        finally:
            INJ.on = INJ.full = False
        if out is None:
            return None, None
        if self.host is not None:
            try:
                out = self.host.open(bytes(out))
            except Exception as e:
                self.problem = self.problem or "%s: a reply that does not open: %r" % (name, e)
                return None, "unsealed"
        fields, tail = _reply(out)
        if fields is None and "\n" in tail:
            self.problem = self.problem or "an error of more than one line: %r" % tail
        return fields, tail

    def _chunks(self, sid, data):
        body = memoryview(self.pkt)[DATA_HEAD:DATA_HEAD + CHUNK_MAX]
        while True:
            INJ.on = self.armed
            try:
                if not self.out.chunk_due():
                    return
                n = self.out.pack_chunk(self.pkt, body)
                if n and self.owned is not None:
                    n = self.owned.seal_into(self.pkt, n)
            except MemoryError:
                return          # the link's guard restarts its task; the ack stalls, we resume
            finally:
                INJ.on = INJ.full = False
            if not n:
                return
            plain = bytes(self.pkt[:n])
            if self.host is not None:
                plain = self.host.open(plain)
            _, _, _, payload = _parse(plain)
            (got, off), tail = _decode(_reply_format(_T_DATA), payload)
            if got == sid and off == len(data):
                data.extend(tail)

    def read(self, sid, size):
        data = bytearray()
        for _ in range(4 * (size // _CHUNK + 2)):
            fields, _ = self.call("session_read", sid, len(data), _WINDOW, _CHUNK)
            if fields is None:
                continue
            while True:
                before = len(data)
                self._chunks(sid, data)
                self.call("session_ack", sid, len(data))
                if len(data) == before:
                    break
            if len(data) == size:
                return bytes(data)
        return None

    def sync(self):
        fields, tail = self.call("session_list", 0)
        if fields is None:
            return
        entries = [struct.unpack_from(P.ENTRY, tail, i * _sessionsync.ENTRY_LEN)
                   for i in range(fields[0])]
        for e in entries:
            sid, size, crc, flags = e[0], e[4], e[5], e[6]
            if flags & (P.FL_OPEN | P.FL_SYNCED):
                continue
            data = self.held.get(sid) or self.read(sid, size)
            if data is None:
                continue
            self.held[sid] = data
            self.call("session_confirm", sid, binascii.crc32(data) & 0xFFFFFFFF)


def trial(target, k, owned=False):
    belt = Belt("memfail-%d" % k)
    companion = Companion(belt, owned)
    before, open_id = allocsites.session_files(belt.app)
    INJ.calls = {}
    INJ.target = target
    INJ.fired = False
    companion.armed = True
    companion.sync()
    companion.armed = False
    mid, _ = allocsites.session_files(belt.app)
    companion.sync()
    after, open_after = allocsites.session_files(belt.app)
    why = companion.problem
    lost = 0
    for sid, (synced, data) in mid.items():
        if synced and not before[sid][0] and companion.held.get(sid) != data:
            lost += 1
            why = why or "session %d confirmed though the companion did not hold it" % sid
    for sid, (synced, data) in after.items():
        if data != before[sid][1]:
            lost += 1
            why = why or "session %d changed" % sid
        elif sid != open_id and not synced:
            why = why or "session %d not synced after the second sync" % sid
        elif sid != open_id and not before[sid][0] and companion.held.get(sid) != data:
            lost += 1
            why = why or "session %d held as other bytes" % sid
    if open_after != open_id:
        why = why or "the open session is no longer open"
    return INJ.fired, why, lost


ROWS = (
    (False, "MemoryError once at each allocation site of the sync path"),
    (True, "MemoryError from each allocation site to the end of that request"),
)


def main(argv):
    stride = int(argv[2]) if len(argv) > 2 else 1
    owned = len(argv) > 3 and argv[3] == "owned"
    if owned:
        global MODULES
        from belt import aescmac, aesctr, auth, channel, mac, owned as _owned
        MODULES = MODULES + (_owned, auth, channel, mac, aesctr, aescmac)
    instrument()
    # Under MicroPython the sites whose calls took heap (mem_total); CPython cannot tell, so
    # there every call is tried.
    with_owner = ", with ownership" if owned else ""
    return allocsites.sweep(lambda target, k: trial(target, k, owned),
                            [(held, row + with_owner) for held, row in ROWS], stride)


sys.exit(main(sys.argv))
