"""The docs hold together: every relative link and ``#anchor`` resolves, so does every pointer to a page or
section written anywhere in the project, the index lists every page, the outputs page is the contract, and the
docs' shell commands are read as a shell would.

Pages: ``README.md``, ``docs/*.md`` and ``CHANGELOG.md``, whoever wrote them. A relative link must
point at a file or folder of the project, and an anchor at a heading (GitHub's
slug) of the page it names. Outside links (comments of code, workflows, the
Makefile and scripts; messages; prose), a pointer is one of the forms
``tests/doc_pages.py`` reads (``_POINTER``): ``docs/operations.md#faults``,
``docs/operations.md, "Faults"``, ``README "Deploy in five steps"``; the page must
exist and hold the section. ``tests/test_doc_commands.py`` checks that every
command shown is exercised.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from pathlib import Path

import pytest

from offline.engine import ROOT, RunResult
from tests.doc_pages import (
    SHELL,
    blocks,
    broken_links,
    broken_pointers,
    commands,
    links,
    name,
    pages,
    project_text_files,
    shown_pages,
    slug,
    step_pointers,
)


def test_there_are_pages() -> None:
    names = {name(page) for page in pages()}
    assert {"README.md", "docs/README.md", "docs/configuration.md", "docs/operations.md"} <= names


@pytest.mark.parametrize("page", shown_pages(), ids=name)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    assert list(broken_links(page)) == []


def test_every_page_is_in_the_index() -> None:
    index = (ROOT / "docs" / "README.md").read_text()
    linked = {target.partition("#")[0] for _, target in links(index)}
    unlisted = sorted(page.name for page in pages()[1:] if page.name != "README.md" and page.name not in linked)
    assert unlisted == [], f"add a row for each to the table of docs/README.md: {unlisted}"


def test_every_test_file_is_in_the_testing_pages_table() -> None:
    after = (ROOT / "docs" / "testing.md").read_text().partition("What the tests assert, by file:")[2]
    table = itertools.takewhile(lambda line: line.startswith("|"), after.strip().splitlines())
    named = {n for row in table for n in re.findall(r"`(test_[\w*]+\.py)`", row)}  # a name or a glob
    files = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    unnamed = sorted(f for f in files if not any(fnmatch.fnmatch(f, n) for n in named))
    assert unnamed == [], f"add each to the table of docs/testing.md (What the tests assert, by file): {unnamed}"
    gone = sorted(n for n in named if not fnmatch.filter(files, n))
    assert gone == [], f"docs/testing.md names test files that are gone: {gone}"


#: Made-up pages are written ``a{md}`` here, so that the pointer check of this very file does not take them for
#: pages of the project.
MD = ".md"


def _page(text: str) -> str:
    return text.replace("{md}", MD).replace("{readme}", "README")


def test_the_link_check_finds_broken_links(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / f"a{MD}").write_text(_page(
        "# A\n## Some `code`: here\n## Repeat\n## Repeat\n"
        "[ok](b{md}#b-title) [ok](#some-code-here) [ok](#repeat-1) [web](https://example.org/#x)\n"
        "[missing](c{md}) [bad anchor](b{md}#nope) [outside](../../elsewhere{md})\n"
        "`[not a link](c{md})`\n```\n[in code](c{md})\n```\n[ref]: b{md}#nope-either\n"
    ))
    (root / "docs" / f"b{MD}").write_text("# B title\n")
    assert [problem.split(": ", 2)[2] for problem in broken_links(root / "docs" / f"a{MD}", root)] == [
        "no such file",
        f"no heading #nope in docs/b{MD}",
        "points outside the project",
        f"no heading #nope-either in docs/b{MD}",
    ]


# --- pointers outside Markdown links: comments, messages, workflows ------------------------------


def test_every_pointer_to_a_page_or_section_resolves() -> None:
    # The forms read (tests/doc_pages.py, _POINTER): docs/<page>.md, <page>.md, README.md, each with an optional
    # #anchor; a quoted section title after a page, README included: `docs/operations.md, "Faults"`,
    # `README "Deploy in five steps"`, `docs/operations.md ("Workflows")`, `<page>.md, "A" and "B"`.
    problems = [problem for path in project_text_files() for problem in broken_pointers(path)]
    assert problems == [], "pointers to a page or section that does not exist (rename the pointer, or write " \
                           "the section's title as its heading has it):\n  " + "\n  ".join(problems)


def test_the_pointer_check_finds_broken_pointers(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / f"README{MD}").write_text("# R\n## Deploy in five steps\n")
    (root / "docs" / f"ops{MD}").write_text("# Ops\n## Faults\n## What `x` guards\n")
    (root / ".github" / "workflows" / "w.yml").write_text(_page(
        '# What the repository needs ({readme} "Workflows"):\n'
        '# the steps: {readme}, "Deploy in five steps"\n'
    ))
    (root / "code.py").write_text(_page(
        '# docs/ops{md}, "Faults" and docs/ops{md} ("Fault")\n'
        "# (docs/ops{md}#faults), (docs/ops{md}#nope)\n"
        'message = "see (docs/ops{md}, \\"What `x` guards\\")"\n'
        '# docs/gone{md}; ops{md}, "Faults" and "Nope"\n'
        "# not ours: https://example.org/docs/x{md}, ../elsewhere/y{md}, the {readme} of a project\n"
    ))
    (root / "Makefile").write_text(_page("# docs/ops{md}#what-x-guards\n"))
    assert sorted(problem for path in project_text_files(root) for problem in broken_pointers(path, root)) == [
        _page('.github/workflows/w.yml:1: {readme}, "Workflows": no section "Workflows" in README{md}'),
        f'code.py:1: docs/ops{MD}, "Fault": no section "Fault" in docs/ops{MD}',
        f"code.py:2: docs/ops{MD}#nope: no heading #nope in docs/ops{MD}",
        f"code.py:4: docs/gone{MD}: no such page",
        f'code.py:4: ops{MD}, "Nope": no section "Nope" in docs/ops{MD}',
    ]


def test_no_pointer_names_a_step_by_its_number() -> None:
    problems = [problem for path in project_text_files() for problem in step_pointers(path)]
    assert problems == [], "a step named by its number points at another step once the list changes: point at " \
                           "the section and say what the step does:\n  " + "\n  ".join(problems)


def test_the_step_pointer_check_finds_numbered_steps(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "docs").mkdir(parents=True)
    (root / "code.py").write_text(_page(
        "# made as {readme} step 4 says\n"
        '# {readme} "Deploy in five steps", step 3: set your names\n'
        "# {readme}'s steps 4 and 5, as written\n"
        "# see docs/ops{md} step\n# 2 (a line break between)\n"
        "# fine: {readme} \"Deploy in five steps\", the review; this list's step 2; 3 steps\n"
    ))
    (root / "docs" / f"a{MD}").write_text(_page(
        "As [step 3 of the {readme}](../{readme}{md}#deploy) and [step 3](../{readme}{md}#deploy) say;\n"
        "steps 4 and 5 of the {readme} as written. Below, do step 1 first.\n"
    ))
    found = sorted(problem for path in project_text_files(root) for problem in step_pointers(path, root))
    assert found == sorted([
        _page("code.py:1: {readme} step 4"),
        _page('code.py:2: {readme} "Deploy in five steps", step 3'),
        _page("code.py:3: {readme}'s steps 4 and 5"),
        f"code.py:4: docs/ops{MD} step 2",
        _page("docs/a{md}:1: [step 3 of the {readme}](../{readme}{md}#deploy"),
        _page("docs/a{md}:1: [step 3](../{readme}{md}#deploy"),
        _page("docs/a{md}:2: steps 4 and 5 of the {readme}"),
    ])


def test_no_issue_numbers() -> None:
    # An issue number means nothing to a reader: say what it is about. (An upstream owner/repo#N is a link.)
    quoted = re.compile(r"\b[Ii]ssues? #?\d+|§ ?\d")
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for path in project_text_files()
             if path != Path(__file__) for number, line in enumerate(path.read_text().splitlines(), 1)
             if quoted.search(line)]
    assert found == [], "\n  ".join(["replace each by what it means:", *found])


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
