"""The preview step of ``.github/workflows/preview.yml``, run as the workflow runs it.

``preview_job()`` reads the workflow: the job whose step uses ``pulumi/actions``
with ``command: preview``. ``run_preview(...)`` then does what that job does on a
runner, with this machine's servers in place of the repository's secrets and
variables: the job's ``run`` steps that set the job's environment (the
kubeconfig step: its script run in bash with ``RUNNER_TEMP`` and ``GITHUB_ENV``,
and what it appends to ``GITHUB_ENV`` kept), then the action's inputs as the CLI
options they stand for (``cloud-url``: ``pulumi login``; ``stack-name``:
``--stack``; ``command: preview``), with the step's ``env`` evaluated (``${{
secrets.X }}``, ``${{ vars.X }}``, ``${{ matrix.X }}`` and their ``==``, ``&&``,
``||``). An input this module does not know fails the run, so a new input in the
workflow cannot be skipped silently.

The environment is the workflow's ``env``, then the job's, then the step's, each
over the one before (as GitHub merges them). Whatever else could change what a step
does is checked, not ignored: ``defaults.run`` (the workflow's or the job's) may only
say ``shell: bash``, which is how every ``run`` step runs here; a step may hold only
``name``, ``id``, ``env``, ``run`` with ``shell: bash``, or ``uses`` with ``with``; a
``uses`` step before the preview must be ``actions/checkout`` or
``actions/setup-python``; the workflow and the job may hold only the keys listed in
``WORKFLOW_KEYS`` and ``JOB_KEYS``. Anything else (a ``working-directory``, another
``shell``, an ``if:``, ``continue-on-error``, a ``container``, another action) fails
``plan`` with a ``WorkflowError`` naming it and where it is.

``policyPacks`` become ``--policy-pack`` options: the project needs the pack
(``policy/`` and its virtualenv), as a runner's checkout has it after the install
step. That step runs too when ``plan`` is given the checkout (a copy of the
project without virtualenvs: it creates both from the requirements files, from
PyPI); otherwise it is left out.

Left out, each said in ``Preview.left_out``: the install step unless asked for
(the e2e's virtualenv holds the same requirements), and the inputs that only talk
to GitHub (``comment-on-pr``, ``github-token``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e.stack import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"
ACTION = "pulumi/actions@"
#: Inputs that only talk to GitHub: nothing of the preview depends on them.
GITHUB_ONLY = ("comment-on-pr", "github-token")
#: Steps a runner needs that this machine has already (the e2e's virtualenv, the checkout), unless asked for.
NOT_RUN = {"Install the program and the policy pack": "the e2e's .venv holds the same requirements"}
#: Keys of the workflow, the job and a step that change nothing of what the preview step runs here.
WORKFLOW_KEYS = {"name", "on", True, "permissions", "concurrency", "defaults", "env", "jobs"}  # YAML 1.1: on is True
JOB_KEYS = {"name", "needs", "runs-on", "timeout-minutes", "permissions", "strategy", "steps", "defaults", "env"}
STEP_KEYS = {"name", "id", "env", "run", "shell", "uses", "with"}
#: Actions a step before the preview may use: this machine has what they give (the checkout, Python 3.11).
SETUP_ACTIONS = ("actions/checkout@", "actions/setup-python@")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_NAME = re.compile(r"\b(secrets|vars|matrix|github|env)\.([A-Za-z_][A-Za-z0-9_-]*)")


class WorkflowError(Exception):
    """The workflow holds something this runner cannot run; the message names it."""


def evaluate(text: str, context: Mapping[str, Mapping[str, str]]) -> str:
    """``text`` with every ``${{ ... }}`` evaluated as GitHub does for these forms (missing names are "")."""
    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        names: dict[str, str] = {}

        def name(found: re.Match[str]) -> str:
            key = f"_v{len(names)}"
            names[key] = str(context.get(found.group(1), {}).get(found.group(2), ""))
            return key

        python = _NAME.sub(name, expression).replace("&&", " and ").replace("||", " or ")
        bare = re.sub(r"'[^']*'", "", python)  # string literals out; then only names, ==, !=, and/or/not, ( )
        words = set(re.findall(r"[A-Za-z_]\w*", bare)) - set(names) - {"and", "or", "not"}
        if words or re.search(r"[^\w\s=!()]", bare):
            raise WorkflowError(f"cannot evaluate the expression {expression!r}")
        # Names and string literals only (checked above), no builtins: the forms the workflows use.
        return str(eval(python, {"__builtins__": {}}, names))

    return _EXPRESSION.sub(one, text)


def _workflow_and_job(workflow: Path) -> tuple[dict[str, Any], str, dict[str, Any], int]:
    """The workflow, the name of the job holding the ``pulumi/actions`` preview step, the job, the step's index."""
    document = yaml.safe_load(workflow.read_text())
    for name, job in (document.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            if str(step.get("uses", "")).startswith(ACTION) and (step.get("with") or {}).get("command") == "preview":
                return document, name, job, index
    raise WorkflowError(f"{workflow.name}: no step uses {ACTION} with command: preview")


def preview_job(workflow: Path = WORKFLOW) -> tuple[dict[str, Any], int]:
    """The job holding the ``pulumi/actions`` preview step, and that step's index."""
    _, _, job, index = _workflow_and_job(workflow)
    return job, index


def not_interpreted(document: Mapping[Any, Any], name: str, job: Mapping[str, Any], index: int) -> list[str]:
    """What of the workflow, the preview's job and its steps up to the preview this runner would not honour.

    Each named with where it is (see the module doc); ``[]``: it runs them as GitHub would.
    """
    found = [f"the workflow's {key}" for key in document if key not in WORKFLOW_KEYS]
    found += [f"job {name!r}: {key}" for key in job if key not in JOB_KEYS]
    for where, defaults in (("the workflow's", document.get("defaults")), (f"job {name!r}:", job.get("defaults"))):
        for key, value in (defaults or {}).items():
            if key != "run":
                found.append(f"{where} defaults.{key}")
                continue
            found += [f"{where} defaults.run.{k}: {v}" for k, v in (value or {}).items()
                      if not (k == "shell" and v == "bash")]
    for position, step in enumerate(job["steps"][:index + 1]):
        label = f"job {name!r}, step {step.get('name') or step.get('uses') or position + 1!r}:"
        found += [f"{label} {key}" for key in step if key not in STEP_KEYS]
        if "shell" in step and step["shell"] != "bash":
            found.append(f"{label} shell: {step['shell']}")
        if "uses" in step and position < index and not str(step["uses"]).startswith(SETUP_ACTIONS):
            found.append(f"{label} uses {step['uses']}")
    return found


@dataclass
class Preview:
    """What the step ran, and how it ended."""

    login: list[str]
    argv: list[str]
    env: dict[str, str]
    pulumi_version: str
    code: int = -1
    output: str = ""
    left_out: list[str] = field(default_factory=list)


def plan(context: Mapping[str, Mapping[str, str]], runner_temp: Path,
         workflow: Path = WORKFLOW, *, checkout: Path | None = None) -> Preview:
    """The commands and environment of the workflow's preview, its setup steps run (see the module doc).

    ``checkout``: run every ``run`` step there, the install step included (the folder must hold no
    virtualenv: the step creates them).
    """
    document, name, job, index = _workflow_and_job(workflow)
    unread = not_interpreted(document, name, job, index)
    if unread:
        raise WorkflowError(f"{workflow.name} holds what this runner does not interpret: {'; '.join(unread)} "
                            "(e2e/shared/workflow.py)")
    env: dict[str, str] = {k: evaluate(str(v), context) for k, v in (document.get("env") or {}).items()}
    env.update({k: evaluate(str(v), context) for k, v in (job.get("env") or {}).items()})
    left_out: list[str] = []
    timeout = 60 * float(job.get("timeout-minutes", 30))
    for step in job["steps"][:index]:
        if "run" not in step:
            continue  # actions/checkout, setup-python: the e2e's checkout and Python
        if step.get("name") in NOT_RUN and checkout is None:
            left_out.append(f"step {step['name']!r}: {NOT_RUN[step['name']]}")
            continue
        # Only bash gets this far (not_interpreted): named (the step's or a default), or none, GitHub's default.
        named = step.get("shell") or _default_shell(job) or _default_shell(document)
        env.update(_run_step(step, context, env, runner_temp, cwd=checkout, timeout=timeout, named=bool(named)))
    step = job["steps"][index]
    inputs = {k: evaluate(str(v), context) for k, v in (step.get("with") or {}).items()}
    env.update({k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()})
    unknown = sorted(set(inputs) - {"command", "pulumi-version", "stack-name", "cloud-url", "policyPacks",
                                    *GITHUB_ONLY})
    if unknown:
        raise WorkflowError(f"the preview step has inputs this runner does not know: {', '.join(unknown)}; "
                            "map each to the CLI option it stands for (e2e/shared/workflow.py)")
    left_out += [f"{name}: GitHub only" for name in GITHUB_ONLY if name in inputs]
    login = ["pulumi", "login", inputs["cloud-url"]] if inputs.get("cloud-url") else []
    packs = [arg for pack in inputs.get("policyPacks", "").splitlines() if pack.strip()
             for arg in ("--policy-pack", pack.strip())]
    argv = ["pulumi", inputs["command"], "--stack", inputs["stack-name"], "--non-interactive", *packs]
    return Preview(login, argv, env, inputs.get("pulumi-version", ""), left_out=left_out)


def _default_shell(scope: Mapping[Any, Any]) -> str | None:
    return ((scope.get("defaults") or {}).get("run") or {}).get("shell")


def _run_step(step: Mapping[str, Any], context: Mapping[str, Mapping[str, str]], env: Mapping[str, str],
              runner_temp: Path, *, cwd: Path | None = None, timeout: float = 120,
              named: bool = True) -> dict[str, str]:
    """Run a ``run`` step in bash; what it appended to ``GITHUB_ENV``, as the job's environment gets it.

    ``named``: the step's shell is ``bash`` by name (its own or a default); else GitHub's default shell.
    """
    github_env = runner_temp / "github_env"
    github_env.write_text("")
    step_env = {k: evaluate(str(v), context) for k, v in (step.get("env") or {}).items()}
    # As GitHub runs a step of ``shell: bash``, or with no shell given on Linux (``bash -e {0}``).
    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"] if named else ["bash", "-e", "-c"]
    done = subprocess.run([*bash, str(step["run"])], cwd=cwd, env={
        **os.environ, **env, **step_env, "RUNNER_TEMP": str(runner_temp), "GITHUB_ENV": str(github_env)},
        capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise WorkflowError(f"step {step.get('name')!r} failed (exit {done.returncode}): {done.stderr.strip()}")
    return dict(line.split("=", 1) for line in github_env.read_text().splitlines() if "=" in line)


def run_preview(preview: Preview, project: Path, base_env: Mapping[str, str], pulumi: Path) -> Preview:
    """``pulumi login`` and the preview, in ``project`` with ``base_env`` (the runner's) plus the step's."""
    env = {**os.environ, **base_env, **preview.env}
    outputs = []
    for argv in ([preview.login] if preview.login else []) + [preview.argv]:
        done = subprocess.run([str(pulumi), *argv[1:]], cwd=project, env=env, capture_output=True, text=True,
                              timeout=900, check=False)
        outputs.append(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}")
        preview.code = done.returncode
        if done.returncode != 0:
            break
    preview.output = "\n".join(outputs)
    return preview
