"""What the Bluetooth bond store (belt.bonds) costs the belt's heap, on the MicroPython unix port
loading host `.mpy` files as the belt loads its own, against a named baseline in the same run:
belt.keystore, the owners' key file, which the belt loads on every boot as well.

    .venv/bin/python bench/bonds_cost.py [--runs 3]

Per row: the heap a module takes once imported, the heap one store takes, and for the IRQ
handler's two secret events (a secret looked up, a secret replaced) the bytes the heap hands out
and the median time of one. docs/performance.md, "The Bluetooth bond store"."""
import argparse
import os
import statistics
import subprocess
import tempfile

from corecue.interp import FIRMWARE, micropython_path

MODULES = ("belt/__init__", "belt/atomicfile", "belt/keystore", "belt/bonds")

SCRIPT = r"""
import gc, sys, time
sys.path.insert(0, sys.argv[1])
from micropython import mem_total
import belt.atomicfile
def heap(fn):
    gc.collect(); a = gc.mem_alloc(); r = fn(); gc.collect()
    return r, gc.mem_alloc() - a
def imp(name):
    __import__(name)
    return sys.modules[name]
class Flag:
    def set(self): pass
ks, n = heap(lambda: imp("belt.keystore"))
print("keystore_module", n)
_, n = heap(lambda: ks.KeyStore(sys.argv[2] + "/keys"))
print("keystore_store", n)
bm, n = heap(lambda: imp("belt.bonds"))
print("bonds_module", n)
store, n = heap(lambda: bm.Bonds(sys.argv[2] + "/bonds", Flag(), print))
print("bonds_store", n)
key, val = memoryview(bytes(range(7))), memoryview(bytes(88))
store.irq(30, (1, key, val))
for name, ev, data in (("get_secret", 29, (1, 0, key)), ("set_secret", 30, (1, key, val))):
    store.irq(ev, data)
    times, allocs = [], []
    for _ in range(50):
        m = mem_total(); t = time.ticks_us()
        store.irq(ev, data)
        times.append(time.ticks_diff(time.ticks_us(), t)); allocs.append(mem_total() - m)
    times.sort(); allocs.sort()
    print(name + "_us", times[25]); print(name + "_bytes", allocs[25])
"""


def build(out):
    os.makedirs(os.path.join(out, "belt"), exist_ok=True)
    mpy_cross = os.path.join(os.path.dirname(micropython_path()), "mpy-cross")
    sizes = {}
    for m in MODULES:
        dst = os.path.join(out, m + ".mpy")
        subprocess.run([mpy_cross, "-march=x64", "-o", dst, os.path.join(FIRMWARE, m + ".py")],
                       check=True)
        xt = dst + ".xtensawin"
        subprocess.run([mpy_cross, "-march=xtensawin", "-o", xt,
                        os.path.join(FIRMWARE, m + ".py")], check=True)
        sizes[m] = os.path.getsize(xt)
        os.remove(xt)
    return sizes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="corecue-bonds-") as tmp:
        sizes = build(os.path.join(tmp, "fw"))
        script = os.path.join(tmp, "bench.py")
        with open(script, "w") as f:
            f.write(SCRIPT)
        runs = []
        for _ in range(args.runs):
            data = tempfile.mkdtemp(dir=tmp)
            out = subprocess.run([micropython_path(), "-X", "heapsize=256k", script,
                                  os.path.join(tmp, "fw"), data],
                                 capture_output=True, text=True, check=True).stdout
            runs.append({k: int(v) for k, v in (line.split() for line in out.splitlines())})

    def med(k):
        return statistics.median(r[k] for r in runs)

    print(f"median of {args.runs} runs; MicroPython unix port, -X heapsize=256k, host .mpy files")
    print("| | module .mpy for the ESP32-S3, bytes | heap once imported, bytes | heap of one store, bytes |")
    print("|---|---|---|---|")
    print(f"| belt.keystore (the owners' keys), the baseline | {sizes['belt/keystore']} | "
          f"{med('keystore_module'):.0f} | {med('keystore_store'):.0f} |")
    print(f"| belt.bonds (the Bluetooth bonds) | {sizes['belt/bonds']} | "
          f"{med('bonds_module'):.0f} | {med('bonds_store'):.0f} |")
    print()
    print("| IRQ event | bytes allocated | µs (unix port) |")
    print("|---|---|---|")
    print(f"| _IRQ_GET_SECRET, a secret looked up | {med('get_secret_bytes'):.0f} | "
          f"{med('get_secret_us'):.0f} |")
    print(f"| _IRQ_SET_SECRET, a secret replaced | {med('set_secret_bytes'):.0f} | "
          f"{med('set_secret_us'):.0f} |")


if __name__ == "__main__":
    main()
