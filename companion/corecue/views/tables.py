"""The runner's history as text and JSON, from the store alone (no belt needed): `corecue
sessions` and `show ID`. The figures are history/analytics.py's, worded by history/figures.py;
the table reads the stored summaries, not the session bytes (an old summary is made anew)."""
import sys

from corecue.history import figures as F
from corecue.history.sessions import load, summary_of
from corecue.history.storeinput import StoreError
from corecue.views.export import iso_utc, placement_name

SESSION_COLUMNS = ("id", "start", "length", "run", "in band", "longest", "cues", "fade",
                   "left out", "belt")


def table(rows):
    """Aligned text table: a list of tuples of strings, the first the header. Columns whose
    cells start with a digit (or +/-) are right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        out.append("  ".join(c.rjust(w) if i and (c[:1].isdigit() or c[:1] in "+-") else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return "\n".join(out)


def session_cells(row, s):
    fade = "-" if s.fade_onset_min is None else f"min {s.fade_onset_min}"
    return (str(row.id), F.when(row.start_utc), F.duration(s.duration_s), F.duration(s.run_s),
            F.percent(s.pct_in_band), F.duration(s.longest_in_band_s), str(s.cues_total), fade,
            F.duration(s.excluded_s), f"{row.device[-4:].upper()}#{row.belt_sid}")


def session_rows(store, device=None):
    """[(row, Summary)] of the stored sessions, oldest first."""
    return [(r, summary_of(store, r)) for r in store.sessions(device)]


def sessions_table(store, device=None):
    """The history as rows of cells (header first), or a sentence when there is none."""
    rows = session_rows(store, device)
    if not rows:
        return "no sessions stored yet: run `corecue sync` after a run"
    return [SESSION_COLUMNS] + [session_cells(r, s) for r, s in rows]


def print_table(rows, stream=None):
    """Rows of cells as a table: drawn by rich on a terminal, plain aligned text otherwise (a
    pipe, a file, a test), so scripts read the same columns every time."""
    stream = stream or sys.stdout
    if isinstance(rows, str):
        print(rows, file=stream)
        return
    if not stream.isatty():
        print(table(rows), file=stream)
        return
    from rich.console import Console
    from rich.table import Table
    t = Table(header_style="bold", box=None, pad_edge=False)
    for i, name in enumerate(rows[0]):
        numeric = i and name not in ("start", "date") and all(
            r[i][:1].isdigit() or r[i][:1] in "+-" for r in rows[1:])
        t.add_column(name, no_wrap=True, justify="right" if numeric else "left")
    for r in rows[1:]:
        t.add_row(*r)
    # Never cut a figure short: wider than the terminal, the line wraps as plain text would.
    need = len(table(rows).splitlines()[0]) + 2 * len(rows[0])
    console = Console(file=stream)
    console.width = max(console.width, need)
    console.print(t)


def session_json(row, s):
    """One stored session for --json: its ids and start (UTC, and local as shown), and every
    figure unrounded (Summary.as_dict(), docs/analytics.md)."""
    start = None if row.start_utc is None else iso_utc(int(round(row.start_utc * 1000)))
    return {"session": row.id, "device": row.device, "belt_session": row.belt_sid,
            "start_utc": start, "start_local": F.when(row.start_utc), "figures": s.as_dict()}


def sessions_json(store, device=None):
    return {"sessions": [session_json(r, s) for r, s in session_rows(store, device)]}


def show(store, local_id):
    row, sd, s = load(store, local_id)
    low, target, high = s.band
    judged = ("nothing judged" if s.pct_in_band is None else
              f"{F.duration(s.in_band_s)} in band, {F.percent(s.pct_in_band)} of the judged run "
              f"({F.duration(s.judged_s)})")
    t = sd.trailer
    lines = [
        f"session {row.id} (belt session {row.belt_sid}), {F.when(row.start_utc)}, "
        f"belt {row.device}",
        f"  length {F.duration(s.duration_s)}, run {F.duration(s.run_s)}"
        + ("" if s.run_from_states else " (no run-flow states: the whole session counted)"),
        f"  band {low:g}-{high:g} %MVC (target {target:g}); mean effort "
        + ("-" if s.mean_effort is None else f"{s.mean_effort:.1f} %MVC"),
        f"  {judged}; under {F.duration(s.under_s)}, over {F.duration(s.over_s)}",
        f"  {F.left_out(s)}",
        f"  longest stretch in band {F.duration(s.longest_in_band_s)}; brace {F.fade(s)}",
        f"  holding: last third {F.percent(s.last_third_pct)} in band against "
        f"{F.percent(s.first_third_pct)} in the first ({F.holding(s)})",
        f"  {F.fatigue(s)}; warm-up: {F.hold_fatigue(s)}",
        f"  {F.cadence(s)}",
        f"  {F.cues(s)}",
        f"  sensor {s.mode}, electrode placement {s.placement} ({placement_name(s.placement)}), "
        f"calibration rest {s.cal_rest} / maximum {s.cal_mvc}",
        f"  file: {row.size} bytes, {sd.status}, CRC32 {row.crc:08x}",
    ]
    if sd.battery():
        lines.insert(-1, "  battery: " + _battery(sd))
    if t:
        # The belt's own trailer counts the whole file and judges flagged frames too
        # (docs/analytics.md, where the companion and the belt differ).
        counted = t["in_band"] + t["under"] + t["over"]
        belt_pct = 100.0 * t["in_band"] / counted if counted else None
        lines.append(f"  the belt's own count, over the whole file (warm-up, lie-down and bad "
                     f"signal too): "
                     f"{F.percent(belt_pct)} in band, {t['cues']} cues")
    return "\n".join(lines)


def _battery(sd):
    """The belt's battery level at the start and at each change: "ok (3.92 V) at the start;
    low (3.78 V) at 41 min"."""
    said = []
    for k, (i, word, mv) in enumerate(sd.battery()):
        when = "at the start" if k == 0 else f"at {F.duration(i * sd.frame_ms / 1000)}"
        said.append(f"{word or 'unknown'} ({mv / 1000:.2f} V) {when}")
    return "; ".join(said)


def show_json(store, local_id):
    row, _, s = load(store, local_id)
    return session_json(row, s)


def no_sessions():
    raise StoreError("no sessions stored yet: run `corecue sync` after a run")
