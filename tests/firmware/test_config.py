import binascii
import os

from fwtest import SCRATCH, allocated, eq, raises, record, skip_unless_micropython
from flashsim import clear_dir, mount_ram_flash, read_bytes as _read, unmount, write_bytes as _write
from belt import coach, effort, haptics, runflow
from belt import config as cf


def _tmp():
    d = SCRATCH + "-config"
    try:
        os.mkdir(d)
    except OSError:
        pass
    clear_dir(d)
    return d



def _custom():
    """A config unlike the defaults in every kind of field."""
    c = cf.Config()
    c.update({"mode": "stretch", "placement": 3, "target_pm": 250, "low_pm": 180,
              "high_pm": 360, "hysteresis_pm": 20, "repeat_ms": 20000, "cues_per_min": 3,
              "fade_pm_per_10min": 25, "holds": [[2, 45000], [1, 45000]], "prime_ms": 4000,
              "patterns": {"go": [800], "brace_more_1": [120, 80, 120]}})
    c.set_calibration(2400, 900, "stretch", 1767225600)
    return c


def test_defaults_feed_the_coach_and_the_run_flow():
    c = cf.Config()
    eq(cf.check(c.as_dict()), None, "defaults are valid")
    for key in coach.DEFAULTS:
        eq(key in cf.NAMES, True, "coach key %s is a config field" % key)
        eq(c.coach_config()[key], coach.DEFAULTS[key], key)
    for key in runflow.DEFAULTS:
        eq(key in cf.NAMES, True, "runflow key %s is a config field" % key)
        eq(c.runflow_config()[key], runflow.DEFAULTS[key], key)
    eq(sorted(c.coach_config()), sorted(coach.DEFAULTS), "coach_config: exactly the coach's keys")
    eq(sorted(c.runflow_config()), sorted(runflow.DEFAULTS), "runflow_config: the run flow's")
    c = _custom()
    for co in (coach.Coach(c), coach.Coach(c.coach_config())):
        eq((co.low_pm, co.target_pm, co.high_pm, co.hysteresis_pm, co.repeat_ms, co.cues_per_min,
            co.fade_pm_per_10min), (180, 250, 360, 20, 20000, 3, 25), "the coach takes it")
    for conf in (c, c.runflow_config()):
        rf = runflow.Runflow(coach.Coach(c), conf)
        eq((rf.holds, rf.prime_ms, rf.lie_down_ms), (((2, 45000), (1, 45000)), 4000, 600000),
           "the run flow takes it")
    eq(c.band(), (180, 250, 360), "band for the session header")
    eq((c["mode"], c.get("placement"), c.get("nonsense", 7), "cal_mvc" in c),
       ("stretch", 3, 7, True), "dict-style reads")
    raises(KeyError, lambda: c["nonsense"])


def _rejected(c, changes, message):
    before = c.dumps()
    e = raises(cf.ConfigError, c.update, changes)
    eq(str(e), message, "message for %r" % (changes,))
    eq(e.field, message.split(":")[0], "field")
    eq(c.check(changes), message, "check() agrees")
    eq(c.dumps(), before, "nothing changed by %r" % (changes,))
    return message


def test_rejections_name_the_field_and_change_nothing():
    c = _custom()
    cases = (
        ({"low_pm": -1}, "low_pm: -1 below minimum 0"),
        ({"target_pm": 5000}, "target_pm: 5000 above maximum 1000"),
        ({"low_pm": 250}, "low_pm: 250 not below target_pm 250"),
        ({"target_pm": 170}, "target_pm: 170 not above low_pm 180"),
        ({"target_pm": 400}, "target_pm: 400 not below high_pm 360"),
        ({"high_pm": 250}, "high_pm: 250 not above target_pm 250"),
        ({"hysteresis_pm": 90}, "hysteresis_pm: 90 not under half the band (180)"),
        ({"low_pm": 200, "target_pm": 210, "high_pm": 230},
         "hysteresis_pm: 20 not under half the band (30)"),
        ({"mode": "emg"}, "mode: 'emg' not one of emg_env, emg_raw, stretch"),
        ({"placement": True}, "placement: True is not an integer"),
        ({"under_dwell_ms": 3000.0}, "under_dwell_ms: 3000.0 is not an integer"),
        ({"repeat_ms": "20000"}, "repeat_ms: '20000' is not an integer"),
        ({"cues_per_min": 0}, "cues_per_min: 0 below minimum 1"),
        ({"cal_mvc": 2400}, "cal_mvc: maximum 2400 not 320 or more away from rest 2400"),
        ({"cal_rest": 900}, "cal_rest: maximum 900 not 320 or more away from rest 900"),
        ({"cal_mode": ""}, "cal_mode: \"\" but a calibration is present (name its sensor mode)"),
        ({"cal_mode": "ecg"}, "cal_mode: 'ecg' not one of emg_env, emg_raw, stretch or \"\""),
        ({"cal_rest": 0, "cal_mvc": 0}, "cal_mode: 'stretch' given without a calibration"),
        ({"cal_rest": 70000}, "cal_rest: 70000 above maximum 65520"),
        ({"holds": []}, "holds: [] is not a list of 1..6 [code, ms] holds"),
        ({"holds": [[1, 30000], [9, 30000]]}, "holds: hold 2: code 9 not one of 1, 2, 3"),
        ({"holds": [[1, 1000]]}, "holds: hold 1: 1000 below minimum 5000 ms"),
        ({"holds": [[1, 30000, 5]]}, "holds: hold 1: [1, 30000, 5] is not [code, ms]"),
        ({"patterns": {"buzz": [100]}}, "patterns: 'buzz' is not a pattern name"),
        ({"patterns": {"go": [100, 100]}},
         "patterns: go: [100, 100] is not an odd number (1..9) of on/off ms"),
        ({"patterns": {"go": [100] * 11}},
         "patterns: go: [100, 100, 100, 100, 100, 100, 100, 1... is not an odd number "
         "(1..9) of on/off ms"),
        ({"patterns": {"ack": [60, 5, 60]}}, "patterns: ack: step 2: 5 below minimum 20 ms"),
        ({"patterns": {"ack": [60, 100, 2500]}},
         "patterns: ack: step 3: 2500 above maximum 2000 ms"),
        ({"patterns": [[60]]},
         "patterns: [[60]] is not an object of pattern name: [on, off, on...]"),
        ({"frobnicate": 1}, "frobnicate: unknown field"),
        # A good change next to a bad one: neither is applied.
        ({"target_pm": 260, "lie_down_ms": 1000}, "lie_down_ms: 1000 below minimum 60000"),
    )
    got = [_rejected(c, ch, msg) for ch, msg in cases]
    raises(cf.ConfigError, c.set, "target_pm", 1)
    e = raises(cf.ConfigError, c.__setitem__, "low_pm", 400)
    eq(str(e), "low_pm: 400 not below target_pm 250", "item assignment validates too")
    eq(c.check([1]), "config: [1] is not an object of field: value", "not a dict")
    eq(c.as_dict(), _custom().as_dict(), "still the config it was")
    record("rejections", got)


def test_related_fields_change_together():
    c = cf.Config()
    # Each of these alone would cross the old band; together they are a valid new band.
    c.update({"low_pm": 350, "target_pm": 400, "high_pm": 500})
    eq(c.band(), (350, 400, 500), "moved")
    c.set("hysteresis_pm", 40)
    eq(c.hysteresis_pm, 40, "set")
    c["high_pm"] = 600
    eq(c.high_pm, 600, "item assignment")
    c.update({"holds": [[3, 20000]], "patterns": {"ack": [60, 60, 60]}})
    eq((c.holds, c.patterns), (((3, 20000),), {"ack": (60, 60, 60)}), "stored frozen")


def test_calibration_snapshot():
    c = cf.Config()
    eq(c.calibration(), None, "none by default")
    c.set_calibration(310, 4120, "emg_raw", 1767225600, 170, 330)
    eq((c.calibration(), c.cal_count, c.cal_time, c.cal_mode), ((310, 4120, 170, 330), 1,
                                                                1767225600, "emg_raw"), "adopted")
    ch = effort.EffortChain(c.mode)
    ch.calibrate(*c.calibration())
    eq(ch.effort_of(4120), 1000, "the chain reads the MVC level as 100 %MVC")
    c.set("mode", "emg_env")
    eq(c.calibration(), None, "taken in another sensor mode: not used")
    c.set("mode", "emg_raw")
    eq(c.calibration(), (310, 4120, 170, 330), "back in its mode")
    c.set_calibration(300, 4000, "emg_raw", 1767312000, 160, 300)
    eq((c.calibration(), c.cal_count), ((300, 4000, 160, 300), 2), "recalibrated, counted")
    raises(cf.ConfigError, c.set_calibration, 500, 500, "emg_raw")
    eq((c.calibration(), c.cal_count), ((300, 4000, 160, 300), 2), "a refused one changes nothing")
    # Levels set by hand carry no spectrum: the last calibration's index is not theirs.
    c.update({"cal_rest": 320, "cal_mvc": 4100})
    eq(c.calibration(), (320, 4100, 0, 0), "levels by hand: no index")
    c.clear_calibration()
    eq((c.calibration(), c.cal_rest, c.cal_mvc, c.cal_mode, c.cal_count), (None, 0, 0, "", 2),
       "cleared")


def test_haptic_overrides():
    c = _custom()
    table = c.haptic_table()
    eq(len(table), len(haptics.TABLE), "same ids")
    for i in range(len(table)):
        name = haptics.TABLE[i][0]
        want = {"go": (800,), "brace_more_1": (120, 80, 120)}.get(name, haptics.TABLE[i][3])
        eq(table[i], haptics.TABLE[i][:3] + (want,), name)
    eq(cf.Config().haptic_table(), haptics.TABLE, "no overrides: the built-in table")
    for entry in haptics.TABLE:     # every built-in pattern is itself a valid override
        eq(c.check({"patterns": {entry[0]: entry[3]}}), None, entry[0])


def test_save_and_load_round_trip():
    d = _tmp()
    path = d + "/corecue.cfg"
    c = _custom()
    c.save(path)
    eq(os.listdir(d), ["corecue.cfg"], "no temp file left")
    data = _read(path)
    eq(data, c.dumps(), "the file is dumps()")
    got, why = cf.load(path)
    eq(why, None, "no reason")
    eq(got.as_dict(), c.as_dict(), "same config")
    eq(got.path, path, "remembers its file")
    got.set("target_pm", 270)
    got.save()
    eq(cf.load(path)[0].target_pm, 270, "saved to where it came from")
    head = data[:data.find(b"\n")]
    record("file_header", head.decode())
    record("file_crc", binascii.crc32(data) & 0xFFFFFFFF)


def _kind(why):
    """The first word of a reason that is not a number: "1 bytes after..." -> "bytes"."""
    for w in why.split(" "):
        if not w.isdigit():
            return w
    return why


def _with_body(body, version=cf.VERSION):
    return b"CQCF %d %08x %d\n" % (version, binascii.crc32(body) & 0xFFFFFFFF, len(body)) + body


def test_bad_files_fall_back_to_defaults_with_a_reason():
    d = _tmp()
    path = d + "/corecue.cfg"
    defaults = cf.Config().as_dict()
    good = _custom().dumps()
    body = good[good.find(b"\n") + 1:]
    cases = (
        (None, "no config file"),
        (b"", "bad header"),
        (b"hello\nworld", "bad header"),
        (b"CQCF 1 zz 5\nhello", "bad header"),
        (_with_body(b"{\"mode\": ", ), "not JSON"),
        (_with_body(b"[1, 2]"), "not a JSON object"),
        (_with_body(body, 2), "version 2 not supported"),
        (_with_body(b"{\"low_pm\": 250}"), "invalid: low_pm: 250 not below target_pm 200"),
        (_with_body(b"{\"mode\": \"stretch\", \"x\": 1}"), "invalid: x: unknown field"),
        (_with_body(b"{\"holds\": [[1, 30000.5]]}"),
         "invalid: holds: hold 1: 30000.5 is not an integer ms"),
        (good[:-3], "truncated (%d of %d bytes)" % (len(body) - 3, len(body))),
        (good + b"x", "1 bytes after the body"),
        (good[:40] + bytes([good[40] ^ 4]) + good[41:], "crc mismatch"),
        (b"\xff" * 9000, "too large"),
    )
    reasons = []
    for data, why in cases:
        if data is None:
            try:
                os.remove(path)
            except OSError:
                pass
        else:
            _write(path, data)
        c, reason = cf.load(path)
        eq(reason, why, "reason for %r" % (data[:30] if data else data,))
        eq(c.as_dict(), defaults, "defaults for %s" % why)
        reasons.append(reason)
    # A file written before a field existed: the field takes its default.
    _write(path, _with_body(b"{\"target_pm\": 230}"))
    c, reason = cf.load(path)
    eq((reason, c.target_pm, c.low_pm), (None, 230, 150), "missing fields default")
    record("reasons", reasons)


def test_a_cut_at_any_byte_never_loads_garbage():
    d = _tmp()
    path = d + "/corecue.cfg"
    tmp = path + ".tmp"
    old = cf.Config()
    old.update({"target_pm": 220, "placement": 1})
    new = _custom()
    data = new.dumps()
    defaults = cf.Config().as_dict()
    outcomes = {}
    for cut in range(len(data) + 1):
        # The real file itself cut short (a file system without atomic rename, say).
        _write(path, data[:cut])
        c, why = cf.load(path)
        if cut == len(data):
            eq((why, c.as_dict()), (None, new.as_dict()), "whole file")
        else:
            eq(c.as_dict(), defaults, "cut at %d: defaults" % cut)
            if why is None:
                raise AssertionError("cut at %d: no reason given" % cut)
            outcomes[_kind(why)] = outcomes.get(_kind(why), 0) + 1
        # A save cut short while writing its temp file: the old file stands, the temp goes.
        old.save(path)
        _write(tmp, data[:cut])
        c, why = cf.load(path)
        eq((why, c.as_dict()), (None, old.as_dict()), "temp cut at %d: old config" % cut)
        eq(os.listdir(d), ["corecue.cfg"], "temp cut at %d: cleaned" % cut)
        # The old file already removed (rename that cannot replace), then the cut.
        os.remove(path)
        _write(tmp, data[:cut])
        c, why = cf.load(path)
        if cut == len(data):
            eq((why, c.as_dict()), (None, new.as_dict()), "complete temp adopted")
            eq(os.listdir(d), ["corecue.cfg"], "adopted under the real name")
            eq(_read(path), data, "adopted bytes")
        else:
            eq((why, c.as_dict()), ("no config file", defaults), "partial temp, no file %d" % cut)
            eq(os.listdir(d), [], "partial temp cleaned")
    record("cut_outcomes", sorted(outcomes.items()))


def test_every_flipped_bit_is_caught():
    d = _tmp()
    path = d + "/corecue.cfg"
    data = bytearray(_custom().dumps())
    defaults = cf.Config().as_dict()
    kinds = {}
    for i in range(len(data)):
        for bit in range(8):
            data[i] ^= 1 << bit
            _write(path, data)
            c, why = cf.load(path)
            data[i] ^= 1 << bit
            if why is None or c.as_dict() != defaults:
                raise AssertionError("bit %d of byte %d not caught" % (bit, i))
            kinds[_kind(why)] = kinds.get(_kind(why), 0) + 1
    record("flip_reasons", sorted(kinds.items()))


def test_power_cut_during_save_on_littlefs():
    # Every erase and program that save() makes on a real LittleFS, then a power cut after each
    # of them (and halfway through each program): the config read back is the old or the new
    # one, never anything else, and never the defaults. (A save that removed the old file
    # first, or wrote the file in place in several flushes, fails here.)
    skip_unless_micropython("LittleFS is mounted through MicroPython's vfs")
    mp = "/cqcfg"
    flash = mount_ram_flash(mp, 32, log=True)
    try:
        old = cf.Config()
        old.update({"target_pm": 220})
        old.save(mp + "/corecue.cfg")
        base = bytes(flash.data)
        flash.ops[:] = []
        new = _custom()
        new.save(mp + "/corecue.cfg")
        ops = list(flash.ops)
    finally:
        unmount(mp)
    if len(ops) < 2:
        raise AssertionError("save made %d flash operations" % len(ops))
    seen = {}
    image = bytearray(base)
    for k in range(len(ops) + 1):
        for half in (False, True):
            if half and k == len(ops):
                continue
            img = bytearray(image)
            if half:
                at, b = ops[k]
                img[at:at + len(b) // 2] = b[:len(b) // 2]
            mount_ram_flash("/cqcut", data=img, fresh=False)
            try:
                c, why = cf.load("/cqcut/corecue.cfg")
                names = os.listdir("/cqcut")
            finally:
                unmount("/cqcut")
            got = c.as_dict()
            which = "old" if got == old.as_dict() else "new" if got == new.as_dict() else None
            if why is not None or which is None:
                raise AssertionError("cut after %d ops%s: %r" % (k, " and a half" if half else "",
                                                                why))
            eq(names, ["corecue.cfg"], "no temp file after loading")
            seen[which] = seen.get(which, 0) + 1
        if k < len(ops):
            at, b = ops[k]
            image[at:at + len(b)] = b
    eq(sorted(seen), ["new", "old"], "both outcomes occur")


def test_reading_fields_allocates_nothing():
    skip_unless_micropython("heap accounting is MicroPython's")
    c = _custom()

    def per_frame():
        return c.target_pm + c.low_pm + c.high_pm + c.hysteresis_pm

    per_frame()
    eq(allocated(per_frame), 0, "bytes allocated reading four fields")
