"""Synthetic abdominal surface EMG of a runner, with known true bracing effort.

The generator is the ground truth for the firmware's accuracy benchmark, the demo and the virtual
belt. docs/signal.md documents its model; in short, the ADC sees

    mid-rail offset + drift
  + muscle EMG: shaped Gaussian noise whose SD is  sigma_mvc * effort/100 * stride phasic gain
  + electrode/amplifier noise floor
  + ECG (QRS-T complexes at the runner's heart rate)
  + a motion artefact at every foot strike (damped low-frequency transient)
  + mains hum (50 Hz and harmonics)
  + cable-jerk spikes (rare, large, a few ms)
  then clipped and quantised to 12 bits.

Everything is seeded, so a scenario always renders the same samples.
"""

import numpy as np

FS = 1000                 # raw EMG sample rate, Hz
MID = 2048                # MyoWare RAW rides on mid-supply
SIGMA_MVC = 300.0         # SD of the muscle signal at maximal contraction, ADC counts
NOISE_FLOOR = 4.0         # SD of electrode + amplifier noise, counts
ECG_R_PEAK = 250.0        # R-wave height, counts (trunk EMG carries a large ECG)
FOOT_ARTEFACT = 300.0     # peak of the foot-strike motion transient, counts
HUM = 6.0                 # 50 Hz hum amplitude, counts
PHASIC_DEPTH = 0.5        # share of muscle amplitude that pulses with each foot strike


def _shaped_noise(rng, n, scale=1.0):
    """Unit-SD Gaussian noise with a surface-EMG spectrum (peak near 80-100 Hz); scale < 1
    compresses the spectrum along the frequency axis, as a fatiguing muscle does."""
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1.0 / FS)
    fl, fh = 60.0 * scale, 120.0 * scale
    # Shwedyk-style power spectrum: f^2 rise, f^-4 fall; amplitude is its square root.
    power = (fh ** 4 * f ** 2) / ((f ** 2 + fl ** 2) * (f ** 2 + fh ** 2) ** 2)
    shaped = np.fft.irfft(spec * np.sqrt(power), n)
    return shaped / shaped.std()


def _beats(rng, n, hr_bpm):
    """Sample indices of heartbeats for a heart-rate curve (bpm per sample), with variability."""
    idx = []
    t = rng.uniform(0, 0.3) * FS
    while t < n:
        idx.append(int(t))
        hr = hr_bpm[min(int(t), n - 1)] * (1 + 0.02 * rng.standard_normal())
        t += FS * 60.0 / hr
    return np.array(idx, dtype=int)


def _ecg(rng, n, hr_bpm, r_peak=ECG_R_PEAK):
    """QRS-T complexes; the QRS is a few tens of ms wide, so it reaches well above 20 Hz."""
    tt = np.arange(-60, 300) / FS
    g = lambda mu, sd, a: a * np.exp(-0.5 * ((tt - mu) / sd) ** 2)
    beat = g(-0.025, 0.008, -0.12) + g(0.0, 0.009, 1.0) + g(0.025, 0.008, -0.25) + g(0.2, 0.04, 0.25)
    out = np.zeros(n + len(tt))
    for b in _beats(rng, n, hr_bpm):
        out[b:b + len(tt)] += beat * (1 + 0.05 * rng.standard_normal())
    return r_peak * out[60:60 + n]


def _foot_strikes(rng, n, cadence_spm):
    """Indices of foot strikes for a cadence curve (steps per minute per sample)."""
    phase = np.cumsum(cadence_spm / 60.0 / FS)
    return np.nonzero(np.diff(np.floor(phase + rng.uniform())) > 0)[0] + 1, phase


def render(effort, running, hr_bpm, cadence_spm, seed=1, spikes_per_min=2.0, hum=HUM,
           spectrum=1.0, depth=PHASIC_DEPTH, noise_floor=NOISE_FLOOR, hum_hz=50.0,
           ecg=ECG_R_PEAK, foot=FOOT_ARTEFACT, asymmetry=0.0):
    """Render ADC samples (uint16 array) for per-sample effort (%MVC), running (bool),
    heart rate (bpm) and cadence (steps/min) arrays, all of length n at 1 kHz. spectrum scales
    the EMG's frequency axis (0.75: median frequency 25 % down), depth is the stride-phasic
    modulation depth, hum the mains amplitude (counts) at hum_hz, ecg the R wave's height and
    foot the foot-strike transient's peak (counts; 0 leaves either out), asymmetry the left/right
    difference of the stride's bursts (0.2: one side's 20 % stronger than the other's, the mean
    over a stride unchanged)."""
    rng = np.random.default_rng(seed)
    n = len(effort)
    running = np.asarray(running, dtype=bool)
    strikes, phase = _foot_strikes(rng, n, cadence_spm)
    strikes = strikes[running[strikes]]
    # Stride-phasic gain: a burst just after each foot strike, mean 1 over a step.
    frac = phase - np.floor(phase)
    burst = np.exp(-0.5 * ((frac - 0.15) / 0.12) ** 2)
    burst /= burst.mean() if burst.mean() > 0 else 1.0
    if asymmetry:
        side = np.where(np.floor(phase) % 2 == 0, 1.0, -1.0)
        burst = burst * (1 + side * asymmetry / (2 + asymmetry))
    gain = np.where(running, (1 - depth) + depth * burst, 1.0)
    # Renormalise so the gain averages exactly 1 over each step, whatever the cadence.
    emg = _shaped_noise(rng, n, spectrum) * SIGMA_MVC * np.asarray(effort) / 100.0 * gain
    x = MID + emg + noise_floor * rng.standard_normal(n)
    x += 20.0 * np.sin(2 * np.pi * 0.05 * np.arange(n) / FS)            # slow offset drift
    x += _ecg(rng, n, np.asarray(hr_bpm, dtype=float), ecg)
    t = np.arange(n) / FS
    x += hum * (np.sin(2 * np.pi * hum_hz * t) + 0.3 * np.sin(2 * np.pi * 3 * hum_hz * t + 1.0))
    art_t = np.arange(0, 250) / FS
    art = foot * np.exp(-art_t / 0.05) * np.sin(2 * np.pi * 8 * art_t)
    for s in strikes:
        k = min(len(art), n - s)
        x[s:s + k] += art[:k] * rng.uniform(0.6, 1.4)
    n_spikes = rng.poisson(spikes_per_min * n / FS / 60.0)
    for s in rng.integers(0, n - 10, n_spikes):
        x[s:s + 4] += rng.choice([-1, 1]) * rng.uniform(800, 2500)
    return np.clip(np.round(x), 0, 4095).astype(np.uint16)


def stride_truth(effort, cadence_spm, frame_ms=100):
    """True effort at each 100 ms frame end: the mean over the last stride (two steps)."""
    c = np.cumsum(np.concatenate([[0.0], np.asarray(effort, dtype=float)]))
    n = len(effort)
    ends = np.arange(frame_ms, n + 1, frame_ms)
    out = np.empty(len(ends))
    for i, e in enumerate(ends):
        w = int(round(2 * 60.0 / cadence_spm[e - 1] * FS))
        s = max(0, e - w)
        out[i] = (c[e] - c[s]) / (e - s)
    return out


def calibration_effort(mvc_trials=(100.0, 97.0, 99.0)):
    """The at-home procedure as effort over time: rest 10 s, then three 5 s maximal braces with
    ~0.5 s ramps and 10 s pauses. Returns (effort per sample, phase label per sample); each
    signal model renders it its own way (this module's, bench/muap.py's)."""
    parts = [("rest", 10.0, 0.0)]
    for i, level in enumerate(mvc_trials):
        parts.append(("brace", 5.0, level))
        if i < len(mvc_trials) - 1:
            parts.append(("pause", 10.0, 0.0))
    effort, phase = [], []
    for label, secs, level in parts:
        k = int(secs * FS)
        e = np.full(k, level)
        if label == "brace":          # people ramp up and down over ~0.5 s
            ramp = min(500, k // 4)
            e[:ramp] *= np.linspace(0, 1, ramp)
            e[-ramp:] *= np.linspace(1, 0, ramp)
        effort.append(e)
        phase += [label] * k
    return np.concatenate(effort), phase


def calibration(seed=11, mvc_trials=(100.0, 97.0, 99.0)):
    """The at-home procedure (calibration_effort) on this model. Returns (adc samples, phase
    labels per sample)."""
    effort, phase = calibration_effort(mvc_trials)
    n = len(effort)
    adc = render(effort, np.zeros(n, bool), np.full(n, 75.0), np.full(n, 0.0), seed=seed,
                 spikes_per_min=0.0)
    return adc, phase


def run_profile(minutes=5.0, seed=3):
    """A run: steady braces near 20% with slow wander, drops (fatigue), over-braces, and a
    sharp step from 20% to 5%. Returns dict of per-sample arrays."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * FS)
    t = np.arange(n) / FS
    effort = 20.0 + 2.0 * np.sin(2 * np.pi * t / 47.0) + 1.5 * np.sin(2 * np.pi * t / 13.0)
    seg = n // 10
    effort[2 * seg:3 * seg] = 8.0 + 0.5 * np.sin(2 * np.pi * t[2 * seg:3 * seg] / 7.0)  # fade
    effort[5 * seg:6 * seg] = 38.0                                                        # over-brace
    effort[8 * seg:9 * seg] = 5.0                                                         # step 20 -> 5
    cadence = 170.0 + 6.0 * np.sin(2 * np.pi * t / 90.0) + rng.uniform(-2, 2)
    hr = np.clip(120.0 + 40.0 * t / max(t[-1], 1.0), 0, 175) + 10.0
    running = np.ones(n, bool)
    return {"effort": effort, "cadence": cadence, "hr": hr, "running": running,
            "step_at": 8 * seg}
