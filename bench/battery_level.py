"""When belt.battery closes a session on a cell running down, against when the cell would brown
the belt out: cells from sound to worn out, each discharged at the belt's running
load with a cue's motor pulses every two minutes, against a named baseline measured in the same
run: the same Battery fed rest readings only (the battery task skipped readings while the motor
ran, and tagged none).

    PYTHONPATH=companion .venv/bin/python bench/battery_level.py

The cell is a model, not a measurement: a LiPo's open-circuit voltage against its charge (a
typical curve), an internal resistance (sound 0.25 ohm, aged 0.8, worn 1.6, worn out 2.2: the
last reads 3.47 V at rest and 3.29-3.35 V at the end of a pulse, issue 17's case), the running
load of hardware/power.md (45 mA) and the motor's 80 mA at 70-100 % strength, and ADC noise of
8 mV (seeded; the cues' strengths from a stream of their own, the same for both ways of reading).
The belt browns out when a pulse takes the cell below 3.30 V (the regulator).
"""
import numpy as np

from corecue.interp import firmware_module

B = firmware_module("belt.battery")

_OCV = ((0.00, 3.30), (0.02, 3.45), (0.05, 3.60), (0.10, 3.68), (0.20, 3.74), (0.30, 3.77),
        (0.50, 3.82), (0.70, 3.92), (0.90, 4.06), (1.00, 4.20))
CAPACITY_AH = 0.8           # a cell aged to 80 % (hardware/power.md's worst case)
BASE_A = 0.045              # the belt running a session
MOTOR_A = 0.080             # full strength
BROWN_OUT_V = 3.30
READ_S = 5                  # the battery task's pace
CUE_S = 120                 # a cue every two minutes: two taps, one reading at the end of each
NOISE_V = 0.008
CELLS = (("sound", 0.25), ("aged", 0.8), ("worn", 1.6), ("worn out", 2.2))


def ocv(soc):
    s, v = zip(*_OCV)
    return float(np.interp(soc, s, v))


def discharge(r_ohm, tagged, seed=17, soc0=0.12):
    """Seconds to CRITICAL, to EMPTY (the session closed) and to the brown-out."""
    pulses = np.random.default_rng(seed)           # the same cues for both ways of reading
    rng = np.random.default_rng(seed + 1)          # ADC noise
    b = B.Battery()
    soc = soc0
    t = 0
    critical = empty = None
    while True:
        base = ocv(soc) - BASE_A * r_ohm
        if t % CUE_S == 0:
            for strength in pulses.uniform(0.7, 1.0, 2):
                pulse = ocv(soc) - (BASE_A + MOTOR_A * strength) * r_ohm
                if pulse < BROWN_OUT_V:
                    return critical, empty, t
                if tagged:
                    b.reading(int((pulse + rng.normal(0, NOISE_V)) * 1000), B.MOTOR)
        level = b.update(int((base + rng.normal(0, NOISE_V)) * 1000))
        if level >= B.CRITICAL and critical is None:
            critical = t
        if level == B.EMPTY and empty is None:
            empty = t
        soc -= BASE_A * READ_S / 3600 / CAPACITY_AH
        t += READ_S
        if soc <= 0:
            return critical, empty, t


def _min(s):
    return "never" if s is None else "%.1f" % (s / 60)


def main():
    print("| cell | readings | critical at (min) | session closed at (min) | brown-out at (min) "
          "| margin (min) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, r in CELLS:
        for label, tagged in (("rest and loaded, apart (belt.battery)", True),
                              ("rest only (baseline)", False)):
            c, e, out = discharge(r, tagged)
            margin = "**torn**: no close before it" if e is None else "%.1f" % ((out - e) / 60)
            print(f"| {name} ({r} ohm) | {label} | {_min(c)} | {_min(e)} | {_min(out)} "
                  f"| {margin} |")


if __name__ == "__main__":
    main()
