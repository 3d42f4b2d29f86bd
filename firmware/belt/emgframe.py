# The per-frame half of the emg_raw chain, in viper: quality, the step window and the amplitude
# scale (the hum check is belt.emghum's), once per 100 ms block, from the sums frontend.scan
# leaves in its array.
#
# Viper because the native alternative looks every attribute up by name, which costs more than
# the whole per-sample kernel; the frame's state lives in one int32 array instead (slots below).
# docs/signal.md explains every rule; effort.EffortChain is the only caller.
import micropython
from micropython import const

from belt import emghum

EA = const(0)          # exponential means (x64, 6.4 s) of the block amplitude and mean |step|
ED = const(1)
_HA = const(2)         # belt.emghum's: exponential means (x32, 3.2 s) of the amplitude and
_HC = const(3)         # its comb estimate
_QUIET = const(4)      # frames in a row quieter than half the calibrated rest
_HOLD = const(5)       # frames still flagged after a lost-contact block
STEP_Q4 = const(6)     # the step period, 1/16 of a 10 ms sub-block
ENV_FILLED = const(7)  # envelope sub-blocks since the reset (up to the ring's 320)
_LAST_SUB = const(8)   # the last clean block's mean sub-block, to hold an artefact out
LEVEL = const(9)       # out: the window level, Q4 amplitude
BLOCK_LEVEL = const(10)  # out: this block's own amplitude, Q4
RATIO_N = const(11)    # clean blocks in the ratio's sums so far (up to 64)
_FAST_AMP = const(12)  # the amplitude's mean over the last ~4 clean blocks (x4)
_FOLLOW = const(13)    # clean blocks left in which the ratio follows a change of state
_HUM_SLOTS = const(14)  # 14 .. 26: belt.emghum's (the lock-in's last coefficients, its means)
PHASED = const(27)     # in: 1 while STEP_Q4 is the runner's own rhythm (set by effort._rhythm)
_LAST_AMP_SUB = const(28)  # the last clean block's mean amplitude sub-block (frontend._AMP_ENV)
HUM_POWER = const(29)  # out: the hum's power taken out of this block's level (Q2 squared)
LEN = const(30)

# frame() spells its thresholds out as literals (viper code sees module constants only so):
# flat under 0.25 count of mean |step| (4 in Q4); a jump at least 200 counts and 8x the busier
# half's mean |step|; 10 frames (1 s) under half the calibrated rest; 5 frames (0.5 s) held
# after a lost-contact block.


@micropython.viper
def box(ring: ptr16, base: int, end: int, whole: int, frac16: int) -> int:
    """Sum of an envelope ring (at `base`: frontend._ENV or _AMP_ENV) over `whole` sub-blocks
    ending before slot `end`, plus frac16/16 of the one before them: a boxcar of fractional
    length."""
    pos = end
    s = 0
    k = 0
    while k < whole:
        pos -= 1
        if pos < 0:
            pos = 319
        s += int(ring[base + pos])
        k += 1
    pos -= 1
    if pos < 0:
        pos = 319
    return s + ((frac16 * int(ring[base + pos])) >> 4)


@micropython.viper
def isqrt(v: int) -> int:
    """Floor square root of 0 <= v < 2**30, by Newton's method (no floats): the hum taken out
    of the level here, and effort's quadrature law."""
    if v < 2:
        return v
    x = v
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + v // x) >> 1
    return x


@micropython.viper
def frame(st: ptr32, ring: ptr16, fs: ptr32, n: int, rest: int, mvc: int) -> int:
    """One block: returns its quality bits and leaves LEVEL and BLOCK_LEVEL in fs."""
    amp = (st[5] * 2) // n            # Q4 mean |high-passed|: the amplitude measure
    prev_amp = fs[10]
    step = (st[1] * 16) // n          # Q4 mean |first difference|
    comb = (st[6] * 8) // n            # Q1 sum: Q4 mean
    q = 0
    quiet = fs[4]
    if mvc != rest and amp * 2 < rest:
        if quiet < 255:
            quiet += 1
    else:
        quiet = 0
    fs[4] = quiet
    if st[3] * 2 >= n or st[1] * 16 < 4 * n or quiet >= 10:
        q = 1
        fs[5] = 5
    elif fs[5] > 0:
        q = 1
        fs[5] = fs[5] - 1
    elif st[3] > 0:
        q = 2
    # A jump no muscle makes, against the busier half of the block, so that the onset of a
    # short strong contraction halfway through a block is not one.
    if st[4] >= 200 and st[4] * (n >> 1) > 8 * st[9]:
        q |= 4
    fs[10] = amp
    filled = fs[7]
    if (q & 4) != 0 and filled > 0:
        # Hold the block out. Running, its ten sub-blocks become the same ten one step earlier,
        # the stride's same phase, scaled by how the 200 ms before the block compare with the
        # same 200 ms one step earlier (so that a brace that has just dropped stays dropped:
        # unscaled, a jerk just after a drop held it up for 0.1 s more). The last clean block's
        # mean alone, which is used otherwise, may be a quiet phase's: at 200 steps/min and a
        # 90 % pulse it read as a dip of the brace of 13 %MVC, and as a drop.
        back = fs[6] >> 4
        b0 = st[11] - 10              # the end of the 200 ms before the block, and a step before
        if b0 < 0:
            b0 += 320
        b1 = b0 - back
        if b1 < 0:
            b1 += 320
        rs = 0
        ra = 0
        if fs[27] != 0 and filled >= back + 30:
            v = int(box(ring, 100, b1, 20, 0))
            if v > 0:
                rs = (int(box(ring, 100, b0, 20, 0)) * 256) // v
            v = int(box(ring, 520, b1, 20, 0))
            if v > 0:
                ra = (int(box(ring, 520, b0, 20, 0)) * 256) // v
        if rs > 1024:
            rs = 1024
        if ra > 1024:
            ra = 1024
        pos = st[11]
        k = 0
        while k < 10:
            pos -= 1
            if pos < 0:
                pos = 319
            p1 = pos - back
            if p1 < 0:
                p1 += 320
            v = fs[8] if rs == 0 else (int(ring[100 + p1]) * rs) >> 8
            ring[100 + pos] = v if v < 65535 else 65535
            v = fs[28] if ra == 0 else (int(ring[520 + p1]) * ra) >> 8
            ring[520 + pos] = v if v < 65535 else 65535
            k += 1
    else:
        fs[8] = st[1] // 10
        fs[28] = st[5] // 80
    clean = (q & 5) == 0
    if filled < 320:
        filled += 10
        fs[7] = filled
    # Hum, two ways (belt.emghum): the power to take out of the level, and whether to flag it.
    hum = int(emghum.estimate(st, fs, amp, prev_amp, comb, q, rest, mvc))
    if hum >= 536870912:
        q |= 20
        hum -= 536870912
    fs[29] = hum if hum > 0 else 0
    # The window, over whole step periods (a boxcar of the runner's own step nulls the stride's
    # pulse and all its harmonics), of two envelopes: the mean |first difference| (whitened: the
    # lowest scatter on a dense signal), scaled by the slow amplitude/step ratio below, and the
    # high-passed amplitude itself (which a sparse signal's few large units do not scatter
    # against the step measure); the level is their mean. Running (PHASED), the last two steps
    # alike: the stride's own mean, on which effort is defined, and a drop shows through the
    # same-phase test below instead of through a shorter window. Otherwise the newest step
    # weighs T / 0.48 s (at least half), so that the median age stays near 0.24 s.
    end = st[11]
    t = fs[6]
    whole = t >> 4
    dq = 0
    if filled < 2 * whole + 2:
        k = filled
        if k > 50:
            k = 50
        m = 0
        ma = 0
        if k > 0:
            m = (int(box(ring, 100, end, k, 0)) * 16) // (k * 10)
            ma = (int(box(ring, 520, end, k, 0)) * 16) // (k * 10)
        m1 = m
        ma1 = ma
    else:
        e1 = end - whole
        if e1 < 0:
            e1 += 320
        d = t * 10
        alpha = (t * 160) // (960 if fs[27] != 0 else 480)  # Q8: step / span, within 0.5 .. 1
        if alpha < 128:
            alpha = 128
        elif alpha > 256:
            alpha = 256
        m1 = (int(box(ring, 100, e1, whole, t & 15)) * 256) // d
        m0 = (int(box(ring, 100, end, whole, t & 15)) * 256) // d
        m = (alpha * m0 + (256 - alpha) * m1) >> 8
        ma1 = (int(box(ring, 520, e1, whole, t & 15)) * 256) // d
        ma = (alpha * ((int(box(ring, 520, end, whole, t & 15)) * 256) // d)
              + (256 - alpha) * ma1) >> 8
        # A drop of the brace, found at the stride's phase: the newest half step against the
        # same half of the step before, where the stride's pulse is the same. Under 0.45 of it
        # is the brace (20 % -> 5 % settles near 0.3 in level: the heart and the foot strikes
        # stay), and the step before times that ratio is the level now; the level is then
        # 3/5 of that and 2/5 of the window, so that the drop reads under its midpoint within
        # 0.4 s wherever it falls in the stride (window_latency.py; with half of each, 0.43 s
        # at 130 steps/min: the two steps' own mean passes the midpoint a step after the drop,
        # 0.46 s there, so the level has to lead it). A step period gone stale (the cadence
        # just changed) or a jittery stride under a deep pulse pairs the newest half's quiet
        # phase with a burst too; then the older half of the newest step is paired with the
        # quiet phase and reads over 1.3 of its twin, where a drop leaves it at or under 1
        # (the brace was still up, or already falling). The newest whole step must have fallen
        # under 0.8 of the one before as well: it holds the stride's whole pulse whatever the
        # phase. Rises keep the window: on a sparse signal a half step's few large units
        # overshot them.
        h = whole >> 1
        s0 = int(box(ring, 100, end, h, 0))
        s1 = int(box(ring, 100, e1, h, 0))
        if fs[27] != 0 and s0 * 20 < s1 * 9 and m0 * 5 < m1 * 4:
            o0 = end - h                       # the older half of the newest step, and its twin
            if o0 < 0:
                o0 += 320
            o1 = e1 - h
            if o1 < 0:
                o1 += 320
            if int(box(ring, 100, o0, h, 0)) * 10 < int(box(ring, 100, o1, h, 0)) * 13:
                dq = (s0 * 256) // s1          # Q8, under 116
    # The slow amplitude/step ratio, from clean blocks: plain sums over the first 64 (x64 of
    # their mean once there are 64), so that it starts from the whole first 6.4 s, then
    # exponential means over 6.4 s. When the amplitude of the last ~0.4 s is over twice the
    # slow mean or under half of it, the signal has changed state (a contraction after rest, or
    # rest after it), and for the next 1.6 s the means follow over 0.8 s instead, long enough to
    # leave the old state's spectrum behind: a rest whose spectrum is unlike the muscle's (a
    # noisy electrode, a tone) must not set the ratio a short contraction is read with.
    if clean:
        fa = fs[12] + amp - (fs[12] >> 2)
        fs[12] = fa
        nb = fs[11]
        # The same change of state in the first 6.4 s (a session starts standing relaxed, and
        # its first brace comes seconds later): once the fast mean has settled (8 blocks), the
        # plain sums become the means (x64) and follow the change from there.
        if nb >= 8 and nb < 64 and (fa * nb > 8 * fs[0] or fa * nb < 2 * fs[0]):
            fs[0] = (fs[0] * 64) // nb
            fs[1] = (fs[1] * 64) // nb
            fs[11] = 64
        if fs[11] < 64:
            fs[11] = fs[11] + 1
            fs[0] = fs[0] + amp
            fs[1] = fs[1] + step
        else:
            if fa * 8 > fs[0] or fa * 32 < fs[0]:
                fs[13] = 16
            if fs[13] > 0:
                fs[13] = fs[13] - 1
                fs[0] = fs[0] + ((amp * 64 - fs[0]) >> 3)
                fs[1] = fs[1] + ((step * 64 - fs[1]) >> 3)
            else:
                fs[0] = fs[0] + amp - (fs[0] >> 6)
                fs[1] = fs[1] + step - (fs[1] >> 6)
    if fs[1] > 0:
        r = (fs[0] * 256) // fs[1]    # Q8 amplitude per unit of mean |step|
        if r > 4095:
            r = 4095
        m = (((m * r) >> 8) + ma) >> 1
        m1 = (((m1 * r) >> 8) + ma1) >> 1
    else:
        m = ma                         # no clean block yet: the amplitude alone
        m1 = ma1
    if dq > 0:
        v = (m1 * dq) >> 8
        if v < m:
            m = (2 * m + 3 * v) // 5
    # Hum is taken out of the level in power, as the quadrature law takes the rest's: the
    # calibration's rest is the electrodes' own, hum cancelled (belt.calibration), so hum that
    # is there both at the calibration and now does not read as effort either. Coherent mains
    # always (above); the comb's estimate, which reads low under a stride's pulse and so takes
    # too little or nothing, never too much, where it flagged the block.
    if hum > 0:
        m2 = m >> 2                    # Q2: the square stays below 2**30
        v = m2 * m2 - hum
        m = (int(isqrt(v)) << 2) if v > 0 else 0
    fs[9] = m
    return q
