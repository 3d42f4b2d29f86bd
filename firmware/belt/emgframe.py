# The per-frame half of the emg_raw chain, in viper: quality, the hum check, the step window and
# the amplitude scale, once per 100 ms block, from the sums frontend.scan leaves in its array.
#
# Viper because the native alternative looks every attribute up by name, which costs more than
# the whole per-sample kernel; the frame's state lives in one int32 array instead (slots below).
# docs/signal.md explains every rule; effort.EffortChain is the only caller.
import micropython
from micropython import const

EA = const(0)          # exponential means (x64, 6.4 s) of the block amplitude and mean |step|
ED = const(1)
_HA = const(2)         # exponential means (x32, 3.2 s) of the amplitude and its comb estimate
_HC = const(3)
_QUIET = const(4)      # frames in a row quieter than half the calibrated rest
_HOLD = const(5)       # frames still flagged after a lost-contact block
STEP_Q4 = const(6)     # the step period, 1/16 of a 10 ms sub-block
ENV_FILLED = const(7)  # envelope sub-blocks since the reset (up to the ring's 320)
_LAST_SUB = const(8)   # the last clean block's mean sub-block, to hold an artefact out
LEVEL = const(9)       # out: the window level, Q4 amplitude
BLOCK_LEVEL = const(10)  # out: this block's own amplitude, Q4
_RATIO_N = const(11)   # clean blocks in the ratio's sums so far (up to 64)
_FAST_AMP = const(12)  # the amplitude's mean over the last ~4 clean blocks (x4)
_FOLLOW = const(13)    # clean blocks left in which the ratio follows a change of state
_PREV_IQ = const(14)   # the previous block's 50 and 60 Hz coefficients (frontend.HUM_IQ; 150
#                        and 180 Hz at _PREV_IQ3)
_MAINS = const(18)     # exponential means (x32, 3.2 s) of the mains hum's share of the level
_MAINS_ABS = const(19)  # squared (Q2^2, + 2**29: signed) and of its block values unsigned, and
_MAINS_NOW = const(20)  # that share over the last ~0.8 s (x8, + 2**29)
_MAINS_REL = const(21)  # the products over the two blocks' power (Q10, x32, + 2**29: signed)
_MAINS_REL_ABS = const(22)  # and their size (Q10, x32)
_PREV_IQ3 = const(23)
LEN = const(27)

# frame() spells its thresholds out as literals (viper code sees module constants only so):
# flat under 0.25 count of mean |step| (4 in Q4); a jump at least 200 counts and 8x the busier
# half's mean |step|; 10 frames (1 s) under half the calibrated rest; 5 frames (0.5 s) held
# after a lost-contact block.


@micropython.viper
def box(ring: ptr16, end: int, whole: int, frac16: int) -> int:
    """Sum of the envelope ring (frontend._ENV) over `whole` sub-blocks ending before slot
    `end`, plus frac16/16 of the one before them: a boxcar of fractional length."""
    pos = end
    s = 0
    k = 0
    while k < whole:
        pos -= 1
        if pos < 0:
            pos = 319
        s += int(ring[100 + pos])
        k += 1
    pos -= 1
    if pos < 0:
        pos = 319
    return s + ((frac16 * int(ring[100 + pos])) >> 4)


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
        # hold the block out: its ten sub-blocks become the last clean block's
        pos = st[11]
        k = 0
        while k < 10:
            pos -= 1
            if pos < 0:
                pos = 319
            ring[100 + pos] = fs[8]
            k += 1
    else:
        fs[8] = st[1] // 10
    clean = (q & 5) == 0
    if filled < 320:
        filled += 10
        fs[7] = filled
    # Hum, two ways. Anything periodic in 100 samples (mains at 50 or 60 Hz and its harmonics,
    # or a tone at a multiple of 10 Hz) cancels in the comb hp[n] - hp[n-100], which keeps
    # sqrt(2) of the muscle signal, so its power = amp^2 - comb^2 / 2 (both over 3.2 s).
    if fs[2] == 0:                     # the comb's first block compares against nothing
        ha = amp << 5
        hc = (amp * 362) >> 3          # sqrt(2) x amp, x32
    elif amp > 4 * prev_amp or amp * 4 < prev_amp:
        # Not a steady signal: a twitch's comb against rest keeps about 1 of it, not sqrt(2),
        # and read as hum. Hum is steady, so such a pair may only pull the estimate towards no
        # hum: its comb counts as max(comb, sqrt(2) x amplitude). Not from 2x: a deep stride's
        # pulse made its own pairs "no hum" and hid the harmonics only the comb sees (+1.7 %MVC).
        ha = fs[2] + amp - (fs[2] >> 5)
        hc = (amp * 362) >> 8
        if comb > hc:
            hc = comb
        hc = fs[3] + hc - (fs[3] >> 5)
    else:
        ha = fs[2] + amp - (fs[2] >> 5)
        hc = fs[3] + comb - (fs[3] >> 5)
    a = ha >> 7                        # Q2 counts: the squares stay below 2**30
    c = hc >> 7
    hum = a * a - ((c * c) >> 1)
    # That reads low under a stride's pulse (a burst's comb against the quiet phase 100 ms before
    # is over sqrt(2) of the amplitude: 40 counts of hum at depth 0.8 read +3.5 %MVC, mostly
    # unflagged). Mains also keeps its phase from one block to the next, and the muscle's share
    # of the 10 Hz bins at 50, 60 Hz and their 3rd harmonics does not, so the products of the
    # block's coefficients with the previous block's are, on average, the hum's power alone.
    # (hp[n] x hp[n-100] has no bias either, but the muscle's whole band in its scatter: a
    # short strong brace read as hum.) A sine of A counts gives 615 A^2 here, and its mean |.|
    # squared is 6.48 A^2 in Q2^2: its share = product / 95, over 3.2 s. A block with a jump or
    # lost contact is left out, and so is the pair it would start (a jerk fills every bin).
    prod = 0
    k = 0
    while k < 8:
        v = st[19 + k] - 1048576
        if (q & 5) != 0:
            v = 0
        j = 14 + k if k < 4 else 19 + k  # _PREV_IQ, then _PREV_IQ3
        if fs[2] != 0:
            prod += v * (fs[j] - 1048576)
        fs[j] = v + 1048576
        k += 1
    prod = prod // 95                  # |prod| < 2**24: the means below stay under 2**30
    # One pair of loud blocks, a short strong contraction (a twitch, a cough), has a product
    # of either sign as large as a hundred rest blocks' power: on its own it made the means,
    # passed for coherent (it is all of both), and was flagged and taken out of the quiet
    # level for the next seconds (a real recording's rest read 0 there). So coherence is also
    # judged on each product over the two blocks' own power, where a pair counts no more for
    # being loud: a burst's share of two 10 Hz bins is a small fraction of its power, hum's
    # most of its own. (Capping each product instead made a contraction's large products of
    # both signs look coherent on a recording with a little real hum: the rest read 0.)
    rel = prod // ((((prev_amp >> 2) * (amp >> 2)) >> 10) + 1)
    if rel > 2048:
        rel = 2048
    elif rel < -2048:
        rel = -2048
    if fs[2] == 0:
        hv = 0
        hw = 0
        hn = 0
        hr = 0
        hra = 0
    else:
        hv = fs[18] - 536870912
        hv = hv + prod - (hv >> 5)
        hw = fs[19]
        hw = hw + (prod if prod > 0 else 0 - prod) - (hw >> 5)
        hn = fs[20] - 536870912
        hn = hn + prod - (hn >> 3)
        hr = fs[21] - 536870912
        hr = hr + rel - (hr >> 5)
        hra = fs[22]
        hra = hra + (rel if rel > 0 else 0 - rel) - (hra >> 5)
    fs[2] = ha
    fs[3] = hc
    fs[18] = hv + 536870912
    fs[19] = hw
    fs[20] = hn + 536870912
    fs[21] = hr + 536870912
    fs[22] = hra
    mains = hv >> 5
    # Mains counts only where it is coherent: hum gives the same product every block, the
    # muscle's, heart's and foot strikes' share of the bins a product of either sign.
    if mains * 2 < (hw >> 5) or hr * 2 < hra or hr <= 0:
        mains = 0
    # ... and it is no more than its share of the power (the mean relative product, Q10)
    # times the power of the last 3.2 s: one loud pair moves the share by little.
    share = a * a                      # a < 22700 (amp < 90800, frontend's hp bound)
    share = (share * (hr >> 5)) >> 10 if share < 524288 else (share >> 10) * (hr >> 5)
    if hr <= 0:
        share = 0
    if mains > share:
        mains = share
    # Calibrated, flagged when either is more than 5 %MVC at rest and an eighth of the level
    # squared (each estimate's own scatter stays well under that); uncalibrated, when it is
    # half of it and over 2 counts.
    if mvc != rest:
        m = (mvc >> 2) // 20
        if (hum > m * m and hum * 8 > a * a) or (mains > m * m and mains * 8 > a * a):
            q |= 20
    elif (hum * 2 > a * a and a >= 8) or (mains * 2 > a * a and a >= 8):
        q |= 20
    # Coherent mains is taken out of the level even where it is too small to flag; no more
    # than the last 0.8 s hold, so that hum which stops (a cable moved away, a session after a
    # calibration indoors) is not taken out of the next seconds' brace as well.
    if mains > (hn >> 3):
        mains = hn >> 3
    if (q & 16) == 0 or mains > hum:
        hum = mains
    # The window: the mean |first difference| over one step period (a boxcar of the runner's
    # own step nulls the stride's pulse and all its harmonics), blended with the step before so
    # that the window's median age stays near 0.24 s, then scaled by the slow amplitude/step
    # ratio so that it reads the high-passed amplitude.
    end = st[11]
    t = fs[6]
    whole = t >> 4
    if filled < 2 * whole + 2:
        k = filled
        if k > 50:
            k = 50
        m = 0
        if k > 0:
            m = (int(box(ring, end, k, 0)) * 16) // (k * 10)
    else:
        m0 = (int(box(ring, end, whole, t & 15)) * 256) // (t * 10)
        e1 = end - whole
        if e1 < 0:
            e1 += 320
        m1 = (int(box(ring, e1, whole, t & 15)) * 256) // (t * 10)
        alpha = (t * 160) // 480      # Q8: step / 0.48 s, within 0.5 .. 1
        if alpha < 128:
            alpha = 128
        elif alpha > 256:
            alpha = 256
        m = (alpha * m0 + (256 - alpha) * m1) >> 8
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
        m = (m * r) >> 8
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
