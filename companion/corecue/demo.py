"""`corecue demo` (what `make demo` runs): a synthetic runner through the belt's firmware.

It renders the bundled synthetic morning (an at-home calibration and a 5-minute run, seeded so
it is the same every time), writes them as the CSV recordings a belt would give, replays them
through the firmware's own signal chain and prints the effort summary."""
import csv
import os

import numpy as np

from corecue import synth, virtual
from corecue.calreport import verdict_text
from corecue.interp import micropython_path
from corecue.replay import replay_files

BAND = (150, 300)   # per mille of MVC: the physio's ~20 % target with its default band


def write_csv(path, adc, phases=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_ms", "adc"] + (["phase"] if phases is not None else []))
        for i, v in enumerate(adc):
            w.writerow([i, int(v)] + ([phases[i]] if phases is not None else []))


def run_demo(out_dir, interpreter=None):
    os.makedirs(out_dir, exist_ok=True)
    interpreter = interpreter or ("micropython" if micropython_path() else "cpython")
    cal_adc, cal_phases = synth.calibration()
    prof = synth.run_profile(minutes=5.0)
    run_adc = synth.render(prof["effort"], prof["running"], prof["hr"], prof["cadence"], seed=5)
    cal_csv, raw_csv = os.path.join(out_dir, "calibration.csv"), os.path.join(out_dir, "run.csv")
    out_csv = os.path.join(out_dir, "effort.csv")
    write_csv(cal_csv, cal_adc, cal_phases)
    write_csv(raw_csv, run_adc)
    print(f"synthetic runner: calibration {len(cal_adc) / synth.FS:.0f} s, "
          f"run {len(run_adc) / synth.FS / 60:.0f} min of 1 kHz EMG -> {out_dir}/")
    res = replay_files(raw_csv, cal_csv, "emg_raw", out_csv, interpreter)
    print(f"calibration ({interpreter}): rest {res.rest / 16:.1f}, MVC {res.mvc / 16:.1f} counts "
          f"mean |step|; braces {', '.join(f'{t / 16:.0f}' for t in res.trials)}; "
          f"{verdict_text(res)}")
    eff = np.array([e for e, _ in res.frames], dtype=float) / 10.0
    qual = np.array([q for _, q in res.frames])
    truth = synth.stride_truth(prof["effort"], prof["cadence"])[:len(eff)]
    good = qual == 0
    lo, hi = BAND[0] / 10, BAND[1] / 10
    in_band = np.mean((eff[good] >= lo) & (eff[good] <= hi)) * 100
    err = eff[good] - truth[good]
    print(f"effort: {len(eff)} frames at 10 Hz -> {out_csv}")
    print(f"  mean {eff[good].mean():.1f} %MVC; in the {lo:.0f}-{hi:.0f} % band "
          f"{in_band:.0f}% of the time; under {np.mean(eff[good] < lo) * 100:.0f}%, "
          f"over {np.mean(eff[good] > hi) * 100:.0f}%")
    print(f"  {np.count_nonzero(~good)} frames flagged for signal quality (cable jerks, clipping)")
    print(f"  against the generator's true effort: RMS error "
          f"{np.sqrt(np.mean(err ** 2)):.2f} %MVC, bias {err.mean():+.2f} %MVC")
    minutes = np.arange(len(eff)) // 600
    print("  minute  mean effort  in band")
    for m in range(int(minutes.max()) + 1):
        sel = (minutes == m) & good
        print(f"  {m + 1:6d}  {eff[sel].mean():8.1f} %  "
              f"{np.mean((eff[sel] >= lo) & (eff[sel] <= hi)) * 100:6.0f}%")
    belt_dir = os.path.join(out_dir, "virtual-belt")
    print(f"\nvirtual belt (the firmware's main.py on the sim board, MicroPython) -> {belt_dir}/")
    print("  a morning: calibrate at home, side planks and bird dog, 10-minute run with a fade,")
    print("  an over-brace and the electrodes off for a minute, then 10 minutes lying down")
    lines, _ = virtual.run(belt_dir, 10, "morning", os.path.join(belt_dir, "motor.csv"))
    for line in lines:
        print("  " + line)
    return 0
