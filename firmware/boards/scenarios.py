# Scripted mornings for the virtual belt: what the runner's muscles do and what the runner (and the
# companion, for calibration) does, on a timeline in seconds.
#
# A scenario is (segments, events, end_s):
#   segments  [(start_s, effort_pct, contact)]  effort from start_s until the next segment;
#             contact False means the electrodes are off (the input rails)
#   events    [(t_s, action, arg)]  action: "press" (arg "short" or "long"), "cal" (arg "rest",
#             "brace" or "pause"), "commit" (calibration)
# Every phase timing follows the physio's routine: calibrate at home, side planks and bird dog
# right before running (three 30 s holds), prime the brace, run, lie down for ten minutes.


def _calibration(t):
    seg = [(t, 0, True)]
    ev = [(t, "cal", "rest")]
    t += 10
    for i in range(3):
        seg.append((t, 100, True))
        ev.append((t, "cal", "brace"))
        t += 5
        seg.append((t, 0, True))
        if i < 2:
            ev.append((t, "cal", "pause"))
            t += 10
    ev.append((t, "commit", None))
    return seg, ev, t + 5


# (fraction of the run, effort %, electrodes on) of each lapse; each lasts a minute (a tenth of
# a run shorter than ten minutes), then the runner is back at 20 %.
LAPSES = ((0.2, 8, True), (0.4, 45, True), (0.6, 0, False))


def morning(run_min=30):
    """Calibrate, warm up, run run_min minutes with scripted lapses, lie down 10 minutes.
    The run's lapses scale with its length: a fade under the band at 20 % of the run, an
    over-brace at 40 %, the electrodes off at 60 %."""
    seg, ev, t = _calibration(0)
    ev.append((t, "press", "short"))          # start the warm-up: three 30 s holds
    seg.append((t, 30, True))
    t += 95
    seg.append((t, 5, True))
    ev.append((t, "press", "short"))          # at the start line: prime
    t += 2
    seg.append((t, 20, True))                 # the brace that passes prime
    run0 = t + 3
    run_s = run_min * 60
    lapse_s = min(60, run_s // 10)
    for frac, effort, contact in LAPSES:
        start = run0 + int(run_s * frac)
        seg.append((start, effort, contact))
        seg.append((start + lapse_s, 20, True))
    t = run0 + run_s
    ev.append((t, "press", "long"))           # finish: lie down
    seg.append((t, 0, True))
    t += 600 + 10
    seg.sort()
    return seg, ev, t


def calibrate_only():
    seg, ev, t = _calibration(0)
    return seg, ev, t


SCENARIOS = {"morning": morning, "calibrate": calibrate_only}


def get(name, run_min=30):
    if name not in SCENARIOS:
        raise ValueError("unknown scenario %s (have: %s)" % (name, ", ".join(sorted(SCENARIOS))))
    return SCENARIOS[name](run_min) if name == "morning" else SCENARIOS[name]()
