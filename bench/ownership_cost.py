"""What ownership costs the belt: X25519 for a pairing, and the MAC and cipher on every packet,
on the MicroPython unix port with an ESP32-sized heap, against named baselines in the same run:
the `cryptography` package's X25519 (OpenSSL) on CPython, the same firmware code on CPython, and
parsing the request that the MAC protects.

    .venv/bin/python bench/ownership_cost.py [--runs 3] [--iterated]

--iterated also runs RFC 7748's 1000-fold iterated X25519 test on MicroPython and checks it.
The ESP32-S3 estimate is printed with its method (docs/performance.md, "Ownership")."""
import argparse
import os
import statistics
import subprocess
import sys
import timeit

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from corecue.interp import FIRMWARE, SHIMS, micropython_path

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ownership_mpy.py")
ESP32_MHZ = 240
# An out-of-order server core retires 1.5-3x the instructions per cycle of the ESP32-S3's in-order
# Xtensa LX7 on interpreter code; MicroPython's big integers use 32-bit digits on x86-64 and 16-bit
# digits on 32-bit ports (py/mpz.h, MPZ_DIG_SIZE), so a 255-bit product takes up to 4x the digit
# operations there. Low end: all interpreter overhead; high end: all digit arithmetic.
IPC = (1.5, 3.0)
DIGITS = (1.0, 4.0)


def host_mhz():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1])
    except OSError:
        pass
    return None


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        name, us, b = line.split()
        rows[name] = (int(us), int(b))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--iterated", action="store_true")
    args = ap.parse_args()
    mpy = [run([micropython_path(), "-X", "heapsize=256k", SCRIPT, FIRMWARE]
               + (["--iterated"] if args.iterated and i == 0 else []))
           for i in range(args.runs)]
    cpy = [run([sys.executable, SCRIPT, FIRMWARE, SHIMS]) for _ in range(args.runs)]

    def med(rows, name, k=0):
        return statistics.median(r[name][k] for r in rows if name in r)

    priv = X25519PrivateKey.generate()
    peer = X25519PublicKey.from_public_bytes(bytes(range(1, 33)))
    n = 2000
    ossl_us = min(timeit.repeat(lambda: priv.exchange(peer), number=n, repeat=5)) / n * 1e6

    print(f"median of {args.runs} runs; MicroPython unix port with -X heapsize=256k")
    print("| X25519, one scalar multiplication | ms | bytes allocated |")
    print("|---|---|---|")
    print(f"| belt.x25519 on MicroPython | {med(mpy, 'x25519') / 1000:.1f} | "
          f"{med(mpy, 'x25519', 1):.0f} |")
    print(f"| belt.x25519 on CPython | {med(cpy, 'x25519') / 1000:.1f} | - |")
    print(f"| cryptography (OpenSSL) on CPython, the baseline | {ossl_us / 1000:.3f} | - |")
    mhz = host_mhz()
    if mhz:
        t = med(mpy, "x25519") / 1000
        lo = t * mhz / ESP32_MHZ * IPC[0] * DIGITS[0]
        hi = t * mhz / ESP32_MHZ * IPC[1] * DIGITS[1]
        print(f"ESP32-S3 at {ESP32_MHZ} MHz, estimated: {lo / 1000:.2f} to {hi / 1000:.2f} s "
              f"({t:.1f} ms x {mhz:.0f}/{ESP32_MHZ} MHz x IPC {IPC[0]}-{IPC[1]} x digits "
              f"{DIGITS[0]:.0f}-{DIGITS[1]:.0f})")
    print()
    print("| per packet, on MicroPython | us | bytes allocated |")
    print("|---|---|---|")
    for name, what in (("parse_request", "parse a status request (baseline: every request)"),
                       ("open_request", "check tag and counter, decrypt a status request"),
                       ("seal_effort", "seal an effort event (16 bytes)"),
                       ("seal_chunk", "seal a 230-byte session chunk"),
                       ("hmac_effort", "an effort event's tag by HMAC-SHA256 instead of CMAC")):
        print(f"| {what} | {med(mpy, name):.0f} | {med(mpy, name, 1):.0f} |")
    if args.iterated:
        us, ok = mpy[0]["rfc7748_1000"]
        print(f"\nRFC 7748 iterated 1000 times on MicroPython: {'matches' if ok else 'WRONG'}, "
              f"{us / 1e6:.1f} s")
        if not ok:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
