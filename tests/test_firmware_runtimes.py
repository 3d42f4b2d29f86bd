"""Runs every firmware test module under both interpreters: the MicroPython unix port (the real
interpreter the belt runs) and CPython (through the thin shims in corecue/twin/mpshim). Each must pass
on both, and the figures the tests record must be identical on both."""
import atexit
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from corecue.interp import micropython_path

HERE = os.path.dirname(__file__)
RUNNER = os.path.join(HERE, "firmware", "fwtest.py")
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "firmware", "test_*.py")))
_cache = {}
# The firmware tests keep their flash folders under $TMPDIR; a folder of this run's own keeps two
# suites on one machine (two checkouts, or CI beside a developer) from clearing each other's.
_TMP = tempfile.mkdtemp(prefix="corecue-fwtest-")
atexit.register(shutil.rmtree, _TMP, True)


def _run(interp, module):
    key = (interp, module)
    if key not in _cache:
        if interp == "micropython":
            cmd = [micropython_path(), "-X", "heapsize=8M", RUNNER, module]
        else:
            cmd = [sys.executable, RUNNER, module]
        env = dict(os.environ, TMPDIR=_TMP)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
        _cache[key] = p
    return _cache[key]


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
@pytest.mark.parametrize("module", MODULES)
def test_module_passes(module, interp):
    p = _run(interp, module)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert " 0 failed" in out.splitlines()[-1], out


@pytest.mark.parametrize("module", MODULES)
def test_interpreters_agree(module):
    recs = {}
    for interp in ("micropython", "cpython"):
        p = _run(interp, module)
        recs[interp] = [l for l in p.stdout.splitlines() if l.startswith("RECORD ")]
    assert recs["micropython"] == recs["cpython"]
