"""The policy pack under the real CLI: the documented commands as written, the pull-request workflow's preview.

One stack ``prod`` (the stack README "Deploy in five steps" creates, and one of those the
pull-request workflow previews) of the unmodified program, deployed into the
run's API server and Keycloak with ``protectData: true``. Its project folder
is a copy of the program (``e2e/stack.py``) with what the documented commands
need beside it: ``policy/`` (without a virtualenv), ``requirements.txt`` and
the ``Makefile``. The commands are read from the pages and run as written in
bash in that folder, with the stack's environment (``PULUMI_BACKEND_URL`` as
the backend, the passphrase, the toolchain first on ``PATH``, no virtualenv on
it) and ``PULUMI_SKIP_CONFIRMATIONS=true``, the CLI's own switch for the
confirmation a script cannot give.

Then the same stack with ``protectData: false``, which the ``data-protected``
rule forbids outside ``dev``: the preview, the workflow's preview and the update
are refused, each naming every data-bearing resource, and nothing changes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import checks, policy
from e2e.deployment import Deployment as StackDeployment
from e2e.servers import Supervisor, start_servers
from e2e.shared import workflow
from e2e.stack import PASSPHRASE, ROOT, E2EStack, Phase, toolchain
from tests.doc_pages import documented_commands

pytestmark = pytest.mark.e2e

STACK = "prod"
GROUP = "genomics"
#: README "Deploy in five steps", review and apply: the policy pack's environment, the preview and the update.
VENV = "python3 -m venv policy/.venv && policy/.venv/bin/pip install -r policy/requirements.txt"
PREVIEW, UP = "pulumi preview --diff --policy-pack policy", "pulumi up --policy-pack policy"
#: docs/operations.md: the pack with any preview, and previews with checkpoints skipped.
OTHERS = ("pulumi preview --stack prod --policy-pack policy", "make preview STACK=prod",
          'make preview STACK=prod PREVIEW_ARGS="--diff --policy-pack policy"')
#: How the CLI (3.274.1) shows that the pack ran and passed: with ``--diff`` a table after the summary; otherwise a
#: line under "Policies:" (``pulumi up`` shows it for its preview and again for the update).
PACK_PASSED = re.compile(r"^Policy Packs run:\n +Name +Version\n +dossier\|local\|policy +0\.1\.0$"
                         r"|^Policies:\n +✅ dossier@v0\.1\.0 \(local: policy\)$", re.MULTILINE)
#: A violation, in either display: ``[mandatory]  data-protected  (<type>: <name>)``.
VIOLATION = re.compile(r"\[(mandatory|advisory)\] +(?P<policy>[\w-]+) +\((?P<type>[^: ]+:[^: ]+:[^: ]+): ")
#: The data-protected rule's message (policy/dossier_rules.py).
UNPROTECTED = re.compile(rf"\w+ '(?P<name>[^']+)': holds data but is not protected in stack '{STACK}'; "
                         r"set dossier:protectData: true")
#: What a documented command runs with from this process's environment: not another Pulumi setup, not make's.
CLEARED = ("PULUMI_", "KUBECONFIG", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def passed(output: str, times: int = 1) -> bool:
    """The pack ran (``times`` times) and reported no violation."""
    return len(PACK_PASSED.findall(output)) == times and not VIOLATION.search(output)


def machine_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}


class Deployment(StackDeployment):
    """The deployment, with the README's commands run in its project folder."""

    def run(self, command: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A documented command as written, in the stack's project folder (see the module doc)."""
        environment = {**machine_env(), **self.stack.env, "PULUMI_SKIP_CONFIRMATIONS": "true", **(env or {})}
        with Phase(command):
            done = subprocess.run(["bash", "-c", f"set -euo pipefail\n{command}"], cwd=self.stack.project,
                                  env=environment, capture_output=True, text=True, timeout=1200, check=False)
        logs = self.supervisor.path("logs", "documented")
        (logs / f"{len(list(logs.iterdir())) + 1:02d}.log").write_text(
            f"$ {command}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def protected(self) -> set[str]:
        """The logical names of the custom resources the state holds protected."""
        return {r["urn"].rsplit("::", 1)[1] for r in self.stack.resources() if r.get("protect") and r.get("custom")}


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with Phase("toolchain"):
        tools = toolchain()
    with Supervisor("dossier-e2e-policy") as supervisor:
        with Phase("servers"):
            servers = start_servers(supervisor, which=("cluster", "keycloak"), nodes=checks.cluster_nodes())
        stack = E2EStack(supervisor.path("stack"), tools, name=STACK)
        policy.add_pack(stack.project)
        for name in ("requirements.txt", "Makefile"):
            shutil.copy2(ROOT / name, stack.project / name)  # mtimes kept: make finds .venv up to date
        config, secrets = checks.stack_config(servers, groups=[GROUP], protect=True)
        stack.configure(config, secrets)
        yield Deployment(servers, stack, supervisor, tools)


def test_00_the_documented_commands_are_the_ones_this_test_runs() -> None:
    assert policy.readme_policy_commands() == [VENV, PREVIEW, UP]
    documented = documented_commands()
    assert [c for c in OTHERS if c not in documented] == []


def test_01_the_policy_packs_environment_as_documented(deployment: Deployment) -> None:
    done = deployment.run(VENV)
    assert done.returncode == 0, done.stdout + done.stderr
    pins = dict(line.split("==") for line in (ROOT / "policy" / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    python = deployment.stack.project / "policy" / ".venv" / "bin" / "python"
    versions = subprocess.run([str(python), "-c", "import importlib.metadata as m, sys; "
                               "print(*(m.version(n) for n in sys.argv[1:]))", *pins],
                              capture_output=True, text=True, check=True).stdout.split()
    assert dict(zip(pins, versions, strict=True)) == pins


def test_02_the_host_runs_the_program_with_the_virtualenv_pulumi_yaml_names(deployment: Deployment) -> None:
    path = deployment.stack.env["PATH"].split(os.pathsep)
    assert [p for p in path if p.rstrip("/").endswith(".venv/bin")] == [], path
    # The python3 the host would find on PATH has no Pulumi SDK: a program that runs used the virtualenv.
    bare = subprocess.run(["python3", "-c", "import pulumi"], env={**machine_env(), "PATH": os.pathsep.join(path)},
                          capture_output=True, text=True, check=False)
    assert "No module named 'pulumi'" in bare.stderr, bare.stderr


def test_03_preview_and_up_as_documented_pass_every_policy(deployment: Deployment) -> None:
    preview = deployment.run(PREVIEW)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert passed(preview.stdout), preview.stdout
    assert "to create" in preview.stdout, preview.stdout
    up = deployment.run(UP)
    assert up.returncode == 0, up.stdout + up.stderr
    assert passed(up.stdout, times=2), up.stdout
    outputs = deployment.stack.outputs()
    assert outputs["hubUrl"].value == f"https://{checks.FQDN}"
    deployment.notes["protected"] = deployment.protected()
    assert {"namespace", "postgresql-release", "keycloak-client", "tenant-tenant",
            f"research-{GROUP}-tenant"} <= deployment.notes["protected"]


def test_04_the_other_documented_previews(deployment: Deployment) -> None:
    for command in OTHERS:
        done = deployment.run(command)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert passed(done.stdout) is ("--policy-pack" in command), done.stdout
        assert "to create" not in done.stdout and "to update" not in done.stdout, done.stdout


def checkout(deployment: Deployment, into: Path) -> Path:
    """The repository as committed: the project without its virtualenvs (the workflow's install step makes them)."""
    if into.exists():  # a new commit of the same branch: the stack file changed, the runner's venvs are reused
        shutil.copy2(deployment.stack.settings_file, into / deployment.stack.settings_file.name)
        return into
    return Path(shutil.copytree(deployment.stack.project, into, symlinks=True,
                                ignore=shutil.ignore_patterns(".venv", "__pycache__")))


def run_preview_workflow(deployment: Deployment) -> workflow.Preview:
    """preview.yml's preview step as its job runs it (e2e/shared/workflow.py), the install step included."""
    cluster = deployment.servers.cluster
    assert cluster
    folder = deployment.supervisor.path("workflow")
    context = {"secrets": {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "KUBECONFIG_PROD": cluster.kubeconfig.read_text()},
               "vars": {"PULUMI_BACKEND_URL": deployment.stack.env["PULUMI_BACKEND_URL"]}, "matrix": {"stack": STACK}}
    # The runner's own environment: the backend, passphrase and kubeconfig come from the workflow alone.
    runner_env = {**machine_env(), "PATH": deployment.tools.path(), "PULUMI_HOME": str(folder / "pulumi-home"),
                  "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}
    project = checkout(deployment, folder / "checkout")
    with Phase("preview.yml, job preview"):
        preview = workflow.plan(context, deployment.supervisor.path("workflow", "runner-temp"), checkout=project)
        return workflow.run_preview(preview, project, runner_env, deployment.tools.cli_home / "bin" / "pulumi")


def test_05_the_pull_request_workflow_previews_with_the_pack(deployment: Deployment) -> None:
    preview = run_preview_workflow(deployment)
    assert f"v{preview.pulumi_version}" in deployment.tools.versions()["pulumi"], preview.pulumi_version
    assert preview.argv == ["pulumi", "preview", "--stack", STACK, "--non-interactive", "--policy-pack", "policy"]
    assert preview.left_out == ["comment-on-pr: GitHub only", "github-token: GitHub only"]
    assert preview.code == 0, preview.output
    assert passed(preview.output) and "to create" not in preview.output, preview.output


def refusals(output: str) -> set[str]:
    """The resources the data-protected rule's message names in ``output``; no other policy may be violated."""
    assert {m["policy"] for m in VIOLATION.finditer(output)} == {"data-protected"}, output
    return {m["name"] for m in UNPROTECTED.finditer(output)}


def test_06_a_stack_that_breaks_a_policy_is_refused(deployment: Deployment) -> None:
    protected = deployment.notes["protected"]
    before = deployment.stack.resources()
    deployment.stack.configure({"dossier:protectData": False})

    preview = deployment.run(PREVIEW)
    assert preview.returncode != 0
    named = refusals(preview.stdout)
    assert named == protected - {"postgresql-secret"}, (sorted(protected ^ named), preview.stdout)

    run = run_preview_workflow(deployment)
    assert run.code != 0, run.output
    assert refusals(run.output) == named, run.output

    up = deployment.run(UP)
    assert up.returncode != 0
    assert refusals(up.stdout) == named, up.stdout
    assert deployment.stack.resources() == before, "a refused update changed the state"
    assert deployment.protected() == protected
