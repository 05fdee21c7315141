"""A team that follows the deploy steps on its own stack files keeps ``make test`` and ``make plan`` green.

README "Deploy in five steps", the step after the stack is made: set your names in
``Pulumi.prod.yaml`` and the Keycloak provider's secret with ``pulumi config set --secret``. A team does the same in
``Pulumi.dev.yaml`` and drops the example research group. Here that is done in a copy of
the project (``tests/doc_pages.project_copy``, sharing this tree's ``.venv``) made a git
repository as a team's clone is, and then the commands the pages give for a changed stack
run there: ``make plan``, ``make plan STACK=prod`` and ``make test``, the command both
workflows run before any preview or deploy. All must pass: the tests run on stacks of
their own (``tests/stacks.py``), and the user's files are only checked for validity.

The files are written as the Pulumi CLI writes them (it rewrites the whole file on
``pulumi config set``): top-level scalars as strings, the secret ``secure:`` with the
file's ``encryptionsalt``, in the passphrase provider's form (``tests/test_config_secrets.py``
checks that form; ``e2e/tests/test_first_day.py`` runs the real CLI).

The copy's ``make test`` runs this module too: ``NESTED`` makes it skip there. It costs
one more ``make test`` (see docs/testing.md for the time measured).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.engine import ROOT
from tests.doc_pages import documented_commands, project_copy

#: Set in the copy's environment: its ``make test`` must not start another copy.
NESTED = "DOSSIER_USER_STACKS_COPY"
#: Set by a surrounding ``make``; the copy's ``make`` runs as from a plain shell.
_MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
SECRET_COMMAND = "pulumi config set --secret keycloak:clientSecret '<secret>'"

#: A university's names, in place of every example value a team would change.
PROD = {
    "dossier:fqdn": "jupyter.physik.uni-nordstadt.de",
    "dossier:keycloak": {"url": "https://idp.uni-nordstadt.de", "realm": "uni", "adminRoles": ["hub-admins"]},
    "dossier:postgresql": {"architecture": "replication", "readReplicas": 1, "size": "50Gi",
                           "storageClass": "ceph-rbd-retain"},
    "dossier:jupyterhub": {"debug": False, "singleuser": {"storageClass": "ceph-rbd-retain"}},
    "dossier:tenant": {"egressExcept": ["10.0.0.0/8", "192.168.0.0/16"]},
    "dossier:ingress": {"clusterIssuer": "harica-acme"},
    "dossier:nodes": {"core": ["k8s-core-01.rz.uni-nordstadt.de"],
                      "user": ["k8s-gpu-01.rz.uni-nordstadt.de", "k8s-gpu-02.rz.uni-nordstadt.de"]},
    "kubernetes:context": "nordstadt-prod",
    "keycloak:url": "https://idp.uni-nordstadt.de",
    "keycloak:clientId": "pulumi-dossier",
}
DEV = {
    "dossier:fqdn": "jupyter-test.physik.uni-nordstadt.de",
    "dossier:keycloak": {"url": "https://idp-test.uni-nordstadt.de", "realm": "uni-test"},
    "dossier:nodes": {"core": ["k8s-test-cp"], "user": ["k8s-test-w1"]},
    "kubernetes:context": "nordstadt-test",
    "keycloak:url": "https://idp-test.uni-nordstadt.de",
    "keycloak:clientId": "pulumi-dossier",
}


def _b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def _as_the_cli_writes(value: Any) -> Any:
    """A top-level config value as the CLI writes it back: scalars as strings, objects as they are."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


def set_your_names(stack_file: Path, names: dict[str, Any], *, drop: tuple[str, ...] = ()) -> None:
    """The deploy steps' edit of ``stack_file``: the team's names, the secret set (``secure:``), ``drop`` removed."""
    document = yaml.safe_load(stack_file.read_text())
    config: dict[str, Any] = document["config"]
    for key in drop:
        assert config.pop(key, None) is not None, f"{stack_file.name} has no {key} to remove"
    config.update(names)
    # What `pulumi config set --secret` leaves on a self-managed backend with a passphrase.
    document["encryptionsalt"] = f"v1:{_b64(8)}:v1:{_b64(12)}:{_b64(22)}"
    config["keycloak:clientSecret"] = {"secure": f"v1:{_b64(12)}:{_b64(48)}"}
    document["config"] = {key: _as_the_cli_writes(value) for key, value in config.items()}
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False)


def _git(project: Path, *args: str) -> None:
    done = subprocess.run(["git", "-c", "user.name=Platform Team", "-c", "user.email=platform@uni-nordstadt.de",
                           *args], cwd=project, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_pages_show_the_secret_step_this_test_takes() -> None:
    assert SECRET_COMMAND in documented_commands()
    readme = (ROOT / "README.md").read_text()
    assert "Set your names in `Pulumi.prod.yaml`" in readme


@pytest.mark.skipif(os.environ.get(NESTED) == "1", reason="inside the copy this test made")
def test_your_names_the_secret_and_no_example_group_keep_make_test_and_make_plan_green(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "team-clone")
    _git(project, "init", "-q", "-b", "main")
    # The copy's .venv is a symlink to this tree's, which `.venv/` in .gitignore does not match.
    _git(project, "add", "-A", "--", ".", ":!.venv")
    _git(project, "commit", "-q", "-m", "dossier-stack as cloned")
    example = (project / "Pulumi.prod.yaml").read_text()
    assert "dossier:tenants" in example, "the example prod stack has a research group to remove"

    set_your_names(project / "Pulumi.prod.yaml", PROD, drop=("dossier:tenants",))
    set_your_names(project / "Pulumi.dev.yaml", DEV)
    env = {key: value for key, value in os.environ.items() if key not in _MAKE_VARIABLES}
    env[NESTED] = "1"

    for argv, stack, fqdn in ((["make", "plan"], "dev", DEV["dossier:fqdn"]),
                              (["make", "plan", "STACK=prod"], "prod", PROD["dossier:fqdn"])):
        done = _run(argv, project, env)
        assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        rendered = (project / "build" / stack / "resources.yaml").read_text()
        assert f"certificate-{fqdn}-tls.yaml" in rendered, f"{' '.join(argv)} planned another stack"
        assert "example.org" not in "".join(p.read_text() for p in (project / "build" / stack).rglob("*.yaml"))
    assert "research-" not in (project / "build" / "prod" / "resources.yaml").read_text()

    done = _run(["make", "test"], project, env)
    tail = f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"make test in the team's copy failed:\n{tail}"
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and not re.search(r"\b\d+ (failed|errors?)\b", summary), summary
    assert "inside the copy this test made" in done.stdout, "the copy's make test ran this test again"
    # Nothing had to be regenerated for the change: the copy's tracked files other than the stack files are as cloned.
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project,
                            capture_output=True, text=True, check=True).stdout.split("\n")
    assert sorted(line[3:] for line in status if line) == ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]
