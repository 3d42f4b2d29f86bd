# Deterministic test signals that both interpreters generate identically: integer-only noise from
# a linear congruential generator, shaped like EMG well enough for the chain's arithmetic.
from array import array


class Noise:
    def __init__(self, seed=1):
        self.s = seed

    def uniform(self):
        """0..65535 from a 32-bit LCG (Numerical Recipes constants)."""
        self.s = (self.s * 1664525 + 1013904223) & 0xFFFFFFFF
        return self.s >> 16

    def gauss(self):
        """Approximately N(0, 1) times 1024: the sum of four uniforms, centred and scaled."""
        t = self.uniform() + self.uniform() + self.uniform() + self.uniform() - 131070
        return t * 1024 // 37837   # SD of the sum is 65536 * sqrt(4/12) = 37837


def emg(n, sd, noise, mid=2048, floor_sd=4):
    """n samples of zero-mean noise with standard deviation sd counts (+ a noise floor)."""
    buf = array("H", [0] * n)
    for i in range(n):
        v = mid + (noise.gauss() * sd + noise.gauss() * floor_sd) // 1024
        buf[i] = 0 if v < 0 else (4095 if v > 4095 else v)
    return buf


def feed(chain, buf):
    """Push every whole block of buf through the chain; returns the list of effort frames."""
    out = []
    for start in range(0, len(buf) - chain.block + 1, chain.block):
        chain.push_block(buf, start)
        out.append(chain.effort_pm)
    return out


def frames_of(chain, buf):
    """The same, with each frame's quality: a list of (effort per mille, quality)."""
    out = []
    for start in range(0, len(buf) - chain.block + 1, chain.block):
        chain.push_block(buf, start)
        out.append((chain.effort_pm, chain.quality))
    return out


# Resonator coefficients (Q14: a1, a2) for EMG-like spectra whose median frequency is 107 Hz
# (centre 70 Hz, bandwidth 100 Hz, zeros at DC and 500 Hz), and the same spectrum compressed to
# 80 Hz (-25 %) and stretched to 123 Hz (+15 %): the frequency axis scaled, as fatigue does.
SPECTRA = {"mid": (21656, 8741), "low": (24976, 10504), "high": (19509, 7748)}


def shaped(n, sd, noise, spectrum="mid", mid=2048, floor_sd=4):
    """n samples of noise with the named EMG spectrum and standard deviation sd counts exactly
    (measured and rescaled), plus a white noise floor."""
    a1, a2 = SPECTRA[spectrum]
    raw = [0] * n
    w1 = w2 = y1 = y2 = 0
    for i in range(n + 200):               # 200 samples to settle the resonator
        w = noise.gauss()
        y = (16384 * (w - w2) + a1 * y1 - a2 * y2) >> 14
        w2, w1, y2, y1 = w1, w, y1, y
        if i >= 200:
            raw[i - 200] = y
    m = sum(raw) // n
    rms = isqrt_big(sum((v - m) * (v - m) for v in raw) // n)
    buf = array("H", [0] * n)
    for i in range(n):
        v = mid + ((raw[i] - m) * sd) // rms + (noise.gauss() * floor_sd) // 1024
        buf[i] = 0 if v < 0 else (4095 if v > 4095 else v)
    return buf


def isqrt_big(v):
    """Floor square root of any non-negative int (test code: big ints are fine here)."""
    if v < 2:
        return v
    x = v
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + v // x) // 2
    return x


def running(n, sd, noise, step_ms, depth_pct, mid=2048, floor_sd=4):
    """EMG whose amplitude pulses with every step, as trunk EMG does when running: for the first
    half of each step_ms the SD is sd x (1 + depth), for the second sd x (1 - depth) (mean sd x 1,
    a square pulse: the hardest shape for a window to average away)."""
    buf = array("H", [0] * n)
    hi = sd * (100 + depth_pct)
    lo = sd * (100 - depth_pct)
    for i in range(n):
        a = hi if (i % step_ms) * 2 < step_ms else lo
        v = mid + (noise.gauss() * a // 100 + noise.gauss() * floor_sd) // 1024
        buf[i] = 0 if v < 0 else (4095 if v > 4095 else v)
    return buf


def add_hum(buf, amp, hz, start=0):
    """Add a mains sine of amp counts at hz (50 or 60, or 150, 180 and 250: the 3rd harmonics of
    both and 50 Hz mains' 5th) from sample start, by an integer recurrence s[n+1] = 2 cos(w) s[n] - s[n-1] in Q8
    (both interpreters compute the same)."""
    k, sin_w = {50: (31164, 5063), 60: (30467, 6031), 150: (19261, 13255),
                180: (13952, 14825), 250: (0, 16384)}[hz]                          # 2 cos(w), sin(w) in Q14
    s0 = 0
    s1 = (amp * sin_w) >> 6               # amp sin(w), Q8
    for i in range(start, len(buf)):
        v = buf[i] + (s0 >> 8)
        buf[i] = 0 if v < 0 else (4095 if v > 4095 else v)
        s0, s1 = s1, ((k * s1) >> 14) - s0
    return buf
