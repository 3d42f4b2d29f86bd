# The device config's schema: every field's default and limits (SCHEMA), the field checks, and the
# cross-field rules (RULES). check() says whether a whole candidate config is valid, with one line
# "field: why" when it is not; belt.config builds, changes and stores configs on top of it.
from micropython import const

from belt import calibration, coach, effort, haptics, radiowindow, runflow

_LEVEL_MAX = const(65520)      # Q4 levels: 4095 counts (12-bit ADC) x 16
COUNT_MAX = const(0x3FFFFFFF)
_HOLDS_MAX = const(6)
_HOLD_CODES = (runflow.Mark.SIDE_PLANK_LEFT, runflow.Mark.SIDE_PLANK_RIGHT, runflow.Mark.BIRD_DOG)
# Patterns start and end "on"; 9 steps is the longest built-in one (storage_full). Steps under
# 20 ms do not spin the motor up; over 2 s one pulse stops reading as a cue.
_PAT_STEPS = const(9)
_PAT_MIN_MS = const(20)
_PAT_MAX_MS = const(2000)
_SHOW_MAX = const(40)


class ConfigError(ValueError):
    """A rejected value: str(e) is one line "field: why", e.field names the field."""

    def __init__(self, message):
        super().__init__(message)
        self.field = message.split(":")[0]


def show(v):
    s = repr(v)
    return s if len(s) <= _SHOW_MAX else s[:_SHOW_MAX - 3] + "..."


# Field checks: check(value, a, b) -> None, or why the value is refused. bool is refused where an
# int is due (JSON true would otherwise read as 1).
def _int(v, lo, hi):
    if type(v) is not int:
        return "%s is not an integer" % show(v)
    if v < lo:
        return "%d below minimum %d" % (v, lo)
    if v > hi:
        return "%d above maximum %d" % (v, hi)
    return None


def _choice(v, choices, blank_ok):
    if type(v) is str and (v in choices or (blank_ok and v == "")):
        return None
    return "%s not one of %s%s" % (show(v), ", ".join(sorted(choices)),
                                   " or \"\"" if blank_ok else "")


def _seq(v):
    return type(v) is list or type(v) is tuple


def _holds(v, lo, hi):
    if not _seq(v) or not 1 <= len(v) <= _HOLDS_MAX:
        return "%s is not a list of 1..%d [code, ms] holds" % (show(v), _HOLDS_MAX)
    for i in range(len(v)):
        h = v[i]
        if not _seq(h) or len(h) != 2:
            return "hold %d: %s is not [code, ms]" % (i + 1, show(h))
        if type(h[0]) is not int or h[0] not in _HOLD_CODES:
            return "hold %d: code %s not one of %s" % (
                i + 1, show(h[0]), ", ".join(["%d" % c for c in _HOLD_CODES]))
        why = _int(h[1], lo, hi)
        if why:
            return "hold %d: %s ms" % (i + 1, why)
    return None


def _steps(v, lo, hi):
    if not _seq(v) or not 1 <= len(v) <= _PAT_STEPS or not len(v) & 1:
        return "%s is not an odd number (1..%d) of on/off ms" % (show(v), _PAT_STEPS)
    for i in range(len(v)):
        why = _int(v[i], lo, hi)
        if why:
            return "step %d: %s ms" % (i + 1, why)
    return None


def _sleep(v, lo, hi):
    # 0 keeps the belt awake (a bench, a demonstration); anything shorter than lo would put it
    # to sleep between the steps of a calibration or a sync.
    if v == 0 and type(v) is int:
        return None
    why = _int(v, lo, hi)
    return why + " (or 0: never)" if why else None


def _or_none(v, lo, hi):
    # 0: no advertising outside the windows. Over hi, a computer's 5 s look (corecue sync
    # --watch, link/ble.py's scan) might hear the belt once or not at all.
    if v == 0 and type(v) is int:
        return None
    why = _int(v, lo, hi)
    return why + " (or 0: none)" if why else None


def _patterns(v, lo, hi):
    if type(v) is not dict:
        return "%s is not an object of pattern name: [on, off, on...]" % show(v)
    for name in sorted(v):
        try:
            haptics.pattern_id(name)
        except (ValueError, TypeError):
            return "%s is not a pattern name" % show(name)
        why = _steps(v[name], lo, hi)
        if why:
            return "%s: %s" % (name, why)
    return None


_C = coach.DEFAULTS
_R = runflow.DEFAULTS
_A = radiowindow.DEFAULTS
# name, default, check, a, b
SCHEMA = (
    ("mode", "emg_raw", _choice, effort.MODES, False),
    ("placement", 0, _int, 0, 255),                 # electrode placement code; 0 = not recorded
    ("cal_rest", 0, _int, 0, _LEVEL_MAX),           # calibration rest level, Q4 counts
    ("cal_mvc", 0, _int, 0, _LEVEL_MAX),            # ... MVC level; rest == mvc == 0: none
    ("cal_mode", "", _choice, effort.MODES, True),  # the sensor mode it was taken in
    ("cal_count", 0, _int, 0, COUNT_MAX),          # successful calibrations so far
    ("cal_time", 0, _int, 0, 0xFFFFFFFF),           # unix seconds of the latest; 0 = unknown
    ("cal_level", 1, _int, 1, 255),                 # effort.LEVEL_VERSION of its levels
    ("cal_fi", 0, _int, 0, 65535),                  # the braces' muscle index x256; 0: none
    ("cal_rest_fi", 0, _int, 0, 65535),             # the rest's fatigue index x256
    ("target_pm", _C["target_pm"], _int, 50, 1000),
    ("low_pm", _C["low_pm"], _int, 0, 1000),
    ("high_pm", _C["high_pm"], _int, 50, 2000),
    ("hysteresis_pm", _C["hysteresis_pm"], _int, 0, 100),
    ("under_dwell_ms", _C["under_dwell_ms"], _int, 500, 60000),
    ("over_dwell_ms", _C["over_dwell_ms"], _int, 500, 60000),
    ("early_dwell_ms", _C["early_dwell_ms"], _int, 500, 60000),
    ("back_dwell_ms", _C["back_dwell_ms"], _int, 0, 10000),
    ("repeat_ms", _C["repeat_ms"], _int, 2000, 300000),
    ("cues_per_min", _C["cues_per_min"], _int, 1, 12),
    ("bad_grace_ms", _C["bad_grace_ms"], _int, 0, 10000),
    ("check_after_ms", _C["check_after_ms"], _int, 500, 60000),
    ("check_every_ms", _C["check_every_ms"], _int, 10000, 3600000),
    ("fade_pm_per_10min", _C["fade_pm_per_10min"], _int, 0, 200),
    ("fade_max_pm", _C["fade_max_pm"], _int, 0, 500),
    ("holds", _R["holds"], _holds, 5000, 300000),
    ("prime_ms", _R["prime_ms"], _int, 500, 30000),
    ("prime_remind_ms", _R["prime_remind_ms"], _int, 2000, 120000),
    ("early_ms", _R["early_ms"], _int, 0, 600000),
    ("lie_down_ms", _R["lie_down_ms"], _int, 60000, 3600000),
    ("patterns", {}, _patterns, _PAT_MIN_MS, _PAT_MAX_MS),  # name -> on/off ms, over TABLE's
    ("sleep_s", 180, _sleep, 30, 86400),            # idle this long: deep sleep (0: never)
    # Bluetooth advertising (belt.radiowindow): 20 ms is the least Bluetooth allows a connectable
    # advertiser; a window shorter than 10 s could fall between two of sync --watch's looks' scans.
    ("adv_fast_ms", _A["adv_fast_ms"], _int, 20, 1000),
    ("adv_window_s", _A["adv_window_s"], _int, 10, 600),
    ("adv_slow_ms", _A["adv_slow_ms"], _or_none, 20, 2500),
)
NAMES = tuple(f[0] for f in SCHEMA)


# Cross-field rules: rule(values, changed) -> None or "field: why". The message names the field
# that was changed where there is a choice, so the app can point at what the person just typed.
def _blame(changed, a, b):
    return b if b in changed and a not in changed else a


def _band(v, changed):
    lo, t, hi = v["low_pm"], v["target_pm"], v["high_pm"]
    if lo >= t:
        if _blame(changed, "low_pm", "target_pm") == "low_pm":
            return "low_pm: %d not below target_pm %d" % (lo, t)
        return "target_pm: %d not above low_pm %d" % (t, lo)
    if t >= hi:
        if _blame(changed, "high_pm", "target_pm") == "high_pm":
            return "high_pm: %d not above target_pm %d" % (hi, t)
        return "target_pm: %d not below high_pm %d" % (t, hi)
    return None


def _hysteresis(v, changed):
    # The coach re-enters the band only hysteresis_pm inside it: from both edges at once, that
    # must leave some band (the coach refuses otherwise).
    width = v["high_pm"] - v["low_pm"]
    if 2 * v["hysteresis_pm"] >= width:
        return "hysteresis_pm: %d not under half the band (%d)" % (v["hysteresis_pm"], width)
    return None


def _calibration(v, changed):
    # effort.EffortChain reads mvc == rest as "not calibrated": only 0 and 0 may say so. Any
    # other pair must be levels the calibrator itself could have measured in that mode.
    rest, mvc, mode = v["cal_rest"], v["cal_mvc"], v["cal_mode"]
    if rest == 0 and mvc == 0:
        if mode:
            return "cal_mode: %s given without a calibration" % show(mode)
        return None
    blame = _blame(changed, "cal_mvc", "cal_rest")
    if not mode:
        if "cal_mode" in changed or not ("cal_mvc" in changed or "cal_rest" in changed):
            return "cal_mode: \"\" but a calibration is present (name its sensor mode)"
        return "%s: a calibration needs cal_rest, cal_mvc and cal_mode together" % blame
    why = calibration.levels_refused(rest, mvc, effort.MODES[mode][4])
    if why:
        return "%s: %s" % (blame, why)
    return None


def _advertising(v, changed):
    # Slow advertising is for outside the windows: slower than (or as fast as) inside them.
    slow, fast = v["adv_slow_ms"], v["adv_fast_ms"]
    if slow and slow < fast:
        if _blame(changed, "adv_slow_ms", "adv_fast_ms") == "adv_slow_ms":
            return "adv_slow_ms: %d faster than adv_fast_ms %d" % (slow, fast)
        return "adv_fast_ms: %d slower than adv_slow_ms %d" % (fast, slow)
    return None


RULES = (_band, _hysteresis, _calibration, _advertising)


def check(values, changed=()):
    """None when values (every field) make a valid config, else one line "field: why"."""
    unknown = sorted([str(n) for n in values if n not in NAMES])
    if unknown:
        return "%s: unknown field" % unknown[0]
    for name, _, fn, a, b in SCHEMA:
        if name not in values:
            return "%s: missing" % name
        why = fn(values[name], a, b)
        if why:
            return "%s: %s" % (name, why)
    for rule in RULES:
        why = rule(values, changed)
        if why:
            return why
    return None
