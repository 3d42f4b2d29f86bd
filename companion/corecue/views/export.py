"""Sessions out of the companion, for spreadsheets and other programs: CSV (one row per frame) and
JSON (one object per session). docs/export-format.md describes every column and field.

    export_sessions(items, fmt, out)   items: [(meta, SessionData)], meta SessionRow-like or None;
                                       fmt "csv" or "json"; out a path (written atomically) or a
                                       text stream. Raises ExportError (one line) on bad input.
"""
import csv
import datetime as _dt
import json
import math
import os
import tempfile

import numpy as np

from corecue.interp import firmware_module
from corecue.link.oserrors import sentence

FORMATS = ("csv", "json")
JSON_FORMAT = "corecue.sessions"
JSON_VERSION = 1

# Code -> (name, sensor), as in hardware/placement.py PLACEMENTS (tests keep them in step): a
# copy, because the installed companion does not ship hardware/ and the code's meaning must travel
# with every export (hardware/electrodes.md says why placement changes what "20 %" means).
PLACEMENTS = {
    0: ("not recorded", "-"), 1: ("IO/TrA right", "EMG"), 2: ("IO/TrA left", "EMG"),
    3: ("external oblique right", "EMG"), 4: ("external oblique left", "EMG"),
    5: ("rectus abdominis right", "EMG"), 6: ("rectus abdominis left", "EMG"),
    64: ("stretch cord, navel line", "stretch"), 65: ("stretch cord, hip-bone line", "stretch"),
    255: ("other", "any"),
}

CSV_COLUMNS = ("session", "device", "belt_session", "frame", "time_utc", "t_s", "effort_pct",
               "quality", "quality_flags", "state", "in_band", "cue", "mode", "placement",
               "placement_name", "cal_rest", "cal_mvc", "band_low_pct", "band_target_pct",
               "band_high_pct")


class ExportError(Exception):
    """One line for the user: what could not be exported, and why."""


def _names():
    """Event kinds, states, marks and quality bits named from the firmware's own constants."""
    from corecue.history import sessiondata as sdm
    marks = {v: k.lower() for k, v in vars(firmware_module("belt.runflow").Mark).items()
             if k.isupper()}
    effort = firmware_module("belt.effort")
    flags = [(getattr(effort, "Q_" + n.upper()), n)
             for n in ("contact", "saturation", "artefact", "missed")]
    return sdm.EVENT_NAMES, sdm.STATE_NAMES, marks, flags, sdm.CUE_NAMES


def placement_name(code):
    return PLACEMENTS.get(code, ("unassigned code", "?"))[0]


def iso_utc(ms):
    """Unix milliseconds as ISO 8601 UTC with millisecond precision and a Z."""
    t = _dt.datetime.fromtimestamp(ms // 1000, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def _start_ms(meta, sd):
    # The store's start time is the companion's best knowledge (it may have been rebuilt from the
    # belt's time anchors); the file header's own is the fallback.
    s = getattr(meta, "start_utc", None)
    if s is None:
        s = sd.start_utc
    return None if s is None else int(round(s * 1000))


def _frame_ms(sd):
    """Milliseconds from the session start to each frame, as integers (no float drift)."""
    return np.rint(np.asarray(sd.times_s(), dtype=np.float64) * 1000).astype(np.int64)


def _pct(v):
    return "" if math.isnan(v) else "%g" % round(float(v), 2)


def _ids(meta, sd):
    belt = getattr(meta, "belt_sid", None)
    return (getattr(meta, "id", None), getattr(meta, "device", None) or sd.device,
            sd.session_id if belt is None else belt)


def exported_effort(sd):
    """Effort per frame as exported: NaN (empty, null) where the belt had no value or the frame
    has a quality flag. A flagged frame's stored number is not a measurement of the brace (a
    lost electrode reads 0 %), so no export gives it as one."""
    return np.where(sd.quality != 0, np.nan, sd.effort.astype(np.float64))


def _band_class(sd, effort):
    """under / in / over the prescribed band per frame, "" where there is no effort: the
    summary's own rule (analytics.zones, whole 0.1 %MVC as the belt compares)."""
    from corecue.history import analytics as a
    names = {a.Z_NONE: "", a.Z_IN: "in", a.Z_UNDER: "under", a.Z_OVER: "over"}
    return [names[z] for z in a.zones(effort, sd.band_pm).tolist()]


def _csv(items, f):
    _kinds, states, _marks, flags, cues = _names()
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for meta, sd in items:
        local, device, belt = _ids(meta, sd)
        start = _start_ms(meta, sd)
        ms = _frame_ms(sd)
        meta_cols = (sd.mode, sd.placement, placement_name(sd.placement), sd.calibration[0],
                     sd.calibration[1]) + tuple("%g" % b for b in sd.band)
        cue_at = {}
        for i, kind, _arg in sd.events:
            if kind in cues:
                # a cue after frame i-1 and before frame i is shown on frame i (the last frame
                # when it came after every frame)
                j = min(i, len(ms) - 1)
                cue_at[j] = cue_at.get(j, "") + (";" if j in cue_at else "") + cues[kind]
        clean = exported_effort(sd)
        where = _band_class(sd, clean)
        effort = [_pct(v) for v in clean.tolist()]
        qnames = {q: "+".join(n for bit, n in flags if q & bit) for q in range(16)}
        for i, (t, q, st) in enumerate(zip(ms.tolist(), sd.quality.tolist(), sd.state.tolist())):
            w.writerow((local if local is not None else "", device, belt, i,
                        "" if start is None else iso_utc(start + t), "%.3f" % (t / 1000),
                        effort[i], q, qnames[q], states.get(st, str(st)), where[i],
                        cue_at.get(i, "")) + meta_cols)


def _clean(v):
    """JSON-safe: NaN and infinities become null, numpy scalars and tuples plain Python."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def session_object(meta, sd, summary=None):
    """The JSON object for one session (docs/export-format.md)."""
    from corecue.history import analytics
    from corecue.history import sessiondata as sdm
    _fmt = firmware_module("belt.sessionformat")
    kinds, states, marks, _flags, cues = _names()
    local, device, belt = _ids(meta, sd)
    start = _start_ms(meta, sd)
    ms = _frame_ms(sd)
    summary = summary or analytics.summarize(sd)
    code = sd.placement
    name, sensor = PLACEMENTS.get(code, ("unassigned code", "?"))
    events = []
    for i, kind, arg in sd.events:
        t = i * sd.frame_ms
        ev = {"frame": i, "t_s": t / 1000,
              "time_utc": None if start is None else iso_utc(start + t),
              "kind": kinds.get(kind, "kind_%d" % kind), "arg": arg}
        if kinds.get(kind) == "state":
            ev["state"] = states.get(arg)
        elif kinds.get(kind) == "mark":
            ev["mark"] = marks.get(arg)
        elif kind in cues:
            ev["level"] = arg
        elif kinds.get(kind) == "battery":
            code, ev["battery_mv"] = _fmt.battery_of_arg(arg)
            ev["battery"] = sdm.battery_word(code)
        events.append(ev)
    effort = [None if math.isnan(v) else round(v, 2) for v in exported_effort(sd).tolist()]
    return _clean({
        "session": local, "device": device, "belt_session": belt, "status": sd.status,
        "start_utc": None if start is None else iso_utc(start),
        "start_unix": None if start is None else start / 1000,
        "duration_s": sd.duration_s, "frame_ms": sd.frame_ms, "frame_count": len(ms),
        "mode": sd.mode,
        "calibration": {"rest": sd.calibration[0], "mvc": sd.calibration[1]},
        "placement": {"code": code, "name": name, "sensor": sensor},
        "band_pct": dict(zip(("low", "target", "high"), (float(b) for b in sd.band))),
        "summary": summary.as_dict(),
        "events": events,
        "signal": {"frame": sd.signal_frame.tolist(),
                   "t_s": (sd.signal_frame * (sd.frame_ms / 1000)).tolist(),
                   "fatigue_index": [None if math.isnan(v) else v for v in sd.fatigue.tolist()],
                   "cadence_spm": [None if math.isnan(v) else v for v in sd.cadence.tolist()]},
        "frames": {"t_s": (ms / 1000).tolist(), "effort_pct": effort,
                   "quality": sd.quality.astype(int).tolist(),
                   "state": [states.get(s, str(s)) for s in sd.state.astype(int).tolist()]},
    })


def _json(items, f):
    doc = {"format": JSON_FORMAT, "version": JSON_VERSION,
           "sessions": [session_object(meta, sd) for meta, sd in items]}
    json.dump(doc, f, allow_nan=False, separators=(",", ":"))
    f.write("\n")


def write_atomic(path, write, binary=False, error=None):
    """Call write(f) on a temporary file beside `path`, then rename it to `path`: readers see
    the old file or the whole new one, and a failure (full disk, bad data) leaves no partial
    file. OSError becomes `error` (an exception class) with a one-line message."""
    error = error or ExportError
    path = os.fspath(path)
    if os.path.isdir(path):
        raise error("%s is a folder: give a file name" % path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                   dir=os.path.dirname(os.path.abspath(path)))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)    # mkstemp makes it private; an export is a normal file
        with (os.fdopen(fd, "wb") if binary else
              os.fdopen(fd, "w", encoding="utf-8", newline="")) as f:
            write(f)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise error(sentence(e, path, "write")) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return path


def export_sessions(items, fmt, out):
    """Write `items` ([(meta, SessionData)]) as `fmt` to `out`, a path (written atomically) or a
    text stream. Returns the path, or None for a stream."""
    if fmt not in FORMATS:
        raise ExportError("unknown export format %r: use %s" % (fmt, " or ".join(FORMATS)))
    items = list(items)
    if not items:
        raise ExportError("no sessions to export: run `corecue sync` after a run")
    write = _csv if fmt == "csv" else _json
    if hasattr(out, "write"):
        write(items, out)
        return None
    return write_atomic(out, lambda f: write(items, f))
