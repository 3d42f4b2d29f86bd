"""Short strong contractions through the firmware chain: a real recording of a thumb's twitches.

    .venv/bin/python bench/real_twitches.py [--interpreter micropython|cpython|both]
                                            [--firmware DIR]

biosignalsnotebooks' emg_1000_hz_16_bits_solo (1 kHz, 16-bit, MIT) is the adductor pollicis
(the thumb's) at rest with about two dozen twitches of 0.2-0.5 s, some near full scale, and a
few seconds of weak tonic activity: short strong contractions with no mains hum (its spectrum
has no line at 50 or 60 Hz). It is read as a 12-bit converter on the same front end would read
it (the top 12 bits) and replayed uncalibrated; reported are the frames flagged by kind, and the
calibration's verdict when three of its twitches are taken for the braces.
A cough, a jolt or a quick tensing on a run is the same signal, and none of them is mains hum.
--firmware replays another firmware tree (e.g. `git archive` of an older commit) for a baseline.
"""
import argparse
import os
import sys

import numpy as np
from scipy import signal

import firmware_option

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMG_TWITCHES = os.path.join(ROOT, "tests", "fixtures", "recordings",
                            "bsnb_emg_adductor_pollicis.txt.gz")
FS = 1000


def load_twitches():
    """The adductor pollicis recording in 12-bit counts: its 16-bit samples' top 12 bits."""
    return (np.loadtxt(EMG_TWITCHES, comments="#").astype(np.uint32) >> 4).astype(np.uint16)


def twitches(x):
    """(start, end) samples of the recording's twitches: its high-passed envelope (0.05 s RMS)
    over 8 times its median, and the quiet stretch longest between them."""
    sos = signal.butter(4, 30, "highpass", fs=FS, output="sos")
    y = signal.sosfiltfilt(sos, x.astype(float) - np.mean(x))
    env = np.sqrt(np.convolve(y ** 2, np.ones(50) / 50, "same"))
    act = env > 8 * np.median(env)
    edges = np.diff(act.astype(int))
    on, off = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    spans = [(int(a), int(off[off > a][0])) for a in on if len(off[off > a])]
    gaps = [(b1, a2) for (_, b1), (a2, _) in zip(spans, spans[1:])]
    return spans, max(gaps, key=lambda g: g[1] - g[0])


def replay_twitches(interp):
    """The twitches replayed uncalibrated (its rest alone is no calibration), and the verdict of
    a calibration whose braces are its three strongest twitches (0.3 s of their edges each)."""
    from corecue.twin.replay import run_chain
    x = load_twitches()
    spans, (a, b) = twitches(x)
    rest = x[a + 300:b - 300]
    run = run_chain("emg_raw", rest, ["rest"] * len(rest), x, interp)
    strong = sorted(spans, key=lambda s: -int(np.abs(x[s[0]:s[1]].astype(int) - 2048).max()))[:3]
    parts = [(rest, "rest")]
    for i, (s0, s1) in enumerate(sorted(strong)):
        parts.append((x[s0 - 300:s1 + 300], "brace"))
        if i < 2:
            parts.append((rest[:3000], "pause"))
    cal = np.concatenate([p for p, _ in parts])
    phases = sum(([name] * len(p) for p, name in parts), [])
    return run, run_chain("emg_raw", cal, phases, x[:2000], interp), spans


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interpreter", default="both", choices=("micropython", "cpython", "both"))
    firmware_option.add(ap)
    args = ap.parse_args()
    firmware_option.use(ap, args)
    from corecue.interp import firmware_module
    reasons = firmware_module("belt.calibration").REASONS      # this tree's words for the bits
    interps = ("micropython", "cpython") if args.interpreter == "both" else (args.interpreter,)
    print("biosignalsnotebooks emg_1000_hz_16_bits_solo, 87.6 s: the adductor pollicis, rest with "
          "twitches; replayed uncalibrated (see the docstring)")
    print("| interpreter | twitches | frames | lost contact | saturation | artefact | mains hum | "
          "calibration on three twitches |")
    print("|---|---|---|---|---|---|---|---|")
    runs = {}
    for interp in interps:
        run, cal, spans = replay_twitches(interp)
        q = np.array([q for _, q in run.frames])
        runs[interp] = run.frames
        # Q_ARTEFACT is also set with Q_HUM: an artefact is a jump, bit 4 without bit 16
        art = int(np.sum((q & 4 > 0) & (q & 16 == 0)))
        verdict = "accepted" if not cal.reasons else "refused: " + ", ".join(
            t for i, t in enumerate(reasons) if cal.reasons & (1 << i))
        print(f"| {interp} | {len(spans)} | {len(q)} | {int(np.sum(q & 1 > 0))} | "
              f"{int(np.sum(q & 2 > 0))} | {art} | {int(np.sum(q & 16 > 0))} | {verdict} |")
    if len(interps) == 2:
        print("interpreters agree frame for frame: %s" % (runs["micropython"] == runs["cpython"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
