"""The effort bar, drawn two ways from one reading (EffortBar): on a terminal by rich (LiveBar: a
coloured bar with the band's edges and their numbers under it, the number, and a marker where
each cue fired, redrawn in place), elsewhere (a log, a pipe, a test) as plain lines, at most one
a second and one for each cue (LinePrinter). Also the plain ASCII bar the guided calibration
draws, and the download progress bar (rich's Progress)."""
import sys
import time

WIDTH = 40
CUE_HOLD_S = 2.0            # a cue stays on the live bar this long (the belt's seconds)
REFRESH_S = 0.05            # the live bar is redrawn at most this often (real seconds)


def bar(value, scale, band=None, width=WIDTH):
    """'[#########|####      |     ]': value of scale filled; band (low, high) in the same units
    drawn as '|' marks at its edges."""
    fill = 0 if scale <= 0 or value is None else max(0, min(width, round(width * value / scale)))
    cells = ["#"] * fill + [" "] * (width - fill)
    if band:
        for edge in band:
            i = round(width * edge / scale) if scale > 0 else -1
            if 0 <= i < width:
                cells[i] = "|"
    return "[" + "".join(cells) + "]"


def zone(effort, band):
    if effort is None:
        return "no signal"
    low, high = band
    return "under the band" if effort < low else "over the band" if effort > high else "in band"


class EffortBar:
    """One reading of the live view: t_s (the belt's seconds since watching began), pct (effort,
    % of the maximum; None for bad signal), the band (low, high), the bar's scale, and the cues
    to mark: [(word, effort when it fired or None)]. plain() is the line for a log; rich draws
    the same reading as a coloured bar with the band's numbers under it, narrowed to fit the
    terminal (__rich_console__)."""

    def __init__(self, t_s, pct, band, scale, cues=(), width=WIDTH):
        self.t_s, self.pct, self.band, self.scale = t_s, pct, band, scale
        self.cues = list(cues)
        self.width = width

    def number(self):
        return "  -  " if self.pct is None else f"{self.pct:5.1f}"

    def plain(self):
        words = ", ".join(w for w, _ in self.cues)
        return (f"{self.t_s:6.1f} s {self.number()} %MVC {bar(self.pct, self.scale, self.band)} "
                f"{zone(self.pct, self.band)}{'  << ' + words if words else ''}")

    def _cell(self, value, width):
        """The bar's cell for a value in %MVC, or None off the bar."""
        if self.scale <= 0 or value is None:
            return None
        i = round(width * value / self.scale)
        return i if 0 <= i < width else None

    def __rich_console__(self, console, options):
        head = f"{self.t_s:6.1f} s  {self.number()} %  "
        # Room for the zone and a cue beside the bar ("  under the band  ◀ CHECK SENSOR"): on a
        # narrow terminal the bar gives way rather than the line wrapping on every redraw.
        room = options.max_width - len(head) - 32 - 18 * max(0, len(self.cues) - 1)
        yield from self.render(head, max(16, min(self.width, room)))

    def render(self, head, width):
        from rich.text import Text
        colour = _ZONE_STYLE[zone(self.pct, self.band)]
        fill = 0 if self.pct is None or self.scale <= 0 else max(
            0, min(width, round(width * self.pct / self.scale)))
        edges = {self._cell(e, width) for e in self.band} - {None}
        top = Text(head)
        for i in range(width):
            if i in edges:
                top.append("┃", style="bold white")
            elif i < fill:
                top.append("█", style=colour)
            else:
                top.append("░", style="grey37")
        top.append(f"  {zone(self.pct, self.band)}", style=colour)
        for word, _ in self.cues:
            top.append(f"  ◀ {word}", style="bold reverse " + _CUE_STYLE.get(word, "white"))
        # Under the bar: the band's edges and the scale in numbers, and a marker at the effort
        # each cue fired at.
        under = [" "] * (width + 8)
        free = 0                            # labels left to right, a space between (a narrow
        for value in (0, *self.band, self.scale):       # bar drops one rather than merge two)
            label = f"{value:g}"
            i = 0 if value == 0 else self._cell(value, width)
            if i is None and value == self.scale:
                i = width - len(label)
            if i is not None and i >= free:
                under[i:i + len(label)] = label
                free = i + len(label) + 1
        for _, at in self.cues:
            i = self._cell(at, width)
            if i is not None:
                under[i] = "▲"
        scale_line = Text(" " * len(head) + "".join(under).rstrip() + " %MVC", style="dim")
        for _, at in self.cues:
            i = self._cell(at, width)
            if i is not None:
                scale_line.stylize("bold yellow", len(head) + i, len(head) + i + 1)
        return [top, scale_line]


_ZONE_STYLE = {"in band": "green", "under the band": "yellow", "over the band": "red",
               "no signal": "grey50"}
_CUE_STYLE = {"BRACE MORE": "yellow", "EASE OFF": "red", "back in band": "green",
              "CHECK SENSOR": "magenta"}


class LinePrinter:
    """show(t_s, line[, urgent]): on a terminal the line is redrawn in place; elsewhere at most
    one line per `every` seconds of t_s, so a log stays readable, and at once when urgent (a cue
    to report). line: text, or an EffortBar (its plain line). Returns whether the line was
    printed. done() ends the line."""
    holds_cues = False      # a cue is printed once, with the first line after it

    def __init__(self, stream=None, every=1.0):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.every = every
        self._last = None

    def show(self, t_s, line, urgent=False):
        text = line.plain() if hasattr(line, "plain") else line
        if self.tty:
            print("\r" + text + "\033[K", end="", file=self.stream, flush=True)
            return True
        # (less a hair: 2.3 - 1.3 is 0.99999... in binary fractions)
        if urgent or self._last is None or t_s - self._last >= self.every - 1e-9:
            self._last = t_s
            print(text, file=self.stream, flush=True)
            return True
        return False

    def done(self):
        if self.tty:
            print(file=self.stream, flush=True)
        self._last = None


class LiveBar:
    """The live view on a terminal: rich's Live redraws the latest EffortBar in place, at most
    every REFRESH_S real seconds (a virtual belt can send frames far faster than a terminal
    wants them) and at once for a cue. clock: real seconds (injected by tests)."""
    holds_cues = True       # a cue stays on the bar for CUE_HOLD_S

    def __init__(self, console=None, clock=time.monotonic):
        from rich.console import Console
        self.console = console or Console()
        self.clock = clock
        self._live = None
        self._drawn = None

    def show(self, t_s, reading, urgent=False):
        from rich.live import Live
        if self._live is None:
            self._live = Live(console=self.console, auto_refresh=False, transient=False)
            self._live.start()
        now = self.clock()
        due = urgent or self._drawn is None or now - self._drawn >= REFRESH_S
        self._live.update(reading, refresh=due)
        if due:
            self._drawn = now
        return True

    def done(self):
        if self._live is not None:
            self._live.refresh()            # the last reading stays on the screen
            self._live.stop()
        self._live = self._drawn = None


def printer_for(stream=None):
    """The live view's printer: rich's live bar on a terminal, plain lines otherwise."""
    stream = stream or sys.stdout
    if stream.isatty():
        from rich.console import Console
        return LiveBar(Console(file=stream))
    return LinePrinter(stream)


def progress_bar(stream=None):
    """A progress(sid, got, size) that draws rich's progress bar on a terminal (bytes, speed,
    time left), nothing otherwise; it ends itself when a download is whole."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn)
    bars = {}

    def show(sid, got, size):
        if sid not in bars:
            p = Progress(TextColumn(f"session {sid}"), BarColumn(), DownloadColumn(),
                         TimeRemainingColumn(), console=Console(file=stream), transient=False)
            p.start()
            bars[sid] = (p, p.add_task("download", total=size or 1))
        p, task = bars[sid]
        p.update(task, completed=got, total=size or 1)
        if got >= size:
            p.stop()
    return show
