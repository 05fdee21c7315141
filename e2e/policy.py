"""The policy pack in a stack's project folder, as a checkout holds it and the README sets it up.

``add_pack(project)`` copies ``policy/`` (without a virtualenv) into the project;
``setup_command()`` is the command of README "Deploy in five steps" that makes the pack's virtualenv
(``policy/.venv``, the one its ``PulumiPolicy.yaml`` names), read from the page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from e2e.stack import ROOT
from tests.doc_pages import SHELL, blocks, commands


def readme_policy_commands() -> list[str]:
    """The README's commands that set up or use the policy pack, in page order."""
    readme = (ROOT / "README.md").read_text()
    return [c for b in blocks(readme) if b.info in SHELL for _, c in commands(b) if "policy" in c]


def setup_command() -> str:
    """The README's command that makes the pack's virtualenv (from PyPI), in its review step."""
    (command,) = [c for c in readme_policy_commands() if "policy/requirements.txt" in c]
    return command


def add_pack(project: Path) -> Path:
    """``project/policy``: the pack as committed (no virtualenv, no caches)."""
    return Path(shutil.copytree(ROOT / "policy", project / "policy",
                                ignore=shutil.ignore_patterns(".venv", "__pycache__")))
