"""Per-sample cost and allocation of the emg_raw chain on the MicroPython unix port, with an
ESP32-sized heap, against a plain-Python float implementation of the same chain in the same run.

    .venv/bin/python bench/chain_cost.py [--runs 5]

Each run times 10 passes over 10 s of samples and keeps the fastest pass (the least disturbed on
a shared machine); the table is the median over runs. Allocation is micropython.mem_total()
(bytes allocated since start, whatever the collector freed since) before and after the passes."""
import argparse
import os
import statistics
import subprocess
import sys

from corecue.interp import FIRMWARE, micropython_path

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chain_cost_mpy.py")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    rows = {"firmware": [], "float": []}
    for _ in range(args.runs):
        out = subprocess.run([micropython_path(), "-X", "heapsize=128k", SCRIPT, FIRMWARE],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            name, us, _, b, _ = line.split()
            rows[name].append((float(us), float(b)))
    med = {k: (statistics.median(u for u, _ in v), statistics.median(b for _, b in v))
           for k, v in rows.items()}
    print(f"MicroPython unix port, -X heapsize=128k, median of {args.runs} runs of the fastest of 10 "
          "passes over 10,000 samples")
    print("| emg_raw chain | us per sample | bytes allocated per sample |")
    print("|---|---|---|")
    print(f"| firmware (viper kernel and frame, native rhythm and law) | {med['firmware'][0]:.4f} | "
          f"{med['firmware'][1]:.3f} |")
    print(f"| plain-Python floats, the previous chain | {med['float'][0]:.4f} | {med['float'][1]:.3f} |")
    print(f"ratio float / firmware: {med['float'][0] / med['firmware'][0]:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
