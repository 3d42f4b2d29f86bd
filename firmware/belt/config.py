# The device config: sensor mode, calibration snapshot, the coach's band and timings, the run
# protocol's timings and haptic pattern overrides. One schema table (SCHEMA) says every field's
# default and limits; a config is only ever changed as a whole candidate that passes every field
# check and every cross-field rule, so a rejected change leaves nothing half applied.
#
#   cfg, reason = load(path)       # reason is None, or why the defaults are in use (for the log)
#   cfg.update({"target_pm": 220}) # or cfg.set(name, value) / cfg[name] = value; ConfigError
#   cfg.save()                     # atomically, to the path it was loaded from
#   Coach(cfg), Runflow(coach, cfg)  # or their plain dicts: cfg.coach_config(), runflow_config()
#
# Field names are the coach's and the run flow's own keys, so the config passes straight through.
# Values are attributes (cfg.target_pm): reading one allocates nothing. The file is a header line
# "CQCF <version> <crc32 of the body, hex> <body length>" and a JSON body, so a cut or a flipped
# bit is caught before the JSON is trusted. docs/device-config.md describes it all.
import binascii
import json

from micropython import const

from belt import calibration, coach, effort, haptics, runflow
from belt.storage import read_atomic, write_atomic

VERSION = const(1)
DEFAULT_PATH = "/corecue.cfg"

_MAGIC = b"CQCF"
_LEVEL_MAX = const(65520)      # Q4 levels: 4095 counts (12-bit ADC) x 16
_COUNT_MAX = const(0x3FFFFFFF)
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


def _show(v):
    s = repr(v)
    return s if len(s) <= _SHOW_MAX else s[:_SHOW_MAX - 3] + "..."


# Field checks: check(value, a, b) -> None, or why the value is refused. bool is refused where an
# int is due (JSON true would otherwise read as 1).
def _int(v, lo, hi):
    if type(v) is not int:
        return "%s is not an integer" % _show(v)
    if v < lo:
        return "%d below minimum %d" % (v, lo)
    if v > hi:
        return "%d above maximum %d" % (v, hi)
    return None


def _choice(v, choices, blank_ok):
    if type(v) is str and (v in choices or (blank_ok and v == "")):
        return None
    return "%s not one of %s%s" % (_show(v), ", ".join(sorted(choices)),
                                   " or \"\"" if blank_ok else "")


def _seq(v):
    return type(v) is list or type(v) is tuple


def _holds(v, lo, hi):
    if not _seq(v) or not 1 <= len(v) <= _HOLDS_MAX:
        return "%s is not a list of 1..%d [code, ms] holds" % (_show(v), _HOLDS_MAX)
    for i in range(len(v)):
        h = v[i]
        if not _seq(h) or len(h) != 2:
            return "hold %d: %s is not [code, ms]" % (i + 1, _show(h))
        if type(h[0]) is not int or h[0] not in _HOLD_CODES:
            return "hold %d: code %s not one of %s" % (
                i + 1, _show(h[0]), ", ".join(["%d" % c for c in _HOLD_CODES]))
        why = _int(h[1], lo, hi)
        if why:
            return "hold %d: %s ms" % (i + 1, why)
    return None


def _steps(v, lo, hi):
    if not _seq(v) or not 1 <= len(v) <= _PAT_STEPS or not len(v) & 1:
        return "%s is not an odd number (1..%d) of on/off ms" % (_show(v), _PAT_STEPS)
    for i in range(len(v)):
        why = _int(v[i], lo, hi)
        if why:
            return "step %d: %s ms" % (i + 1, why)
    return None


def _patterns(v, lo, hi):
    if type(v) is not dict:
        return "%s is not an object of pattern name: [on, off, on...]" % _show(v)
    for name in sorted(v):
        try:
            haptics.pattern_id(name)
        except (ValueError, TypeError):
            return "%s is not a pattern name" % _show(name)
        why = _steps(v[name], lo, hi)
        if why:
            return "%s: %s" % (name, why)
    return None


_C = coach.DEFAULTS
_R = runflow.DEFAULTS
# name, default, check, a, b
SCHEMA = (
    ("mode", "emg_raw", _choice, effort.MODES, False),
    ("placement", 0, _int, 0, 255),                 # electrode placement code; 0 = not recorded
    ("cal_rest", 0, _int, 0, _LEVEL_MAX),           # calibration rest level, Q4 counts
    ("cal_mvc", 0, _int, 0, _LEVEL_MAX),            # ... MVC level; rest == mvc == 0: none
    ("cal_mode", "", _choice, effort.MODES, True),  # the sensor mode it was taken in
    ("cal_count", 0, _int, 0, _COUNT_MAX),          # successful calibrations so far
    ("cal_time", 0, _int, 0, 0xFFFFFFFF),           # unix seconds of the latest; 0 = unknown
    ("cal_level", 1, _int, 1, 255),                 # effort.LEVEL_VERSION of its levels
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
            return "cal_mode: %s given without a calibration" % _show(mode)
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


RULES = (_band, _hysteresis, _calibration)


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


def _freeze(v):
    # Lists become tuples: what the coach, the run flow and the player are handed cannot be
    # changed behind the config's back. Dicts are copied.
    if type(v) is list or type(v) is tuple:
        return tuple(_freeze(x) for x in v)
    if type(v) is dict:
        return {k: _freeze(v[k]) for k in v}
    return v


def _dump(v, sep=", ", colon=": "):
    # JSON with a fixed key order and spacing: the same config gives the same bytes (and CRC)
    # under MicroPython and CPython, whose dicts iterate in different orders.
    if type(v) is int:
        return "%d" % v
    if type(v) is str:
        return json.dumps(v)
    if type(v) is dict:
        return "{" + sep.join([json.dumps(k) + colon + _dump(v[k], sep, colon)
                               for k in sorted(v)]) + "}"
    return "[" + sep.join([_dump(x, sep, colon) for x in v]) + "]"


class Config:
    def __init__(self, values=None, path=DEFAULT_PATH):
        self.path = path
        for f in SCHEMA:
            setattr(self, f[0], _freeze(f[1]))
        if values:
            self.update(values)

    # -- reading ---------------------------------------------------------------------------------

    def as_dict(self):
        return {name: _freeze(getattr(self, name)) for name in NAMES}

    def __getitem__(self, name):
        if name not in NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def __contains__(self, name):
        return name in NAMES

    def get(self, name, default=None):
        return getattr(self, name) if name in NAMES else default

    def coach_config(self):
        """The dict coach.Coach takes: exactly its keys."""
        return {k: getattr(self, k) for k in coach.DEFAULTS}

    def runflow_config(self):
        """The dict runflow.Runflow takes: exactly its keys."""
        return {k: getattr(self, k) for k in runflow.DEFAULTS}

    def band(self):
        """(low, target, high) as the session log header takes it."""
        return (self.low_pm, self.target_pm, self.high_pm)

    def calibration(self):
        """(rest, mvc) in Q4 counts for EffortChain.calibrate, or None when there is none or it
        was taken in another sensor mode (its levels would mean nothing in this one)."""
        if self.cal_rest == self.cal_mvc or self.cal_mode != self.mode:
            return None
        return (self.cal_rest, self.cal_mvc)

    def haptic_table(self):
        """haptics.TABLE with the pattern overrides in place (same ids, priorities and duties)."""
        p = self.patterns
        return tuple((e[0], e[1], e[2], p.get(e[0], e[3])) for e in haptics.TABLE)

    def to_json(self):
        """The config as compact JSON, fields in schema order (the protocol's config_get and
        config_set replies, which must fit one packet); the same bytes on both interpreters."""
        return "{" + ",".join([json.dumps(n) + ":" + _dump(getattr(self, n), ",", ":")
                               for n in NAMES]) + "}"

    # -- changing ---------------------------------------------------------------------------------

    def check(self, changes):
        """None if these changes would be accepted, else "field: why". Changes nothing."""
        if type(changes) is not dict:
            return "config: %s is not an object of field: value" % _show(changes)
        cand = self.as_dict()
        for k in changes:
            cand[k] = changes[k]
        return check(cand, changes)

    def update(self, changes):
        """Apply several fields at once, all or nothing; raises ConfigError("field: why")."""
        if ("cal_rest" in changes or "cal_mvc" in changes) and "cal_level" not in changes:
            # levels given now are this firmware's (a file without cal_level is an older one's)
            changes = dict(changes)
            changes["cal_level"] = effort.LEVEL_VERSION
        why = self.check(changes)
        if why:
            raise ConfigError(why)
        for k in changes:
            setattr(self, k, _freeze(changes[k]))

    def set(self, name, value):
        self.update({name: value})

    def __setitem__(self, name, value):
        self.update({name: value})

    def set_calibration(self, rest, mvc, mode, wall_time=0):
        """Adopt a good calibration (calibration.CalResult rest/mvc) taken in `mode`."""
        n = self.cal_count + 1
        self.update({"cal_rest": rest, "cal_mvc": mvc, "cal_mode": mode,
                     "cal_count": n if n <= _COUNT_MAX else _COUNT_MAX, "cal_time": wall_time,
                     "cal_level": effort.LEVEL_VERSION})

    def clear_calibration(self):
        self.update({"cal_rest": 0, "cal_mvc": 0, "cal_mode": ""})

    # -- the file ------------------------------------------------------------------------------

    def dumps(self):
        """The file's bytes: header line, then one field per line of JSON, in schema order."""
        body = ("{\n" + ",\n".join([json.dumps(n) + ": " + _dump(getattr(self, n))
                                    for n in NAMES]) + "\n}\n").encode()
        head = b"%s %d %08x %d\n" % (_MAGIC, VERSION, binascii.crc32(body) & 0xFFFFFFFF,
                                     len(body))
        return head + body

    def save(self, path=None):
        """Write atomically (temp file, flush, rename); raises OSError when the flash refuses."""
        write_atomic(path or self.path, self.dumps())


def parse(data):
    """A config file's bytes -> (values dict, None) or (None, why it is refused)."""
    nl = data.find(b"\n")
    head = data[:nl].split() if nl >= 0 else []
    try:
        if len(head) != 4 or head[0] != _MAGIC:
            raise ValueError
        version = int(head[1].decode())
        crc = int(head[2].decode(), 16)
        n = int(head[3].decode())
    except ValueError:          # includes UnicodeError: header bytes that are not text
        return None, "bad header"
    # Only the exact spelling save() writes: int() would also take "4A" for "4a", and then a
    # flipped case bit in the CRC would go unnoticed.
    if data[:nl] != b"%s %d %08x %d" % (_MAGIC, version, crc, n):
        return None, "bad header"
    if version != VERSION:
        return None, "version %d not supported" % version
    body = data[nl + 1:]
    if len(body) < n:
        return None, "truncated (%d of %d bytes)" % (len(body), n)
    if len(body) > n:
        return None, "%d bytes after the body" % (len(body) - n)
    if binascii.crc32(body) & 0xFFFFFFFF != crc:
        return None, "crc mismatch"
    try:
        got = json.loads(body.decode())
    except ValueError:
        return None, "not JSON"
    if type(got) is not dict:
        return None, "not a JSON object"
    # A field the file lacks (written before the field existed) takes its default.
    values = Config(path=None).as_dict()
    for k in got:
        values[k] = got[k]
    why = check(values)
    if why:
        return None, "invalid: " + why
    return values, None


def load(path=DEFAULT_PATH):
    """(Config, None) from the file, or (default Config, why the file was not used). Never
    raises for anything in the file: the belt must boot with some config."""
    values, why = read_atomic(path, parse)
    cfg = Config(path=path)
    if why is not None:
        return cfg, "no config file" if why == "missing" else why
    for f in SCHEMA:
        setattr(cfg, f[0], _freeze(values[f[0]]))
    return cfg, None
