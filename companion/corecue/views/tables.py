"""The runner's history, from the store alone (no belt needed): `corecue sessions`, `show ID`,
`report ID | --trend`, `export ID | --all`. Figures come from corecue.history.analytics
(docs/analytics.md); the table reads only the stored summaries, never the session bytes."""
from corecue.history import analytics
from corecue.history.sessions import cue_count, load, minutes, when
from corecue.history.storeinput import StoreError


def _pct(v):
    return "-" if v is None else f"{v:.0f}%"


def table(rows):
    """Aligned text table: list of tuples of strings, the first the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        out.append("  ".join(c.rjust(w) if i and (c[:1].isdigit() or c[:1] in "+-") else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return "\n".join(out)


def sessions_table(store, device=None):
    rows = store.sessions(device)
    if not rows:
        return "no sessions stored yet: run `corecue sync` after a run"
    lines = [("id", "date", "duration", "run", "in band", "cues", "fade onset", "belt")]
    for r in rows:
        s = analytics.Summary.from_dict(r.summary)
        fade = "-" if s.fade_onset_min is None else f"minute {s.fade_onset_min}"
        lines.append((str(r.id), when(r.start_utc), minutes(r.duration_s), minutes(s.run_s),
                      _pct(s.pct_in_band), str(cue_count(s)), fade,
                      f"{r.device[-4:].upper()}#{r.belt_sid}"))
    return table(lines)


def show(store, local_id, placement_name=None):
    row, sd, s = load(store, local_id)
    low, target, high = s.band
    lines = [
        f"session {row.id}: belt {row.device} session {row.belt_sid}, {when(row.start_utc)}",
        f"  length {minutes(s.duration_s)}, of which run {minutes(s.run_s)}"
        + ("" if s.run_from_states else " (no run-flow states: the whole session counted)"),
        f"  band {low:g}-{high:g} %MVC (target {target:g}); mean effort "
        + ("-" if s.mean_effort is None else f"{s.mean_effort:.1f} %MVC"),
        f"  in band {minutes(s.in_band_s)} ({_pct(s.pct_in_band)} of the judged run), under "
        f"{minutes(s.under_s)}, over {minutes(s.over_s)}; signal flagged {minutes(s.flagged_s)}",
        f"  longest stretch in band: {minutes(s.longest_in_band_s)}",
        "  brace faded from minute %d of the run" % s.fade_onset_min if s.fade_onset_min is not None
        else "  the brace held to the end of the run",
        "  cues: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in s.cues.items()),
        f"  sensor {s.mode}, electrode placement {placement_name or s.placement}, calibration "
        f"rest {s.cal_rest} / maximum {s.cal_mvc}",
        f"  file: {row.size} bytes, {sd.status}, CRC32 {row.crc:08x}",
    ]
    return "\n".join(lines)


def trend_text(store, device=None):
    rows = store.sessions(device)
    summaries = [analytics.Summary.from_dict(r.summary) for r in rows]
    if not summaries:
        raise StoreError("no sessions stored yet: run `corecue sync` after a run")
    t = analytics.trend(summaries)
    out = [f"{len(t.points)} runs"]
    if t.in_band_per_run is not None:
        out.append(f"time in band: {t.in_band_per_run:+.1f} points per run")
    if t.endurance_per_run is not None:
        out.append(f"endurance (minutes the brace holds): {t.endurance_per_run:+.1f} per run")
    return "; ".join(out)
