"""What the step window trades: how soon a change of brace shows against how closely effort
follows the true effort over the last stride, per cadence, for the window's span A.

    .venv/bin/python bench/window_latency.py [--spans 480,720,960] [--no-drop-test]
                                             [--step 20,5] [--seeds N] [--interpreter NAME]

Running, the level is the mean |first difference| over the newest step blended with the step
before, alpha = T / A within 0.5..1 (T the step period; docs/signal.md, "The window"): A = 960 ms,
the firmware's, makes the two steps alike at any cadence over 125 steps/min, the stride's own
mean; 480 ms was the firmware's before the drop test. The drop test (the newest half step
against the same half of the step before) brings a drop of the brace in sooner; --no-drop-test
runs without it. Each A runs the firmware itself, a copy of this tree's with A changed (in
belt/emgframe.py), and prints per cadence:
- the window's median age, T / (2 alpha);
- the step latency: a 20 % -> 5 % step while running (--step: another drop; the synthetic
  runner, as in bench/effort_accuracy.py, at this cadence), the time until effort first reads
  under the midpoint, 12.5 %, mean and worst over 8 points of the stride (one step divided
  evenly: where the step falls against the foot strikes' bursts, and so against the frame
  clock) x seeds;
- the window alone on the motor-unit model (noiseless muscle, true step period;
  bench/effort_grid.py's window_oracle): what the window's shape costs against the mean over the
  last two steps, before any noise, filter or estimate;
- the firmware's RMS error on both models (bench/effort_grid.py's cell at this cadence).
The targets (docs/performance.md) are a step latency under 0.4 s and 1.5 %MVC RMS in every
cell of the grid.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

import corecue.twin.replay as replay
import effort_grid as grid
import muap
from corecue.twin import synth
from effort_accuracy import latency_s, step_scenario

CADENCES = (130, 150, 170, 200)
_SPAN = "(960 if fs[27] != 0 else 480)"           # running: A; otherwise 480 ms
_DROP_TEST = "if fs[27] != 0 and s0 * 20 < s1 * 9"   # PHASED is 0 or 1: "> 1" turns it off


def firmware_with_span(source, span_ms, into, drop_test=True):
    """A copy of the firmware tree `source` whose running window's span A is span_ms, with or
    without the drop test."""
    dst = os.path.join(into, "fw%d%s" % (span_ms, "" if drop_test else "-nodrop"))
    shutil.copytree(source, dst, ignore=shutil.ignore_patterns("*.mpy", "__pycache__"))
    path = os.path.join(dst, "belt", "emgframe.py")
    with open(path) as f:
        src = f.read()
    for text in (_SPAN, _DROP_TEST):
        if src.count(text) != 1:
            sys.exit("window_latency: belt/emgframe.py no longer has %r" % text)
    src = src.replace(_SPAN, "(%d if fs[27] != 0 else 480)" % span_ms)
    if not drop_test:
        src = src.replace(_DROP_TEST, _DROP_TEST.replace("!= 0", "> 1"))
    with open(path, "w") as f:
        f.write(src)
    return dst


def oracle(cadence, seeds, span_ms):
    """The window alone (grid.window_oracle with A = span_ms) on the noiseless motor-unit muscle."""
    mvc = muap.mvc_amplitude()
    sq = []
    for seed in range(seeds):
        prof = synth.run_profile(minutes=2, seed=400 + seed)
        cad = cadence + (prof["cadence"] - 170.0) / 3.0
        _, m = muap.render(prof["effort"], prof["running"], prof["hr"], cad, seed=500 + seed)
        truth = muap.truth(m, cad, mvc)
        o = grid.window_oracle(m, cad, mvc, span_s=span_ms / 1000.0)
        n = min(len(o), len(truth))
        sq.append(np.mean((o[:n] - truth[:n])[grid.SKIP:] ** 2))
    return float(np.sqrt(np.mean(sq)))


def latency(cadence, seeds, interp, phases=8, levels=(20.0, 5.0)):
    """Step latency (mean, worst) over steps at `phases` points spread evenly over one step of
    the stride (the same runner, so the same foot strikes) and over the frame clock; the step
    from levels[0] to levels[1] %, read when effort first falls under their midpoint."""
    cal_adc, cal_phases = synth.calibration()
    step_ms = 60000.0 / cadence
    out = []
    for seed in range(seeds):
        for k in range(phases):
            off = int(round(k * step_ms / phases))
            x, at = step_scenario(off, seed=300 + seed, cadence=float(cadence),
                                  high=levels[0], low=levels[1])
            r = replay.run_chain("emg_raw", cal_adc, cal_phases, x, interp)
            out.append(latency_s(np.array([e for e, _ in r.frames]) / 10.0, at,
                                 (levels[0] + levels[1]) / 2.0))
    return float(np.mean(out)), float(np.max(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", default="480,720,960",
                    help="values of A in ms, comma-separated (960: the firmware's)")
    ap.add_argument("--no-drop-test", action="store_true",
                    help="run each copy without the drop test")
    ap.add_argument("--step", default="20,5",
                    help="the drop, from,to in %%MVC (20,5: the 0.4 s target's; 20,12: a fade)")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--interpreter", default="micropython", choices=("micropython", "cpython"))
    args = ap.parse_args()
    try:
        spans = [int(v) for v in args.spans.split(",")]
    except ValueError:
        ap.error("--spans: whole milliseconds separated by commas, e.g. 480,520")
    if any(not 300 <= s <= 1000 for s in spans):
        ap.error("--spans: each within 300..1000 ms")
    try:
        levels = tuple(float(v) for v in args.step.split(","))
    except ValueError:
        levels = ()
    if len(levels) != 2 or not 0 <= levels[1] < levels[0] <= 100:
        ap.error("--step: two efforts in %MVC, from,to, the second lower, e.g. 20,12")
    home = replay.FIRMWARE
    cache = {}
    print("| A (ms) | cadence | median age (s) | step latency mean / worst (s) | "
          "window alone, motor units | firmware, motor units | firmware, synthetic |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="corecue-window-") as tmp:
        for span in spans:
            replay.FIRMWARE = firmware_with_span(home, span, tmp, not args.no_drop_test)
            for cad in CADENCES:
                t = 60.0 / cad
                alpha = min(1.0, max(0.5, t / (span / 1000.0)))
                lat_mean, lat_max = latency(cad, args.seeds, args.interpreter, levels=levels)
                cells = []
                for model in ("muap", "synth"):
                    errs = [grid.run(model, {"cadence": float(cad)}, s, 2.0, args.interpreter,
                                     cache) for s in range(args.seeds)]
                    cells.append("refused" if any(e is None for e in errs) else "%.2f" % np.sqrt(
                        np.mean([e["firmware"] ** 2 for e in errs])))
                print(f"| {span} | {cad} | {t / (2 * alpha):.2f} | {lat_mean:.2f} / "
                      f"{lat_max:.2f} | {oracle(cad, args.seeds, span):.2f} | "
                      f"{cells[0]} | {cells[1]} |")
    replay.FIRMWARE = home
    return 0


if __name__ == "__main__":
    sys.exit(main())
