"""Every shell command shown in ``README.md``, ``docs/*.md`` and ``CHANGELOG.md`` is exercised.

``tests/doc_commands.py`` lists where: ``OFFLINE`` commands are run here, as
written, each in its own copy of the project (sharing this tree's ``.venv``), and
must print, write or leave unchanged what the entry says; ``E2E_COMMANDS`` name the
end-to-end test that runs them. A command shown in the docs and in no list fails,
and so does an entry no page shows any more or one naming a test that does not exist.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from offline.engine import ROOT
from tests.doc_commands import CI_COMMANDS, E2E_COMMANDS, MAKE_TEST, OFFLINE, Offline
from tests.doc_pages import documented_commands, project_copy


def registered() -> dict[str, str]:
    """Every registered command -> the list that holds it."""
    entries = {entry.command: "OFFLINE" for entry in OFFLINE}
    entries.update(dict.fromkeys(CI_COMMANDS, "CI_COMMANDS"))
    for entry in E2E_COMMANDS:
        entries.update(dict.fromkeys(entry.commands, "E2E_COMMANDS"))
    return entries


def test_every_documented_command_is_exercised() -> None:
    known = registered()
    missing = [f"{where[0]}: {command}" for command, where in documented_commands().items() if command not in known]
    assert missing == [], (
        "commands shown in the docs that nothing exercises: add each to tests/doc_commands.py "
        "(OFFLINE: run here; E2E_COMMANDS: the end-to-end test that runs it)\n  " + "\n  ".join(missing)
    )


def test_every_registered_command_is_shown_in_the_docs() -> None:
    shown = documented_commands()
    stale = [f"{where}: {command}" for command, where in registered().items() if command not in shown]
    assert stale == [], "entries of tests/doc_commands.py that no page shows any more:\n  " + "\n  ".join(stale)


def test_commands_are_registered_once() -> None:
    listed = [entry.command for entry in OFFLINE] + list(CI_COMMANDS) + [c for e in E2E_COMMANDS for c in e.commands]
    assert len(listed) == len(set(listed))


def _test_exists(node: str) -> bool:
    path, *names = node.split("::")
    file = ROOT / path
    if not file.is_file() or not names:
        return False
    scope: list[ast.stmt] = ast.parse(file.read_text()).body
    for name in names:
        match = [n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                 and n.name == name]
        if not match:
            return False
        scope = match[0].body
    return names[-1].startswith("test")


def test_named_end_to_end_tests_exist() -> None:
    named = [entry.test for entry in E2E_COMMANDS if entry.test]
    assert [node for node in named if not _test_exists(node)] == []
    assert all(entry.pending for entry in E2E_COMMANDS if entry.test is None), "say what will exercise them"


def test_the_test_lookup_finds_test_functions() -> None:
    assert _test_exists("tests/test_doc_commands.py::test_named_end_to_end_tests_exist")
    assert not _test_exists("tests/test_doc_commands.py::test_no_such_test")
    assert not _test_exists("tests/test_doc_commands.py::blocks")  # not a test
    assert not _test_exists("e2e/test_no_such_file.py::test_x")


#: The documented commands no end-to-end test runs (the first command of each entry): the e2e world has no kubectl
#: and runs no pods, and does not replay an upgrade from a state the earlier program wrote. Their entries say what
#: runs in their place. A test that starts running one takes it off this list; a new one is added deliberately.
NOT_RUN_END_TO_END = {
    "ADMIN=$(kubectl -n $NS get secret jhub-postgresql -o jsonpath='{.data.postgres-password}' | base64 -d)",
    "kubectl patch tenant <name> --type=merge -p '{\"spec\":{\"preventDeletion\":false}}'",
    "kubectl get namespace jhub -o jsonpath='{.status.conditions}'",
    "pulumi state unprotect 'urn:pulumi:<stack>::dossier::dossier:jupyterhub:JupyterHub"
    "$random:index/randomBytes:RandomBytes::jupyterhub-cookie-secret'",
}


def test_every_command_that_needs_the_real_cli_names_its_end_to_end_test() -> None:
    pending = {entry.commands[0]: entry.pending for entry in E2E_COMMANDS if entry.test is None}
    unexpected = [f"{command}: {why}" for command, why in pending.items() if command not in NOT_RUN_END_TO_END]
    assert unexpected == [], "\n  ".join(["no end-to-end test runs these:", *unexpected])
    assert NOT_RUN_END_TO_END - set(pending) == set(), "an end-to-end test runs these now: take them off the list"


def test_make_test_is_what_ci_runs() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    recipe = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    assert all(tool in recipe for tool in ("ruff check", "mypy", "pytest")), recipe


# --- running the offline commands in copies of the project -------------------------

@dataclass(frozen=True)
class Ran:
    project: Path
    returncode: int
    output: str


def _git_dir(ref: str) -> str | None:
    """The repository's git directory when it holds ``ref``."""
    git_dir = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=ROOT, capture_output=True, text=True,
                             check=False)
    has_ref = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=ROOT,
                             capture_output=True, check=False)
    return None if git_dir.returncode or has_ref.returncode else git_dir.stdout.strip()


#: Set by a surrounding `make test`; a command shown in the docs runs from a plain shell.
_MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def _environment(entry: Offline) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _MAKE_VARIABLES}
    if entry.needs_ref:
        env["GIT_DIR"] = str(_git_dir(entry.needs_ref))  # the copy reads the project's repository
    return env


def _shell_line(project: Path, entry: Offline, env: dict[str, str]) -> str:
    if entry.quick_args is None:
        return entry.command
    # Too slow for `make test`: the exact recipe make would run, at a smaller size.
    target = shlex.split(entry.command)[1:]
    recipe = subprocess.run(["make", "-n", *target], cwd=project, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in recipe.stdout.splitlines() if line.strip()]
    if recipe.returncode or len(lines) != 1:
        raise ValueError(f"`make -n {' '.join(target)}` should print one command, printed:\n{recipe.stdout}")
    return f"{lines[0]} {shlex.join(entry.quick_args)}"


def _run(entry: Offline, project: Path) -> Ran:
    env = _environment(entry)
    try:
        line = _shell_line(project, entry, env)
    except ValueError as exc:
        return Ran(project, -1, str(exc))
    done = subprocess.run(
        line, shell=True, executable="/bin/bash", cwd=project, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False,
    )
    return Ran(project, done.returncode, done.stdout)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ran]:
    """Every runnable OFFLINE command, run once, each in its own copy of the project, several at a time."""
    installed = ROOT / ".venv" / ".installed"
    if not installed.is_file() or installed.stat().st_mtime < (ROOT / "requirements.txt").stat().st_mtime:
        pytest.skip(".venv is missing or older than requirements.txt: `make test` installs it first")
    base = tmp_path_factory.mktemp("docs")
    runnable = [entry for entry in OFFLINE if not entry.needs_ref or _git_dir(entry.needs_ref)]
    copies = [project_copy(base / str(index)) for index in range(len(runnable))]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = pool.map(_run, runnable, copies)
        return {entry.command: result for entry, result in zip(runnable, results, strict=True)}


@pytest.mark.parametrize("entry", OFFLINE, ids=lambda entry: entry.command)
def test_offline_command_runs_as_documented(
    entry: Offline, ran: dict[str, Ran], request: pytest.FixtureRequest
) -> None:
    if entry.needs_schemas:
        request.getfixturevalue("upstream")  # strict: fails (or skips, when allowed) without the pinned files
    if entry.command not in ran:
        pytest.skip(f"this checkout has no git ref {entry.needs_ref!r} (a shallow or detached CI clone)")
    result = ran[entry.command]
    assert result.returncode == 0, f"`{entry.command}` exited {result.returncode}:\n{result.output[-4000:]}"
    for text in entry.output:
        assert text in result.output, f"`{entry.command}` did not print {text!r}:\n{result.output[-4000:]}"
    for name in entry.writes:
        assert (result.project / name).is_file(), f"`{entry.command}` did not write {name}"
    for name in entry.unchanged:
        assert (result.project / name).read_bytes() == (ROOT / name).read_bytes(), (
            f"`{entry.command}` changed {name}: the committed file drifted from what the command generates"
        )


def test_registry_entries_say_how_they_are_checked() -> None:
    # An offline entry that checks nothing but the exit status would let a no-op pass.
    assert [e.command for e in OFFLINE if not (e.output or e.writes or e.unchanged)] == []
    assert MAKE_TEST == "make test"


def test_ci_runs_the_ci_commands() -> None:
    # CI runs what a new user runs: each command is a line of .ci/run, or a make target that
    # one of its make targets depends on (make e2e builds the toolchain through make e2e-tools).
    lines = {line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()}
    makefile = (ROOT / "Makefile").read_text()
    prerequisites = {
        target: rule.split(":", 1)[1].split() for rule in makefile.splitlines()
        if (target := rule.split(":", 1)[0]) and ":" in rule and not rule.startswith(("\t", "#", " "))
    }
    run_targets = {line.split()[1] for line in lines if line.startswith("make ")}
    reachable = set(run_targets) | {p for t in run_targets for p in prerequisites.get(t, [])}
    for command in CI_COMMANDS:
        assert command in lines or command.split()[1] in reachable, f"{command}: not run by .ci/run"
    assert MAKE_TEST in lines
