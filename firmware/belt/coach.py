# What the runner feels during the run: turns the 10 Hz effort frames into at most one cue per
# frame. The clinical aim is a light brace (about 20 %MVC) held for the whole run, so the coach
# speaks only when the runner has been outside a two-sided band for a while, and then sparingly:
# a buzz every few seconds would teach the runner to ignore the belt, or to depend on it.
#
# handle(effort_pm, quality, now) returns None when nothing is to be felt (the common case, and it
# allocates nothing), else one of the preallocated (kind, level) tuples below. The summary counters
# (frames[], cues[]) are updated in place. The rules, all numbers from the config:
#   - The band is left as soon as effort crosses an edge (below low, above high) but re-entered
#     only hysteresis_pm inside it, so a value sitting on an edge neither restarts the dwell clock
#     nor earns a "back in band" followed by another cue.
#   - UNDER / OVER fire on the first frame at which the runner has been out of band for the
#     side's dwell, counted from the first out-of-band frame; while the problem persists they
#     repeat every repeat_ms, one level stronger each time (1..3). Returning resets the level.
#   - After an UNDER/OVER, back_dwell_ms in band earns one BACK.
#   - At most cues_per_min UNDER/OVER in any 60 s; a BACK takes a slot but is never withheld.
#   - Bad-quality frames are not coached. A bad stretch shorter than bad_grace_ms is bridged;
#     a longer one forgets the zone. Bad for check_after_ms gives CHECK_SENSOR, at most once per
#     check_every_ms.
#   - start(now, early_ms): cues due inside the first early_ms use early_dwell_ms.
#   - Fading: the band widens by fade_pm_per_10min on both sides, up to fade_max_pm, as the run
#     goes on. The frame counters always read against the prescribed band, without hysteresis.
from micropython import const

from belt import ticks

CUE_UNDER = const(1)
CUE_OVER = const(2)
CUE_BACK = const(3)
CUE_CHECK_SENSOR = const(4)

# Zones (also the per-frame classification returned by classify()).
Z_NONE = const(0)
Z_IN = const(1)
Z_UNDER = const(2)
Z_OVER = const(3)

# Indices into Coach.frames.
F_IN = const(0)
F_UNDER = const(1)
F_OVER = const(2)
F_BAD = const(3)
F_UNCAL = const(4)

MAX_LEVEL = const(3)
_MINUTE_MS = const(60000)

# Every cue a frame can produce, allocated once.
_UNDER = ((CUE_UNDER, 1), (CUE_UNDER, 2), (CUE_UNDER, 3))
_OVER = ((CUE_OVER, 1), (CUE_OVER, 2), (CUE_OVER, 3))
_BACK = (CUE_BACK, 1)
_CHECK = (CUE_CHECK_SENSOR, 1)


def cue_tuple(kind, level):
    """The preallocated (kind, level) tuple handle() returns for that cue."""
    if kind == CUE_UNDER:
        return _UNDER[level - 1]
    if kind == CUE_OVER:
        return _OVER[level - 1]
    return _BACK if kind == CUE_BACK else _CHECK


DEFAULTS = {
    "target_pm": 200,         # 20 %MVC, the seed's "about 20% effort"
    "low_pm": 150,
    "high_pm": 300,
    "hysteresis_pm": 15,      # 1.5 %MVC
    "under_dwell_ms": 3000,
    "over_dwell_ms": 5000,    # over-bracing is tiring, not harmful: it is given longer
    "early_dwell_ms": 1500,   # first minute of the run, when runflow asks for it
    "back_dwell_ms": 500,     # in band this long after a cue before "back in band"
    "repeat_ms": 15000,
    "cues_per_min": 4,        # corrections in any 60 s; confirmations count but are never held
    "bad_grace_ms": 1000,     # a bad-signal stretch shorter than this does not restart the dwell
    "check_after_ms": 2000,   # bad this long before "check sensor"
    "check_every_ms": 60000,
    "fade_pm_per_10min": 0,   # feedback fading; 0 = off
    "fade_max_pm": 100,
}


def _cfg(config, key):
    if config is not None:
        if isinstance(config, dict):
            if key in config:
                return config[key]
        elif hasattr(config, key):
            return getattr(config, key)
    return DEFAULTS[key]


class Coach:
    def __init__(self, config=None):
        for key in DEFAULTS:
            setattr(self, key, int(_cfg(config, key)))
        if not 0 <= self.low_pm < self.target_pm < self.high_pm:
            raise ValueError("band must satisfy 0 <= low < target < high")
        if not 0 <= 2 * self.hysteresis_pm < self.high_pm - self.low_pm:
            raise ValueError("hysteresis must be under half the band")
        if self.cues_per_min < 1 or self.under_dwell_ms <= 0 or self.over_dwell_ms <= 0:
            raise ValueError("cues_per_min and dwells must be positive")
        self._ring = [0] * self.cues_per_min   # ticks of the latest cues, oldest at _head
        self.frames = [0] * 5
        self.cues = [0] * 5
        self.start(0)
        self.running = False

    def start(self, now, early_ms=0):
        """Begin a run at tick `now`; cues due in the first early_ms use early_dwell_ms."""
        self.running = True
        self._t0 = now
        self._early_ms = early_ms
        self.widen_pm = 0
        self._zone = Z_NONE
        self._since = now
        self._level = 0         # level of the latest cue this out-of-band stretch, 0 = none yet
        self._cue_t = now
        self._back_due = False
        self._bad = False
        self._bad_since = now
        self._checked = False
        self._check_t = now
        self._n = 0
        self._head = 0
        for i in range(5):
            self.frames[i] = 0
            self.cues[i] = 0

    def stop(self):
        self.running = False

    def classify(self, effort_pm):
        """The plain reading against the prescribed band, no hysteresis or fading."""
        if effort_pm < self.low_pm:
            return Z_UNDER
        if effort_pm > self.high_pm:
            return Z_OVER
        return Z_IN

    def band(self):
        """The band cues currently use (widened when fading is on)."""
        return (max(0, self.low_pm - self.widen_pm), self.high_pm + self.widen_pm)

    def handle(self, effort_pm, quality, now):
        if not self.running:
            return None
        if quality:
            self.frames[F_BAD] += 1
            if not self._bad:
                self._bad = True
                self._bad_since = now
            if ticks.diff(now, self._bad_since) >= self.check_after_ms and (
                    not self._checked or ticks.diff(now, self._check_t) >= self.check_every_ms):
                self._checked = True
                self._check_t = now
                self.cues[CUE_CHECK_SENSOR] += 1
                return _CHECK
            return None
        if self._bad:
            self._bad = False
            # Nothing is known about the stretch the sensor missed; only a short one is bridged.
            if ticks.diff(now, self._bad_since) >= self.bad_grace_ms:
                self._forget()
        if effort_pm < 0:
            self.frames[F_UNCAL] += 1
            self._forget()
            return None
        self.frames[self.classify(effort_pm) - 1] += 1    # Z_IN.. line up with F_IN..
        return self._coach(effort_pm, now)

    # The per-frame path is split into small methods on purpose: MicroPython takes a bytecode
    # function's frame from the heap once its locals and stack pass about ten slots.
    def _coach(self, e, now):
        if self.fade_pm_per_10min and self.widen_pm < self.fade_max_pm:
            self._fade(now)
        nz = self._zone_of(e)
        if nz != self._zone:
            self._back_due = nz == Z_IN and self._level > 0
            self._zone = nz
            self._since = now
            self._level = 0
        if nz == Z_IN:
            if self._back_due and ticks.diff(now, self._since) >= self.back_dwell_ms:
                # The confirmation is the reward for heeding a cue, so the cap never withholds
                # it; it does take a slot, so the next correction waits a little longer.
                self._back_due = False
                self._sent(now)
                self.cues[CUE_BACK] += 1
                return _BACK
            return None
        if self._level:
            if ticks.diff(now, self._cue_t) < self.repeat_ms:
                return None
        elif ticks.diff(now, self._since) < self._dwell(nz, self._since):
            return None
        if not self._allowed(now):
            return None
        return self._cue(nz, now)

    def _fade(self, now):
        w = ticks.diff(now, self._t0) // 1000 * self.fade_pm_per_10min // 600
        self.widen_pm = w if w < self.fade_max_pm else self.fade_max_pm

    def _zone_of(self, e):
        lo = self.low_pm - self.widen_pm
        hi = self.high_pm + self.widen_pm
        if e < lo:
            return Z_UNDER
        if e > hi:
            return Z_OVER
        if self._zone == Z_UNDER and e < lo + self.hysteresis_pm:
            return Z_UNDER
        if self._zone == Z_OVER and e > hi - self.hysteresis_pm:
            return Z_OVER
        return Z_IN

    def _cue(self, zone, now):
        if self._level < MAX_LEVEL:
            self._level += 1
        self._cue_t = now
        self._sent(now)
        self.cues[zone - 1] += 1    # Z_UNDER/Z_OVER line up with CUE_UNDER/CUE_OVER
        return (_UNDER if zone == Z_UNDER else _OVER)[self._level - 1]

    def _forget(self):
        # Back to "don't know": the next stretch out of band waits its full dwell, starts again
        # at level 1, and no "back in band" is owed for a cue given before the gap.
        self._zone = Z_NONE
        self._level = 0
        self._back_due = False

    def _dwell(self, zone, since):
        d = self.under_dwell_ms if zone == Z_UNDER else self.over_dwell_ms
        # The early dwell applies to a cue that would fall inside the early window.
        if (self._early_ms and self.early_dwell_ms < d
                and ticks.diff(since, self._t0) + self.early_dwell_ms < self._early_ms):
            return self.early_dwell_ms
        return d

    def _allowed(self, now):
        return self._n < self.cues_per_min or ticks.diff(now, self._ring[self._head]) >= _MINUTE_MS

    def _sent(self, now):
        self._ring[self._head] = now
        self._head += 1
        if self._head == self.cues_per_min:
            self._head = 0
        if self._n < self.cues_per_min:
            self._n += 1

    def next_deadline(self, now):
        """Earliest tick at which a cue could fire if the runner's state stays as it is, else None.
        Cues only ever fire on a frame; this is for displays and tests, not for scheduling."""
        if not self.running:
            return None
        if self._bad:
            t = ticks.add(self._bad_since, self.check_after_ms)
            if self._checked:
                t = _later(t, ticks.add(self._check_t, self.check_every_ms))
            return t
        if self._zone == Z_IN:
            return ticks.add(self._since, self.back_dwell_ms) if self._back_due else None
        if self._zone == Z_NONE:
            return None
        if self._level:
            t = ticks.add(self._cue_t, self.repeat_ms)
        else:
            t = ticks.add(self._since, self._dwell(self._zone, self._since))
        if self._n == self.cues_per_min:
            t = _later(t, ticks.add(self._ring[self._head], _MINUTE_MS))
        return t

    def summary(self):
        f = self.frames
        c = self.cues
        return {
            "frames_in": f[F_IN], "frames_under": f[F_UNDER], "frames_over": f[F_OVER],
            "frames_bad": f[F_BAD], "frames_uncalibrated": f[F_UNCAL],
            "cues_under": c[CUE_UNDER], "cues_over": c[CUE_OVER], "cues_back": c[CUE_BACK],
            "cues_check_sensor": c[CUE_CHECK_SENSOR], "band_widen_pm": self.widen_pm,
        }


def _later(a, b):
    return b if ticks.diff(b, a) > 0 else a
