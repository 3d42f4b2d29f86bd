"""Effort accuracy per condition, on both signal models: the firmware chain and the baselines of
bench/effort_accuracy.py, on the project's generator (corecue/twin/synth.py, shaped noise) and on
the motor-unit model (bench/muap.py).

    .venv/bin/python bench/effort_grid.py [--seeds N] [--minutes M] [--interpreter NAME]
                                          [--models synth,muap] [--without ecg,foot,jerks]
                                          [--conditions "a;b"] [--mvc mean|best1s]

One condition is changed at a time from the reference (170 steps/min, stride modulation depth
0.5, spectrum unshifted, 6 counts of 50 Hz hum, 4 counts of noise floor): cadence 130-200,
depth 0.2 and 0.8, one side's steps 30 % stronger than the other's, spectrum -25 % to +15 %, no hum and 20 counts at 60 Hz (at the calibration
and on the run, at the calibration only, on the run only), a 12-count noise floor. Each run
is synth.run_profile's (wandering near 20 %, a fade to 8 %, an over-brace to 38 %,
a step to 5 %) with its cadence held near the condition's; the calibration is recorded in the same
hum and noise floor (the electrodes and the room of the day), on the same model, unshifted
(a rested muscle). Scored: RMS error (%MVC) of the 10 Hz frames after the first 5 s against the
model's true effort over the last stride. Target: <= 1.5 %MVC in every cell.

--without leaves contamination out of every run and calibration (the ECG, the foot-strike
transients, the cable jerks), to measure what each costs: a decomposition, not a condition.
After the tables it prints what the firmware's 30 Hz high-pass keeps of each model's noiseless
muscle at each spectrum scale: the part of a compressed spectrum's error that is the filter's.
--mvc best1s scores the motor-unit model against its MVC as EMG normalisation conventionally
takes it (the strongest 1 s of the maximal brace) instead of the brace's mean: a sensitivity of
the truth's definition, not the target's.
"""
import argparse
import sys

import numpy as np

import muap
from corecue.twin import synth
from corecue.twin.replay import run_chain
from effort_accuracy import BASELINES, calibrate_baseline, effort

FS = synth.FS
REF = {"cadence": 170.0, "depth": 0.5, "scale": 1.0, "hum": 6.0, "hum_hz": 50.0,
       "noise_floor": 4.0, "asymmetry": 0.0}
CONDITIONS = [("reference", {})] + [
    (f"cadence {c}", {"cadence": float(c)}) for c in (130, 150, 200)] + [
    (f"depth {d}", {"depth": d}) for d in (0.2, 0.8)] + [
    ("left/right 30 %", {"asymmetry": 0.3})] + [
    (f"spectrum {100 * (s - 1):+.0f} %", {"scale": s}) for s in (0.75, 0.85, 1.15)] + [
    ("no hum", {"hum": 0.0}), ("hum 20 counts, 60 Hz", {"hum": 20.0, "hum_hz": 60.0}),
    ("hum 20 counts at the calibration only", {"hum": 0.0, "cal_hum": 20.0, "hum_hz": 60.0}),
    ("hum 20 counts on the run only", {"hum": 20.0, "cal_hum": 0.0, "hum_hz": 60.0}),
    ("noise floor 12 counts", {"noise_floor": 12.0})]
SKIP = 50           # frames: the first 5 s fill the window


WITHOUT = {"ecg": {"ecg": 0.0}, "foot": {"foot": 0.0}, "jerks": {}}


def run(model, cond, seed, minutes, interp, cal_cache, without=()):
    p = dict(REF, **cond)
    contamination = {"hum": p["hum"], "hum_hz": p["hum_hz"], "noise_floor": p["noise_floor"]}
    for w in without:
        contamination.update(WITHOUT[w])
    jerks = {"spikes_per_min": 0.0} if "jerks" in without else {}
    cal_cont = dict(contamination)
    if "cal_hum" in p:               # the calibration in a hum the run is without (indoors)
        cal_cont["hum"] = p["cal_hum"]
    key = (model, cal_cont["hum"], p["hum_hz"], p["noise_floor"])
    if key not in cal_cache:
        if model == "synth":
            cal = synth_calibration(cal_cont)
        else:
            cal = muap.calibration(**cal_cont)
        cal_cache[key] = (cal, {k: calibrate_baseline(fn, *cal) for k, (fn, _) in
                                BASELINES.items()})
    (cal_adc, cal_ph), cal_base = cal_cache[key]
    prof = synth.run_profile(minutes=minutes, seed=400 + seed)
    cad = p["cadence"] + (prof["cadence"] - 170.0) / 3.0          # +-2 steps/min of wander
    if model == "synth":
        x = synth.render(prof["effort"], prof["running"], prof["hr"], cad, seed=500 + seed,
                         spectrum=p["scale"], depth=p["depth"], asymmetry=p["asymmetry"],
                         **contamination, **jerks)
        truth = synth.stride_truth(prof["effort"], cad)
    else:
        x, m = muap.render(prof["effort"], prof["running"], prof["hr"], cad, seed=500 + seed,
                           scale=p["scale"], depth=p["depth"], asymmetry=p["asymmetry"],
                           **contamination, **jerks)
        truth = muap.truth(m, cad, mvc_cache(cal_cache))
        oracle = window_oracle(m, cad, mvc_cache(cal_cache))
    res = run_chain("emg_raw", cal_adc, cal_ph, x, interp)
    if res.reasons:
        return None                 # the firmware refused its calibration: no effort at all
    out = {"firmware": np.array([e for e, _ in res.frames]) / 10.0}
    for k, (fn, law) in BASELINES.items():
        out[k] = effort(fn(x.astype(float)), *cal_base[k], law)
    if model == "muap":
        out["oracle"] = oracle
    d = {k: v[SKIP:len(truth)] - truth[SKIP:len(v)] for k, v in out.items()}
    r = {k: float(np.sqrt(np.mean(v ** 2))) for k, v in d.items()}
    r["bias"] = float(np.mean(d["firmware"]))
    return r


def window_oracle(m, cad, mvc, span_s=0.96):
    """The firmware's window shape on the noiseless muscle with the true step period: mean
    |muscle| over the newest step blended with the step before (alpha = T / span_s within
    0.5..1; the firmware's span running is 0.96 s: two steps alike), % of the MVC's. Its error against the truth (two steps) is what the window alone
    costs on this model, with no noise, filter or estimate of anything."""
    c = np.concatenate([[0.0], np.cumsum(np.abs(m))])
    out = []
    for e in range(100, len(m) + 1, 100):
        t = 60.0 / cad[e - 1]
        k = int(round(t * FS))
        a = min(1.0, max(0.5, t / span_s))
        s1, s2 = max(0, e - k), max(0, e - 2 * k)
        new = (c[e] - c[s1]) / (e - s1)
        old = (c[s1] - c[s2]) / (s1 - s2) if s1 > s2 else new
        out.append(100.0 * (a * new + (1 - a) * old) / mvc)
    return np.array(out)


def highpass_keeps(model, scales, seconds=20):
    """How much of a steady 20 % muscle's mean |value| the firmware's high-pass (4th-order
    Butterworth at 30 Hz, belt/frontend.py) keeps, in %, at each spectrum scale: the part of a
    compressed spectrum's shift that is the filter's own."""
    from scipy import signal
    sos = signal.butter(4, 30, "highpass", fs=FS, output="sos")
    out = []
    for scale in scales:
        n = seconds * FS
        if model == "muap":
            m = muap.muscle(np.full(n, 20.0), scale, seed=3)
        else:
            m = synth._shaped_noise(np.random.default_rng(3), n, scale)
        k = FS                                      # the filter's first second left out
        out.append(100.0 * np.mean(np.abs(signal.sosfilt(sos, m)[k:])) / np.mean(np.abs(m[k:])))
    return out


def mvc_cache(cache):
    if "mvc" not in cache:
        cache["mvc"] = (muap.mvc_best_second() if cache.get("mvc_rule") == "best1s"
                        else muap.mvc_amplitude())
    return cache["mvc"]


def synth_calibration(contamination):
    """synth.calibration's procedure in the run's hum and noise floor."""
    adc, phase = synth.calibration()
    if contamination == {"hum": REF["hum"], "hum_hz": REF["hum_hz"],
                         "noise_floor": REF["noise_floor"]}:
        return adc, phase
    effort = np.array([0.0] * len(phase))
    # the same effort curve as synth.calibration: rebuild it from the phases
    idx = np.flatnonzero(np.array(phase) == "brace")
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    for g, level in zip(groups, (100.0, 97.0, 99.0)):
        e = np.full(len(g), level)
        e[:500] *= np.linspace(0, 1, 500)
        e[-500:] *= np.linspace(1, 0, 500)
        effort[g] = e
    n = len(effort)
    adc = synth.render(effort, np.zeros(n, bool), np.full(n, 75.0), np.zeros(n), seed=11,
                       spikes_per_min=0.0, **contamination)
    return adc, phase


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--interpreter", default="micropython")
    ap.add_argument("--models", default="synth,muap")
    ap.add_argument("--without", default="", help="comma list of: " + ", ".join(WITHOUT))
    ap.add_argument("--conditions", default="", help="condition labels separated by ; (all)")
    ap.add_argument("--mvc", default="mean", choices=("mean", "best1s"),
                    help="the motor-unit truth's MVC: the maximal brace's mean or strongest 1 s")
    args = ap.parse_args()
    without = [w for w in args.without.split(",") if w]
    bad = [w for w in without if w not in WITHOUT]
    if bad:
        ap.error("--without: unknown %s (one of %s)" % (", ".join(bad), ", ".join(WITHOUT)))
    conditions = CONDITIONS
    if args.conditions:
        wanted = args.conditions.split(";")
        conditions = [c for c in CONDITIONS if c[0] in wanted]
        if len(conditions) != len(wanted):
            ap.error("--conditions: one of %s" % ", ".join(c[0] for c in CONDITIONS))
    names = ["firmware"] + list(BASELINES)
    short = ["firmware (" + args.interpreter + ")", "textbook 6 Hz", "1 s RMS",
             "30 Hz HP + 0.7 s", "previous firmware"]
    cache = {"mvc_rule": args.mvc}
    worst = {}
    for model in args.models.split(","):
        print(f"\nModel: {model} ({args.seeds} runs of {args.minutes:g} min per cell): "
              "RMS error, %MVC")
        oracle = " the window alone, noiseless (see window_oracle) |" if model == "muap" else ""
        print("| condition | " + " | ".join(short) + " | firmware bias |" + oracle)
        print("|---|" + "---|" * (len(short) + 1 + (model == "muap")))
        for label, cond in conditions:
            errs = [run(model, cond, s, args.minutes, args.interpreter, cache, without)
                    for s in range(args.seeds)]
            if any(r is None for r in errs):
                worst[model, label] = float("inf")
                print(f"| {label} | **calibration refused** | " + " | ".join(
                    "-" for _ in names[1:]) + " | - |")
                continue
            e = {k: float(np.sqrt(np.mean([r[k] ** 2 for r in errs]))) for k in names}
            worst[model, label] = e["firmware"]
            cells = [("**%.2f**" if k == "firmware" and e[k] > 1.5 else "%.2f") % e[k]
                     for k in names]
            bias = np.mean([r["bias"] for r in errs])
            extra = ""
            if model == "muap":
                extra = " %.2f |" % np.sqrt(np.mean([r["oracle"] ** 2 for r in errs]))
            print(f"| {label} | " + " | ".join(cells) + f" | {bias:+.2f} |" + extra)
        if model == "muap":
            ex = muap.best_second_excess()
            print("\nA calibration brace's strongest 1 s against its mean, noiseless muscle, "
                  "3 braces of 5 s at 100 %%: +%s %%" % ", +".join("%.1f" % v for v in ex))
    scales = sorted({c.get("scale", 1.0) for _, c in CONDITIONS})
    print("\nWhat the firmware's 30 Hz high-pass keeps of the noiseless muscle's mean |value| at a "
          "steady 20 %%, at spectrum %s %%: " % " / ".join("%+.0f" % (100 * (v - 1)) for v in scales)
          + "; ".join("%s %s %%" % (m, " / ".join("%.1f" % k for k in highpass_keeps(m, scales)))
                      for m in ("synth", "muap")))
    missed = [(m, c, v) for (m, c), v in worst.items() if v > 1.5]
    print("\nfirmware cells over 1.5 %%MVC: %d of %d: %s" % (len(missed), len(worst), (
        ", ".join(f"{m} / {c} ({v:.2f})" for m, c, v in missed) if missed else "none")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
