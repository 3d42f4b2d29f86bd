"""Pictures of runs: one session (effort against the band, cues, bad signal, the fade) and the
trend over many. Each is a PNG and a self-contained HTML page (the PNG inlined as a data URI, so
the page can be mailed or moved alone). Dates are shown in UTC, so a report reads the same
wherever it is made.

    session_report(sd, summary, out_dir, name=None) -> (png_path, html_path)
    trend_report([(start_utc, Summary)], out_dir)    -> (png_path, html_path)

Names are fixed (session-<device>-<belt id>, trend), files are written whole or not at all, and a
folder that cannot be written is a one-line ReportError.
"""
import base64
import datetime as _dt
import html
import io
import os
import re

import numpy as np

from corecue.history import analytics
from corecue.views.export import placement_name, write_atomic
from corecue.history.sessiondata import State

RUN = State.RUN
_STATES = {State.IDLE: "idle", State.WARMUP: "warm-up", State.PRIME: "prime", RUN: "run",
           State.COOLDOWN: "lie-down", State.DONE: "done"}
_BAND, _TARGET, _RUNC, _OTHER = "#7dcea0", "#1e8449", "#1f4e79", "#9fb6cd"
_CUE_STYLE = {              # name (sessiondata.CUE_NAMES): marker, colour, legend label
    "under": ("^", "#d35400", "cue: brace more"),
    "over": ("v", "#8e44ad", "cue: ease off"),
    "check_sensor": ("X", "#c0392b", "cue: check sensor"),
    "back": ("o", "#27ae60", "cue: back in band"),
}


class ReportError(Exception):
    """One line for the user: why no report was made."""


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _date(start_utc, fmt="%Y-%m-%d %H:%M"):
    if start_utc is None:
        return "date unknown"
    return _dt.datetime.fromtimestamp(start_utc, _dt.timezone.utc).strftime(fmt) + " UTC"


def _spans(mask, t, step):
    """(start, width) of every run of True in mask, in the units of t (frames are step long)."""
    m = np.concatenate(([False], np.asarray(mask, bool), [False])).astype(np.int8)
    d = np.diff(m)
    return [(t[a], (b - a) * step) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def session_minute(sd, run, run_min):
    """Minutes from the session's start to minute `run_min` of the run (the run's own clock,
    as fade onset counts it: only frames in `run`), or None past the run's end."""
    idx = np.flatnonzero(run)
    k = int(round(run_min * 60000.0 / sd.frame_ms))
    return idx[k] * sd.frame_ms / 60000.0 if k < len(idx) else None


def _prepare(out_dir, stem):
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "report"
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise ReportError("cannot write reports to %s: %s" % (out_dir, e.strerror or e)) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ReportError("cannot write reports to %s: permission denied" % out_dir)
    return os.path.join(out_dir, stem + ".png"), os.path.join(out_dir, stem + ".html")


def _save(fig, png, page_html_from_png, html_path):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    _plt().close(fig)
    data = buf.getvalue()
    page = page_html_from_png(base64.b64encode(data).decode("ascii"))
    write_atomic(png, lambda f: f.write(data), binary=True, error=ReportError)
    write_atomic(html_path, lambda f: f.write(page), error=ReportError)
    return png, html_path


def _page(title, b64, rows, extra=""):
    esc = html.escape
    trs = "\n".join("<tr><th>%s</th><td>%s</td></tr>" % (esc(k), esc(v)) for k, v in rows)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<title>%s</title>\n<style>body{font-family:sans-serif;max-width:1400px;"
            "margin:1em auto}img{max-width:100%%}table{border-collapse:collapse}"
            "th,td{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}</style>"
            "</head><body>\n<h1>%s</h1>\n"
            "<img src=\"data:image/png;base64,%s\" alt=\"%s\">\n<table>\n%s\n</table>\n%s"
            "</body></html>\n" % (esc(title), esc(title), b64, esc(title), trs, extra))


def _minutes(s):
    return "-" if s is None else "%.1f min" % (s / 60.0)


def _pct_text(pct):
    return "nothing judged" if pct is None else "%.0f %% of the run in band" % pct


def _cue_text(cues):
    return ", ".join("%d %s" % (n, k.replace("_", " ")) for k, n in cues.items() if n) or "none"


def session_report(sd, summary, out_dir, name=None):
    """The run as a picture and a page; returns (png_path, html_path)."""
    stem = name or ("session-%s-%d" % (sd.device, sd.session_id) if sd.device
                    else "session-%d" % sd.session_id)
    png, page = _prepare(out_dir, stem)
    plt = _plt()
    t = sd.times_s() / 60.0
    step = sd.frame_ms / 60000.0
    effort = sd.effort.astype(float)
    run = analytics.run_mask(sd)
    low, target, high = sd.band
    fig, ax = plt.subplots(figsize=(13, 5.5))
    ax.axhspan(low, high, color=_BAND, alpha=0.35, lw=0, label="band %g-%g %%" % (low, high))
    ax.axhline(target, color=_TARGET, ls="--", lw=1, label="target %g %%" % target)
    bad = (sd.quality != 0) | np.isnan(effort)
    if bad.any():
        # drawn at least 1/300 of the plot wide: a 4 s gap in an hour must still be seen
        least = (len(t) * step) / 300.0
        spans = [(a - max(least - w, 0) / 2, max(w, least)) for a, w in _spans(bad, t, step)]
        ax.broken_barh(spans, (0, 1), transform=ax.get_xaxis_transform(),
                       color="0.6", alpha=0.45, lw=0, label="bad signal / no value")
    ax.plot(t, np.where(run, np.nan, effort), color=_OTHER, lw=0.8,
            label="warm-up, prime, lie-down")
    ax.plot(t, np.where(run, effort, np.nan), color=_RUNC, lw=0.8, label="run")
    if sd.has_states:
        # the run flow's parts, named at the top, with a dotted line where one ends
        starts = np.concatenate(([0], np.flatnonzero(np.diff(sd.state)) + 1))
        ends = np.concatenate((starts[1:], [len(t)]))
        for a, b in zip(starts, ends):
            if a:
                ax.axvline(t[a], color="0.5", ls=":", lw=0.8)
            if (b - a) > 0.04 * len(t):
                ax.text((t[a] + t[b - 1] + step) / 2, 0.98, _STATES.get(int(sd.state[a]), "?"),
                        transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=9,
                        color=_RUNC if sd.state[a] == RUN else "0.4")
    top = max(high * 1.8, np.nanmax(effort) + 3 if (~np.isnan(effort)).any() else 0)
    cues = sd.cues()
    for kind, (marker, colour, label) in _CUE_STYLE.items():
        ct = np.array([c[0] for c in cues if c[1] == kind], float)
        if not len(ct):
            continue
        j = np.minimum((ct * 1000 / sd.frame_ms).astype(int), len(t) - 1)
        y = effort[j] if kind != "check_sensor" else np.full(len(j), top * 0.93)
        y = np.where(np.isnan(y), low if kind == "under" else high, y)
        ax.scatter(ct / 60.0, y, marker=marker, s=46, color=colour, edgecolor="white",
                   lw=0.5, zorder=5, label="%s (%d)" % (label, len(ct)))
    fade = summary.fade_onset_min
    x = None if fade is None else session_minute(sd, run, fade)
    if x is not None:
        ax.axvline(x, color="#b03a2e", lw=1.5)
        ax.text(x, top * 0.86, " fade onset\n %g min into the run" % fade, color="#b03a2e",
                fontsize=9, va="top")
    ax.set_xlim(0, max(t[-1] + step if len(t) else 1, 1e-3))
    ax.set_ylim(0, top)
    ax.set_xlabel("minutes from the start of the session")
    ax.set_ylabel("bracing effort (% of your maximal brace)")
    ax.grid(alpha=0.25)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5, frameon=False)
    title = "Session %d, %s" % (sd.session_id, _date(sd.start_utc))
    ncue = sum(summary.cues.values())
    ax.set_title("%s: %s, %d cues (%s)" % (title, _pct_text(summary.pct_in_band), ncue,
                                           _cue_text(summary.cues)), fontsize=11)
    fig.tight_layout()
    cal = sd.calibration
    rows = [
        ("start", _date(sd.start_utc)), ("device", sd.device or "-"),
        ("belt session", str(sd.session_id)), ("file", sd.status),
        ("duration", _minutes(summary.duration_s)), ("run", _minutes(summary.run_s)),
        ("judged (run, good signal)", _minutes(summary.judged_s)),
        ("in band", "%s (%s)" % (_minutes(summary.in_band_s), "-" if summary.pct_in_band is None
                                 else "%.1f %% of judged" % summary.pct_in_band)),
        ("under the band", _minutes(summary.under_s)), ("over the band", _minutes(summary.over_s)),
        ("bad signal", _minutes(summary.flagged_s)),
        ("longest in band", _minutes(summary.longest_in_band_s)),
        ("mean effort", "-" if summary.mean_effort is None else "%.1f %%MVC" % summary.mean_effort),
        ("fade onset", "none" if fade is None else "%g min into the run" % fade),
        ("cues", _cue_text(summary.cues)),
        ("band", "%g / %g / %g %%MVC (low / target / high)" % (low, target, high)),
        ("sensor mode", sd.mode), ("calibration", "rest %d, MVC %d (sensor units)" % cal),
        ("electrode placement", "%d: %s" % (sd.placement, placement_name(sd.placement))),
    ]
    return _save(fig, png, lambda b64: _page(title, b64, rows), page)


def _line(x, y, slope):
    """The least-squares line with the given slope through the points where y is a number."""
    ok = ~np.isnan(y)
    return np.mean(y[ok]) + slope * (x - np.mean(x[ok]))


def trend_report(rows, out_dir):
    """Time in band and endurance per run, oldest first, with their trend lines (analytics.trend:
    runs without run time are left out)."""
    from dataclasses import replace
    rows = list(rows)
    if not rows:
        raise ReportError("no sessions to show a trend of")
    tr = analytics.trend([replace(s, start_utc=t) for t, s in rows])
    pts = tr.points
    if not pts:
        raise ReportError("no run time in the %d session(s) given: no trend to show" % len(rows))
    png, page = _prepare(out_dir, "trend")
    plt = _plt()
    x = np.arange(1, len(pts) + 1, dtype=float)
    pct = np.array([np.nan if p.pct_in_band is None else p.pct_in_band for p in pts], float)
    endur = np.array([p.endurance_min for p in pts], float)
    faded = np.array([p.faded for p in pts], bool)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    a1.plot(x, pct, "o", color=_RUNC, label="time in band")
    if faded.any():
        a2.plot(x[faded], endur[faded], "o", color="#b03a2e", label="brace faded after")
    if not faded.all():
        a2.plot(x[~faded], endur[~faded], "o", mfc="white", color=_TARGET,
                label="held to the end of the run")
    slopes = []
    for ax, y, k, unit, what in ((a1, pct, tr.in_band_per_run, "points", "time in band"),
                                 (a2, endur, tr.endurance_per_run, "min", "endurance")):
        if k is not None:
            slopes.append((what + " trend", "%+.2f %s per run" % (k, unit)))
            ax.plot(x, _line(x, y, k), "--", color="0.35", label="trend: " + slopes[-1][1])
        ax.grid(alpha=0.25)
        ax.legend(loc="best", fontsize=9)
    for what, k, unit in (("time in band", tr.in_band_per_week, "points"),
                          ("endurance", tr.endurance_per_week, "min")):
        if k is not None:
            slopes.append((what + " per week", "%+.2f %s per week" % (k, unit)))
    a1.set_ylabel("time in band (% of judged run time)")
    a1.set_ylim(0, 100)
    a2.set_ylabel("endurance (minutes)")
    a2.set_ylim(0, max(endur.max() * 1.15, 1))
    a2.set_xlabel("run")
    every = -(-len(pts) // 15)          # at most ~15 labels, however many runs
    a2.set_xticks(x[::every], ["%d\n%s" % (i, _date(p.start_utc, "%d %b")[:6]
                                            if p.start_utc is not None else "")
                               for i, p in zip(x.astype(int), pts)][::every], fontsize=8)
    title = "Trend over %d run%s, %s to %s" % (len(pts), "s" * (len(pts) > 1),
                                                _date(pts[0].start_utc, "%Y-%m-%d"),
                                                _date(pts[-1].start_utc, "%Y-%m-%d"))
    a1.set_title(title, fontsize=11)
    fig.tight_layout()
    table = slopes or [("trend", "one run: no trend yet")]
    esc = html.escape
    body = "".join(
        "<tr><td>%d</td><td>%s</td><td>%d</td><td>%s</td><td>%.1f min%s</td></tr>\n"
        % (i, esc(_date(p.start_utc)), p.session_id,
           "-" if p.pct_in_band is None else "%.1f %%" % p.pct_in_band, p.endurance_min,
           "" if p.faded else " (held)") for i, p in enumerate(pts, 1))
    extra = ("<h2>Runs</h2>\n<table>\n<tr><th>run</th><th>start</th><th>belt session</th>"
             "<th>in band</th><th>endurance</th></tr>\n%s</table>\n" % body)
    return _save(fig, png, lambda b64: _page(title, b64, table, extra), page)
