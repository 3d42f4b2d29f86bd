# The belt's ownership code, timed on the interpreter that runs this script (the MicroPython
# unix port, or CPython through corecue/twin/mpshim). Run by bench/ownership_cost.py:
#   micropython -X heapsize=256k bench/ownership_mpy.py FIRMWARE_DIR [SHIM_DIR]
# Prints "name microseconds bytes" lines: the median time of one operation and the bytes the heap
# handed out for it (-1 where the interpreter cannot count them).
import sys

sys.path.insert(0, sys.argv[1])
if len(sys.argv) > 2 and not sys.argv[2].startswith("--"):
    sys.path.append(sys.argv[2])
import time  # noqa: E402

from belt import protocol as P  # noqa: E402
from belt.channel import Channel, _Hmac  # noqa: E402
from belt.x25519 import BASE, x25519  # noqa: E402

try:
    from micropython import mem_total
except ImportError:
    mem_total = None

if hasattr(time, "ticks_us"):
    def now_us():
        return time.ticks_us()

    def since(t0):
        return time.ticks_diff(time.ticks_us(), t0)
else:
    def now_us():
        return time.perf_counter_ns() // 1000

    def since(t0):
        return now_us() - t0


def measure(name, fn, reps):
    fn()                                    # warm: first-use costs (key expansion) are not ours
    times = []
    allocs = []
    for _ in range(reps):
        m0 = mem_total() if mem_total else 0
        t0 = now_us()
        fn()
        times.append(since(t0))
        allocs.append(mem_total() - m0 if mem_total else -1)
    times.sort()
    allocs.sort()
    print(name, times[len(times) // 2], allocs[len(allocs) // 2])


def rfc7748_iterated(n):
    k = u = BASE
    for _ in range(n):
        k, u = x25519(k, u), k
    return k


keys = bytes(range(80))
belt = Channel(keys)
host = Channel(keys, belt=False)
status = P.request("status", 4)
sealed = [host.seal(status) for _ in range(200)]
effort = P.event("effort", 1234, 200, 0, 0, 500)
ebuf = bytearray(len(effort) + 12)
chunk = P.event("data", 7, 0, tail=bytes(230))
cbuf = bytearray(len(chunk) + 12)
alice = bytes(range(1, 33))
it = iter(sealed)


def seal_effort():
    ebuf[:len(effort)] = effort
    belt.seal_into(ebuf, len(effort))


def seal_chunk():
    cbuf[:len(chunk)] = chunk
    belt.seal_into(cbuf, len(chunk))


measure("x25519", lambda: x25519(alice, BASE), 20)
measure("parse_request", lambda: P.decode_fields("", P.parse(status)[3]), 200)
measure("open_request", lambda: belt.open(next(it)), 150)
measure("seal_effort", seal_effort, 200)
measure("seal_chunk", seal_chunk, 200)
hm = _Hmac(keys[:32])
measure("hmac_effort", lambda: hm.tag_into(ebuf, len(effort) + 4, ebuf, len(effort) + 4, 8), 200)
if "--iterated" in sys.argv:
    t0 = now_us()
    ok = rfc7748_iterated(1000).hex() == \
        "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"
    print("rfc7748_1000", since(t0), 1 if ok else 0)
