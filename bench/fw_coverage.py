"""Which firmware files and functions run under MicroPython in a `make test` run.

The unix port has no sys.settrace, so the firmware is instrumented instead: a copy of the
repository is made, and in its firmware/ every function's body starts with one more statement,
`_cov_[N] = 1`, a store into a preallocated bytearray (no call, no allocation; it compiles in
viper and native code too). The test suite then runs in the copy (the copy's companion first on
PYTHONPATH, so `corecue.interp.FIRMWARE` is the instrumented tree) and every MicroPython process
that imports a firmware module writes the functions it ran into $CORECUE_FWCOV when it exits
(sys.atexit; opened before a twin moves the root, so its writes reach the host). CPython runs of
the firmware are not counted.

    .venv/bin/python bench/fw_coverage.py            # the whole suite (several minutes)
    .venv/bin/python bench/fw_coverage.py -k twin    # a part of it, for a quick look

Prints one line per firmware file (functions run / functions), the functions that never ran,
and the totals. Functions whose body shares the `def` line cannot be instrumented and are
listed apart.
"""
import ast
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HOOK = '''# The coverage hook of bench/fw_coverage.py, written into the instrumented copy only. The
# file is opened at import, before a twin moves the root away from the host's file system.
import sys

_tables = []
_out = None
if sys.implementation.name == "micropython":
    import os
    _path = os.getenv("CORECUE_FWCOV")
    if _path:
        _out = open(_path + "/" + "".join("%02x" % b for b in os.urandom(8)), "w")


def table(name, n):
    t = bytearray(n)
    if _out is not None:
        if not _tables:
            sys.atexit(_dump)
        _tables.append((name, t))
    return t


def _dump():
    for name, t in _tables:
        _out.write("%s %s\\n" % (name, "".join("1" if b else "0" for b in t)))
    _out.close()
'''


def _functions(tree):
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(node)
    return sorted(out, key=lambda n: n.lineno)


def _qualname(tree):
    names = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                q = prefix + child.name
                names[id(child)] = q
                visit(child, q + ".")
            else:
                visit(child, prefix)
    visit(tree, "")
    return names


def instrument(path, rel):
    """Rewrite path in place; return [(qualified name, instrumented?)] in table order."""
    src = open(path).read()
    tree = ast.parse(src)
    names = _qualname(tree)
    lines = src.splitlines(True)
    inserts = []
    table = []
    for fn in _functions(tree):
        body = fn.body
        first = body[0]
        doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
               and isinstance(first.value.value, str))
        if first.lineno == fn.lineno:
            table.append((names[id(fn)], False))
            continue
        k = len(table)
        table.append((names[id(fn)], True))
        indent = lines[first.lineno - 1][:first.col_offset]
        if doc and len(body) == 1:
            inserts.append((first.end_lineno, "%s_cov_[%d] = 1\n" % (indent, k)))
        else:
            at = body[1] if doc else first
            indent = lines[at.lineno - 1][:at.col_offset]
            inserts.append((at.lineno - 1, "%s_cov_[%d] = 1\n" % (indent, k)))
    for at, text in sorted(inserts, reverse=True):
        lines.insert(at, text)
    head = 'import _fwcov\n_cov_ = _fwcov.table(%r, %d)\n' % (rel, max(len(table), 1))
    # After a module docstring and `from __future__` lines, which must come first.
    start = 0
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(
            getattr(tree.body[0], "value", None), ast.Constant):
        start = tree.body[0].end_lineno
    lines.insert(start, head)
    with open(path, "w") as f:
        f.write("".join(lines))
    return table


def main(argv):
    work = tempfile.mkdtemp(prefix="corecue-fwcov-")
    repo = os.path.join(work, "repo")
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__",
                                                              ".pytest_cache", "out"))
    fw = os.path.join(repo, "firmware")
    tables = {}
    for d, _, files in os.walk(fw):
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(d, f)
                rel = os.path.relpath(p, fw)
                tables[rel] = instrument(p, rel)
    unixport = os.path.join(repo, "companion", "corecue", "twin", "unixport")
    for d in (fw, unixport):
        with open(os.path.join(d, "_fwcov.py"), "w") as f:
            f.write(_HOOK)
    rom = os.path.join(unixport, "rom.py")
    with open(rom) as f:
        text = f.read()
    with open(rom, "w") as f:        # the hook joins the twin's built-in modules
        f.write("import _fwcov  # noqa: F401\n" + text)
    hits_dir = os.path.join(work, "hits")
    os.mkdir(hits_dir)
    env = dict(os.environ, CORECUE_FWCOV=hits_dir,
               PYTHONPATH=os.pathsep.join([os.path.join(repo, "companion")]
                                          + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "-x" if "-x" in argv else "--maxfail=1000"] + [a for a in argv if a != "-x"],
                   cwd=repo, env=env)
    ran = {rel: [False] * len(t) for rel, t in tables.items()}
    imported = set()            # files MicroPython loaded (their module code ran)
    for name in os.listdir(hits_dir):
        with open(os.path.join(hits_dir, name)) as f:
            for line in f:
                rel, bits = line.split()
                imported.add(rel)
                if rel in ran:
                    for i, b in enumerate(bits[:len(ran[rel])]):
                        ran[rel][i] = ran[rel][i] or b == "1"
    total = done = files_run = 0
    missed = []
    flat = []
    for rel in sorted(tables):
        t = tables[rel]
        n = sum(1 for _, ok in t if ok)
        r = sum(1 for (q, ok), hit in zip(t, ran[rel]) if ok and hit)
        total += n
        done += r
        files_run += 1 if rel in imported else 0
        print("%-28s %3d / %3d%s" % (rel, r, n, "" if rel in imported else "   never loaded"))
        missed += ["%s:%s" % (rel, q) for (q, ok), hit in zip(t, ran[rel]) if ok and not hit]
        flat += ["%s:%s" % (rel, q) for q, ok in t if not ok]
    print("not run under MicroPython:", ", ".join(missed) or "none")
    if flat:
        print("not instrumented (body on the def line):", ", ".join(flat))
    print("files loaded under MicroPython: %d of %d; functions run: %d of %d (%.1f %%)"
          % (files_run, len(tables), done, total, 100.0 * done / max(total, 1)))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
