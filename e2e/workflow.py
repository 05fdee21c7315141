"""A job of the project's GitHub workflows run on this machine, as GitHub's runner would run it.

``run_job(checkout, matrix=..., secrets=..., variables=...)`` reads the job from
``.github/workflows/<workflow>`` (the pull-request workflow's ``preview`` job by
default) and runs its steps in order, in ``checkout`` (the repository as committed):

- ``actions/checkout``: ``checkout`` is that checkout;
- ``actions/setup-python``: the ``python`` on ``PATH`` must be the version the step
  names (checked, not installed);
- ``run:`` steps: run as written, in the job's shell, with the step's ``env``,
  ``RUNNER_TEMP``, ``GITHUB_WORKSPACE`` and ``GITHUB_ENV`` (what a step appends there
  is set for the steps after it, as on a runner);
- ``pulumi/actions``: what the action does with its inputs: the CLI on ``PATH`` must
  be ``pulumi-version``; ``cloud-url`` is logged into (``pulumi login``); the
  automation API (the action uses its Node.js twin) selects ``stack-name`` and runs
  ``command`` with ``policyPacks``; with ``comment-on-pr`` the output is what the
  action would post on the pull request.

``${{ }}`` expressions are evaluated from ``matrix``, ``secrets`` and ``variables``
(``vars``), as GitHub does: a secret or variable that is not given is an empty
string. The runner's own environment (``runner_env``: ``PATH`` with the toolchain,
offline engine settings, a ``PULUMI_HOME``; for an S3 backend its credentials) is
the caller's. Jobs the job ``needs`` are not run (``make test`` runs on its own).
An input, a step or an expression this runner does not know fails the run: it never
runs something other than what the workflow says.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from e2e.stack import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PULUMI_ACTION = "pulumi/actions@"
#: The inputs of pulumi/actions this runner carries out (``github-token`` is only for the comment).
ACTION_INPUTS = {"command", "pulumi-version", "stack-name", "cloud-url", "policyPacks", "comment-on-pr",
                 "github-token"}


class WorkflowError(Exception):
    """The job asks for something this runner cannot do the way GitHub would, or a step failed."""


@dataclass
class JobRun:
    """What ran: each step's name, and the pulumi/actions step's outcome."""

    steps: list[str] = field(default_factory=list)
    #: The action's command line as the automation API ran it, e.g. ``preview --stack prod --policy-pack policy``.
    command: str = ""
    ok: bool = False
    #: The command's output (what ``comment-on-pr`` posts); on failure, its output and error.
    output: str = ""


# --- expressions -------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<op>==|!=|&&|\|\||!|\(|\))|'(?P<str>(?:[^']|'')*)'|(?P<name>[A-Za-z_][\w.-]*))")


def evaluate(expression: str, context: Mapping[str, Mapping[str, str]]) -> Any:
    """A GitHub expression (contexts, string literals, ``== != ! && || ()``) with GitHub's value semantics."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if not match:
            raise WorkflowError(f"unsupported expression: {expression!r} (at {expression[position:]!r})")
        kind = next(k for k in ("op", "str", "name") if match[k] is not None)
        tokens.append((kind, match[kind]))
        position = match.end()

    def peek() -> str:
        return tokens[0][1] if tokens and tokens[0][0] == "op" else ""

    def primary() -> Any:
        if not tokens:
            raise WorkflowError(f"unsupported expression: {expression!r}")
        kind, text = tokens.pop(0)
        if kind == "str":
            return text.replace("''", "'")
        if kind == "op" and text == "!":
            return not primary()
        if kind == "op" and text == "(":
            value = either()
            if not tokens or tokens.pop(0) != ("op", ")"):
                raise WorkflowError(f"unbalanced parentheses: {expression!r}")
            return value
        if kind == "name" and text in ("true", "false"):
            return text == "true"
        scope, _, key = text.partition(".")
        if kind != "name" or scope not in context or not key:
            raise WorkflowError(f"unsupported expression: {expression!r} ({text!r})")
        return context[scope].get(key, "")

    def comparison() -> Any:
        left = primary()
        while peek() in ("==", "!="):
            op = tokens.pop(0)[1]
            right = primary()
            left = (left == right) if op == "==" else (left != right)
        return left

    def both() -> Any:
        left = comparison()
        while peek() == "&&":
            tokens.pop(0)
            right = comparison()
            left = right if left else left
        return left

    def either() -> Any:
        left = both()
        while peek() == "||":
            tokens.pop(0)
            right = both()
            left = left if left else right
        return left

    value = either()
    if tokens:
        raise WorkflowError(f"unsupported expression: {expression!r} (left over: {tokens})")
    return value


def substitute(value: Any, context: Mapping[str, Mapping[str, str]]) -> str:
    """A workflow value with its ``${{ }}`` expressions evaluated (``true`` -> ``"true"``, as GitHub writes it)."""
    def one(match: re.Match[str]) -> str:
        result = evaluate(match[1], context)
        return str(result).lower() if isinstance(result, bool) else str(result)

    text = str(value).lower() if isinstance(value, bool) else str(value)
    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


# --- the job -------------------------------------------------------------------------


def load_job(workflow: str, job: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the workflow, its job ``job``) as parsed from ``.github/workflows/<workflow>``."""
    document = yaml.safe_load((WORKFLOWS / workflow).read_text())
    return document, document["jobs"][job]


def _github_env(path: Path) -> dict[str, str]:
    """What steps appended to ``GITHUB_ENV``: ``NAME=value`` lines and ``NAME<<DELIMITER`` blocks."""
    found: dict[str, str] = {}
    lines = path.read_text().splitlines()
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, _, delimiter = line.partition("<<")
            body = []
            while lines and lines[0] != delimiter:
                body.append(lines.pop(0))
            lines = lines[1:]
            found[name] = "\n".join(body)
        elif "=" in line:
            name, _, value = line.partition("=")
            found[name] = value
    return found


def run_job(checkout: Path, *, runner_env: Mapping[str, str], matrix: Mapping[str, str],
            secrets: Mapping[str, str], variables: Mapping[str, str], cli: Path, runner_temp: Path,
            workflow: str = "preview.yml", job: str = "preview") -> JobRun:
    """Run ``job`` of ``workflow`` in ``checkout`` (see the module doc); the action's failure is ``ok=False``."""
    document, spec = load_job(workflow, job)
    options = spec.get("strategy", {}).get("matrix", {})
    for key, value in matrix.items():
        if value not in options.get(key, []):
            raise WorkflowError(f"{workflow} job {job}: matrix.{key}={value!r} is not one of {options.get(key)}")
    context = {"matrix": dict(matrix), "secrets": dict(secrets), "vars": dict(variables)}
    shell = (spec.get("defaults") or document.get("defaults") or {}).get("run", {}).get("shell", "bash")
    timeout = 60 * float(spec.get("timeout-minutes", 360))
    runner_temp.mkdir(parents=True, exist_ok=True)
    github_env = runner_temp / "github-env"
    github_env.write_text("")
    env = {**runner_env, "RUNNER_TEMP": str(runner_temp), "GITHUB_ENV": str(github_env),
           "GITHUB_WORKSPACE": str(checkout), "CI": "true", "GITHUB_ACTIONS": "true"}
    run = JobRun()
    for step in spec["steps"]:
        uses = str(step.get("uses", ""))
        step_env = {**env, **_github_env(github_env),
                    **{k: substitute(v, context) for k, v in (step.get("env") or {}).items()}}
        run.steps.append(substitute(step.get("name") or uses, context))
        if uses.startswith("actions/checkout@"):
            continue
        if uses.startswith("actions/setup-python@"):
            _check_python(str(step["with"]["python-version"]), step_env, checkout)
        elif "run" in step:
            if shell != "bash":
                raise WorkflowError(f"{workflow}: step {run.steps[-1]!r} runs in {shell}, not bash")
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                  cwd=checkout, env=step_env, capture_output=True, text=True, timeout=timeout,
                                  check=False)
            if done.returncode:
                raise WorkflowError(f"{workflow}: step {run.steps[-1]!r} exited {done.returncode}:\n"
                                    f"{done.stdout}\n{done.stderr}")
        elif uses.startswith(PULUMI_ACTION):
            inputs = {k: substitute(v, context) for k, v in (step.get("with") or {}).items()}
            _pulumi_action(run, inputs, step_env, checkout, cli, timeout)
        else:
            raise WorkflowError(f"{workflow}: step {run.steps[-1]!r} uses {uses}, which this runner does not know")
    return run


def _check_python(version: str, env: Mapping[str, str], checkout: Path) -> None:
    done = subprocess.run(["python", "--version"], cwd=checkout, env=dict(env), capture_output=True, text=True,
                          check=False)
    found = (done.stdout or done.stderr).strip()
    if done.returncode or not found.startswith(f"Python {version}."):
        raise WorkflowError(f"setup-python asks for Python {version}; the python on PATH is {found or 'missing'}")


def _pulumi_action(run: JobRun, inputs: Mapping[str, str], env: Mapping[str, str], checkout: Path, cli: Path,
                   timeout: float) -> None:
    unknown = set(inputs) - ACTION_INPUTS
    if unknown:
        raise WorkflowError(f"pulumi/actions inputs this runner does not carry out: {sorted(unknown)}")
    command = auto.PulumiCommand(root=str(cli))
    version = str(command.version).lstrip("v")
    if version != inputs["pulumi-version"].lstrip("v"):
        raise WorkflowError(f"the workflow installs the Pulumi CLI {inputs['pulumi-version']}; this CLI is {version}")
    if inputs["command"] != "preview":
        raise WorkflowError(f"pulumi/actions command {inputs['command']!r}: this runner runs only preview")
    if not inputs.get("cloud-url"):
        raise WorkflowError("no cloud-url: the action would log into Pulumi Cloud with PULUMI_ACCESS_TOKEN; "
                            "give the variable PULUMI_BACKEND_URL a self-managed backend")
    login = subprocess.run([str(cli / "bin" / "pulumi"), "login", inputs["cloud-url"], "--non-interactive"],
                           cwd=checkout, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    if login.returncode:
        raise WorkflowError(f"pulumi login {inputs['cloud-url']} exited {login.returncode}: {login.stderr}")
    packs = [line.strip() for line in inputs.get("policyPacks", "").splitlines() if line.strip()]
    workspace = auto.LocalWorkspaceOptions(work_dir=str(checkout), pulumi_home=env.get("PULUMI_HOME"),
                                           env_vars=dict(env), pulumi_command=command)
    stack = auto.select_stack(inputs["stack-name"], work_dir=str(checkout), opts=workspace)
    run.command = " ".join(["preview", "--stack", inputs["stack-name"], *(f"--policy-pack {p}" for p in packs)])
    lines: list[str] = []
    try:
        stack.preview(policy_packs=packs or None, on_output=lines.append, color="never")
    except auto.CommandError as exc:
        run.output = "\n".join([*lines, str(exc)])
        return
    run.ok, run.output = True, "\n".join(lines)  # the automation API hands each line without its end
