"""The commands the docs give an operator, read from the page and run as written.

``documented(heading)`` returns the commands of the ``sh`` blocks of one section of
docs/operations.md (``page=``: another page, such as docs/research-groups.md; continued lines
joined, comments dropped, as ``tests/doc_pages.py`` reads them), so a case runs what the page says
and the two cannot drift apart. ``shell(rig, lines)`` runs them in one bash in the stack's project
folder, with the stack's environment (the toolchain's ``pulumi`` and ``kubectl`` first on ``PATH``),
``STACK``, ``NS``, ``BACKEND_DIR`` (the ``file://`` backend's folder) and ``KUBECONFIG`` (the
cluster's admin kubeconfig) set, and three changes a script needs: no ``--policy-pack policy`` (the
pack runs under the real CLI in e2e/tests/test_policy_pack.py; most cases here run the stack ``e2e``
unprotected, which its ``data-protected`` rule refuses outside ``dev``), ``--yes`` on the commands
that ask for a confirmation (``up``, ``refresh``, ``destroy``, ``import``, ``cancel``: a script has
no terminal), ``--skip-preview`` on ``up``, ``refresh`` and ``destroy`` (nobody reads the preview;
it halves their time), and the placeholders (``<group>``, ...) filled in. Each run's script and
output go to ``logs/cli/doc-<n>.log`` (the output left out where the script prints a secret).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from e2e.faults.rig import CaseFailedError, Rig, last_error
from e2e.stack import ROOT
from e2e.state import NAMESPACE
from tests.doc_pages import blocks, commands

PAGE = ROOT / "docs" / "operations.md"
RESEARCH_GROUPS = ROOT / "docs" / "research-groups.md"
CONFIRMS = re.compile(r"^(\S+=\S+ )*pulumi (up|refresh|destroy|import|cancel)\b")
PREVIEWS = re.compile(r"^(\S+=\S+ )*pulumi (up|refresh|destroy)\b")


def documented(heading: str, page: Path = PAGE) -> list[str]:
    """The commands of the ``sh`` blocks in the section ``heading`` of ``page`` (subsections included)."""
    return [command for block in documented_blocks(heading, page) for command in block]


def documented_blocks(heading: str, page: Path = PAGE) -> list[list[str]]:
    """The commands of each ``sh`` block in the section ``heading`` of ``page``, block by block."""
    lines = page.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if re.fullmatch(rf"#+ {re.escape(heading)}\s*", line)]
    if len(starts) != 1:
        raise CaseFailedError(f"{page.relative_to(ROOT)} has {len(starts)} sections {heading!r}, expected one")
    level = len(lines[starts[0]]) - len(lines[starts[0]].lstrip("#"))
    section, fenced = [], False
    for line in lines[starts[0] + 1:]:
        if line.strip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            break  # the next heading of this level or above (a shell comment in a block is no heading)
        section.append(line)
    return [[command for _, command in commands(block)] for block in blocks("\n".join(section)) if block.info == "sh"]


def pick(commands_: list[str], start: str, heading: str, *, exact: bool = False) -> str:
    """The one documented command that starts with ``start`` (or is it, with ``exact``)."""
    found = [c for c in commands_ if (c == start if exact else c.startswith(start))]
    if len(found) != 1:
        raise CaseFailedError(f"the documented section {heading!r}: expected one command starting {start!r}, "
                              f"found {found}")
    return found[0]


@dataclass(frozen=True)
class ShellRun:
    code: int
    output: str
    stdout: str
    log: Path


def as_script(line: str, fill: Mapping[str, str]) -> str:
    """A documented command as the script runs it (see the module doc)."""
    line = line.replace(" --policy-pack policy", "")
    for placeholder, value in fill.items():
        line = line.replace(placeholder, value)
    if CONFIRMS.match(line) and " --yes" not in line:
        line += " --yes"
    if PREVIEWS.match(line):
        line += " --skip-preview"
    return line


def shell(rig: Rig, lines: list[str], *, fill: Mapping[str, str] | None = None, echo: str = "",
          check: bool = True) -> ShellRun:
    """Run the documented ``lines`` in one bash (see the module doc); ``echo``: a shell expression to print last."""
    script = ["set -euo pipefail", *(as_script(line, fill or {}) for line in lines)]
    if echo:
        script.append(f'printf "%s\\n" {echo}')
    assert rig.servers.cluster
    env = {**os.environ, **rig.stack.env, "STACK": rig.stack.name, "NS": NAMESPACE,
           "BACKEND_DIR": str(rig.backend_dir), "KUBECONFIG": str(rig.servers.cluster.kubeconfig)}
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=rig.stack.project, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    log = rig.logs / f"doc-{len(list(rig.logs.glob('doc-*'))) + 1:02d}.log"
    shown = "(output not kept: it prints a secret)\n" if echo else done.stdout
    log.write_text("\n".join(f"$ {line}" for line in script[1:]) + f"\n{shown}{done.stderr}")
    result = ShellRun(done.returncode, done.stdout + done.stderr, done.stdout, log)
    if check and done.returncode != 0:
        raise CaseFailedError(f"the documented commands failed (exit {done.returncode}): "
                              f"{last_error(result.output)} (log {log})")
    return result
