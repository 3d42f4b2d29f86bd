"""The layout keeps the design readable, checked from the source with `ast` (every import, those
inside functions too): the companion's layers run one way (commands -> views -> history -> link
-> interp; flash apart on interp; the twin apart on link, flash and interp, plugged in only where
a transport is chosen and by the commands that run it), no module-level import circle in the companion or the firmware, and
no module over 300 lines that docs/architecture.md does not name with a reason."""
import ast
import os
import re

from corecue.interp import FIRMWARE, ROOT

COMPANION = os.path.join(ROOT, "companion")
MAX_LINES = 300

# The one-way order of the companion's layers: each may import its own layer and those after it.
ORDER = ["commands", "views", "history", "link", "interp"]
# Where the twin may be imported: the transport choice, the commands that run it, and the entry
# point (for RecordingError among the one-line errors).
TWIN_USERS = {"corecue.link.connect", "corecue.commands.virtual", "corecue.cli"}


def _modules(top, package=""):
    """{dotted name: path} of the .py files under top (a package __init__ named as the package)."""
    found = {}
    for dirpath, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), top)[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            name = ".".join(([package] if package else []) + rel)
            found[name] = os.path.join(dirpath, f)
    return found


def companion_modules():
    return _modules(os.path.join(COMPANION, "corecue"), "corecue")


def firmware_modules():
    """The firmware as it runs: belt/ and boards/ packages and main.py, found from firmware/."""
    mods = {"main": os.path.join(FIRMWARE, "main.py")}
    for pkg in ("belt", "boards"):
        mods.update(_modules(os.path.join(FIRMWARE, pkg), pkg))
    return mods


def imports(path, known, top_level_only=False):
    """The modules of `known` that the file at path imports: `import a.b` is a.b, `from a import
    b` is a.b when that is a module, else a. top_level_only: the imports that run when the module
    is first imported (not those inside a function or a class body's methods)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out = set()
    nodes = _top_level(tree) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        else:
            continue
        for n in names:
            while n and n not in known:
                n = n.rpartition(".")[0]        # `import a.b.c` of an attribute: its module
            if n:
                out.add(n)
    return out


def unresolved(path, known):
    """The corecue imports in the file at path that name no module (a module moved or gone):
    `import corecue.x` needs module corecue.x; `from corecue.p import n` needs module corecue.p.n,
    or n defined in module corecue.p (for a package, in its __init__)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names
                    if a.name.split(".")[0] == "corecue" and a.name not in known]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "corecue":
            if node.module not in known:
                bad.append(node.module)
                continue
            for a in node.names:
                if f"{node.module}.{a.name}" not in known and a.name not in _names(known[node.module]):
                    bad.append(f"{node.module}.{a.name}")
    return bad


def _names(path):
    """The names a module binds at its top level."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in _top_level(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
    return out


def _top_level(tree):
    """The statements that run at import: module body, descending into if/try/with blocks and
    class bodies, not into functions."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        todo.extend(ast.iter_child_nodes(node))


def layer(name):
    """The companion layer of a module: the first part under corecue (cli and __main__ are the
    command layer's entry)."""
    part = name.split(".")[1] if "." in name else ""
    if part in ("cli", "__main__"):
        return "commands"
    return part or "corecue"


def may_import(src, dst):
    a, b = layer(src), layer(dst)
    if b == "corecue":
        return True                             # the package itself: only a docstring
    if b == "twin":
        return a == "twin" or src in TWIN_USERS
    if a == "twin":
        return b in ("twin", "flash", "link", "interp")     # flash: it builds firmware as deployed
    if a == "flash":
        return b in ("flash", "interp")
    if b == "flash":
        return a == "commands"
    if b == "commands":
        return a == "commands"                  # nothing below imports a command
    return ORDER.index(b) >= ORDER.index(a)


def layer_violations(mods):
    bad = []
    for src, path in sorted(mods.items()):
        for dst in sorted(imports(path, mods)):
            if not may_import(src, dst):
                bad.append(f"{src} imports {dst}")
    return bad


def cycles(mods):
    """Every circle in the module-level import graph, each as a list of module names."""
    graph = {m: sorted(imports(p, mods, top_level_only=True) - {m}) for m, p in mods.items()}
    found, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(v):                               # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def long_modules():
    """{path relative to the repository: line count} of the modules over MAX_LINES."""
    out = {}
    for path in list(companion_modules().values()) + list(firmware_modules().values()):
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            out[os.path.relpath(path, ROOT).replace(os.sep, "/")] = n
    return out


def named_long_modules(doc=os.path.join(ROOT, "docs", "architecture.md")):
    """{path: reason} from the architecture's section on modules over 300 lines: rows of
    `| `path` | reason |`."""
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Modules over 300 lines\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not m:
        return {}
    return {p: r.strip() for p, r in re.findall(r"^\| `([^`]+)` \| ([^|]*)\|", m.group(1), re.M)}


def test_the_companion_is_found_whole():
    mods = companion_modules()
    for pkg in ("link", "history", "views", "commands", "flash", "twin"):
        assert f"corecue.{pkg}" in mods, f"companion/corecue/{pkg}/ has no __init__.py"
    assert len(mods) >= 40
    assert len(firmware_modules()) >= 30


def test_layers_import_one_way():
    bad = layer_violations(companion_modules())
    assert not bad, "imports against the layers (docs/architecture.md): " + "; ".join(bad)


def test_every_corecue_import_names_a_module():
    """Across the companion, its tests and the benchmarks: a module that moved leaves no import
    of its old name behind."""
    known = companion_modules()
    files = list(known.values())
    for top in ("tests", "bench"):
        files += _modules(os.path.join(ROOT, top)).values()
    bad = sorted(f"{os.path.relpath(p, ROOT)}: {n}" for p in files for n in unresolved(p, known))
    assert not bad, "imports of no module: " + "; ".join(bad)


def test_the_twin_is_plugged_in_only_where_a_belt_is_chosen():
    mods = companion_modules()
    users = sorted({src for src, path in mods.items() if layer(src) != "twin"
                    for dst in imports(path, mods) if layer(dst) == "twin"})
    assert set(users) <= TWIN_USERS, f"the twin imported by {', '.join(set(users) - TWIN_USERS)}"
    assert "corecue.link.connect" in users      # the transport choice does plug it in


def test_no_import_circles_in_the_companion():
    found = cycles(companion_modules())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_circles_in_the_firmware():
    found = cycles(firmware_modules())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def unexplained(long, named):
    return sorted(f"{p} ({n} lines)" for p, n in long.items() if not named.get(p))


def test_every_module_over_300_lines_has_a_reason_in_the_architecture():
    missing = unexplained(long_modules(), named_long_modules())
    assert not missing, ("modules over 300 lines that docs/architecture.md's 'Modules over "
                             "300 lines' does not name with a reason: " + ", ".join(missing))


def test_the_modules_named_long_exist():
    """A reason for a module that is gone or no longer long is a stale line in the doc."""
    long = long_modules()
    stale = sorted(p for p in named_long_modules() if p not in long)
    assert not stale, f"docs/architecture.md names {', '.join(stale)} as over 300 lines"


# -- the checks themselves can fail ----------------------------------------------------------

def _write(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return _modules(str(tmp_path / "corecue"), "corecue")


def test_the_layer_check_catches_an_import_upward(tmp_path):
    mods = _write(tmp_path, {
        "corecue/__init__.py": "", "corecue/link/__init__.py": "",
        "corecue/views/__init__.py": "", "corecue/views/live.py": "",
        "corecue/link/client.py": "def f():\n    from corecue.views import live\n"})
    assert layer_violations(mods) == ["corecue.link.client imports corecue.views.live"]


def test_the_layer_check_catches_the_twin_outside_its_users(tmp_path):
    mods = _write(tmp_path, {
        "corecue/__init__.py": "", "corecue/history/__init__.py": "",
        "corecue/twin/__init__.py": "", "corecue/twin/synth.py": "",
        "corecue/history/sync.py": "from corecue.twin import synth\n"})
    assert layer_violations(mods) == ["corecue.history.sync imports corecue.twin.synth"]


def test_the_circle_check_catches_a_circle_but_not_a_deferred_import(tmp_path):
    mods = _write(tmp_path, {
        "corecue/__init__.py": "",
        "corecue/a.py": "import corecue.b\n",
        "corecue/b.py": "from corecue import c\n",
        "corecue/c.py": "if True:\n    from corecue.a import x\n",
        "corecue/d.py": "import corecue.a\n",
        "corecue/e.py": "def later():\n    import corecue.d\n"})
    assert cycles(mods) == [["corecue.a", "corecue.b", "corecue.c"]]


def test_the_size_check_wants_a_reason(tmp_path):
    doc = tmp_path / "architecture.md"
    doc.write_text("## Modules over 300 lines\n\n| module | why |\n|---|---|\n"
                   "| `firmware/belt/a.py` | one table of states, read as one |\n"
                   "| `firmware/belt/b.py` |  |\n\n## Next\n| `firmware/belt/c.py` | x |\n")
    named = named_long_modules(str(doc))
    assert named == {"firmware/belt/a.py": "one table of states, read as one",
                     "firmware/belt/b.py": ""}
    long = {"firmware/belt/a.py": 320, "firmware/belt/b.py": 301, "firmware/belt/c.py": 400}
    assert unexplained(long, named) == ["firmware/belt/b.py (301 lines)",
                                        "firmware/belt/c.py (400 lines)"]
