"""`corecue calibrate`: the guided home calibration of the wearer's maximal brace.

The steps are the belt's (belt/calibration.py): relax 10 s, then three braces as hard as you can
of 5 s each with 10 s rests. The companion tells the belt which phase is running, shows the
muscle signal live, asks the belt for the verdict (evaluate: nothing is adopted yet), says it in
plain words, and only after the person agrees tells the belt to keep it (commit). Every attempt,
kept or not, goes into the history, and the new maximum is compared with the last one kept: a
maximum that drifts means the electrodes moved or the muscles were tired.
"""
import math
import time

from corecue.history import figures
from corecue.history.calibrations import note_belt_calibration
from corecue.link.client import BeltError
from corecue.views.bar import LinePrinter, bar
from corecue.views.calreport import verdict_text
from corecue.views.live import follow
from corecue.views.prompt import prompt

REST_S = 10
BRACE_S = 5
PAUSE_S = 10
BRACES = 3
DRIFT_WARN = 0.20           # a maximum 20 % away from the last kept one is worth a word

STEPS = [("rest", REST_S, "Lie on your back, knees bent, and let your belly go completely soft.")]
for _i in range(BRACES):
    STEPS.append(("brace", BRACE_S, f"Brace {_i + 1} of {BRACES}: tighten your core as hard as "
                  "you can, as if someone were about to push your belly. Keep breathing."))
    if _i < BRACES - 1:
        STEPS.append(("pause", PAUSE_S, "Relax and breathe."))


SETTLE_S = 0.5              # the first frames of a phase still show the one before it


async def _step(conn, phase, seconds, show, scale):
    """Run one phase for `seconds` of the belt's time, showing the signal level of this phase
    with the time left. The bar's 100 % is the strongest level so far (the last calibration's
    maximum, or three times the rest level before any brace: a maximum is at least that), so a
    relaxed belly shows as a short bar and a brace as a long one."""
    belt = conn.belt
    await belt.cal_begin(phase)
    t0 = [None]

    def on_effort(ev):
        if t0[0] is None:
            t0[0] = ev.frame
        t = (ev.frame - t0[0]) / 10
        if t < SETTLE_S:
            return
        scale["max"] = max(scale["max"], ev.level * (3 if phase == "rest" else 1))
        left = max(1, math.ceil(seconds - t))
        show.show(t, f"  {phase:5s} {left:2d} s left  0 % {bar(ev.level, scale['max'])} 100 %")
    try:
        await follow(belt, seconds, on_effort)
    finally:
        show.done()


async def ask_yes_no(ask, question, out):
    """True for y or yes, False for n or no (any case); anything else asks again."""
    while True:
        answer = (await prompt(ask, question)).strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        out("Please answer y or n.")


async def calibrate(conn, store, yes=False, out=print, ask=input):
    """The guided calibration. Returns the belt's Calibration result (adopted or not)."""
    belt = conn.belt
    st = await belt.status()
    if st.open_session:
        raise BeltError(f"the belt is recording session {st.open_session}: finish the run "
                        "(long press) before calibrating")
    cfg = await belt.config_get()
    note_belt_calibration(store, conn.device, cfg)
    out("Calibration: we measure your strongest brace, so that 20 % means 20 % of *your* "
        "maximum. Lie the same way each time you calibrate, and keep the electrodes where they "
        "are afterwards. The bar runs from 0 % (relaxed) to 100 % (your strongest brace so "
        "far); press Enter before each brace, the rests are timed for you.")
    show = LinePrinter()
    # Until a brace sets it, the bar's scale is the last maximum kept (nothing: 1, the first
    # readings fill the bar, then it settles as the levels grow).
    scale = {"max": max(1, int(cfg.get("cal_mvc", 0)))}
    await belt.live(True)
    try:
        for phase, seconds, text in STEPS:
            out(f"{text} ({seconds} s)")
            if phase == "brace" and not yes:
                await prompt(ask, "  press Enter to start the brace ")
            await _step(conn, phase, seconds, show, scale)
        # A pause records nothing: the belt's evaluation and its commit see the same frames,
        # so the numbers shown are the numbers saved, however long the answer takes.
        await belt.cal_begin("pause")
        res = await belt.cal_evaluate()
    except BaseException:
        await _quietly(belt.cal_abort())
        raise
    finally:
        await _quietly(belt.live(False))
    verdict = verdict_text(res)
    out(f"Result: {verdict} (rest {res.rest}, maximum {res.mvc}, braces "
        f"{', '.join(str(t) for t in res.trials)}, spread {res.spread_pm / 10:.1f} %)")
    adopted = False
    if res.ok:
        keep = yes or await ask_yes_no(ask, "Save this calibration on the belt? [y/n] ", out)
        if keep:
            res = await belt.cal_commit()
            adopted = bool(res.adopted)
        else:
            await belt.cal_abort()
    else:
        await belt.cal_abort()
    out("Saved on the belt: effort is now measured against this maximum." if adopted else
        "Not saved: the belt keeps its previous calibration. Try again when ready.")
    previous = [c for c in store.calibrations(conn.device) if c.adopted]
    store.add_calibration(conn.device, time.time(), cfg.get("mode", ""),
                          int(cfg.get("placement", 0)), res.rest, res.mvc, res.ok, adopted,
                          verdict, {"trials": list(res.trials), "spread_pm": res.spread_pm,
                                    "reasons": res.reasons})
    if adopted and previous and previous[-1].mvc:
        change = res.mvc / previous[-1].mvc - 1
        if abs(change) >= DRIFT_WARN:
            out(f"Your maximum is {abs(change) * 100:.0f} % {'higher' if change > 0 else 'lower'}"
                " than the last calibration: were the electrodes moved, or are you tired today?")
    return res


def history(store, device=None):
    """The calibration history as a table: every attempt, and how each kept maximum compares
    with the one kept before it (a drift means moved electrodes, or tired muscles)."""
    from corecue.views.tables import table
    rows = store.calibrations(device)
    if not rows:
        return "no calibrations yet: `corecue calibrate`"
    lines = [("date", "belt", "sensor", "placement", "rest", "maximum", "change", "kept",
              "verdict")]
    last = {}
    for c in rows:
        change = "-"
        if c.adopted and last.get(c.device):
            change = f"{(c.mvc / last[c.device] - 1) * 100:+.0f}%"
        if c.adopted:
            last[c.device] = c.mvc
        lines.append((figures.when(c.when_utc), c.device[-4:].upper(), c.mode or "-",
                      str(c.placement), str(c.rest), str(c.mvc), change,
                      "yes" if c.adopted else "no", c.verdict))
    return table(lines)


async def _quietly(coro):
    try:
        await coro
    except (BeltError, OSError):
        pass
