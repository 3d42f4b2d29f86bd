"""Documentation that must keep up with the code: every command of the companion is in the user
guide, every firmware file is deployed, the architecture page names every firmware module."""
import os
import re

from corecue.cli import build_parser
from corecue.interp import FIRMWARE, ROOT

GUIDE = open(os.path.join(ROOT, "docs", "user-guide.md")).read()


def _commands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from _commands(sub, prefix + (name,))


def test_every_cli_command_is_in_the_user_guide():
    cmds = list(_commands(build_parser()))
    assert len(cmds) >= 8
    for cmd in cmds:
        assert f"corecue {' '.join(cmd)}" in GUIDE, f"`corecue {' '.join(cmd)}` not in the guide"


def test_the_deploy_step_copies_every_firmware_file():
    """The guide's mpremote line copies belt/, boards/ and main.py: nothing else may be needed."""
    line = re.search(r"mpremote cp -r (.+) :", GUIDE).group(1).split()
    copied = {os.path.relpath(p, "firmware") for p in line}
    for dirpath, _, files in os.walk(FIRMWARE):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), FIRMWARE)
                top = rel.split(os.sep)[0]
                assert top in copied or rel in copied, f"firmware/{rel} is not deployed"


def test_architecture_names_every_core_module():
    text = open(os.path.join(ROOT, "docs", "architecture.md")).read()
    for f in sorted(os.listdir(os.path.join(FIRMWARE, "belt"))):
        if f.endswith(".py") and f != "__init__.py":
            assert f[:-3] in text, f"docs/architecture.md does not mention belt/{f}"
