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
_NPROBS = const(69)


class _Model:
    def __init__(self):
        self.p = array.array("H", [_PHALF] * _NPROBS)
        self._saved = array.array("H", self.p)
        self._saved_rest = [0, 0, 0, 0]
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
        kind = node - 16
        n = 0
        while n < 16 and self.bit(_P_ARGLEN + n, (arg >> n) != 0):
            n += 1
        if n > 1:
            arg = (1 << (n - 1)) | self.direct(arg, n - 1)
        else:
            arg = n
        return (kind << 16) | arg

    def block(self, n, full, eff, qual, nev, ev_slot, ev_kind, ev_arg):
        """Code a block of n frames (n == full is the common case) and nev events. Decoding fills
        the buffers; returns n << 8 | nev."""
        if not self.bit(_P_FULL, n != full):
            n = full
        else:
            n = self.direct(n, 8)
        j = 0
        i = 0
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
            i += 1
        return (n << 8) | j


class Encoder(_Model):
    """Encodes blocks into a caller-provided bytearray; no allocation per coded bit."""

    def __init__(self):
        super().__init__()
        self.out = None
        self.pos = 0

    def encode(self, out, pos, n, full, eff, qual, nev, ev_slot, ev_kind, ev_arg):
        """Append the coded block to out[pos:]; returns the end position."""
        self.out = out
        self.pos = pos
        self.low = 0
        self.rng = _TOP
        self.cache = 0
        self.pending = 0       # cached byte plus the 0xFF bytes queued behind it
        self.block(n, full, eff, qual, nev, ev_slot, ev_kind, ev_arg)
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

    def decode(self, data, pos, end, full, eff, qual, ev_slot, ev_kind, ev_arg):
        """Decode the block coded in data[pos:end]; returns (frames, events)."""
        self.data = data
        self.pos = pos
        self.end = end
        self.rng = _TOP
        self.code = (self._get() << 16) | (self._get() << 8) | self._get()
        r = self.block(0, full, eff, qual, len(ev_slot), ev_slot, ev_kind, ev_arg)
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
