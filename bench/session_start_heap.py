"""What a session start asks of the heap, under MicroPython (the real app on the sim board, the
firmware compiled from source, `-X heapsize=8M`): the bytes handed out (`micropython.mem_total()`)
and the smallest holes a heap in pieces may have for a session to start and write its blocks.
The writer's buffers made once at boot (the app's `SessionBuffers`) against the baseline in the
same run: every writer making its own, as every session start did before.

    .venv/bin/python bench/session_start_heap.py [FIRMWARE]

FIRMWARE defaults to this checkout's firmware/. bench/session_start_heap_mpy.py does the work.
"""
import os
import subprocess
import sys
import tempfile

from corecue.interp import FIRMWARE, micropython_path

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "session_start_heap_mpy.py")
HOLES = (128, 192, 256, 512, 1024, 2048, 2560)


def _run(firmware, who, *what):
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([micropython_path(), "-X", "heapsize=8M", SCRIPT, firmware,
                            d + "/belt", who, *map(str, what)],
                           capture_output=True, text=True, timeout=300)
    out = (p.stdout + p.stderr).strip().splitlines()
    return out[-1] if out else "no output (exit %d)" % p.returncode


def main():
    firmware = sys.argv[1] if len(sys.argv) > 1 else FIRMWARE
    print("MicroPython unix port (64-bit host), -X heapsize=8M, firmware from source")
    print("| writer buffers | made at boot, bytes (held) | a session start, bytes | of which "
          "the writer and its first block | smallest holes it starts in |")
    print("|---|---|---|---|---|")
    for who, name in (("boot", "made once at boot (SessionBuffers)"),
                      ("own", "each writer its own (baseline: before)")):
        f = _run(firmware, who, "count").split()
        if len(f) != 8:
            print("| %s | %s |" % (name, " ".join(f)))
            continue
        boot, held, start, writer = int(f[1]), int(f[3]), int(f[5]), int(f[7])
        fits, why = None, ""
        for hole in HOLES:
            got = _run(firmware, who, "pieces", hole)
            if got == "ok":
                fits = hole
                break
            why = got
        print("| %s | %s | %s | %s | %s |" % (
            name, "%d (%d)" % (boot, held) if who == "boot" else "0",
            start, writer, ("%d bytes" % fits if fits else "none up to %d" % HOLES[-1])
            + ("; below: %s" % why.replace("memory allocation failed, ", "") if why else "")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
