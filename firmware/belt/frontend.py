# The per-sample kernel: the only code that touches every raw ADC sample.
#
# It runs as viper (native machine integers: no boxing, no heap) over one block of samples, the
# samples of one 100 ms effort frame, and leaves its results in one int32 array instead of
# returning a tuple, because a tuple would be an allocation per block. Everything else in the
# signal chain runs once per frame. docs/signal.md explains the design; in short, per sample:
#   - the first difference |x[n] - x[n-1]|, a whitened level with a low variance (the fast part
#     of the effort estimate), summed per sub-block into a ring (the envelope whose rhythm gives
#     the runner's step period);
#   - a 4th-order Butterworth high-pass at 30 Hz (ECG, motion, drift) and its rectified sum, per
#     block and per sub-block into a second ring: the amplitude measure, flat across the EMG
#     band, so that a spectrum that compresses with fatigue does not read as a weaker brace;
#   - the same high-passed sample against the one 100 samples earlier: 50 and 60 Hz hum (5 and 6
#     whole periods) cancel in that difference, muscle signal does not;
#   - the block's 50 and 60 Hz Fourier coefficients and their 3rd harmonics' (a lock-in against
#     a cosine table): hum keeps its phase from one block to the next, the muscle's share of
#     those 10 Hz bins does not, so their product with the previous block's is the hum's power
#     alone;
#   - rails, the largest jump, the busier half of the block.
# Every intermediate stays below 2**30 for any 12-bit input (bounds at the filter), so the
# numbers are the same on a 32-bit ESP32, the 64-bit unix port and CPython.
import micropython
from micropython import const

# Indices into the stats array (array('i', [0] * STATS_LEN)).
_PREV = const(0)      # last sample of the previous block: the difference runs across blocks
_SUM_DIFF = const(1)  # sum of |x[n] - x[n-1]|
_SUM_VAL = const(2)   # sum of x[n]: the level for envelope and stretch sensors
_RAILS = const(3)     # samples within RAIL_MARGIN counts of 0 or 4095 (clipping, lost contact)
_MAX_DIFF = const(4)  # largest single-sample jump (cable jerk, electrode pop)
_SUM_AMP = const(5)   # sum of |high-passed x|, x8 (Q3): the amplitude measure
_SUM_COMB = const(6)  # sum of |hp[n] - hp[n-100]|, Q1: the amplitude with mains hum cancelled
_HALF_MAX = const(9)  # the larger of the two half-block sums of |x[n] - x[n-1]|
SUB = const(10)      # samples per envelope sub-block, set by the owner; a block holds whole ones
ENV_POS = const(11)  # next slot of the envelope ring
COMB_POS = const(12)
_F = const(13)       # filter state: x[n-1], x[n-2], y1[n-1], y1[n-2], y2[n-1], y2[n-2]
BIAS = const(1048576)  # added to the signed filter values in the array (2**20)
HUM_IQ = const(19)    # the block's (cos, sin) coefficients at 50, 60, 150 and 180 Hz: the sums
#                       of counts x Q7 cosine, / 256 and held within +-11000 (+ BIAS)
STATS_LEN = const(27)

# The ring array (array('H', [0] * RING_LEN)): the comb's delay line, the envelope, the cosine
# table, the amplitude's envelope (the two envelopes share ENV_POS).
COMB_LEN = const(100)   # high-passed samples / 4 + 16384 (|hp| / 4 < 11400: 16 bits)
COMB_BIAS = const(16384)
_ENV = const(100)        # the envelope ring: sum of |x[n] - x[n-1]| per sub-block (< 40960)
_ENV_LEN = const(320)
COS_AT = const(420)      # a cosine period in 100 slots, Q7 + 128 (COS_Q7, copied by the owner)
_AMP_ENV = const(520)    # the amplitude's ring: sum of |high-passed x| (counts) per sub-block
RING_LEN = const(840)
# 128 + round(127 cos(2 pi i / 100)), i = 0..99: spelt out, so that every port has the same table
COS_Q7 = (b'\xff\xff\xfe\xfd\xfb\xf9\xf6\xf3\xef\xeb\xe7\xe2\xdd\xd7\xd1\xcb\xc4\xbd\xb6\xaf'
           b'\xa7\xa0\x98\x90\x88\x80xph`YQJC<5/)#\x1e\x19\x15\x11\r\n\x07\x05\x03\x02\x01'
           b'\x01\x01\x02\x03\x05\x07\n\r\x11\x15\x19\x1e#)/5<CJQY`hpx\x80\x88\x90\x98\xa0'
           b'\xa7\xaf\xb6\xbd\xc4\xcb\xd1\xd7\xdd\xe2\xe7\xeb\xef\xf3\xf6\xf9\xfb\xfd\xfe\xff')

# Rails: scan() spells out 8 and 4087 (8 counts of either end); viper code sees literals only.

# Butterworth high-pass, 4th order, 30 Hz at 1 kHz, as two biquads with Q12 coefficients
# (scipy.signal.butter(4, 30, 'highpass', fs=1000, output='sos'), rounded):
#   y1 = (0.7814 (x - 2x1 + x2) + 1.6747 y1' - 0.7049 y1'') ; y2 = (e2 + 1.8331 y2' - 0.8662 y2'')
# with e2 = y1 - 2 y1' + y1''. States are Q3 (x8). For 12-bit input |y1| < 30200 and |y2| < 45400
# (the filters' l1 norms, 1.84 and 2.77, times 4095/2, times 8), so every product < 2**28.5.


@micropython.viper
def _coefficient(v: int) -> int:
    """A lock-in sum as HUM_IQ keeps it: / 256, held within +-11000 (443 counts of hum: the
    sum of the eight products of two blocks' coefficients stays below 2**30), + BIAS."""
    v = v >> 8
    if v > 11000:
        v = 11000
    elif v < -11000:
        v = -11000
    return v + 1048576


@micropython.viper
def scan(buf: ptr16, start: int, n: int, st: ptr32, ring: ptr16):
    prev = st[0]
    x1 = st[13]
    x2 = st[14]
    # Signed values are stored offset by 2**20: a viper load from a 32-bit array does not
    # sign-extend on a 64-bit port.
    a1 = st[15] - 1048576
    a2 = st[16] - 1048576
    b1 = st[17] - 1048576
    b2 = st[18] - 1048576
    sub = st[10]
    epos = st[11]
    cpos = st[12]
    s_diff = 0
    s_val = 0
    s_amp = 0
    amp_mark = 0
    s_comb = 0
    r50 = 0
    j50 = 0
    r60 = 0
    j60 = 0
    r150 = 0
    j150 = 0
    r180 = 0
    j180 = 0
    # the phase of 50 and 60 Hz at this block's first sample, in the table (cpos counts samples
    # modulo 100, whole periods of both)
    i5 = (cpos * 5) % 100
    i6 = (cpos * 6) % 100
    i15 = (cpos * 15) % 100
    i18 = (cpos * 18) % 100
    first_half = 0
    rails = 0
    max_d = 0
    i = start
    end = start + n
    half = start + (n >> 1)
    while i < end:
        # one sub-block of the envelope at a time
        stop = i + sub
        s_env = 0
        while i < stop:
            x = int(buf[i])
            d = x - prev
            prev = x
            if d < 0:
                d = 0 - d
            s_env += d
            s_val += x
            if d > max_d:
                max_d = d
            if x <= 8 or x >= 4087:
                rails += 1
            # the high-pass
            y = (25600 * (x - x1 - x1 + x2) + 6859 * a1 - 2887 * a2) >> 12
            x2 = x1
            x1 = x
            e = y - a1 - a1 + a2
            a2 = a1
            a1 = y
            y = e + ((7508 * b1 - 3548 * b2) >> 12)
            b2 = b1
            b1 = y
            # the lock-in: |v| < 5675 counts, so each sum of 100 stays below 2**27
            v = y >> 3
            k = i5 + 75                 # sin = cos a quarter period earlier
            if k >= 100:
                k -= 100
            r50 += v * (int(ring[420 + i5]) - 128)
            j50 += v * (int(ring[420 + k]) - 128)
            k = i6 + 75
            if k >= 100:
                k -= 100
            r60 += v * (int(ring[420 + i6]) - 128)
            j60 += v * (int(ring[420 + k]) - 128)
            # the 3rd harmonics (150, 180 Hz): mains pickup is rarely a pure sine
            k = i15 + 75
            if k >= 100:
                k -= 100
            r150 += v * (int(ring[420 + i15]) - 128)
            j150 += v * (int(ring[420 + k]) - 128)
            k = i18 + 75
            if k >= 100:
                k -= 100
            r180 += v * (int(ring[420 + i18]) - 128)
            j180 += v * (int(ring[420 + k]) - 128)
            i15 += 15
            if i15 >= 100:
                i15 -= 100
            i18 += 18
            if i18 >= 100:
                i18 -= 100
            i5 += 5
            if i5 >= 100:
                i5 -= 100
            i6 += 6
            if i6 >= 100:
                i6 -= 100
            c = (y >> 2) - (int(ring[cpos]) - 16384)
            ring[cpos] = (y >> 2) + 16384
            cpos += 1
            if cpos >= 100:
                cpos = 0
            if y < 0:
                y = 0 - y
            s_amp += y
            if c < 0:
                c = 0 - c
            s_comb += c
            i += 1
        ring[100 + epos] = s_env
        ring[520 + epos] = (s_amp - amp_mark + 4) >> 3    # < 10 x 45400 / 8: 16 bits
        amp_mark = s_amp
        epos += 1
        if epos >= 320:
            epos = 0
        s_diff += s_env
        if i <= half:
            first_half = s_diff
    second_half = s_diff - first_half
    st[0] = prev
    st[1] = s_diff
    st[2] = s_val
    st[3] = rails
    st[4] = max_d
    st[5] = s_amp
    st[6] = s_comb
    st[19] = int(_coefficient(r50))
    st[20] = int(_coefficient(j50))
    st[21] = int(_coefficient(r60))
    st[22] = int(_coefficient(j60))
    st[23] = int(_coefficient(r150))
    st[24] = int(_coefficient(j150))
    st[25] = int(_coefficient(r180))
    st[26] = int(_coefficient(j180))
    st[9] = first_half if first_half > second_half else second_half
    st[11] = epos
    st[12] = cpos
    st[13] = x1
    st[14] = x2
    st[15] = a1 + 1048576
    st[16] = a2 + 1048576
    st[17] = b1 + 1048576
    st[18] = b2 + 1048576


_RHYTHM_HIST = const(128)   # 20 ms envelope samples in the autocorrelation: 2.56 s
RHYTHM_LAG0 = const(13)    # lags searched: 13 .. 25 x 20 ms = 260 .. 500 ms
RHYTHM_LAGS = const(13)
RHYTHM_WORK = const(153)   # RHYTHM_HIST + RHYTHM_LAG0 + RHYTHM_LAGS - 1


@micropython.viper
def rhythm(ring: ptr16, end: int, w: ptr32, out: ptr32):
    """Autocorrelation of the envelope, decimated to 20 ms, over its newest 2.56 s (mean
    removed) at lags of 260 .. 500 ms into out[1..13]; out[0] gets the lag-0 energy. w is
    scratch (RHYTHM_WORK slots). Values are first scaled so that the largest is below 2048:
    each product is then below 2**22 and each sum of 128 below 2**29."""
    vmax = 0
    pos = end
    k = 152
    while k >= 0:
        pos -= 1
        if pos < 0:
            pos = 319
        v = int(ring[100 + pos])
        pos -= 1
        if pos < 0:
            pos = 319
        v += int(ring[100 + pos])
        w[k] = v
        if v > vmax:
            vmax = v
        k -= 1
    shift = 0
    while (vmax >> shift) >= 2048:
        shift += 1
    total = 0
    k = 0
    while k < 153:
        v = w[k] >> shift
        w[k] = v
        if k >= 25:
            total += v
        k += 1
    mean = total >> 7
    j = 0
    while j <= 13:
        lag = 0 if j == 0 else 12 + j
        acc = 0
        k = 25
        while k < 153:
            acc += (w[k] - mean) * (w[k - lag] - mean)
            k += 1
        out[j] = acc
        j += 1
