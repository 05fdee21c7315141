"""The docs hold together: every relative link and ``#anchor`` resolves, the index lists every page,
the outputs page is the contract, and the docs' shell commands are read as a shell would.

Pages: ``README.md`` and ``docs/*.md``, whoever wrote them. A relative link must
point at a file or folder of the project, and an anchor at a heading (GitHub's
slug) of the page it names. ``tests/test_doc_commands.py`` checks that every
command shown is exercised.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from offline.engine import ROOT, RunResult
from tests.doc_pages import SHELL, blocks, broken_links, commands, links, name, pages, slug


def test_there_are_pages() -> None:
    names = {name(page) for page in pages()}
    assert {"README.md", "docs/README.md", "docs/configuration.md", "docs/operations.md"} <= names


@pytest.mark.parametrize("page", pages(), ids=name)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    assert list(broken_links(page)) == []


def test_every_page_is_in_the_index() -> None:
    index = (ROOT / "docs" / "README.md").read_text()
    linked = {target.partition("#")[0] for _, target in links(index)}
    unlisted = sorted(page.name for page in pages()[1:] if page.name != "README.md" and page.name not in linked)
    assert unlisted == [], f"add a row for each to the table of docs/README.md: {unlisted}"


def test_the_link_check_finds_broken_links(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text(
        "# A\n## Some `code`: here\n## Repeat\n## Repeat\n"
        "[ok](b.md#b-title) [ok](#some-code-here) [ok](#repeat-1) [web](https://example.org/#x)\n"
        "[missing](c.md) [bad anchor](b.md#nope) [outside](../../elsewhere.md)\n"
        "`[not a link](c.md)`\n```\n[in code](c.md)\n```\n[ref]: b.md#nope-either\n"
    )
    (root / "docs" / "b.md").write_text("# B title\n")
    assert [problem.split(": ", 2)[2] for problem in broken_links(root / "docs" / "a.md", root)] == [
        "no such file",
        "no heading #nope in docs/b.md",
        "points outside the project",
        "no heading #nope-either in docs/b.md",
    ]


def test_slugs_are_githubs() -> None:
    assert slug("Minimum Pulumi CLI: 3.187.0") == "minimum-pulumi-cli-31870"
    assert slug("What `dossier:protectData` guards") == "what-dossierprotectdata-guards"
    assert slug("Offline plan: `make plan`, `make plan-diff`") == "offline-plan-make-plan-make-plan-diff"
    assert slug("The hub's Helm values") == "the-hubs-helm-values"


# --- the outputs page is the contract -----------------------------------------------


def test_the_outputs_page_lists_the_contract(dev: RunResult) -> None:
    rows = re.findall(r"^\| `(\w+)` \| .* \| (no|\*\*yes\*\*) \|$", (ROOT / "docs" / "outputs.md").read_text(), re.M)
    assert {name: secret == "**yes**" for name, secret in rows} == {
        name: output.secret for name, output in dev.outputs.items()
    }


def test_the_command_reader() -> None:
    text = (
        "```sh\nmake plan   # a comment\n# only a comment\n\nSTACK=x cmd 'a # b' \\\n  --flag\n"
        "a |\n  b && \\\n  c\n```\n"
        "1. step\n   ```console\n   $ pulumi up\n   output line\n   ```\n"
        "```yaml\nnot: a command\n```\n"
    )
    found = [command for block in blocks(text) if block.info in SHELL for _, command in commands(block)]
    assert found == ["make plan", "STACK=x cmd 'a # b' --flag", "a | b && c", "pulumi up"]
