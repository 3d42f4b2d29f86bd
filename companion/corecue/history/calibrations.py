"""Calibrations that reached the belt some other way than `corecue calibrate` on this computer
(the belt's own run flow, `corecue virtual run`'s scripted runner, another computer): the belt's
settings say which calibration it uses (cal_rest, cal_mvc, cal_mode, cal_time, cal_count), and
one the history does not know is added to it, so `calibrate --history` shows every maximum the
belt's figures were measured against."""

MADE_ON_BELT = "made on the belt"


def note_belt_calibration(store, device, cfg, now=None):
    """Add the belt's current calibration to the history when it is not the last one kept
    there for this belt. Returns True when one was added."""
    import time
    rest, mvc = int(cfg.get("cal_rest", 0)), int(cfg.get("cal_mvc", 0))
    if rest == mvc:
        return False                        # the belt has no calibration
    kept = [c for c in store.calibrations(device) if c.adopted]
    if kept and (kept[-1].rest, kept[-1].mvc) == (rest, mvc):
        return False
    when = float(cfg.get("cal_time") or 0) or (now or time.time())
    store.add_calibration(device, when, cfg.get("cal_mode", ""), int(cfg.get("placement", 0)),
                          rest, mvc, True, True, MADE_ON_BELT,
                          {"cal_count": int(cfg.get("cal_count", 0))})
    return True
