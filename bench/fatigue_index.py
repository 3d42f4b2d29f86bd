"""The firmware's fatigue index against the median frequency computed offline (scipy.signal.welch),
on signals whose spectral shift is known.

    .venv/bin/python bench/fatigue_index.py [--seeds N] [--interpreter micropython|cpython]

1. Shifted spectra: the synthetic runner (companion/corecue/twin/synth.py) bracing a steady 20 %
   while running, with the EMG's frequency axis scaled by s (0.75 .. 1.15): the muscle's median
   frequency moves by exactly s - 1. Compared: the offline median frequency of the whole signal
   after the firmware's own 30 Hz high-pass (4th-order Butterworth), and the index (the mean of
   the signal pairs the belt would log, after the first 10 s), each as a change from s = 1.
2. Effort: the same at s = 1 and 5-40 %MVC: the index is the muscle's only where the muscle
   dominates the noise floor.
3. A fatiguing run: 10 minutes at 20 % with the spectrum compressed step by step from 1.0 to 0.8
   (every 30 s), as in a tiring muscle: correlation of the index's 10 s pairs with the offline
   median frequency of the same 6.4 s, and the change from the run's first third to its last.
4. Real EMG, known shift: the contractions of BioSPPy's emg_1.txt (tests/fixtures/recordings/),
   less the recording's 500 Hz tone, joined into 60 s and resampled so that their spectrum is
   scaled by s.
5. Real EMG, a muscle fatiguing on its own: biosignalsnotebooks' emg_fatigue (tests/fixtures/
   recordings/, MIT): 127 s of cyclic flexion and extension of the biceps brachii until it
   tires, 12-bit, 1 kHz. The index as the belt logs it (every 10 s, from 10 s on) against the
   offline median frequency of the same 6.4 s: correlation, and the change from the first third
   of the pairs to the last.
"""
import argparse
import os
import sys

import numpy as np
from scipy import signal

from corecue.twin import synth
from corecue.twin.replay import run_chain
from real_recordings import without_nyquist_tone

FS = synth.FS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "tests", "fixtures", "recordings", "biosppy_emg_1_0-30s.txt")
FATIGUING = os.path.join(ROOT, "tests", "fixtures", "recordings", "bsnb_emg_fatigue.txt.gz")
SHIFTS = (0.75, 0.85, 0.95, 1.0, 1.05, 1.15)
_HP = signal.butter(4, 30, "highpass", fs=FS, output="sos")


def mdf(x):
    """Median frequency (Hz) of x after the firmware's 30 Hz high-pass, Welch 512-point."""
    y = signal.sosfiltfilt(_HP, np.asarray(x, float) - np.mean(x))
    f, p = signal.welch(y, fs=FS, nperseg=512)
    c = np.cumsum(p)
    return float(np.interp(c[-1] / 2, c, f))


def index_pairs(x, cal, interp):
    """The index (x256 / 256) at every 100th frame, as the belt logs it, after the first 10 s."""
    r = run_chain("emg_raw", cal[0], cal[1], x, interp, signal=True)
    fat = np.array([f for f, _ in r.signal], float) / 256.0
    return fat[99::100][1:]


def steady(effort, sc, seed):
    n = 60 * FS
    return synth.render(np.full(n, float(effort)), np.ones(n, bool), np.full(n, 160.0),
                        np.full(n, 170.0), seed=seed, spectrum=sc)


def pct(a, b):
    return 100.0 * (a / b - 1.0)


def shifted(args, cal):
    rows = {}
    for sc in SHIFTS:
        m, k = [], []
        for seed in range(args.seeds):
            x = steady(20, sc, 700 + seed)
            m.append(mdf(x))
            k.append(index_pairs(x, cal, args.interpreter).mean())
        rows[sc] = (np.mean(m), np.mean(k))
    m0, k0 = rows[1.0]
    print(f"1. Spectral shift at a steady 20 % brace while running ({args.seeds} runs of 60 s "
          "each): change from the unshifted spectrum")
    print("| muscle's median frequency (truth) | offline median frequency (30 Hz high-pass, "
          "Welch) | fatigue index (firmware) | index / truth |")
    print("|---|---|---|---|")
    for sc, (m, k) in rows.items():
        t = 100 * (sc - 1)
        print(f"| {t:+.0f} % | {pct(m, m0):+.1f} % ({m:.0f} Hz) | {pct(k, k0):+.1f} % "
              f"({k:.3f}) | {'-' if sc == 1.0 else '%.2f' % (pct(k, k0) / t)} |")
    return k0


def by_effort(args, cal):
    print()
    print(f"2. Effort at the unshifted spectrum ({args.seeds} runs of 60 s): the index and the "
          "offline median frequency, against a 40 % brace")
    print("| effort | offline median frequency | fatigue index |")
    print("|---|---|---|")
    res = {}
    for e in (5, 10, 20, 40):
        m = np.mean([mdf(steady(e, 1.0, 800 + s)) for s in range(args.seeds)])
        k = np.mean([index_pairs(steady(e, 1.0, 800 + s), cal, args.interpreter).mean()
                     for s in range(args.seeds)])
        res[e] = (m, k)
    for e, (m, k) in res.items():
        print(f"| {e} %MVC | {m:.0f} Hz ({pct(m, res[40][0]):+.1f} %) | {k:.3f} "
              f"({pct(k, res[40][1]):+.1f} %) |")


def fatiguing(args, cal):
    seg = 30 * FS
    scales = np.linspace(1.0, 0.8, 20)
    x = np.concatenate([steady(20, sc, 900 + i)[:seg] for i, sc in enumerate(scales)])
    r = run_chain("emg_raw", cal[0], cal[1], x, args.interpreter, signal=True)
    fat = np.array([f for f, _ in r.signal], float) / 256.0
    frames = np.arange(99, len(fat), 100)[1:]
    k = fat[frames]
    m = np.array([mdf(x[(f + 1 - 64) * 100:(f + 1) * 100]) for f in frames])
    truth = scales[np.minimum((frames * 100) // seg, len(scales) - 1)]
    third = len(frames) // 3
    print()
    print("3. A fatiguing run: 10 min at 20 % while running, the spectrum compressed from 1.0 to "
          "0.8 in 30 s steps; 10 s pairs after the first 10 s")
    print(f"correlation of the index with the offline median frequency of the same 6.4 s: "
          f"r = {np.corrcoef(k, m)[0, 1]:.3f}; with the true scale: "
          f"r = {np.corrcoef(k, truth)[0, 1]:.3f}")
    print("| last third against first | truth | offline median frequency | fatigue index |")
    print("|---|---|---|---|")
    print(f"| change of the median over each third | "
          f"{pct(np.median(truth[-third:]), np.median(truth[:third])):+.1f} % | "
          f"{pct(np.median(m[-third:]), np.median(m[:third])):+.1f} % | "
          f"{pct(np.median(k[-third:]), np.median(k[:third])):+.1f} % |")


def real(args, cal):
    if not os.path.exists(REAL):
        print("\n4. skipped: no %s" % REAL)
        return
    # Less its 500 Hz tone (bench/real_recordings.py): resampling would move it out of the band
    # for one direction of shift and not the other, and the index weights it heavily.
    d = without_nyquist_tone(np.loadtxt(REAL, comments="#")).astype(float)
    y = signal.sosfiltfilt(_HP, d - d.mean())
    env = np.sqrt(np.convolve(y ** 2, np.ones(250) / 250, "same"))
    rest = np.median(env)
    act = y[env > 4 * rest]             # high-passed: the pieces join without steps
    base = np.tile(act, int(np.ceil(70 * FS / len(act))))
    print()
    print(f"4. Real EMG, known shift: the {len(act) / FS:.1f} s of contraction in BioSPPy's "
          "emg_1.txt (envelope over 4x its rest, less its 500 Hz tone), repeated to 60 s and "
          "resampled so that its spectrum is scaled")
    print("| spectrum scale | offline median frequency | fatigue index | index / scale change |")
    print("|---|---|---|---|")
    rows = {}
    for sc in SHIFTS:
        z = signal.resample(base, int(len(base) / sc))[:60 * FS]
        x = np.clip(np.round(2048 + z), 0, 4095).astype(np.uint16)
        rows[sc] = (mdf(x), index_pairs(x, cal, args.interpreter).mean())
    m0, k0 = rows[1.0]
    for sc, (m, k) in rows.items():
        t = 100 * (sc - 1)
        print(f"| {t:+.0f} % | {pct(m, m0):+.1f} % ({m:.0f} Hz) | {pct(k, k0):+.1f} % "
              f"({k:.3f}) | {'-' if sc == 1.0 else '%.2f' % (pct(k, k0) / t)} |")


def real_fatigue_pairs(interp, cal, rms=False):
    """(index, offline median frequency) of each 10 s pair of the fatiguing recording; with rms,
    also the high-passed RMS (counts) of the same 6.4 s."""
    x = np.loadtxt(FATIGUING, comments="#").astype(np.uint16)
    r = run_chain("emg_raw", cal[0], cal[1], x, interp, signal=True)
    fat = np.array([f for f, _ in r.signal], float) / 256.0
    frames = np.arange(99, len(fat), 100)
    k = fat[frames]
    spans = [x[(f + 1 - 64) * 100:(f + 1) * 100] for f in frames]
    m = np.array([mdf(w) for w in spans])
    if not rms:
        return k, m
    a = np.array([np.sqrt(np.mean(signal.sosfiltfilt(_HP, w - np.mean(w)) ** 2)) for w in spans])
    return k, m, a


def real_fatigue(args, cal):
    k, m, a = real_fatigue_pairs(args.interpreter, cal, rms=True)
    third = len(k) // 3
    print()
    print("5. Real EMG, a muscle fatiguing on its own: biosignalsnotebooks' emg_fatigue (biceps "
          f"brachii, cyclic flexion and extension to fatigue, 127 s); {len(k)} pairs, every 10 s")
    print(f"correlation of the index with the offline median frequency of the same 6.4 s: "
          f"r = {np.corrcoef(k, m)[0, 1]:.3f}")
    print("| pair at (s) | " + " | ".join("%d" % (10 * (i + 1)) for i in range(len(k))) + " |")
    print("|---|" + "---|" * len(k))
    print("| offline median frequency (Hz) | " + " | ".join("%.0f" % v for v in m) + " |")
    print("| fatigue index | " + " | ".join("%.3f" % v for v in k) + " |")
    print("| RMS of the same 6.4 s (counts, 30 Hz high-pass) | " + " | ".join(
        "%.0f" % v for v in a) + " |")
    print("| last third against first | offline median frequency | fatigue index |")
    print("|---|---|---|")
    print(f"| change of the median over each third | "
          f"{pct(np.median(m[-third:]), np.median(m[:third])):+.1f} % | "
          f"{pct(np.median(k[-third:]), np.median(k[:third])):+.1f} % |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--interpreter", default="micropython")
    args = ap.parse_args()
    cal = synth.calibration()
    shifted(args, cal)
    by_effort(args, cal)
    fatiguing(args, cal)
    real(args, cal)
    real_fatigue(args, cal)
    return 0


if __name__ == "__main__":
    sys.exit(main())
