"""The firmware chain on real surface EMG, against an offline amplitude reference.

    .venv/bin/python bench/real_recordings.py [--interpreter micropython|cpython|both]
                                              [--firmware DIR]

The recordings are public raw sEMG bundled in tests/fixtures/recordings/ (README there: source,
licence, attribution). BioSPPy's emg_1.txt (1 kHz, 12-bit; muscle and protocol undocumented)
holds rest and three contractions in its first 30 s: a short one at 1.5 s, a strong one of 1.4 s
at 15.5 s and two short ones at 25.6-26.6 s. It has one strong contraction, and the at-home
calibration asks for three braces, so the calibration recording is its rest (3-13 s) followed by
that contraction three times with 3 s of its rest between (a calibration of consistent braces,
which is what the procedure is for). Then the whole 30 s is replayed as the run.

biosignalsnotebooks' emg_fatigue (1 kHz, 12-bit, MIT) is a biceps brachii flexed and extended
until it tires: 127 s of cycles of about 4 s of contraction and 1 s of relaxation, then 5 s of
rest. Its calibration recording is that closing rest followed by its first cycle three times
with 3 s of the rest between; then the whole recording is replayed. Its rest frames are those
the reference reads under 5 %MVC for 0.3 s either side, its contraction frames those it reads
over 50 %MVC. It is also calibrated on three different cycles as its braces (1-3, then 4-6):
real braces that differ as a person's do, which the calibration must accept.

The reference is the textbook amplitude: 4th-order Butterworth 30 Hz high-pass run forwards and
backwards (no delay), RMS over each 100 ms frame, smoothed by a centred 0.3 s mean, turned into
%MVC by the same quadrature law with the rest and maximum measured the same way on the same
segments. Reported: the correlation of the two effort series at the best lag, that lag, and the
mean effort of each during rest and during the strong contraction.
"""
import argparse
import os
import sys

import numpy as np
from scipy import signal

import firmware_option

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "recordings")
EMG_1 = os.path.join(FIXTURES, "biosppy_emg_1_0-30s.txt")
EMG_FATIGUE = os.path.join(FIXTURES, "bsnb_emg_fatigue.txt.gz")
FS = 1000
REST = (3000, 13000)            # samples of emg_1 with no contraction
BRACE = (14900, 17400)          # the strong contraction with its edges
CONTRACTION = (155, 169)        # its frames (100 ms) above four times rest
REST_FRAMES = [(30, 130), (180, 250)]
FATIGUE_REST = (121600, 126800)  # emg_fatigue's closing rest
FATIGUE_BRACE = (1000, 4800)     # its first cycle, with its edges


def load(path=EMG_1):
    """ADC counts of a bundled recording (BioSPPy's Simple Text Format: '#' header lines)."""
    return np.loadtxt(path, comments="#").astype(np.uint16)


def without_nyquist_tone(x):
    """The recording less its component within 5 Hz of the Nyquist frequency (500 Hz): moved to
    0 Hz by multiplying by (-1)^n, low-passed at 5 Hz (zero phase), moved back and subtracted.
    emg_1's rest is 65 % that tone (8 counts RMS, the 10th harmonic of 50 Hz mains or the
    recorder's own), which the firmware rightly takes for mains hum: periodic in 100 samples."""
    s = np.where(np.arange(len(x)) % 2, -1.0, 1.0)
    xf = x.astype(float)
    sos = signal.butter(4, 5, fs=FS, output="sos")
    tone = signal.sosfiltfilt(sos, (xf - xf.mean()) * s) * s
    return np.clip(np.round(xf - tone), 0, 4095).astype(np.uint16)


def calibration(x, rest=REST, brace=BRACE):
    """(samples, phase per sample) of the at-home procedure built from the recording: rest, then
    the strong contraction three times with rest between."""
    pause = x[rest[0]:rest[0] + 3000]
    rest = x[rest[0]:rest[1]]
    brace = x[brace[0]:brace[1]]
    parts = [(rest, "rest")]
    for k in range(3):
        parts.append((brace, "brace"))
        if k < 2:
            parts.append((pause, "pause"))
    samples = np.concatenate([p for p, _ in parts])
    phases = sum(([name] * len(p) for p, name in parts), [])
    return samples, phases


def reference(x, rest=REST, brace=BRACE):
    """Offline effort (%MVC) per 100 ms frame from the amplitude, calibrated on the same
    segments as the firmware."""
    sos = signal.butter(4, 30, "highpass", fs=FS, output="sos")
    y = signal.sosfiltfilt(sos, x.astype(float) - np.mean(x))
    n = len(y) // 100
    rms = np.sqrt((y[:n * 100].reshape(n, 100) ** 2).mean(1))
    lvl = np.convolve(rms, np.ones(3) / 3, "same")
    r = np.median(lvl[rest[0] // 100 + 10:rest[1] // 100])
    b = lvl[brace[0] // 100:brace[1] // 100]
    c = max(b[i:i + 10].mean() for i in range(len(b) - 9))
    e = 100 * np.sqrt(np.maximum(lvl ** 2 - r ** 2, 0) / (c ** 2 - r ** 2))
    return np.clip(e, 0, 200)


def agreement(fw, ref, max_lag=10):
    """(correlation at the best lag, lag in frames: positive when the firmware is later)."""
    n = min(len(fw), len(ref))
    fw, ref = np.asarray(fw[:n], float), np.asarray(ref[:n], float)
    best = None
    for lag in range(-max_lag, max_lag + 1):
        a = fw[max(lag, 0):n + min(lag, 0)]
        b = ref[max(-lag, 0):n - max(lag, 0)]
        r = np.corrcoef(a, b)[0, 1]
        if best is None or r > best[0]:
            best = (r, lag)
    return best


def segments(e):
    """Mean effort during rest and during the strong contraction."""
    rest = np.concatenate([e[a:b] for a, b in REST_FRAMES])
    return float(np.mean(rest)), float(np.mean(e[CONTRACTION[0]:CONTRACTION[1]]))


def segments_by_reference(e, ref):
    """Mean effort where the reference reads rest (under 5 %MVC, and so for 0.3 s either side:
    emg_fatigue relaxes for about a second between cycles, and a causal window still holds the
    contraction at the edges) and a contraction (over 50)."""
    n = min(len(e), len(ref))
    e, ref = np.asarray(e[:n]), ref[:n]
    low = ref < 5
    rest = low.copy()
    for k in range(1, 4):
        rest[k:] &= low[:-k]
        rest[:-k] &= low[k:]
    return float(np.mean(e[rest])), float(np.mean(e[ref > 50]))


def fatigue_cycles(x, count=6):
    """(start, end) samples of emg_fatigue's first contraction cycles: its high-passed envelope
    (0.2 s RMS) over 100 counts for more than 1.5 s."""
    sos = signal.butter(4, 30, "highpass", fs=FS, output="sos")
    y = signal.sosfiltfilt(sos, x.astype(float) - np.mean(x))
    act = np.sqrt(np.convolve(y ** 2, np.ones(200) / 200, "same")) > 100
    edges = np.diff(act.astype(int))
    on, off = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    cycles = []
    for a in on:
        later = off[off > a]
        if len(later) and later[0] - a > 1500:
            cycles.append((int(a), int(later[0])))
    return cycles[:count]


def calibration_of_cycles(x, picks):
    """The at-home procedure with three different contraction cycles as its braces (0.3 s of
    their edges each), its closing rest as the rest and the pauses: real braces that differ."""
    rest = x[FATIGUE_REST[0]:FATIGUE_REST[1]]
    cycles = fatigue_cycles(x)
    parts = [(rest, "rest")]
    for i, k in enumerate(picks):
        a, b = cycles[k]
        parts.append((x[a - 300:b + 300], "brace"))
        if i < len(picks) - 1:
            parts.append((rest[:3000], "pause"))
    samples = np.concatenate([p for p, _ in parts])
    phases = sum(([name] * len(p) for p, name in parts), [])
    return samples, phases


def cycle_calibrations(interp):
    """The firmware's verdict on calibrations whose braces are cycles 1-3 and 4-6."""
    from corecue.twin.replay import run_chain
    x = load(EMG_FATIGUE)
    out = {}
    for picks in ((0, 1, 2), (3, 4, 5)):
        cal, phases = calibration_of_cycles(x, picks)
        out[picks] = run_chain("emg_raw", cal, phases, x[:2000], interp)
    return out


def thirds(e, ref, by=None):
    """Mean of e over the mean of ref during contraction (`by`, the reference by default, over
    50 %MVC), in the recording's first and last thirds: how far the chain follows the muscle as
    it tires (its spectrum falls). The reference is high-passed at 30 Hz as well, so it loses
    to a falling spectrum too (highpass_keeps)."""
    n = min(len(e), len(ref))
    e, ref = np.asarray(e[:n]), ref[:n]
    con = (ref if by is None else by[:n]) > 50
    out = []
    for a, b in ((0, n // 3), (2 * n // 3, n)):
        sel = con[a:b]
        out.append(float(np.mean(e[a:b][sel]) / np.mean(ref[a:b][sel])))
    return out


def highpass_keeps(x, ref, lows):
    """How much less a 4th-order 30 Hz high-pass keeps of the contractions' mean |value| in the
    last third than in the first, in %, against a high-pass at each of `lows` Hz: what the chain
    and the reference lose as the spectrum falls (below 10 Hz the arm's movement is in it)."""
    def frames(fc):
        sos = signal.butter(4, fc, "highpass", fs=FS, output="sos")
        y = np.abs(signal.sosfilt(sos, x.astype(float) - np.mean(x)))
        n = len(y) // 100
        return y[:n * 100].reshape(n, 100).mean(1)
    out = []
    for lo in lows:
        first, last = thirds(frames(30), frames(lo), by=ref)
        out.append(100 * (last / first - 1))
    return out


def replay_fatigue(interp):
    from corecue.twin.replay import run_chain
    x = load(EMG_FATIGUE)
    cal, phases = calibration(x, FATIGUE_REST, FATIGUE_BRACE)
    return run_chain("emg_raw", cal, phases, x, interp), x


def replay(interp, clean=False):
    from corecue.twin.replay import run_chain
    x = load()
    if clean:
        x = without_nyquist_tone(x)
    cal, phases = calibration(x)
    return run_chain("emg_raw", cal, phases, x, interp), x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interpreter", default="both")
    firmware_option.add(ap)
    args = ap.parse_args()
    firmware_option.use(ap, args)
    interps = ("micropython", "cpython") if args.interpreter == "both" else (args.interpreter,)
    print("BioSPPy emg_1.txt, first 30 s, 1 kHz; calibrated on its own rest and strongest "
          "contraction (see the docstring)")
    print("| chain | calibration | correlation with the reference | lag (ms) | rest (%MVC) | "
          "contraction (%MVC) | frames flagged |")
    print("|---|---|---|---|---|---|---|")
    frames = {}
    for clean in (False, True):
        ref = None
        what = "less its 500 Hz tone" if clean else "as recorded"
        for interp in interps:
            res, x = replay(interp, clean)
            ref = reference(x) if ref is None else ref
            fw = np.array([e for e, _ in res.frames], float) / 10.0
            q = np.array([q for _, q in res.frames])
            frames[interp, clean] = res.frames
            cal = "refused (reasons %d)" % res.reasons if res.reasons else (
                "rest %d, MVC %d, spread %.1f %%" % (res.rest, res.mvc, res.spread_pm / 10))
            if res.reasons:
                print(f"| firmware ({interp}), {what} | {cal} | - | - | - | - | "
                      f"{100 * np.mean(q != 0):.1f} % |")
                continue
            r, lag = agreement(fw, ref)
            rest, con = segments(fw)
            print(f"| firmware ({interp}), {what} | {cal} | {r:.3f} | {lag * 100:+d} | "
                  f"{rest:.1f} | {con:.1f} | {100 * np.mean(q != 0):.1f} % |")
        rest, con = segments(ref)
        print(f"| offline reference, {what} | same segments | 1 | 0 | {rest:.1f} | {con:.1f} "
              "| - |")
    if len(interps) == 2:
        same = all(frames["micropython", c] == frames["cpython", c] for c in (False, True))
        print("interpreters agree frame for frame: %s" % same)
    rest = without_nyquist_tone(load())[REST[0]:REST[1]].astype(float)
    f, p = signal.welch(rest - rest.mean(), fs=FS, nperseg=1000)
    near = (f >= 25) & (f <= 75) & (np.abs(f - 50) > 2)
    print("its rest (less the tone): the 50 Hz line is %.0f times the median of the spectrum "
          "at 25-75 Hz" % (p[np.argmin(np.abs(f - 50))] / np.median(p[near])))
    print()
    print("biosignalsnotebooks emg_fatigue, 127 s, 1 kHz: a biceps brachii flexed and extended "
          "until it tires; calibrated on its closing rest and its first cycle (see the docstring)")
    print("| chain | calibration | correlation with the reference | lag (ms) | rest (%MVC) | "
          "contraction (%MVC) | frames flagged |")
    print("|---|---|---|---|---|---|---|")
    ref = None
    runs = {}
    tired = {}
    for interp in interps:
        res, x = replay_fatigue(interp)
        ref = reference(x, FATIGUE_REST, FATIGUE_BRACE) if ref is None else ref
        fw = np.array([e for e, _ in res.frames], float) / 10.0
        q = np.array([q for _, q in res.frames])
        runs[interp] = res.frames
        if res.reasons:
            print(f"| firmware ({interp}) | refused (reasons {res.reasons}) | - | - | - | - | "
                  f"{100 * np.mean(q != 0):.1f} % |")
            continue
        r, lag = agreement(fw, ref)
        rest, con = segments_by_reference(fw, ref)
        tired[interp] = thirds(fw, ref)
        print(f"| firmware ({interp}) | rest {res.rest}, MVC {res.mvc}, spread "
              f"{res.spread_pm / 10:.1f} % | {r:.3f} | {lag * 100:+d} | {rest:.1f} | {con:.1f} | "
              f"{100 * np.mean(q != 0):.1f} % |")
    rest, con = segments_by_reference(ref, ref)
    print(f"| offline reference | same segments | 1 | 0 | {rest:.1f} | {con:.1f} | - |")
    for interp, (first, last) in tired.items():
        print(f"firmware ({interp}) against the reference during contraction: first third "
              f"{first:.3f}, last third {last:.3f} ({100 * (last / first - 1):+.1f} % as it tires)")
    print("a 30 Hz high-pass keeps %s %% of the last third's contractions against the first's, "
          "against a high-pass at 15 / 10 Hz" % " / ".join("%+.1f" % v for v in
                                                         highpass_keeps(x, ref, (15, 10))))
    if len(interps) == 2:
        print("interpreters agree frame for frame: %s" % (runs["micropython"] == runs["cpython"]))
    print("samples within 8 counts of a rail: %.2f %% (of 0), %.2f %% (of 4095)" % (
        100 * np.mean(x <= 8), 100 * np.mean(x >= 4087)))
    print()
    print("emg_fatigue calibrated on three different contraction cycles as its braces:")
    print("| braces | interpreter | verdict | spread | trials (Q4) |")
    print("|---|---|---|---|---|")
    for interp in interps:
        for picks, res in cycle_calibrations(interp).items():
            verdict = "accepted" if not res.reasons else "refused (reasons %d)" % res.reasons
            print(f"| cycles {picks[0] + 1}-{picks[-1] + 1} | {interp} | {verdict} | "
                  f"{res.spread_pm / 10:.1f} % | {', '.join(str(t) for t in res.trials)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
