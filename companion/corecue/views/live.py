"""`corecue live`: the belt's effort as it happens, for practising the 20 % brace at home.

It shows effort as % of your maximum, a bar with the band's edges marked, where you are (under,
in, over the band) and the belt's cues as they fire: on a terminal as rich's live bar, redrawn in
place, otherwise as plain lines (views/bar.py). `--warmup` walks through the
physio's pre-run holds as the belt has them (its `holds` setting: side plank each side, bird dog,
30 s each by default) with a timer for each.
"""
import asyncio

from corecue.interp import firmware_module
from corecue.link.client import BeltError, BeltTimeout
from corecue.views.bar import CUE_HOLD_S, EffortBar, LinePrinter, printer_for  # noqa: F401
from corecue.views.prompt import prompt

_Mark = firmware_module("belt.runflow").Mark
# The belt's warm-up holds are its `holds` setting (mark code, ms); these are their names.
HOLD_NAMES = {_Mark.SIDE_PLANK_LEFT: "Side plank, left side down",
              _Mark.SIDE_PLANK_RIGHT: "Side plank, right side down",
              _Mark.BIRD_DOG: "Bird dog: opposite arm and leg out, then change sides"}
SCALE = 50.0                # the bar spans 0..50 %MVC: the band sits in its middle
_coach = firmware_module("belt.coach")
_CUE_WORDS = {_coach.CUE_UNDER: "BRACE MORE", _coach.CUE_OVER: "EASE OFF",
              _coach.CUE_BACK: "back in band", _coach.CUE_CHECK_SENSOR: "CHECK SENSOR"}


class View:
    """Turns effort and cue events into lines; counts what it showed (for the summary)."""

    def __init__(self, band, printer=None):
        self.band = band
        self.printer = printer or printer_for()
        self.frames = 0
        self.in_band = 0
        self.judged = 0
        self.cues = []
        self._t0 = None
        self._prev = None       # the step's last frame number: frames watched are counted by
        self._t = 0.0           # the belt's numbers, which go on when the link drops one
        self._pct = None
        self._marks = []        # [[word, effort when it fired, belt seconds, shown yet]]

    def effort(self, ev):
        if self._t0 is None:
            self._t0 = ev.frame
        t = (ev.frame - self._t0) / 10
        self.frames += 1 if self._prev is None else (ev.frame - self._prev) & 0xFFFFFFFF
        self._prev = ev.frame
        pct = ev.effort_pm / 10 if ev.effort_pm >= 0 and not ev.quality else None
        if pct is not None:
            self.judged += 1
            self.in_band += self.band[0] <= pct <= self.band[1]
        self._t, self._pct = t, pct
        # A cue is shown until printed (plain lines: once, on the next line, printed at once),
        # or for CUE_HOLD_S of the belt's time on the live bar.
        hold = getattr(self.printer, "holds_cues", False)
        self._marks = [m for m in self._marks
                       if not m[3] or (hold and t - m[2] < CUE_HOLD_S)]
        fresh = any(not m[3] for m in self._marks)
        shown = self.printer.show(t, EffortBar(t, pct, self.band, SCALE,
                                               [(m[0], m[1]) for m in self._marks]),
                                  urgent=fresh)
        if shown:
            for m in self._marks:
                m[3] = True

    def begin_step(self):
        """A new stretch of watching (a warm-up hold after a pause): the time between is not
        counted as watched."""
        self._prev = None

    def cue(self, ev):
        word = _CUE_WORDS.get(ev.kind, f"cue {ev.kind}")
        self.cues.append(word)
        self._marks.append([word, self._pct, self._t, False])

    def summary(self):
        from corecue.history import figures
        share = (f"{figures.percent(100 * self.in_band / self.judged)} of the time in band"
                 if self.judged else "no effort measured (is the sensor on?)")
        n = len(self.cues)
        return (f"{figures.duration(self.frames / 10)} watched: {share}; "
                f"{n} cue{'s' if n != 1 else ''}")


STALL_S = 5.0               # real seconds without a frame: the belt has stopped sending


async def follow(belt, seconds, on_effort, stall_s=STALL_S):
    """Let `seconds` of the belt's own time pass, counted by the frame numbers of its 10 Hz
    effort events (live must be on), calling on_effort(event) for each. The belt's clock, not
    the computer's, paces a guided step, on any transport and at any speed of a virtual belt.
    BeltTimeout when no frame comes for stall_s real seconds."""
    loop = asyncio.get_running_loop()
    first = [None]
    last = [loop.time()]
    done = asyncio.Event()
    need = int(round(seconds * 10))

    def on_event(ev):
        last[0] = loop.time()
        if done.is_set():               # frames still arriving before unsubscribe are not
            return                      # part of the step (a fast virtual belt sends many)
        if first[0] is None:
            first[0] = ev.frame
        on_effort(ev)
        if (ev.frame - first[0]) & 0xFFFFFFFF >= need:
            done.set()
    unsubscribe = belt.subscribe("effort", on_event)
    try:
        while not done.is_set():
            try:
                async with asyncio.timeout(stall_s / 4):   # not wait_for: Ctrl-C must get through
                    await done.wait()
            except TimeoutError:
                if loop.time() - last[0] >= stall_s:
                    raise BeltTimeout(f"the belt sent no signal for {stall_s:g} s (is the link "
                                      "gone?)") from None
    finally:
        unsubscribe()


async def watch(conn, seconds, view):
    belt = conn.belt
    unsub = belt.subscribe("cue", view.cue)
    await belt.live(True)
    view.begin_step()
    try:
        await follow(belt, seconds, view.effort)
    finally:
        unsub()
        try:
            await belt.live(False)
        except (BeltError, OSError):
            pass
        view.printer.done()


async def live(conn, seconds=60, warmup=False, yes=False, out=print, ask=input):
    cfg = await conn.belt.config_get()
    band = (cfg["low_pm"] / 10, cfg["high_pm"] / 10)
    out(f"Target: brace at about {cfg.get('target_pm', 200) / 10:g} % of your maximum; the band "
        f"is {band[0]:g}-{band[1]:g} % (marked on the bar).")
    view = View(band)
    if warmup:
        for code, ms in cfg.get("holds", ()):
            name = HOLD_NAMES.get(code, f"Hold {code}")
            hold = ms / 1000
            out(f"{name}: hold {hold:g} s, keeping the brace in the band.")
            if not yes:
                await prompt(ask, "  press Enter to start ")
            await watch(conn, hold, view)
    else:
        await watch(conn, seconds, view)
    out(view.summary())
    return view

