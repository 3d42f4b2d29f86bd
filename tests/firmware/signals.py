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
