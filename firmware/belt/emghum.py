# The hum check of the emg_raw chain, per 100 ms block, in viper: how much mains hum (or any
# tone periodic in 100 samples) there is, to flag it and take it out of the level. Called by
# emgframe.frame with the sums frontend.scan leaves and the frame's state array; it keeps its
# own slots of that array (emgframe's slot map): 2, 3 and 14-26. docs/signal.md, "Quality".
import micropython

# The flag is returned as 2**29 added to the hum's power: viper returns one integer.


@micropython.viper
def estimate(st: ptr32, fs: ptr32, amp: int, prev_amp: int, comb: int, q: int, rest: int,
             mvc: int) -> int:
    """The hum's power to take out of the level (Q2^2 of the amplitude, >= 0), plus 2**29 when
    it is strong enough to flag. amp, prev_amp, comb: this and the last block's amplitude, the
    comb's mean (Q4); q: the block's quality so far (lost contact and jumps leave it out)."""
    flag = 0
    # Two ways. Anything periodic in 100 samples (mains at 50 or 60 Hz and its harmonics,
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
            flag = 1
    elif (hum * 2 > a * a and a >= 8) or (mains * 2 > a * a and a >= 8):
        flag = 1
    # Coherent mains is taken out of the level even where it is too small to flag; no more
    # than the last 0.8 s hold, so that hum which stops (a cable moved away, a session after a
    # calibration indoors) is not taken out of the next seconds' brace as well.
    if mains > (hn >> 3):
        mains = hn >> 3
    if flag == 0 or mains > hum:
        hum = mains
    if hum < 0:
        hum = 0
    if flag != 0:
        hum += 536870912
    return hum
