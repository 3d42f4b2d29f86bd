"""A second, independent model of running abdominal surface EMG: motor-unit action-potential
trains, for bench/effort_grid.py. The project's own generator (corecue/twin/synth.py) shapes
Gaussian noise to an EMG spectrum and scales its SD with effort; this one builds the signal the
way a muscle does, so a chain tuned to the first is tested on a signal it has not seen:

- 100 motor units with recruitment thresholds from 1 to 60 %MVC, many small ones and few large
  ones (exponential spread, after Fuglevand, Winter and Patla 1993, J Neurophysiol 70:2470);
- rate coding: each unit fires from 8 Hz at its threshold, 0.8 Hz more per %MVC above it, up to
  a peak rate of 35 Hz (the first units) to 25 Hz (the last), with 15 % inter-spike variability;
- action potentials: first derivatives of a Gaussian (biphasic, as a bipolar electrode sees
  them), 1.5-2.5 ms wide, peak amplitudes over a 100-fold range growing with the threshold;
- fatigue as spectral compression: every potential stretched in time by 1 / scale (scale 0.75:
  the spectrum 25 % down), amplitudes unchanged;
- the stride: excitation (not amplitude) pulses after each foot strike, as in synth.py.

Everything else the electrode sees (offset, drift, noise floor, ECG, foot-strike artefacts, hum,
cable jerks, clipping and 12-bit quantisation) is synth.py's, rendered with no muscle in it: the
two models differ in the muscle alone.

Truth: a muscle's effort as the firmware defines it is its EMG amplitude against the amplitude at
a maximal contraction. The generator knows its noiseless muscle signal, so the true effort of a
100 ms frame is 100 x its mean |value| over the last stride (two steps) / the mean |value| of the
noiseless muscle at 100 % excitation without the stride.
"""
import numpy as np

from corecue.twin import synth

FS = synth.FS
UNITS = 100
_THR = 1.0 + 59.0 * (np.exp(3.0 * np.arange(UNITS) / UNITS) - 1) / (np.exp(3.0) - 1)
_PEAK_RATE = 35.0 - 10.0 * np.arange(UNITS) / UNITS
_AMP = np.exp(np.log(100.0) * np.arange(UNITS) / UNITS)
GAIN = 2.2          # counts per unit of summed potential: 300 counts RMS-ish at MVC, as synth.py


def _potential(width_ms, scale):
    s = width_ms / 1000.0 / scale
    t = np.arange(-int(5 * s * FS) - 1, int(5 * s * FS) + 2) / FS
    g = -t / s * np.exp(-0.5 * (t / s) ** 2)
    return g / np.abs(g).max()


# The wearer's anatomy: each unit's action-potential width under these electrodes. It is one
# muscle for the calibration, the run and the truth's maximum; only the firing differs by seed.
_WIDTHS = np.random.default_rng(2024).uniform(1.5, 2.5, UNITS)


def muscle(excitation, scale=1.0, seed=1):
    """Noiseless muscle signal (counts, float) for per-sample excitation in %MVC; seed draws the
    firing (inter-spike variability and phases), not the muscle."""
    rng = np.random.default_rng(seed)
    e = np.asarray(excitation, dtype=float)
    n = len(e)
    out = np.zeros(n)
    widths = _WIDTHS
    # inter-spike variability: a slow random modulation of each unit's rate, 15 % SD
    b = np.ones(50) / 50.0
    for i in range(UNITS):
        rate = np.where(e >= _THR[i], np.minimum(8.0 + 0.8 * (e - _THR[i]), _PEAK_RATE[i]), 0.0)
        if not rate.any():
            continue
        jitter = np.convolve(rng.standard_normal(n + 49), b, "valid") * np.sqrt(50.0)
        phase = np.cumsum(rate * np.clip(1.0 + 0.15 * jitter, 0.2, None)) / FS
        phase += rng.uniform()
        spikes = np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1
        train = np.zeros(n)
        train[spikes] = _AMP[i]
        out += np.convolve(train, _potential(widths[i], scale), "same")
    return out * GAIN


def stride_gain(n, cadence_spm, depth, seed=1, asymmetry=0.0):
    """synth.py's stride-phasic gain: a burst after each foot strike, mean 1 per step (per stride
    with a left/right asymmetry, as synth.render's)."""
    rng = np.random.default_rng(seed)
    phase = np.cumsum(np.asarray(cadence_spm, float) / 60.0 / FS) + rng.uniform()
    frac = phase - np.floor(phase)
    burst = np.exp(-0.5 * ((frac - 0.15) / 0.12) ** 2)
    burst /= burst.mean()
    if asymmetry:
        side = np.where(np.floor(phase) % 2 == 0, 1.0, -1.0)
        burst = burst * (1 + side * asymmetry / (2 + asymmetry))
    return (1 - depth) + depth * burst


def mvc_amplitude(seed=5):
    """Mean |value| of the noiseless muscle at 100 % excitation, no stride."""
    return float(np.mean(np.abs(muscle(np.full(5 * FS, 100.0), seed=seed)[FS:])))


def mvc_best_second(seed=5):
    """The strongest 1 s mean |value| (of 100 ms blocks) of the same maximal brace as
    mvc_amplitude: the MVC as EMG normalisation conventionally takes it."""
    m = np.abs(muscle(np.full(5 * FS, 100.0), seed=seed)[FS:])
    blocks = m[:len(m) // 100 * 100].reshape(-1, 100).mean(1)
    return float(np.convolve(blocks, np.ones(10) / 10, "valid").max())


def best_second_excess(seeds=(11, 12, 13), seconds=5):
    """How far the strongest 1 s of a steady maximal brace reads above the brace's mean, in %
    (the noiseless muscle's mean |value| per 100 ms block, as a calibration sees its braces)."""
    out = []
    for seed in seeds:
        m = np.abs(muscle(np.full((seconds + 1) * FS, 100.0), seed=seed)[FS:])
        blocks = m[:len(m) // 100 * 100].reshape(-1, 100).mean(1)
        best = np.convolve(blocks, np.ones(10) / 10, "valid").max()
        out.append(100.0 * (best / blocks.mean() - 1))
    return out


def render(effort, running, hr_bpm, cadence_spm, seed=1, scale=1.0, depth=synth.PHASIC_DEPTH,
           asymmetry=0.0, **contamination):
    """(ADC samples, noiseless muscle) for per-sample effort (%MVC excitation), with
    synth.render's contamination (hum, hum_hz, noise_floor, spikes_per_min)."""
    running = np.asarray(running, bool)
    n = len(effort)
    gain = np.where(running, stride_gain(n, cadence_spm, depth, seed, asymmetry), 1.0)
    m = muscle(np.asarray(effort, float) * gain, scale, seed)
    base = synth.render(np.zeros(n), running, hr_bpm, cadence_spm, seed=seed + 1000,
                        **contamination).astype(float)
    return np.clip(np.round(base + m), 0, 4095).astype(np.uint16), m


def truth(m, cadence_spm, mvc, frame_ms=100):
    """True effort per frame: mean |muscle| over the last two steps, % of the MVC's."""
    return 100.0 * synth.stride_truth(np.abs(m), cadence_spm, frame_ms) / mvc


def calibration(seed=11, mvc_trials=(100.0, 97.0, 99.0), **contamination):
    """The at-home procedure on this model: synth.calibration_effort's timeline (rest 10 s, three
    5 s braces with 0.5 s ramps and 10 s pauses), rendered as motor-unit trains."""
    effort, phase = synth.calibration_effort(mvc_trials)
    n = len(effort)
    adc, _ = render(effort, np.zeros(n, bool), np.full(n, 75.0), np.zeros(n), seed=seed,
                    spikes_per_min=0.0, **contamination)
    return adc, phase
