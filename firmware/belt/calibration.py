# The at-home calibration: relax ~10 s, then three maximal braces of ~5 s with ~10 s pauses.
#
# The companion prompts the person and tells the belt which phase is running; the belt labels each
# 100 ms frame's own level (EffortChain.block_level, Q4 counts) with that phase. evaluate() turns
# the recording into rest and MVC levels and a verdict with reasons; commit() adopts the result only
# when it is good, so a failed attempt never replaces a good calibration.
from array import array
from micropython import const

from belt.effort import LAW_QUADRATURE, Q_ARTEFACT, Q_CONTACT, Q_HUM, Q_SATURATION
from belt.emgspectrum import fatigue_of, muscle_index, rest_step_q4

PH_REST = const(0)
PH_BRACE = const(1)
PH_PAUSE = const(2)
PHASES = ("rest", "brace", "pause")

# Reasons a calibration is refused (bits, so several can be reported at once).
R_ABSENT = const(1)          # no signal: electrodes off or sensor unplugged
R_NOT_ABOVE_REST = const(2)  # the braces barely differ from rest
R_INCONSISTENT = const(4)    # the braces differ by more than _MAX_SPREAD_PM
R_CLIPPING = const(8)        # the sensor clipped during the braces: MVC would read low
R_TOO_FEW = const(16)        # rest shorter than 2 s, or fewer than 3 usable braces
R_REST_BRACED = const(32)    # the muscle was working through most of the rest
R_TOO_SHORT = const(64)      # braces clearly made, each too short to give a maximum
REASONS = ("signal absent", "braces not clearly above rest", "braces inconsistent",
           "sensor clipping", "too few usable phases", "not relaxed during the rest",
           "braces too short")

_MAX_REST = const(300)       # frames: 30 s
_MAX_BRACE = const(100)      # frames per trial: 10 s
_MAX_TRIALS = const(5)
_SETTLE = const(10)          # rest frames skipped while the person settles (1 s)
_BEST = const(10)            # the best 1 s of each brace's held part ...
_MIN_HELD = const(5)         # ... or all of it when shorter, if at least 0.5 s
# Trials further apart than this are not one maximum. Within a day, trunk-muscle MVC amplitude
# repeats with a standard error of measurement of 1-12 % (mean 4 %; Dankaerts et al. 2004,
# docs/signal.md); the range of three trials stays under 3.3 SD in 95 % of cases, so at 9 %
# a true maximum spans up to 30 %.
_MAX_SPREAD_PM = const(300)
_MIN_RATIO = const(3)        # EMG MVC must be at least 3x the rest level ...
_MIN_SPAN_Q4 = const(80)     # ... and 5 counts above it; linear sensors need 20 counts
_MIN_SPAN_LINEAR_Q4 = const(320)
# A rest is relaxed when its median frame is within 3x its quietest tenth (p10): a quiet rest
# keeps them within 1.2-2.5x (the synthetic runner with its ECG, the bundled real recording),
# a person braced through more than half of it puts the median at 11-22x. The median, not a
# higher percentile: a strong ECG lifts the blocks holding a QRS, never half of them.
_MAX_REST_RISE = const(3)


class CalResult:
    def __init__(self, rest, mvc, trials, spread_pm, reasons, fi=0, rest_fi=0):
        self.rest = rest            # Q4 counts
        self.mvc = mvc              # Q4 counts
        self.fi = fi                # the braces' muscle index, x256 (emgspectrum.muscle_index)
        self.rest_fi = rest_fi      # the rest's fatigue index, x256 (0 for linear sensors)
        self.trials = trials        # best 1 s level of each brace, Q4
        self.spread_pm = spread_pm  # (max - min) / max of the trials, per mille
        self.reasons = reasons

    @property
    def ok(self):
        return self.reasons == 0

    def reason_text(self):
        return ", ".join(REASONS[i] for i in range(len(REASONS)) if self.reasons & (1 << i))


def _bad(q):
    # Steady mains hum at the calibration is part of the rest level, which the quadrature law
    # subtracts (docs/signal.md): a frame flagged for hum alone is a good frame here. The chain
    # flagged every rest frame of a recording whose rest was mostly hum, and the calibration was
    # refused as "no signal" (bench/real_recordings.py, bench/effort_grid.py).
    return q & Q_CONTACT or (q & Q_ARTEFACT and not q & Q_HUM)


class Calibrator:
    def __init__(self, law=LAW_QUADRATURE):
        self.law = law
        self._rest = array("i", bytes(4 * _MAX_REST))
        self._brace = array("i", bytes(4 * (_MAX_BRACE * _MAX_TRIALS)))
        self._flags = bytearray(_MAX_BRACE * _MAX_TRIALS)
        # The chain's slow means (amplitude, mean |step|) at the rest's and each brace's latest
        # clean frame: their spectra, for the level's correction of a fallen one (emgspectrum).
        self._slow = array("i", bytes(4 * 2 * (_MAX_TRIALS + 1)))
        self.good = None
        self.start()

    def start(self):
        self.phase = PH_PAUSE
        self.active = False
        self._n_rest = 0
        self._rest_bad = 0
        self._trials = 0
        self._n_brace = array("i", bytes(4 * _MAX_TRIALS))
        for i in range(len(self._slow)):
            self._slow[i] = 0

    def begin(self, phase):
        """Enter a phase (PH_REST, PH_BRACE, PH_PAUSE); each new brace is a new trial."""
        if phase not in (PH_REST, PH_BRACE, PH_PAUSE):
            raise ValueError("bad calibration phase")
        if phase == PH_BRACE and (self.phase != PH_BRACE or not self.active):
            if self._trials >= _MAX_TRIALS:
                raise ValueError("too many braces")
            self._trials += 1
        self.phase = phase
        self.active = True

    def add(self, level, quality, quiet=-1, slow_amp=0, slow_step=0):
        """One frame: its level (EffortChain.block_level), quality and, for EMG, its level with
        mains hum cancelled (block_quiet) and the chain's slow means (slow_amp, slow_step: the
        spectrum, belt.emgspectrum). A rest frame flagged for hum takes block_quiet: the rest
        level is the electrodes' own, not the room's. Calibrated indoors near mains wiring and
        run outdoors on battery, a rest of 40 counts of hum read a 20 % brace on battery as 17 %
        and a 10 % one as 3 % (the quadrature law subtracted hum that was not there)."""
        if not self.active:
            return
        if self.phase == PH_REST:
            if _bad(quality):
                self._rest_bad += 1
            elif self._n_rest < _MAX_REST:
                self._rest[self._n_rest] = quiet if quiet >= 0 and quality & Q_HUM else level
                self._n_rest += 1
                self._slow[0] = slow_amp
                self._slow[1] = slow_step
        elif self.phase == PH_BRACE:
            t = self._trials - 1
            if not _bad(quality):
                self._slow[2 * t + 2] = slow_amp
                self._slow[2 * t + 3] = slow_step
            k = self._n_brace[t]
            if k < _MAX_BRACE:
                self._brace[t * _MAX_BRACE + k] = level
                self._flags[t * _MAX_BRACE + k] = quality
                self._n_brace[t] = k + 1

    def _clean(self, i):
        return not _bad(self._flags[i])

    def _best_level(self, t, sign, rest):
        """Trial t's level: the strongest mean over _BEST consecutive clean frames of its held
        part, or over the whole held part when it is shorter. The held part is an active run
        (frames at least half as far from rest as the brace's strongest 0.3 s) without an end
        frame that reads under 3/4 of the rest of the run: a brace starts and ends anywhere in
        a 100 ms block, so an end block is often part ramp, part rest, and a 0.6 s brace across
        seven blocks read 14 % low with its two. A 1 s brace is then not diluted by its ramps and
        the pause around it either. The strongest is the highest, or the lowest when sign is -1
        (a stretch cord wired so that bracing lowers the reading). Returns (level or None,
        peak): peak is the strongest 0.3 s mean's distance from rest, 0 when there is none, so
        that a brace made but not held can be told from no brace."""
        base = t * _MAX_BRACE
        n = self._n_brace[t]
        lv = self._brace
        peak = 0
        for k in range(base, base + n - 2):
            if self._clean(k) and self._clean(k + 1) and self._clean(k + 2):
                m = sign * (lv[k] + lv[k + 1] + lv[k + 2] - 3 * rest)
                if m > peak:
                    peak = m
        if peak <= 0:
            return None, 0
        best = None
        run = 0
        for k in range(base, base + n + 1):
            if k < base + n and self._clean(k) and sign * (lv[k] - rest) * 6 >= peak:
                run += 1
                continue
            a, b = k - run, k - 1              # the run, both ends included
            if run >= 3:
                inner = 0
                for j in range(a + 1, b):
                    inner += sign * (lv[j] - rest)
                if sign * (lv[a] - rest) * 4 * (run - 2) < 3 * inner:
                    a += 1
                if sign * (lv[b] - rest) * 4 * (run - 2) < 3 * inner:
                    b -= 1
            held = b - a + 1
            if held >= _MIN_HELD:
                w = _BEST if held >= _BEST else held
                acc = 0
                for j in range(a, b + 1):
                    acc += lv[j]
                    if j >= a + w:
                        acc -= lv[j - w]
                    if j >= a + w - 1 and (best is None or sign * acc > sign * best * w):
                        best = acc // w
            run = 0
        return best, peak // 3

    def _direction(self, rest):
        if self.law == LAW_QUADRATURE:
            return 1
        acc = n = 0
        for t in range(self._trials):
            for k in range(self._n_brace[t]):
                acc += self._brace[t * _MAX_BRACE + k]
                n += 1
        return -1 if n and acc < rest * n else 1

    def evaluate(self):
        reasons = 0
        rest_frames = sorted(self._rest[_SETTLE:self._n_rest]) if self._n_rest > _SETTLE else []
        if len(rest_frames) < 20:
            reasons |= R_TOO_FEW
        rest = rest_frames[len(rest_frames) // 2] if rest_frames else 0
        if self.law == LAW_QUADRATURE and len(rest_frames) >= 20:
            quiet = rest_frames[len(rest_frames) // 10]
            if rest > _MAX_REST_RISE * quiet and rest - quiet >= _MIN_SPAN_Q4:
                reasons |= R_REST_BRACED
        trials = []
        used = []
        sign = self._direction(rest)
        dead = clipped = total = short = 0
        for t in range(self._trials):
            for k in range(self._n_brace[t]):
                f = self._flags[t * _MAX_BRACE + k]
                total += 1
                dead += 1 if f & Q_CONTACT else 0
                clipped += 1 if f & Q_SATURATION else 0
            best, peak = self._best_level(t, sign, rest)
            if best is not None:
                trials.append(best)
                used.append(t)
            elif self._clear(peak, rest):
                short += 1                  # a brace was made, but not held
        if (self._rest_bad > self._n_rest and self._rest_bad) or (total and dead * 2 > total):
            reasons |= R_ABSENT
        if clipped * 10 > total:
            reasons |= R_CLIPPING
        if len(trials) < 3:
            # Braces made but each too brief are said as such: "too few usable phases" sends
            # the person to repeat what they did.
            reasons |= R_TOO_SHORT if short and len(trials) + short >= 3 else R_TOO_FEW
        if not trials:
            return CalResult(rest, rest, trials, 0,
                             reasons | (0 if reasons & R_TOO_SHORT else R_NOT_ABOVE_REST))
        ordered = sorted(trials)
        mvc = ordered[len(ordered) // 2]
        if self.law == LAW_QUADRATURE:
            spans = ordered
            if mvc < _MIN_RATIO * rest or mvc - rest < _MIN_SPAN_Q4:
                reasons |= R_NOT_ABOVE_REST
        else:
            spans = sorted(abs(v - rest) for v in trials)
            if abs(mvc - rest) < _MIN_SPAN_LINEAR_Q4:
                reasons |= R_NOT_ABOVE_REST
        spread = (spans[-1] - spans[0]) * 1000 // spans[-1] if spans[-1] > 0 else 1000
        if spread > _MAX_SPREAD_PM:
            reasons |= R_INCONSISTENT
        fi, rest_fi = self._spectrum(rest, used)
        return CalResult(rest, mvc, trials, spread, reasons, fi, rest_fi)

    def _spectrum(self, rest, used):
        """(the braces' muscle index, the rest's fatigue index), both x256, or (0, 0) where the
        chain gave no slow means (linear sensors, a recording too short): the median brace's
        index, with the rest's share taken out as the run's will be (emgspectrum.muscle_index)."""
        sl = self._slow
        if self.law != LAW_QUADRATURE or sl[0] <= 0 or sl[1] <= 0:
            return 0, 0
        rest_fi = fatigue_of(sl[0], sl[1])
        rest_step = rest_step_q4(rest_fi, rest)
        fis = sorted(muscle_index(sl[2 * t + 2], sl[2 * t + 3], rest, rest_step) for t in used)
        fis = [v for v in fis if v > 0]
        if not fis or rest_fi > 65535:
            return 0, 0
        fi = fis[len(fis) // 2]
        return (fi, rest_fi) if fi <= 65535 else (0, 0)

    def _clear(self, span, rest):
        """Is a level span above rest the contrast a maximum needs (the same test as MVC's)?"""
        if self.law == LAW_QUADRATURE:
            return span + rest >= _MIN_RATIO * rest and span >= _MIN_SPAN_Q4
        return span >= _MIN_SPAN_LINEAR_Q4

    def commit(self):
        """Evaluate and, only if good, adopt the result. Returns the result either way."""
        res = self.evaluate()
        if res.ok:
            self.good = res
        self.active = False
        return res


def levels_refused(rest, mvc, law):
    """Why rest and MVC levels (Q4) could not be a calibration under this law, or None: the
    span evaluate() demands of a new one, so a setting cannot adopt what a measurement could
    not (an MVC of 0 would read every brace as 0 %, or as 200 % below rest, for ever)."""
    if law == LAW_QUADRATURE:
        if mvc < _MIN_RATIO * rest or mvc - rest < _MIN_SPAN_Q4:
            return "maximum %d not at least %dx rest %d and %d above it" % (
                mvc, _MIN_RATIO, rest, _MIN_SPAN_Q4)
    elif abs(mvc - rest) < _MIN_SPAN_LINEAR_Q4:
        return "maximum %d not %d or more away from rest %d" % (mvc, _MIN_SPAN_LINEAR_Q4, rest)
    return None
