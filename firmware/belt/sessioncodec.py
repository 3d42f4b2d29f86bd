# The payload coder of a session-log block (docs/session-format.md, "Block payload").
#
# 10 Hz effort at 0.5 %MVC must fit 150 hours into ~1.9 MB, i.e. ~2.7 bits per frame for
# everything. Deflating each 100-frame block of effort steps costs 5.4 bits per frame with fixed
# Huffman codes (what MicroPython's compressor emits) and 3.9 with dynamic ones, and byte-aligned
# delta or run-length codes spend whole bytes on changes while two frames in three change. So a
# block is coded with an adaptive binary range coder: LZMA's, scaled down to a 24-bit window so
# every register stays a 31-bit small int and coding allocates nothing on the board. The context
# model is shared by encoder and decoder (`_Model` methods take the value to encode, are handed a
# dummy when decoding, and return what was coded), so the two cannot drift apart. Model state
# carries from block to block; blocks decode in order.
#
# Format version 2 adds the signal chain's slow figures (fatigue index, cadence): one pair after
# every SIG_EVERY-th frame of the file, wherever the block boundaries fall, coded as a change from
# the previous pair. Both figures are means over several seconds and move over minutes: a pair
# every 10 s puts three in a 30 s warm-up hold and costs about 200 bytes an hour, what the 12 KB
# budget had left (docs/session-format.md).
import array
from micropython import const

NONE = const(-1)            # effort of an uncalibrated frame, in the half-percent buffer
MAX_EFFORT = const(400)     # 200 %MVC in half-percent units

_TOP = const(0xFFFFFF)
_BOT = const(0x10000)
_PBITS = const(12)
_PHALF = const(2048)
_ADAPT = const(5)
_VBITS = const(9)           # an absolute effort value, 0..400
_MAXU = const(6)            # largest delta coded in unary; larger ones escape to absolute
_DEV = const(12)            # 0.75 half-percent from the running mean picks the sign context

# Context (probability) slots
_P_FULL = const(0)
_P_EV = const(1)
_P_EVMORE = const(2)
_P_QCHG = const(3)
_P_NONESTAY = const(4)
_P_ESCNONE = const(5)
_P_ZERO = const(6)          # 3: by the magnitude of the previous delta
_P_SIGN = const(9)          # 9: by previous delta sign x deviation from the running mean
_P_MAG = const(18)          # 3 x _MAXU
_P_KIND = const(36)         # 16: binary tree over the 4-bit kind
_P_ARGLEN = const(52)       # 17: unary bit length of the argument
_P_FAT = const(69)          # 10: fatigue index changed, its sign, unary bit length of |change| - 1
_P_CAD = const(79)          # 9: the same for the cadence
_NPROBS = const(88)
SIG_EVERY = const(100)      # frames between two signal pairs (10 s)
FAT_MAX = const(255)        # fatigue index as stored: x64 (the chain's x256 / 4), 0 none yet
CAD_MAX = const(127)        # cadence as stored: 2 steps/min units, 0 no rhythm found
_FAT_BITS = const(8)        # |change| - 1 of a stored value fits 8 (fatigue), 7 (cadence) bits
_CAD_BITS = const(7)


def sig_slots(base, n):
    """How many signal pairs a block of n frames holds when base frames came before it."""
    return (base + n) // SIG_EVERY - base // SIG_EVERY


class _Model:
    def __init__(self):
        self.p = array.array("H", [_PHALF] * _NPROBS)
        self._saved = array.array("H", self.p)
        self._saved_rest = [0, 0, 0, 0, 0, 0, 0]
        self.sig = True      # version 2: signal pairs in the blocks (a reader of v1 sets False)
        self.reset()

    def reset(self):
        """The model at the start of a file, in place (a reader reused for the next file)."""
        p = self.p
        for i in range(_NPROBS):
            p[i] = _PHALF
        self.prev = NONE     # last effort coded
        self.pd = 0          # last delta
        self.mean = 0        # running mean of effort, x16
        self.q = 0           # last quality mask
        self.phase = 0       # frames coded since the last signal pair
        self.fat = 0         # last fatigue index coded
        self.cad = 0         # last cadence coded

    def save(self):
        """Remember the model as it is, so a block coded from it can be coded again."""
        sp = self._saved
        p = self.p
        for i in range(_NPROBS):
            sp[i] = p[i]
        r = self._saved_rest
        r[0] = self.prev
        r[1] = self.pd
        r[2] = self.mean
        r[3] = self.q
        r[4] = self.phase
        r[5] = self.fat
        r[6] = self.cad

    def restore(self):
        """Back to the model save() remembered: the block coded since was never written."""
        sp = self._saved
        p = self.p
        for i in range(_NPROBS):
            p[i] = sp[i]
        r = self._saved_rest
        self.prev = r[0]
        self.pd = r[1]
        self.mean = r[2]
        self.q = r[3]
        self.phase = r[4]
        self.fat = r[5]
        self.cad = r[6]

    def uint(self, ctx, v, top):
        """A non-negative int below 2**top: its bit length in unary at ctx.. (no stop bit at
        top), then the bits below the leading 1 raw. Returns the value coded."""
        n = 0
        while n < top and self.bit(ctx + n, (v >> n) != 0):
            n += 1
        if n > 1:
            return (1 << (n - 1)) | self.direct(v, n - 1)
        return n

    def change(self, ctx, v, prev, top):
        """v as its change d from prev: d != 0 at ctx, its sign at ctx + 1, |d| - 1 as a uint at
        ctx + 2... Returns v."""
        d = v - prev
        if not self.bit(ctx, d != 0):
            return prev
        neg = self.bit(ctx + 1, d < 0)
        m = self.uint(ctx + 2, (-d if d < 0 else d) - 1, top) + 1
        # A CRC-clean block from no writer of ours could walk the value out of range: the mask
        # keeps it a u16 the same way on both interpreters (arrays wrap on MicroPython only).
        return (prev - m if neg else prev + m) & 0xFFFF

    def signal(self, k, fat, cad):
        """Code signal pair k of the block (fatigue index, cadence) into or out of the buffers."""
        self.fat = self.change(_P_FAT, fat[k], self.fat, _FAT_BITS)
        fat[k] = self.fat
        self.cad = self.change(_P_CAD, cad[k], self.cad, _CAD_BITS)
        cad[k] = self.cad

    def frame(self, v, q):
        """Code one frame; returns the coded (effort, quality) packed as effort * 16 + quality."""
        if self.bit(_P_QCHG, q != self.q):
            self.q = self.direct(q, 4)
        prev = self.prev
        if prev < 0:
            if self.bit(_P_NONESTAY, v < 0):
                return NONE * 16 + self.q
            v = self.direct(v, _VBITS)
            self.prev = v
            self.pd = 0
            self.mean = v << 4
            return (v << 4) + self.q
        pd = self.pd
        a = pd if pd >= 0 else -pd
        c = a if a < 2 else 2
        if self.bit(_P_ZERO + c, v == prev):
            self.pd = 0
            self.mean += ((prev << 4) - self.mean) >> 3
            return (prev << 4) + self.q
        dev = (prev << 4) - self.mean
        s = 0 if pd < 0 else (1 if pd == 0 else 2)
        s = s * 3 + (0 if dev < -_DEV else (2 if dev > _DEV else 1))
        d = v - prev
        neg = self.bit(_P_SIGN + s, d < 0)
        m = -d if d < 0 else d
        if v < 0:
            m = _MAXU + 1
        k = 1
        ctx = _P_MAG + c * _MAXU
        while k <= _MAXU and self.bit(ctx + k - 1, m > k):
            k += 1
        if k > _MAXU:
            if self.bit(_P_ESCNONE, v < 0):
                self.prev = NONE
                self.pd = 0
                return NONE * 16 + self.q
            v = self.direct(v, _VBITS)
        else:
            v = prev - k if neg else prev + k
        self.prev = v
        self.pd = v - prev
        self.mean += ((v << 4) - self.mean) >> 3
        return (v << 4) + self.q

    def event(self, kind, arg):
        """Code one event's kind (0..15) and argument (0..65535); returns kind << 16 | arg."""
        node = 1
        sh = 3
        while sh >= 0:
            node = (node << 1) | self.bit(_P_KIND + node, (kind >> sh) & 1)
            sh -= 1
        return ((node - 16) << 16) | self.uint(_P_ARGLEN, arg, 16)

    def block(self, n, full, eff, qual, nev, ev_slot, ev_kind, ev_arg, fat, cad):
        """Code a block of n frames (n == full is the common case), nev events and (version 2)
        a signal pair after every SIG_EVERY-th frame of the file. Decoding fills the buffers;
        returns n << 8 | nev."""
        if not self.bit(_P_FULL, n != full):
            n = full
        else:
            n = self.direct(n, 8)
        j = 0
        i = 0
        k = 0
        while i <= n:
            more = self.bit(_P_EV, j < nev and ev_slot[j] == i)
            while more:
                ke = self.event(ev_kind[j], ev_arg[j])
                ev_slot[j] = i
                ev_kind[j] = ke >> 16
                ev_arg[j] = ke & 0xFFFF
                j += 1
                more = self.bit(_P_EVMORE, j < nev and ev_slot[j] == i)
            if i < n:
                vq = self.frame(eff[i], qual[i])
                eff[i] = vq >> 4
                qual[i] = vq & 15
                if self.sig:
                    self.phase += 1
                    if self.phase == SIG_EVERY:
                        self.phase = 0
                        self.signal(k, fat, cad)
                        k += 1
            i += 1
        return (n << 8) | j


class Encoder(_Model):
    """Encodes blocks into a caller-provided bytearray; no allocation per coded bit."""

    def __init__(self):
        super().__init__()
        self.out = None
        self.pos = 0

    def encode(self, out, pos, n, full, eff, qual, nev, ev_slot, ev_kind, ev_arg, fat, cad):
        """Append the coded block to out[pos:]; returns the end position."""
        self.out = out
        self.pos = pos
        self.low = 0
        self.rng = _TOP
        self.cache = 0
        self.pending = 0       # cached byte plus the 0xFF bytes queued behind it
        self.block(n, full, eff, qual, nev, ev_slot, ev_kind, ev_arg, fat, cad)
        self._finish()
        end = self.pos
        while end > pos and out[end - 1] == 0:
            end -= 1           # the decoder reads zeros past the end
        self.out = None
        return end

    def bit(self, i, b):
        p = self.p[i]
        rng = self.rng
        bound = (rng >> _PBITS) * p
        if b:
            self.low += bound
            rng -= bound
            self.p[i] = p - (p >> _ADAPT)
        else:
            rng = bound
            self.p[i] = p + (((1 << _PBITS) - p) >> _ADAPT)
        while rng < _BOT:
            rng <<= 8
            self._shift()
        self.rng = rng
        return 1 if b else 0

    def direct(self, v, n):
        v &= (1 << n) - 1
        while n > 0:
            n -= 1
            self.rng >>= 1
            if (v >> n) & 1:
                self.low += self.rng
            while self.rng < _BOT:
                self.rng <<= 8
                self._shift()
        return v

    def _shift(self):
        low = self.low
        carry = low >> 24
        top = (low >> 16) & 0xFF
        if carry or top != 0xFF:
            if self.pending:
                self._put(self.cache + carry)
                while self.pending > 1:
                    self._put(0xFF + carry)
                    self.pending -= 1
            self.cache = top
            self.pending = 1
        else:
            self.pending += 1
        self.low = (low & 0xFFFF) << 8

    def _put(self, b):
        self.out[self.pos] = b & 0xFF
        self.pos += 1

    def _finish(self):
        # The shortest tail: the value in [low, low + rng) with the most trailing zero bits.
        low = self.low
        hi = low + self.rng
        k = 25
        while True:
            v = ((low + (1 << k) - 1) >> k) << k
            if v < hi:
                break
            k -= 1
        self.low = v
        while self.low:
            self._shift()
        if self.pending:
            self._put(self.cache)
            while self.pending > 1:
                self._put(0xFF)
                self.pending -= 1
            self.pending = 0


class Decoder(_Model):
    """Decodes blocks from a bytes-like object into caller-provided buffers."""

    def decode(self, data, pos, end, full, eff, qual, ev_slot, ev_kind, ev_arg, fat, cad):
        """Decode the block coded in data[pos:end]; returns (frames, events). The block's signal
        pairs go to fat and cad (sig_slots says how many)."""
        self.data = data
        self.pos = pos
        self.end = end
        self.rng = _TOP
        self.code = (self._get() << 16) | (self._get() << 8) | self._get()
        r = self.block(0, full, eff, qual, len(ev_slot), ev_slot, ev_kind, ev_arg, fat, cad)
        self.data = None
        return r >> 8, r & 0xFF

    def _get(self):
        pos = self.pos
        self.pos = pos + 1
        return self.data[pos] if pos < self.end else 0

    def bit(self, i, _b):
        p = self.p[i]
        rng = self.rng
        code = self.code
        bound = (rng >> _PBITS) * p
        if code < bound:
            rng = bound
            self.p[i] = p + (((1 << _PBITS) - p) >> _ADAPT)
            b = 0
        else:
            code -= bound
            rng -= bound
            self.p[i] = p - (p >> _ADAPT)
            b = 1
        while rng < _BOT:
            rng <<= 8
            code = (code << 8) | self._get()
        self.rng = rng
        self.code = code
        return b

    def direct(self, _v, n):
        v = 0
        while n > 0:
            n -= 1
            self.rng >>= 1
            b = 0
            if self.code >= self.rng:
                self.code -= self.rng
                b = 1
            v = (v << 1) | b
            while self.rng < _BOT:
                self.rng <<= 8
                self.code = (self.code << 8) | self._get()
        return v
