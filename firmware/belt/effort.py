# Bracing effort as a percentage of the wearer's own maximum (%MVC), one frame per 100 ms.
#
# Per frame: the front end (frontend.scan) summarises the block's samples; this module keeps a
# short ring of block sums (the smoothing window), judges signal quality and turns the window level
# into effort with the calibration. All arithmetic is on integers below 2**30, so it allocates
# nothing on either interpreter (MicroPython's small ints are 31-bit on the ESP32) and gives the
# same numbers under MicroPython and CPython. The per-frame methods are native code: a bytecode
# function with this many locals takes its frame from the heap on every call, which is an
# allocation (and a possible collection) 10 times a second. docs/signal.md has the reasoning.
from array import array
import micropython
from micropython import const

from belt import emgframe, emgspectrum, frontend
from belt.emgframe import isqrt    # the law's square root (boards/simsignal and tests too)

# Quality bits of a frame. Any bit set means the effort value must not be taken at face value.
Q_CONTACT = const(1)     # electrode contact lost: flat, railed, quieter than its own rest, or
                         # within 0.5 s of such a block (intermittent contact)
Q_SATURATION = const(2)  # some samples clipped at the ADC's limits
Q_ARTEFACT = const(4)    # a signal no muscle makes: a jump (cable jerk, electrode pop; that block
                         # is held out) or mains hum (with Q_HUM)
Q_MISSED = const(8)      # the sampler missed samples in this block (set by the caller)
Q_HUM = const(16)        # 50/60 Hz hum strong enough to move effort (sessions keep Q_ARTEFACT)

UNCALIBRATED = const(-1)
EFFORT_MAX_PM = const(2000)   # 200 %MVC: harder than the calibration brace is possible, not 10x

# Effort laws.
LAW_QUADRATURE = const(0)  # EMG amplitudes: noise adds in power, so subtract the rest level so
LAW_LINEAR = const(1)      # envelope and stretch: the reading moves linearly with the brace

# Sensor modes as data: rate (Hz), samples per 100 ms frame, window weights (newest frame first),
# level source, law, artefact jump threshold (counts).
# The EMG window is not fixed: it is sized to the runner's own step period, measured from the
# envelope's rhythm (docs/signal.md), so the weights here serve only the linear sensors. Stretch
# uses two 2 s boxcars in cascade (a 3.9 s triangle): breathing at 24-60 breaths/min sits on or
# near their nulls, so a breath cannot read as a change of brace; the price is about 2 s of lag.
_SRC_DIFF = const(0)
_SRC_VALUE = const(1)
_STRIDE = (12, 11, 15, 8, 7, 6, 5)
MODES = {
    "emg_raw": (1000, 100, _STRIDE, _SRC_DIFF, LAW_QUADRATURE, 0),
    "emg_env": (100, 10, _STRIDE, _SRC_VALUE, LAW_LINEAR, 600),
    "stretch": (50, 5, tuple(min(k + 1, 39 - k) for k in range(39)), _SRC_VALUE, LAW_LINEAR, 400),
}
_WINDOW_MAX = const(39)
# Mode codes, as stored in session headers and the device config: index in this tuple.
MODE_NAMES = ("emg_raw", "emg_env", "stretch")
LEVEL_VERSION = const(2)    # emg_raw levels are high-passed amplitude (1: mean |step|)
_SUB = const(10)            # envelope sub-block: 10 samples, 10 ms
_RHYTHM_EVERY = const(20)   # the step rhythm is re-estimated every 2 s (frontend.rhythm)
_RHYTHM_SUBS = const(306)   # sub-blocks it reads: 153 of 20 ms
_T_DEFAULT = const(565)     # Q4 sub-blocks: 353 ms, 170 steps/min, until a rhythm is found


class EffortChain:
    def __init__(self, mode):
        if mode not in MODES:
            raise ValueError("unknown sensor mode: %s" % mode)
        self.mode = mode
        (self.rate_hz, self.block, weights, self._src, self.law, self._jump) = MODES[mode]
        self.window = len(weights)
        self._weights = array("H", weights)
        # Zeroed from bytes, not from a list: a list of n zeros is 8n bytes of transient heap in
        # one piece, which the simulated 256 KB heap may not have after the modules compiled.
        self.stats = array("i", bytes(4 * frontend.STATS_LEN))
        self.stats[frontend.SUB] = _SUB if self._src == _SRC_DIFF else self.block
        self._ring = array("H", bytes(2 * frontend.RING_LEN))
        for i in range(100):
            self._ring[frontend.COS_AT + i] = frontend.COS_Q7[i]
        self._sums = array("i", bytes(4 * _WINDOW_MAX))
        self._ac = array("i", bytes(4 * (frontend.RHYTHM_LAGS + 1)))
        self._work = array("i", bytes(4 * frontend.RHYTHM_WORK))
        self._fs = array("i", bytes(4 * emgframe.LEN))
        self.calibrate(0, 0)
        self.reset()

    def reset(self):
        """Forget the signal history (new session, sensor re-seated); keeps the calibration."""
        self._filled = 0
        self._pos = 0
        for i in range(_WINDOW_MAX):
            self._sums[i] = 0
        self._last_good = 0
        self._last_sub = 0
        self._restart()
        self.rhythm_found = False
        self.block_level = 0   # this frame's own level, Q4 (counts x 16): for calibration
        self.block_quiet = 0   # the same with mains hum cancelled (EMG; the level otherwise)
        self.level = 0         # the smoothed window level, Q4
        self.effort_pm = UNCALIBRATED
        self.quality = 0
        self.frames = 0

    def _restart(self):
        """Forget the EMG frame state and prime the filters again at the next block."""
        for i in range(emgframe.LEN):
            self._fs[i] = 0
        self._fs[emgframe.STEP_Q4] = _T_DEFAULT
        self._primed = False

    def calibrate(self, rest_q4, mvc_q4, fi_q8=0, rest_fi_q8=0):
        """Use this calibration (levels in Q4 counts); mvc == rest means none. With the braces'
        muscle index and the rest's fatigue index (x256; 0: none), the level makes up what the
        high-pass loses when the spectrum falls below the calibration's (emgspectrum)."""
        self._rest = rest_q4
        self._mvc = mvc_q4
        self._fi = fi_q8
        self._rest_step = emgspectrum.rest_step_q4(rest_fi_q8, rest_q4) if fi_q8 > 0 else 0
        self._gain = 256

    @micropython.native
    def muscle_fi(self):
        """The fatigue index of the muscle alone now, x256, 0 until it can be told."""
        return emgspectrum.of_frame(self._fs, self._rest, self._rest_step)

    @property
    def slow_amp(self):         # the slow mean of the amplitude (x64 of Q4): the calibration's
        return self._fs[emgframe.EA]

    @property
    def slow_step(self):        # ... and of the mean |step|, for the spectrum of its braces
        return self._fs[emgframe.ED]

    @property
    def step_q4(self):
        """The step period the EMG window is sized to, 1/16 of 10 ms (353 ms until a rhythm)."""
        return self._fs[emgframe.STEP_Q4]

    @property
    def cadence_spm(self):
        """Steps per minute of the rhythm the window is sized to (170 until one is found)."""
        return 96000 // self._fs[emgframe.STEP_Q4]

    @property
    def fatigue_q8(self):
        """Mean |first difference| over amplitude, x256, over the last ~6 s: it rises and falls
        with the EMG's mean frequency (0 before a clean frame)."""
        return emgspectrum.fatigue_of(self._fs[emgframe.EA], self._fs[emgframe.ED])

    @micropython.native
    def push_block(self, buf, start, extra_quality=0):
        """Consume `self.block` samples of buf (array('H') of 12-bit counts) from start, and
        update block_level, level, effort_pm and quality for this frame."""
        st = self.stats
        if not self._primed:
            # The filters need a past; start from this block's first sample (no step at n = 0).
            st[0] = buf[start]
            st[13] = buf[start]
            st[14] = buf[start]
            for i in range(15, 19):
                st[i] = frontend.BIAS
            for i in range(frontend.COMB_LEN):
                self._ring[i] = frontend.COMB_BIAS
            self._primed = True
        frontend.scan(buf, start, self.block, st, self._ring)
        if self._src == _SRC_DIFF:
            self._emg_frame(extra_quality)
        else:
            self._linear_frame(extra_quality)
        self.frames += 1
        self.effort_pm = self.effort_of(self.level)

    @micropython.native
    def _linear_frame(self, q):
        st = self.stats
        n = self.block
        s = st[2]
        if st[3] * 2 >= n:
            q |= Q_CONTACT
        elif st[3]:
            q |= Q_SATURATION
        if st[4] >= self._jump:
            q |= Q_ARTEFACT
        self.block_level = s * 16 // n
        self.block_quiet = self.block_level
        if q & Q_ARTEFACT and self._filled:
            s = self._last_good   # hold the last clean block so one spike cannot lift the window
        else:
            self._last_good = s
        self.level = self._window_level(s)
        self.quality = q

    @micropython.native
    def _emg_frame(self, q):
        fs = self._fs
        q |= emgframe.frame(self.stats, self._ring, fs, self.block, self._rest, self._mvc)
        if self.frames == 0 and q & Q_ARTEFACT and not q & Q_HUM:
            # A jump in the first block (an ADC's first conversion, an electrode settling as
            # the session starts) has no clean block to be replaced by: it would prime the
            # filters and fill the window, and the next 0.5 s read up to 8 %MVC high. The chain
            # starts again from the next block instead (once: a signal that jumps in every
            # block is flagged as it is, and may be hum).
            self._restart()
        self.block_level = fs[emgframe.BLOCK_LEVEL]
        # The block's amplitude with mains hum cancelled: the comb hp[n] - hp[n-100] keeps
        # sqrt(2) of the muscle and the noise (uncorrelated 100 ms apart) and none of 50/60 Hz.
        self.block_quiet = ((self.stats[6] * 8) // self.block) * 181 >> 8
        if self._fi > 0 and self.frames % 10 == 0:     # once a second: its means span 6.4 s
            self._gain = emgspectrum.gain_q8(self.muscle_fi(), self._fi)
        self.level = fs[emgframe.LEVEL] * self._gain >> 8
        self.quality = q
        if self.frames % _RHYTHM_EVERY == 0 and fs[emgframe.ENV_FILLED] >= _RHYTHM_SUBS:
            self._rhythm()

    @micropython.native
    def _rhythm(self):
        """Re-estimate the step period from the envelope's autocorrelation: the strongest lag
        in 260-500 ms, refined by a parabola through its neighbours. A range narrower than an
        octave cannot lock onto the stride or a half step."""
        ac = self._ac
        frontend.rhythm(self._ring, self.stats[frontend.ENV_POS], self._work, ac)
        e0 = ac[0]
        # No rhythm now (the runner stopped, or a brace held still): the cadence is unknown,
        # but the window keeps the last step period, a sound size for any brace.
        self.rhythm_found = False
        self._fs[emgframe.PHASED] = 0
        # The stride's rhythm is the muscle's: where the muscle does not dominate the signal (a
        # level under twice the calibrated rest: relaxed, or a brace under ~4 %MVC), the
        # envelope's rhythm is the heartbeat's, and 150 beats/min would read as a cadence.
        if self._mvc != self._rest and self.level < 2 * self._rest:
            return
        if e0 <= 0:
            return
        sh = 0
        while (e0 >> sh) >= 1048576:
            sh += 1
        best = 2
        for j in range(3, frontend.RHYTHM_LAGS):
            if ac[j] > ac[best]:
                best = j
        y1 = ac[best] >> sh
        # A peak under a third of the energy is no rhythm: running puts 0.4-0.9 there (stride
        # depth 0.2-0.5, 130-200 steps/min), noise and standing up to 0.27, which a tenth let
        # through as a cadence of whatever lag won (docs/signal.md).
        if y1 * 3 < (e0 >> sh):
            return
        y0 = ac[best - 1] >> sh
        y2 = ac[best + 1] >> sh
        den = y0 - y1 - y1 + y2
        off = 16 * (y0 - y2) // den if den < 0 else 0    # 1/32 of a 20 ms lag
        if off > 16:
            off = 16
        elif off < -16:
            off = -16
        # Q4 of a 10 ms sub-block: (lag in 20 ms) x 32, plus the parabola's offset
        self._fs[emgframe.STEP_Q4] = (frontend.RHYTHM_LAG0 + best - 1) * 32 + off
        # A peak at an end of the lags searched is the slope of one beyond them (a walk under
        # ~122 steps/min, a sprint over ~222): the window takes that nearest period, but the
        # log gets no cadence rather than a wrong one.
        last = frontend.RHYTHM_LAGS - 1
        self.rhythm_found = not ((best == 2 and ac[1] >= ac[2]) or
                                 (best == last and ac[last + 1] >= ac[last]))
        self._fs[emgframe.PHASED] = 1 if self.rhythm_found else 0

    @micropython.native
    def _window_level(self, s):
        """Weighted mean of the newest block sums, Q4 per sample. Products stay below 2**30:
        64 (weight sum) x 409500 (a railed 100-sample block) x 16 = 4.2e8 for EMG, and
        400 x 20475 (5 samples) x 16 = 1.3e8 for stretch."""
        sums = self._sums
        w = self._weights
        size = self.window
        pos = self._pos
        sums[pos] = s
        self._pos = (pos + 1) % size
        if self._filled < size:
            self._filled += 1
        total = 0
        wsum = 0
        for k in range(self._filled):
            total += w[k] * sums[pos]
            wsum += w[k]
            pos = pos - 1 if pos else size - 1
        return total * 16 // (wsum * self.block)

    @micropython.native
    def effort_of(self, level):
        """Effort (0.1 %MVC units, 0..EFFORT_MAX_PM) of a Q4 level, or UNCALIBRATED."""
        r = self._rest
        c = self._mvc
        if c == r:
            return UNCALIBRATED
        if c < r:                      # a stretch cord wired so that bracing lowers the reading
            level = r + r - level
            c = r + r - c
        if level <= r:
            return 0
        top = c + c - r                # clamp at 200 % first: keeps every product below 2**30
        if level > top:
            level = top
        if self.law == LAW_LINEAR:
            return (level - r) * 1000 // (c - r)
        # sqrt((m^2 - r^2) / (c^2 - r^2)) as two Q10 factors, so no product exceeds 2**30.
        x = (level - r) * 1024 // (c - r)
        y = (level + r) * 1024 // (c + r)
        return isqrt(x * y) * 1000 >> 10
