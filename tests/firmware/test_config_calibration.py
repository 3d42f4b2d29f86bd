from fwtest import eq, raises
from belt import calibration, effort
from belt import config as cf


def _calibrated(rest=310, mvc=4120, mode="emg_raw"):
    c = cf.Config()
    c.update({"mode": mode})
    c.set_calibration(rest, mvc, mode, 1767225600)
    return c


def _refused(c, changes, field):
    before = c.as_dict()
    e = raises(cf.ConfigError, c.update, changes)
    eq(e.field, field, "blamed field of %r (%s)" % (changes, e))
    eq(c.as_dict(), before, "a refused change changes nothing")
    return str(e)


def test_a_calibration_the_belt_could_not_use_is_refused():
    c = _calibrated()
    # An MVC of 0 would read every brace as 0 % (or, below rest, as 200 %) for ever.
    why = _refused(c, {"cal_mvc": 0}, "cal_mvc")
    eq("rest" in why, True, "the reason names the relation: " + why)
    _refused(c, {"cal_rest": 5000}, "cal_rest")          # rest above the maximum
    _refused(c, {"cal_rest": 4120}, "cal_rest")          # rest at the maximum
    _refused(c, {"cal_rest": 2000}, "cal_rest")          # EMG: a maximum under 3x rest
    _refused(c, {"cal_mvc": 350}, "cal_mvc")             # ... and under 5 counts above rest
    _refused(c, {"cal_mode": ""}, "cal_mode")
    _refused(cf.Config(), {"cal_mvc": 4000}, "cal_mvc")  # a maximum without a rest or a mode


def test_what_the_calibrator_accepts_the_config_accepts():
    for rest, mvc, mode in ((310, 4120, "emg_raw"), (2400, 900, "stretch"),
                            (500, 900, "emg_env")):
        c = _calibrated(rest, mvc, mode)
        eq(c.calibration(), (rest, mvc, 0, 0), "adopted %s" % mode)
        law = effort.MODES[mode][4]
        eq(calibration.levels_refused(rest, mvc, law), None, "the calibrator's rule, " + mode)
    eq(calibration.levels_refused(310, 0, effort.LAW_QUADRATURE) is None, False, "mvc 0")
    eq(calibration.levels_refused(900, 1000, effort.LAW_LINEAR) is None, False, "span 100")
    # Clearing is always possible, and a change that moves the mode with a new calibration too.
    c = _calibrated()
    c.clear_calibration()
    eq(c.calibration(), None, "cleared")
    c = _calibrated()
    c.update({"mode": "stretch", "cal_mode": "stretch", "cal_rest": 2400, "cal_mvc": 900})
    eq(c.calibration(), (2400, 900, 0, 0), "moved together")
