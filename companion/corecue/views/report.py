"""A picture of one run: effort against the band, cues, gaps where the signal was bad, the fade;
a PNG and a self-contained HTML page (the PNG inlined as a data URI, so the page can be mailed or
moved alone) with every figure in history/figures.py's words. Times are the computer's local time
with its zone. views/trendreport.py draws the trend over many runs with the same helpers.

    session_report(sd, summary, out_dir, row=None, force=False) -> (png_path, html_path)

Files are named by the history's number (session-<id>), written whole or not at all, never over
an existing one without force; a folder that cannot be written is a one-line ReportError.
"""
import base64
import html
import io
import os
import re

import numpy as np

from corecue.history import analytics
from corecue.history import figures as F
from corecue.history.sessiondata import State
from corecue.views import outputs
from corecue.views.export import placement_name, write_atomic

RUN = State.RUN
_STATES = {State.IDLE: "idle", State.WARMUP: "warm-up", State.PRIME: "prime", RUN: "run",
           State.COOLDOWN: "lie-down", State.DONE: "done"}
_BAND, _TARGET, _RUNC, _OTHER = "#7dcea0", "#1e8449", "#1f4e79", "#9fb6cd"
_FATIGUE = "#7d3c98"
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


def prepare(out_dir, stem, force=False):
    """(png path, html path) in out_dir, made if new; ReportError when either file is there
    already (without force) or the folder cannot be written."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "report"
    try:
        outputs.check_folder(out_dir, [stem + ".png", stem + ".html"], force)
        outputs.make_folder(out_dir)
    except outputs.OutputError as e:
        raise ReportError(str(e)) from None
    return os.path.join(out_dir, stem + ".png"), os.path.join(out_dir, stem + ".html")


def save(fig, png, page_html_from_png, html_path):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    _plt().close(fig)
    data = buf.getvalue()
    page = page_html_from_png(base64.b64encode(data).decode("ascii"))
    write_atomic(png, lambda f: f.write(data), binary=True, error=ReportError)
    write_atomic(html_path, lambda f: f.write(page), error=ReportError)
    return png, html_path


def page(title, b64, rows, extra=""):
    esc = html.escape
    trs = "\n".join("<tr><th>%s</th><td>%s</td></tr>" % (esc(k), esc(v)) for k, v in rows)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<title>%s</title>\n<style>body{font-family:sans-serif;max-width:1400px;"
            "margin:1em auto}img{max-width:100%%}table{border-collapse:collapse}"
            "th,td{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}</style>"
            "</head><body>\n<h1>%s</h1>\n"
            "<img src=\"data:image/png;base64,%s\" alt=\"%s\">\n<table>\n%s\n</table>\n%s"
            "</body></html>\n" % (esc(title), esc(title), b64, esc(title), trs, extra))


def drawn_effort(sd):
    """Effort as the picture draws it: NaN (a gap in the line) where a frame has a quality flag
    or no value, so bad signal is never drawn as a number."""
    effort = sd.effort.astype(float)
    return np.where(sd.quality != 0, np.nan, effort)


def session_report(sd, summary, out_dir, row=None, force=False):
    """The run as a picture and a page; returns (png_path, html_path). row: the stored
    session (its history number names the files and the title), None for a file alone."""
    local = getattr(row, "id", None)
    stem = "session-%d" % local if local is not None else (
        "session-%s-%d" % (sd.device, sd.session_id) if sd.device else "session-%d" % sd.session_id)
    png, page_path = prepare(out_dir, stem, force)
    plt = _plt()
    t = sd.times_s() / 60.0
    step = sd.frame_ms / 60000.0
    effort = drawn_effort(sd)
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
    # The fatigue index where it is the muscle's (history/fatigue.py), on its own axis: its level
    # depends on the electrode and the person; its course within the session is what tells.
    ok = analytics.fatigue.usable(sd, np.ones(sd.frames, dtype=bool))
    if ok.any():
        ax2 = ax.twinx()
        ax2.plot((sd.signal_frame[ok] + 1) * step, sd.fatigue[ok], "o", ms=3, color=_FATIGUE)
        ax2.set_ylabel("fatigue index (lower: a slower muscle signal)", color=_FATIGUE)
        ax.plot([], [], "o", ms=3, color=_FATIGUE, label="fatigue index (right axis)")
    ax.set_xlim(0, max(t[-1] + step if len(t) else 1, 1e-3))
    ax.set_ylim(0, top)
    ax.set_xlabel("minutes from the start of the session")
    ax.set_ylabel("bracing effort (% of your maximal brace)")
    ax.grid(alpha=0.25)
    ax.legend(loc="upper left", bbox_to_anchor=(1.07 if ok.any() else 1.01, 1.0), fontsize=8.5,
              frameon=False)
    start = getattr(row, "start_utc", None) or sd.start_utc
    title = ("Session %d (belt session %d), %s" % (local, sd.session_id, F.when(start))
             if local is not None else "Belt session %d, %s" % (sd.session_id, F.when(start)))
    title += ": %s, %s" % (F.in_band(summary), F.cue_count(summary))
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    cal = sd.calibration
    judged = "-" if summary.pct_in_band is None else "%s of the judged run" % F.percent(
        summary.pct_in_band)
    rows = [
        ("start", F.when(start)), ("device", sd.device or "-"),
        ("belt session", str(sd.session_id)), ("file", sd.status),
        ("length", F.duration(summary.duration_s)), ("run", F.duration(summary.run_s)),
        ("judged (run, good signal)", F.duration(summary.judged_s)),
        ("in band", "%s (%s)" % (F.duration(summary.in_band_s), judged)),
        ("under the band", F.duration(summary.under_s)),
        ("over the band", F.duration(summary.over_s)),
        ("bad signal, left out", F.duration(summary.excluded_s)),
        ("longest in band", F.duration(summary.longest_in_band_s)),
        ("mean effort", "-" if summary.mean_effort is None else "%.1f %%MVC" % summary.mean_effort),
        ("fade", F.fade(summary)),
        ("holding (last third against first)", "%s against %s in band (%s)" % (
            F.percent(summary.last_third_pct), F.percent(summary.first_third_pct),
            F.holding(summary))),
        ("fatigue index (last third against first)", F.fatigue(summary)),
        ("fatigue index in the warm-up holds", F.hold_fatigue(summary)),
        ("cadence (median over the run)", F.cadence(summary)),
        ("cues", F.cues(summary)),
        ("band", "%g / %g / %g %%MVC (low / target / high)" % (low, target, high)),
        ("sensor mode", sd.mode), ("calibration", "rest %d, MVC %d (sensor units)" % cal),
        ("electrode placement", "%d: %s" % (sd.placement, placement_name(sd.placement))),
    ]
    return save(fig, png, lambda b64: page(title, b64, rows), page_path)
