"""Documentation that must keep up with the code: every command of the companion is in the user
guide, the guide deploys the firmware the way docs/deploy.md describes, the architecture page has
a line for every module, and the README links every document."""
import os
import re

from corecue.cli import build_parser
from corecue.interp import FIRMWARE, ROOT

DOCS = os.path.join(ROOT, "docs")
COMPANION = os.path.join(ROOT, "companion", "corecue")


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


GUIDE = _read("docs", "user-guide.md")
ARCHITECTURE = _read("docs", "architecture.md")


def _commands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from _commands(sub, prefix + (name,))


def _links(markdown):
    """The targets of the Markdown links [text](target), without #anchors."""
    return {t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", markdown)}


def _table_names(markdown):
    """The first cells of table rows that are one `name` in backticks: a module map's names."""
    return set(re.findall(r"^\| `([^`]+)` \|", markdown, re.M))


def test_every_cli_command_is_in_the_user_guide():
    cmds = list(_commands(build_parser()))
    assert len(cmds) >= 20
    for cmd in cmds:
        assert f"corecue {' '.join(cmd)}" in GUIDE, f"`corecue {' '.join(cmd)}` not in the guide"


def test_the_guide_deploys_with_corecue_flash_as_deploy_md_describes():
    """The firmware goes on the belt with `corecue flash`, whose file list is
    firmware/manifest.txt (tests/test_deploy.py checks the manifest against the tree); the guide
    must point there rather than spell out its own copy command, which would drift."""
    assert re.search(r"corecue flash --port \S+", GUIDE), "the guide does not show `corecue flash`"
    assert "deploy.md" in _links(GUIDE), "the guide does not link docs/deploy.md"
    assert "mpremote cp" not in GUIDE, "the guide still copies files by hand"
    deploy = _read("docs", "deploy.md")
    assert "firmware/manifest.txt" in deploy, "docs/deploy.md does not name firmware/manifest.txt"
    assert os.path.isfile(os.path.join(FIRMWARE, "manifest.txt"))


def test_the_guides_links_lead_somewhere():
    here = os.path.join(ROOT, "docs")
    for target in _links(GUIDE):
        if target and not re.match(r"[a-z]+:", target):
            path = os.path.normpath(os.path.join(here, target))
            assert os.path.exists(path), f"docs/user-guide.md links {target}, which is missing"


def test_architecture_names_every_core_module():
    names = _table_names(ARCHITECTURE)
    for f in sorted(os.listdir(os.path.join(FIRMWARE, "belt"))):
        if f.endswith(".py") and f != "__init__.py":
            assert f[:-3] in names, f"docs/architecture.md has no module-map line for belt/{f}"


def test_architecture_names_every_board_module():
    names = _table_names(ARCHITECTURE)
    for f in sorted(os.listdir(os.path.join(FIRMWARE, "boards"))) + ["main.py"]:
        if f.endswith(".py") and f != "__init__.py":
            assert f[:-3] in names, f"docs/architecture.md has no module-map line for {f}"


def test_architecture_names_every_companion_module():
    """One line per module, subpackages as `bleemu/link`: a newcomer finds every file there."""
    names = _table_names(ARCHITECTURE)
    found = []
    for dirpath, _, files in os.walk(COMPANION):
        for f in files:
            if f.endswith(".py") and f != "__init__.py":
                rel = os.path.relpath(os.path.join(dirpath, f), COMPANION)[:-3]
                found.append(rel.replace(os.sep, "/"))
    assert len(found) >= 30
    missing = sorted(m for m in found if m not in names)
    assert not missing, f"docs/architecture.md has no module-map line for {', '.join(missing)}"


def test_every_document_is_linked_from_the_readme():
    readme = _links(_read("README.md"))
    docs = sorted(f for f in os.listdir(DOCS) if f.endswith(".md"))
    assert len(docs) >= 10
    unlinked = [f for f in docs if f"docs/{f}" not in readme]
    assert not unlinked, f"README.md does not link {', '.join(unlinked)}"
