# Fuzzed packets replayed through the command handler under MicroPython: the inputs hypothesis
# made under CPython (tests/test_faults_commands.py writes them, one hex line each), to the same
# belt (tests/faults/cmdbelt.py). Every refusal must leave the belt as it was; the replies' types
# and error codes, in order, must be those CPython's belt gave (their CRC32 is printed).
#
#   micropython -X heapsize=8M tests/faults/cmdreplay.py FIRMWARE CORPUS [each]
#
# With "each", one line per packet: its reply type and error code (to compare two interpreters
# line by line when the digests differ; the script runs under CPython too).
# Prints "commands fuzzed tried N failed N lost 0 digest XXXXXXXX", a line per failure.
import sys

_HERE = __file__.rsplit("/", 1)[0]
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, _HERE + "/../firmware")
sys.path.insert(0, _HERE)
import binascii  # noqa: E402

from cmdbelt import Belt  # noqa: E402

belt = Belt("cmdreplay")
failed = 0
each = len(sys.argv) > 3
with open(sys.argv[2]) as f:
    for line in f:
        pkt = binascii.unhexlify(line.strip())
        why = belt.check(pkt)
        if each:
            print("%s %08x" % (line.strip()[:40], belt.digest))
        if why:
            failed += 1
            if failed <= 20:
                print("FAIL %s: %s" % (line.strip()[:80], why))
print("commands fuzzed tried %d failed %d lost 0 digest %08x refused %d" % (
    belt.tried, failed, belt.digest, belt.refused))
sys.exit(1 if failed else 0)
