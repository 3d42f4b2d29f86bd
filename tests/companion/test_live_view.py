"""The live view (`corecue live`): one reading drawn two ways, rich's live bar on a terminal and
plain lines elsewhere, with the number, the band's edges and a marker for each cue; cues never
lost between printed lines; and the command end to end on the virtual belt."""
import io
import re
from types import SimpleNamespace as NS

import pytest
from rich.console import Console

from corecue import cli
from corecue.views import bar, live

BAND = (15.0, 30.0)
UNDER, OVER = live._coach.CUE_UNDER, live._coach.CUE_OVER
PLAIN = re.compile(r" *\d+\.\d s ( *\d+\.\d|  -  ) %MVC \[[#| ]{40}\] "
                   r"(in band|under the band|over the band|no signal)(  << .+)?$")


def frame(k, pm, quality=0):
    return NS(frame=k, effort_pm=pm, quality=quality)


def rendered(reading, width=100):
    con = Console(file=io.StringIO(), width=width, record=True, color_system="truecolor",
                  force_terminal=True)
    con.print(reading)
    return con


# -- one reading -------------------------------------------------------------------------------

def test_the_plain_line_is_worked_out_by_hand():
    # 12 % of a 50 % scale fills 9.6 -> 10 of 40 cells; the band's edges are cells 12 and 24.
    b = bar.EffortBar(1.3, 12.0, BAND, 50.0, [("BRACE MORE", 12.0)])
    assert b.plain() == ("   1.3 s  12.0 %MVC [" + "#" * 10 + "  |" + " " * 11 + "|" + " " * 15
                         + "] under the band  << BRACE MORE")
    assert bar.EffortBar(0.0, None, BAND, 50.0).plain() == \
        "   0.0 s   -   %MVC [" + " " * 12 + "|" + " " * 11 + "|" + " " * 15 + "] no signal"


def test_the_rich_bar_shows_the_number_the_band_edges_and_the_cue_marker():
    con = rendered(bar.EffortBar(2.0, 12.0, BAND, 50.0, [("BRACE MORE", 12.0)]))
    top, scale = con.export_text().splitlines()
    head = "   2.0 s   12.0 %  "
    assert top == (head + "█" * 10 + "░░┃" + "░" * 11 + "┃" + "░" * 15
                   + "  under the band  ◀ BRACE MORE")
    # Under the bar: 0 at its start, the band's edges under their marks, the scale's end, and
    # the cue's marker under the effort it fired at (cell 10).
    cells = scale[len(head):]
    assert cells.index("0") == 0 and cells.index("15") == 12 and cells.index("30") == 24
    assert cells.index("▲") == 10 and cells.rstrip().endswith("50 %MVC")


def test_on_a_narrow_terminal_the_bar_gives_way_not_the_line():
    con = rendered(bar.EffortBar(2.0, 12.0, BAND, 50.0, [("BRACE MORE", 12.0)]), width=80)
    top, scale = con.export_text().splitlines()
    assert len(top) <= 80 and top.endswith("  under the band  ◀ BRACE MORE")
    edges = [i for i, c in enumerate(top) if c == "┃"]
    assert len(edges) == 2 and scale[edges[0]:edges[0] + 2] == "15" \
        and scale[edges[1]:edges[1] + 2] == "30"


@pytest.mark.parametrize("pct, colour", [(12.0, "yellow"), (20.0, "green"), (40.0, "red")])
def test_the_bar_is_coloured_by_where_the_effort_is(pct, colour):
    html = rendered(bar.EffortBar(2.0, pct, BAND, 50.0)).export_text(styles=True)
    fill = re.search(r"\x1b\[([0-9;]*)m█", html).group(1)
    expected = Console(color_system="truecolor", force_terminal=True, file=io.StringIO())
    expected.print("█", style=colour, end="")
    assert fill == re.search(r"\x1b\[([0-9;]*)m█", expected.file.getvalue()).group(1)


# -- the printers ------------------------------------------------------------------------------

def _watch_plain(script):
    """Feed a View with plain lines: script is [(frame, effort ‰) or ("cue", kind)]."""
    out = io.StringIO()
    view = live.View(BAND, bar.LinePrinter(out))
    for step in script:
        if step[0] == "cue":
            view.cue(NS(kind=step[1]))
        else:
            view.effort(frame(*step))
    view.printer.done()
    return out.getvalue().splitlines(), view


def test_plain_lines_once_a_second_and_every_cue_once_at_once():
    script = [(k, 200) for k in range(13)] + [("cue", UNDER), ("cue", OVER)] + \
        [(k, 100) for k in range(13, 25)]
    lines, view = _watch_plain(script)
    assert all(PLAIN.match(ln) for ln in lines), lines
    times = [ln.split()[0] for ln in lines]
    # 0.0, 1.0, then the cues with the very next frame (1.3 s, not a whole second), then 2.0.
    assert times == ["0.0", "1.0", "1.3", "2.3"]
    assert lines[2].endswith("<< BRACE MORE, EASE OFF")
    assert sum("<<" in ln for ln in lines) == 1
    assert view.cues == ["BRACE MORE", "EASE OFF"] and "2 cues" in view.summary()


def test_the_live_bar_redraws_in_place_holds_a_cue_and_spares_the_terminal():
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=100, color_system=None)
    now = [0.0]
    view = live.View(BAND, bar.LiveBar(con, clock=lambda: now[0]))
    for k in range(5):                      # five frames in one real instant: drawn once
        view.effort(frame(k, 200))
    assert buf.getvalue().count(" s   20.0 %") == 1
    view.cue(NS(kind=UNDER))                # a cue is drawn at once, whatever the clock
    view.effort(frame(5, 120))
    assert "0.5 s   12.0 %" in buf.getvalue() and "◀ BRACE MORE" in buf.getvalue()
    # The cue fired at 0.4 s (after the frame of 0.4 s): it stays 2 s of the belt's time.
    for k in range(6, 30):
        now[0] += 1.0
        view.effort(frame(k, 120))
        drawn = buf.getvalue().rsplit(f"{k / 10:.1f} s", 1)[-1].split("\n")[0]
        assert drawn.startswith("   12.0 %"), drawn
        assert ("◀ BRACE MORE" in drawn) == (k <= 23), (k, drawn)
    view.printer.done()
    assert "\x1b[" in buf.getvalue()        # cursor movement: redrawn in place, not scrolled


def test_a_terminal_gets_the_live_bar_anything_else_plain_lines():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    assert isinstance(bar.printer_for(Tty()), bar.LiveBar)
    assert isinstance(bar.printer_for(io.StringIO()), bar.LinePrinter)


def test_a_step_counts_only_its_own_frames_however_fast_they_come():
    """A virtual belt at full speed sends frames faster than the step ends: those after the
    step's last frame are not counted (the summary said 0:07 for a 6 s watch)."""
    import asyncio
    seen = []

    class Belt:
        def subscribe(self, kind, fn):
            asyncio.get_running_loop().call_soon(lambda: [fn(frame(k, 200)) for k in range(50)])
            return lambda: None

    asyncio.run(live.follow(Belt(), 3, seen.append))
    assert [ev.frame for ev in seen] == list(range(31))


def test_watched_time_is_the_belts_even_when_the_link_drops_frames():
    """The live queue drops frames when the computer is slow: the time watched is the belt's,
    by its frame numbers, and a pause between two warm-up holds is not counted."""
    view = live.View(BAND, bar.LinePrinter(io.StringIO()))
    view.begin_step()
    for k in (0, 1, 5, 9, 30):              # 31 frames of the belt's, 5 of them received
        view.effort(frame(k, 200))
    view.begin_step()
    for k in (600, 610):                    # a minute later, the next hold: 11 frames
        view.effort(frame(k, 200))
    assert view.frames == 42 and view.summary().startswith("0:04 watched: ")


# -- end to end --------------------------------------------------------------------------------

def test_live_on_the_virtual_belt_prints_plain_lines_to_a_pipe(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CORECUE_DATA_DIR", str(tmp_path / "history"))
    d = str(tmp_path / "belt")
    assert cli.main(["--virtual", d, "pair"]) == 0
    assert cli.main(["config", "set", "cal_rest=100", "cal_mvc=4000", "cal_mode=emg_raw"]) == 0
    capsys.readouterr()
    assert cli.main(["live", "--seconds", "3", "--yes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("Target: brace at about 20 % of your maximum; the band is 15-30 % "
                      "(marked on the bar).")
    assert len(out) >= 5 and all(PLAIN.match(ln) for ln in out[1:-1]), out
    # At least 3 s of the belt's time (a virtual belt at full speed may skip frames past it).
    m, s = out[-1].split()[0].split(":")
    assert 3 <= 60 * int(m) + int(s) < 10 and " watched: " in out[-1], out[-1]
    assert "\x1b" not in "".join(out)
