"""bench/fw_coverage.py's instrument, on one firmware file under MicroPython: the table records
exactly the functions that ran, and the instrumented code computes what the original does (the
whole measurement is `make bench`)."""
import importlib.util
import os
import shutil
import subprocess

from corecue.interp import FIRMWARE, ROOT, micropython_path

_spec = importlib.util.spec_from_file_location("fw_coverage",
                                               os.path.join(ROOT, "bench", "fw_coverage.py"))
C = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(C)


def test_the_table_records_the_functions_micropython_ran(tmp_path):
    belt = tmp_path / "belt"
    belt.mkdir()
    shutil.copy(os.path.join(FIRMWARE, "belt", "ticks.py"), belt / "ticks.py")
    (belt / "__init__.py").write_text("")
    table = C.instrument(str(belt / "ticks.py"), "belt/ticks.py")
    (tmp_path / "_fwcov.py").write_text(C._HOOK)
    hits = tmp_path / "hits"
    hits.mkdir()
    names = [q for q, _ in table]
    assert "diff" in names and all(ok for _, ok in table)
    code = "from belt import ticks\nprint(ticks.diff(5, 3))"
    p = subprocess.run([micropython_path(), "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, env=dict(os.environ, CORECUE_FWCOV=str(hits),
                                           MICROPYPATH=str(tmp_path)))
    assert p.stdout.strip() == "2", p.stdout + p.stderr
    (dump,) = [open(hits / f).read() for f in os.listdir(hits)]
    rel, bits = dump.split()
    assert rel == "belt/ticks.py"
    assert [names[i] for i, b in enumerate(bits) if b == "1"] == ["diff"]
