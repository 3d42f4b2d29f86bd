"""Mains hum that the calibration did not have: a cable near a mains source on the run.

    .venv/bin/python bench/hum_on_the_run.py [--firmware DIR] [--interpreter NAME]

The synthetic runner (companion/corecue/twin/synth.py, 2 runs of 2 min, 170 steps/min, no hum
of its own) calibrated without hum, then run with hum added:
1. steady hum of 20 and 40 counts at 60 Hz, at stride modulation depths 0.5 and 0.8;
2. 40 counts of 50 Hz that comes and goes (on for half of each period of 1, 4 and 10 s).
Printed per row: the effort's bias and RMS error (%MVC, frames after the first 5 s, against the
true effort over the last stride), the frames flagged for hum, and the RMS error of the frames
left unflagged (what a consumer would take as real effort). --firmware runs another firmware
tree (e.g. `git archive` of an older commit) for a baseline in the same minutes.
"""
import argparse
import sys

import numpy as np

import corecue.twin.replay as replay
from corecue.twin import synth

import firmware_option

FS = synth.FS
SKIP = 50


def score(x, truth, cal, interp):
    r = replay.run_chain("emg_raw", cal[0], cal[1], x, interp)
    fw = np.array([e for e, _ in r.frames], float) / 10.0
    q = np.array([q for _, q in r.frames])
    n = min(len(fw), len(truth))
    d = (fw[:n] - truth[:n])[SKIP:]
    hum = (q[:n][SKIP:] & 16) != 0
    left = d[~hum]
    return (d.mean(), np.sqrt(np.mean(d ** 2)), hum.mean(),
            np.sqrt(np.mean(left ** 2)) if len(left) else float("nan"))


def runs(hum_of, depth, seeds=2):
    """(samples, truth) of each seed's run with hum_of(t) counts added."""
    for seed in range(seeds):
        prof = synth.run_profile(minutes=2, seed=400 + seed)
        cad = 170.0 + (prof["cadence"] - 170.0) / 3.0
        x = synth.render(prof["effort"], prof["running"], prof["hr"], cad, seed=500 + seed,
                         depth=depth, hum=0.0).astype(float)
        t = np.arange(len(x)) / FS
        x = np.clip(np.round(x + hum_of(t)), 0, 4095).astype(np.uint16)
        yield x, synth.stride_truth(prof["effort"], cad)


def row(label, hum_of, depth, cal, interp):
    got = np.mean([score(x, truth, cal, interp) for x, truth in runs(hum_of, depth)], 0)
    print(f"| {label} | {got[0]:+.2f} | {got[1]:.2f} | {100 * got[2]:.1f} % | {got[3]:.2f} |")


def main():
    ap = argparse.ArgumentParser()
    firmware_option.add(ap)
    ap.add_argument("--interpreter", default="micropython")
    args = ap.parse_args()
    firmware_option.use(ap, args)
    cal = synth.calibration()
    print(f"firmware: {replay.FIRMWARE}")
    print("| hum on the run | bias (%MVC) | RMS error (%MVC) | frames flagged for hum | "
          "RMS error, unflagged frames |")
    print("|---|---|---|---|---|")
    for depth in (0.5, 0.8):
        row(f"none, depth {depth}", lambda t: 0.0 * t, depth, cal, args.interpreter)
        for amp in (20.0, 40.0):
            row(f"{amp:.0f} counts at 60 Hz, depth {depth}",
                lambda t, a=amp: a * np.sin(2 * np.pi * 60 * t), depth, cal, args.interpreter)
    for period in (1.0, 4.0, 10.0):
        row(f"40 counts at 50 Hz, on and off every {period / 2:g} s",
            lambda t, p=period: (np.floor(t / (p / 2)) % 2 == 0) * 40.0
            * np.sin(2 * np.pi * 50 * t), 0.5, cal, args.interpreter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
