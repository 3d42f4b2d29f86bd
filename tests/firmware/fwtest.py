"""A test runner that works the same under MicroPython and CPython.

    micropython tests/firmware/fwtest.py test_effort      # the real interpreter
    python      tests/firmware/fwtest.py test_effort      # CPython, through corecue/twin/mpshim

Every test_* function of the named modules runs; `record(key, value)` prints a line that the
pytest wrapper (tests/test_firmware_runtimes.py) compares between the two interpreters, so the
firmware must compute the same numbers on both. The last line is "N passed, N failed, N skipped".
"""
import sys

IS_MPY = sys.implementation.name == "micropython"
_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ROOT = _HERE + "/../.."
FIRMWARE = ROOT + "/firmware"

sys.path.insert(0, FIRMWARE)
sys.path.insert(0, _HERE)
if not IS_MPY:
    sys.path.insert(0, ROOT + "/companion/corecue/twin/mpshim")


class Skip(Exception):
    pass


def skip_unless_micropython(why):
    if not IS_MPY:
        raise Skip(why)


def record(key, value):
    print("RECORD", key, value)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def near(got, want, tol, what=""):
    if abs(got - want) > tol:
        raise AssertionError("%s: got %r, want %r +- %r" % (what, got, want, tol))


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc.__name__, fn))


def _noop():
    pass


def allocated(fn):
    """Bytes the heap handed out while fn ran (MicroPython only). heap_lock() alone is not proof:
    a bytecode function with many locals asks the heap for its frame and quietly falls back to
    the C stack when the heap is locked, so it passes under the lock yet allocates in normal
    running. micropython.mem_total() counts those too."""
    import micropython

    def measure(f):
        before = micropython.mem_total()
        f()
        return micropython.mem_total() - before
    return measure(fn) - measure(_noop)   # the measuring itself costs a few bytes


def _print_exc(e):
    if IS_MPY:
        sys.print_exception(e)
    else:
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__)


def run(names):
    passed = failed = skipped = 0
    for name in names:
        mod = __import__(name)
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            fn = getattr(mod, attr)
            try:
                fn()
            except Exception as e:
                # By name: run as a script, this file is __main__, and the tests' "fwtest" is a
                # second copy of it with its own Skip class.
                if type(e).__name__ == "Skip":
                    skipped += 1
                    print("SKIP", name, attr, e)
                    continue
                failed += 1
                print("FAIL", name, attr)
                _print_exc(e)
            else:
                passed += 1
                print("ok  ", name, attr)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return failed


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1:]) else 0)
