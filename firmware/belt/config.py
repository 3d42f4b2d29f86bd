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

from belt import coach, effort, haptics, runflow
from belt.strictjson import loads
from belt.atomicfile import read_atomic, write_atomic
from belt.configschema import COUNT_MAX, NAMES, SCHEMA, ConfigError, check, show

VERSION = const(1)
DEFAULT_PATH = "/corecue.cfg"

_MAGIC = b"CQCF"


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
        """(rest, mvc, fi, rest_fi) for EffortChain.calibrate (levels in Q4 counts, indices
        x256), or None when there is none or it was taken in another sensor mode (its levels
        would mean nothing in this one)."""
        if self.cal_rest == self.cal_mvc or self.cal_mode != self.mode:
            return None
        return (self.cal_rest, self.cal_mvc, self.cal_fi, self.cal_rest_fi)

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
            return "config: %s is not an object of field: value" % show(changes)
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
        if ("cal_rest" in changes or "cal_mvc" in changes) and "cal_fi" not in changes:
            # levels given without their spectrum: the old one's is not theirs
            changes = dict(changes)
            changes["cal_fi"] = 0
            changes["cal_rest_fi"] = 0
        why = self.check(changes)
        if why:
            raise ConfigError(why)
        for k in changes:
            setattr(self, k, _freeze(changes[k]))

    def set(self, name, value):
        self.update({name: value})

    def __setitem__(self, name, value):
        self.update({name: value})

    def set_calibration(self, rest, mvc, mode, wall_time=0, fi=0, rest_fi=0):
        """Adopt a good calibration (calibration.CalResult rest/mvc/fi/rest_fi) taken in
        `mode`."""
        n = self.cal_count + 1
        self.update({"cal_rest": rest, "cal_mvc": mvc, "cal_mode": mode,
                     "cal_count": n if n <= COUNT_MAX else COUNT_MAX, "cal_time": wall_time,
                     "cal_level": effort.LEVEL_VERSION, "cal_fi": fi, "cal_rest_fi": rest_fi})

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
        got = loads(body.decode())
    except ValueError:          # includes UnicodeError
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
