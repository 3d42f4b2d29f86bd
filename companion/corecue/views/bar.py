"""A one-line effort bar for the terminal, and a printer that redraws it in place on a terminal
and prints one line a second otherwise (a log, a pipe, a test)."""
import sys

WIDTH = 40


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


class LinePrinter:
    """show(t_s, text): on a terminal the line is redrawn in place; elsewhere at most one line
    per `every` seconds of t_s, so a log stays readable. done() ends the line."""

    def __init__(self, stream=None, every=1.0):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.every = every
        self._last = None

    def show(self, t_s, text):
        if self.tty:
            print("\r" + text + "\033[K", end="", file=self.stream, flush=True)
        elif self._last is None or t_s - self._last >= self.every:
            self._last = t_s
            print(text, file=self.stream, flush=True)

    def done(self):
        if self.tty:
            print(file=self.stream, flush=True)
        self._last = None


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
