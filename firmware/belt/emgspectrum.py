# The EMG's spectrum, from the chain's slow means of the amplitude and of the mean |step| (x64
# of Q4: emgframe's EA and ED): the fatigue index the belt logs, the muscle's own index (the
# rest and the hum taken out), and the gain by which the level makes up what the 30 Hz
# high-pass loses when the spectrum falls below the calibration's. Integers below 2**30
# throughout, native code: effort.EffortChain calls these every frame or every second, the
# calibration once. docs/signal.md, "Amplitude, not spectrum" and "The fatigue index".
import micropython

from belt import emgframe
from belt.emgframe import isqrt


@micropython.native
def muscle_index(ea, ed, rest_q4, rest_step_q4, hum=0):
    """The fatigue index of the muscle alone, x256, or 0: the slow means of the amplitude and
    of the mean |step| (x64 of Q4: emgframe's EA and ED) with the calibrated rest's share taken
    out in power (its level, and its mean |step| at that level: the noise floor, the heart at
    rest), so that a brace just above a noisy electrode's floor does not read as a higher
    spectrum than the same brace on a quiet one. hum, the mains power the level takes out now
    (emgframe.HUM_POWER), comes out of the amplitude too: a 50 or 60 Hz tone is a low
    spectrum, and read as the muscle's it made up a loss that was not there."""
    a = ea >> 8                 # Q2 means: their squares stay below 2**30
    d = ed >> 8
    r = rest_q4 >> 2
    rd = rest_step_q4 >> 2
    am = a * a - r * r - hum
    dm = d * d - rd * rd
    if am <= 0 or dm <= 0:
        return 0
    while dm >= 4194304 or am >= 4194304:
        dm >>= 1
        am >>= 1
    if am == 0:
        return 0
    q = (dm << 8) // am         # the index squared, Q8
    if q > 262144:
        q = 262144              # an index of 32: no muscle's
    return isqrt(q << 8)


@micropython.native
def fatigue_of(ea, ed):
    """The fatigue index, x256, of the slow means of the amplitude and the mean |step| (0 with
    no amplitude)."""
    if ea <= 0:
        return 0
    # ed x 256 could pass 2**30 on a railed input (a big int, on the heap, 10 times a second)
    return ed * 256 // ea if ed < 4194304 else ed // ((ea >> 8) + 1)


def rest_step_q4(rest_fi_q8, rest_q4):
    """The rest's mean |step|, Q4, at the rest's level: what the rest adds to the step sums
    (held where its square, Q2, stays a small int: muscle_index runs every frame)."""
    v = rest_fi_q8 * rest_q4 >> 8
    return v if v < 131071 else 131071


@micropython.native
def of_frame(fs, rest_q4, rest_step_q4):
    """The muscle's index (muscle_index) from the chain's frame state (emgframe's slots), 0 until
    the slow means span their 6.4 s (before, they are plain sums, and the rest's share is not
    theirs to take out)."""
    if fs[emgframe.RATIO_N] < 64:
        return 0
    return muscle_index(fs[emgframe.EA], fs[emgframe.ED], rest_q4, rest_step_q4,
                        fs[emgframe.HUM_POWER])


@micropython.native
def gain_q8(fi, fi_cal):
    """The level's gain, Q8, that makes up what the high-pass loses to a spectrum fallen below
    the calibration's: 1 + (fi_cal / fi - 1) / 4, at most 1.1, never under 1 (a quarter is the
    top of the loss measured per unit of the index's rise, 0.12-0.20). The filter's loss grows
    as the spectrum falls and hardly shrinks as it rises (under 1 % at +15 %), so a rise is
    left alone. fi 0: unknown, no gain."""
    if fi <= 0 or fi >= fi_cal:
        return 256
    g = (3 * fi + fi_cal) * 64 // fi        # fi and fi_cal are under 2**16
    return g if g < 281 else 281
