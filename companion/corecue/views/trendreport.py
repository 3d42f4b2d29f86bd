"""The trend over many runs as a picture and a page: time in band and the brace holding (the
last third of each run against its first, history/trend.py) per run, with the direction drawn
and said only when there are enough runs over enough days; otherwise the page says what is
still missing.

    trend_report(trend, out_dir, force=False) -> (png_path, html_path)
"""
import html

import numpy as np

from corecue.history import figures as F
from corecue.history.trend import trend_text
from corecue.views.report import ReportError, _plt, page, prepare, save

_RUNC, _HOLD, _LINE, _FATIGUE = "#1f4e79", "#b03a2e", "0.35", "#7d3c98"


def _line(x, y, slope):
    """The least-squares line with the given slope through the points where y is a number."""
    ok = ~np.isnan(y)
    return np.mean(y[ok]) + slope * (x - np.mean(x[ok]))


def trend_report(tr, out_dir, force=False):
    pts = tr.points
    if not pts:
        raise ReportError("no run with judged time in the history: no trend to show")
    png, page_path = prepare(out_dir, "trend", force)
    plt = _plt()
    x = np.arange(1, len(pts) + 1, dtype=float)
    pct = np.array([np.nan if p.pct_in_band is None else p.pct_in_band for p in pts], float)
    hold = np.array([np.nan if p.holding is None else p.holding for p in pts], float)
    fat = np.array([np.nan if p.fatigue_change is None else p.fatigue_change for p in pts], float)
    fig, (a1, a2, a3) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    a1.plot(x, pct, "o", color=_RUNC, label="time in band")
    a2.plot(x, hold, "o", color=_HOLD, label="holding: last third against first")
    a3.plot(x, fat, "o", color=_FATIGUE, label="fatigue index: last third against first")
    for ax in (a2, a3):
        ax.axhline(0, color="0.6", lw=0.8)
    for ax, y, k, unit in ((a1, pct, tr.in_band_per_run, "points"),
                           (a2, hold, tr.holding_per_run, "points"),
                           (a3, fat, tr.fatigue_per_run, "%")):
        if k is not None:
            ax.plot(x, _line(x, y, k), "--", color=_LINE,
                    label="trend: %+.1f %s per run" % (k, unit))
        ax.grid(alpha=0.25)
        ax.legend(loc="best", fontsize=9)
    a1.set_ylabel("time in band (% of the judged run)")
    a1.set_ylim(0, 100)
    a2.set_ylabel("holding (points of time in band)")
    a2.set_ylim(-100, 100)
    a3.set_ylabel("fatigue index change (%)")
    a3.set_xlabel("run")
    every = -(-len(pts) // 15)          # at most ~15 labels, however many runs
    a3.set_xticks(x[::every], ["%d\n%s" % (i, F.date(p.start_utc)[5:])
                               for i, p in zip(x.astype(int), pts)][::every], fontsize=8)
    title = "Trend over %d run%s, %s to %s" % (len(pts), "s" * (len(pts) > 1),
                                                F.date(pts[0].start_utc),
                                                F.date(pts[-1].start_utc))
    a1.set_title(title + ("" if tr.not_enough is None else ": " + tr.not_enough), fontsize=10)
    fig.tight_layout()
    table = [("trend", trend_text(tr))]
    esc = html.escape
    body = "".join(
        "<tr><td>%d</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td></tr>\n"
        % (i, esc(F.when(p.start_utc)), p.session_id, esc(F.percent(p.pct_in_band)),
           "-" if p.holding is None else "%+.0f points" % p.holding,
           "-" if p.fatigue_change is None else "%+.0f %%" % p.fatigue_change)
        for i, p in enumerate(pts, 1))
    extra = ("<h2>Runs</h2>\n<table>\n<tr><th>run</th><th>start</th><th>belt session</th>"
             "<th>in band</th><th>holding</th><th>fatigue index</th></tr>\n%s</table>\n" % body)
    return save(fig, png, lambda b64: page(title, b64, table, extra), page_path)
