# Allocation sites of the firmware, named so that a MemoryError can be raised at each in turn
# (tests/faults/memfail.py: the sync path; memrun.py: the run time). The unix port has no
# allocation hook, and a heap just too small reaches only the first site that fails, so a site is
# a call: of a function or method of the modules given, or of what allocates (bytes, bytearray,
# memoryview, open, struct's packing) from inside them.
#
#   INJ.on = True               # count (and fire) while the belt's code runs
#   instrument(modules, skip)   # once, before the belt is made
#   INJ.calls                   # {site: calls}; INJ.allocating: the sites seen allocating
#   INJ.target = (site, call)   # raise MemoryError there (once, or held: every later call of a
#                               # site in INJ.known, the sites seen taking heap, too)
import struct
import sys

_MPY = sys.implementation.name == "micropython"
if _MPY:
    from micropython import mem_total
else:
    def mem_total():
        return 0


class Injector:
    """Counts calls per site; raises MemoryError at the chosen (site, call)."""

    def __init__(self):
        self.calls = {}
        self.allocating = set()     # sites whose call took heap (MicroPython), outermost included
        self.target = None
        self.fired = False
        self.on = False
        self.held = False       # the heap stays full until the request (or chunk) is done
        self.full = False
        self.after = None       # a function: only calls while it returns True count
        self.known = None       # the sites seen taking heap: a held fault fails only those

    def hit(self, site):
        if not self.on or (self.after is not None and not self.after()):
            return False
        n = self.calls.get(site, 0) + 1
        self.calls[site] = n
        if ((self.full and (not self.known or site in self.known))
                or (self.target is not None and not self.fired and self.target == (site, n))):
            self.fired = True
            self.full = self.held
            raise MemoryError("memory allocation failed (injected: %s, call %d)" % (site, n))
        return True


INJ = Injector()


def _noop(*a, **k):
    return None


def wrap(site, fn):
    def w(*a, **k):
        if not INJ.hit(site):
            return fn(*a, **k)
        # What the call itself takes here (the arguments passed on) is the wrapper's, not fn's.
        before = mem_total()
        _noop(*a, **k)
        own = mem_total() - before
        before = mem_total()
        out = fn(*a, **k)
        if mem_total() - before > own:
            INJ.allocating.add(site)
        return out
    return w


class _Struct:
    """The struct module as the modules see it: every packing allocates or may."""

    def __init__(self, prefix):
        self.calcsize = struct.calcsize
        self.unpack = wrap(prefix + "struct.unpack", struct.unpack)
        self.unpack_from = wrap(prefix + "struct.unpack_from", struct.unpack_from)
        self.pack = wrap(prefix + "struct.pack", struct.pack)
        self.pack_into = wrap(prefix + "struct.pack_into", struct.pack_into)


def _is_function(x):
    return type(x).__name__ in ("function", "closure")


def instrument(modules, skip=(), keep_bytes=()):
    """Every function and method of modules (but the names in skip, "module.Class.method" or
    "module.function"), and their allocating built-ins, become sites. keep_bytes: modules whose
    `bytes` stays the built-in (they test isinstance against it)."""
    builtins = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview, "open": open}
    done = []
    for m in modules:
        name = m.__name__.split(".")[-1]
        for attr in dir(m):
            x = getattr(m, attr)
            if _is_function(x) and name + "." + attr not in skip:
                setattr(m, attr, wrap(name + "." + attr, x))
            elif (type(x) is type and getattr(x, "__module__", None) == m.__name__
                  and x not in done and not attr.endswith("Error")):
                done.append(x)
                for meth in dir(x):
                    f = getattr(x, meth)
                    site = name + "." + attr + "." + meth
                    if _is_function(f) and not meth.startswith("__") and site not in skip:
                        setattr(x, meth, wrap(site, f))
        if getattr(m, "struct", None) is struct:
            m.struct = _Struct(name + ".")
        # Shadowing a built-in in a module's globals reaches every use of it there.
        for b, f in builtins.items():
            if b != "bytes" or m not in keep_bytes:
                setattr(m, b, wrap(name + "." + b, f))


def session_files(app):
    """{id: (synced, bytes)} of every session file on the belt, and the open one's id: what a
    trial compares before and after, to find a session changed or lost."""
    store = app.store
    out = {}
    for sid, _, synced, _ in store.list():
        with open(store.path(sid, synced), "rb") as f:
            out[sid] = (synced, f.read())
    return out, store.open_id


def sweep(trial, rows, stride, show_sites=False):
    """The sweep of memfail.py and memlink.py: a first trial with nothing injected counts each
    site's calls; then, for each row (held, label), each site whose calls took heap (every site
    under CPython, which cannot tell) and every stride-th of its calls, trial((site, call), k)
    with a MemoryError there. trial(target, k) returns (fired, why, lost). Prints a line per row,
    "<label> (N sites of N called) tried N failed N lost N", and returns the exit code."""
    fired, why, lost = trial(None, 0)
    if why or lost:
        print("FAIL the sync without faults: %s" % why)
        return 1
    counted = len(INJ.calls)
    INJ.known = set(INJ.allocating)
    sites = sorted((s, n) for s, n in INJ.calls.items()
                   if s in INJ.allocating or not INJ.allocating)
    if show_sites:
        print("sites: " + " ".join("%s(%d)" % s for s in sites))
    failures = 0
    k = 0
    for held, label in rows:
        INJ.held = held
        tried = failed = lost_all = 0
        for site, n in sites:
            for call in range(1, n + 1, stride):
                k += 1
                fired, why, lost = trial((site, call), k)
                tried += 1
                lost_all += lost
                if not fired:
                    why = why or "the injection at %s call %d was never reached" % (site, call)
                if why:
                    failed += 1
                    if failed <= 20:
                        print("FAIL %s call %d%s: %s" % (site, call, " (held)" if held else "",
                                                         why))
        print("%s (%d sites of %d called) tried %d failed %d lost %d" % (
            label, len(sites), counted, tried, failed, lost_all))
        failures += failed
    return 1 if failures else 0
