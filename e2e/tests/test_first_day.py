"""A newcomer's first day as README.md and docs/ show it, with the real CLI: log in, create ``prod``, set config.

The commands are read from the docs (every ``pulumi login``, ``pulumi stack
init prod`` and ``pulumi config set`` shown in a shell block, in page order)
and run as written in one bash, in a copy of the project, by the toolchain's
CLI, with a ``PULUMI_HOME`` of the test's own. Two changes: ``pulumi login``
(Pulumi Cloud, out of reach here) becomes a self-managed backend as its comment
offers, ``pulumi login file://<folder>`` in the test's folder (``--local`` would
be ``~/.pulumi`` of the user's passwd entry: the CLI does not take ``$HOME``
for it, measured); ``<secret>`` is filled in. The passphrase comes from
``PULUMI_CONFIG_PASSPHRASE``, as in a CI job. Then ``make plan STACK=prod``
runs in the copy on what the CLI wrote.

A second test sets a mistyped provider key with the real CLI and runs ``pulumi preview``:
the program refuses it before anything is registered (``components/config_providers.py``).

It proves what the offline tests cannot: the example stack loads in the real
CLI as it is (no ``secure:`` value, no salt of another stack), ``stack init``
keeps its values, each ``config set`` changes exactly its key (``--path``
one field of ``dossier:keycloak``) under the project's config declarations,
the secret is written encrypted, and the offline plan accepts the file the
CLI wrote.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.stack import toolchain
from tests.doc_pages import documented_commands, project_copy

pytestmark = pytest.mark.e2e

LOGIN = "pulumi login"
STARTS = (LOGIN, "pulumi stack init prod", "pulumi config set ")
#: What the config commands set, as Pulumi.prod.yaml then holds it (``--path`` sets one field of an object).
SET = {"dossier:fqdn": "hub.example.org", "kubernetes:context": "my-cluster", "keycloak:url": "https://auth.example.org",
       "keycloak:clientId": "pulumi"}


def first_day() -> list[str]:
    """The documented commands of the first day, each once, in the order the pages show them."""
    found = [c for c in documented_commands() if c.startswith(STARTS) and (c == LOGIN or not c.startswith(LOGIN))]
    assert found[:2] == [LOGIN, "pulumi stack init prod"], found
    return found


def test_the_documented_first_day_commands_are_the_ones_this_test_expects() -> None:
    # README "Deploy in five steps" (the secret), then configuration.md, "Setting values with the CLI".
    assert [c for c in first_day() if c.startswith("pulumi config set ")] == [
        "pulumi config set --secret keycloak:clientSecret '<secret>'",
        "pulumi config set dossier:fqdn hub.example.org",
        "pulumi config set --path dossier:keycloak.url https://auth.example.org",
        *(f"pulumi config set {key} {value}" for key, value in SET.items() if key != "dossier:fqdn"),
    ]


def _as_engine(value: object) -> object:
    """A top-level config value as the engine gives it to the program: scalars as strings, objects as they are."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_first_day_as_documented_with_the_real_cli(tmp_path: Path) -> None:
    tools = toolchain(["pulumi"])
    project, home, backend = project_copy(tmp_path / "dossier-stack"), tmp_path / "pulumi-home", tmp_path / "state"
    backend.mkdir()
    secret = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KUBECONFIG"))}
    env.update(PATH=tools.path(), PULUMI_HOME=str(home), PULUMI_CONFIG_PASSPHRASE="first-day-passphrase",
               PULUMI_SKIP_UPDATE_CHECK="true")
    example = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())

    login = f"pulumi login file://{backend}"
    lines = [login if c == LOGIN else c.replace("<secret>", secret) for c in first_day()]
    done = _run(["bash", "-c", "\n".join(["set -euo pipefail", *lines])], project, env)
    assert done.returncode == 0, f"{lines}\n{done.stdout}\n{done.stderr}"

    # The stack lives in the self-managed backend the login chose.
    assert [p.relative_to(backend).as_posix() for p in backend.glob(".pulumi/stacks/*/*.json")] == \
        [".pulumi/stacks/dossier/prod.json"]
    written = (project / "Pulumi.prod.yaml").read_text()
    assert secret not in written
    after: dict[str, Any] = yaml.safe_load(written)
    assert after["encryptionsalt"].startswith("v1:")
    config, before = dict(after["config"]), dict(example["config"])
    assert set(config.pop("keycloak:clientSecret")) == {"secure"}
    keycloak = config.pop("dossier:keycloak")
    assert keycloak == {**before.pop("dossier:keycloak"), "url": "https://auth.example.org"}
    for key, value in SET.items():
        assert config.pop(key) == value
        before.pop(key, None)
    # The CLI writes the file anew, a top-level scalar as the string the engine passes (`true` -> "true").
    assert config == {key: _as_engine(value) for key, value in before.items()}, \
        "a config set changed another key of the example"

    shown = _run(["pulumi", "config", "get", "keycloak:clientSecret", "--stack", "prod"], project, env)
    assert (shown.returncode, shown.stdout.strip()) == (0, secret), shown.stderr

    plan = _run(["make", "plan", "STACK=prod"], project, env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "not run" not in plan.stdout and "not checked" not in plan.stdout
    assert secret not in plan.stdout + plan.stderr
    assert "hub.example.org" in (project / "build" / "prod" / "resources.yaml").read_text()


def test_a_provider_key_typo_is_refused_by_the_program_under_the_real_cli(tmp_path: Path) -> None:
    """The program's own check of the providers' keys, under the real engine: a preview stops at the start.

    No server is needed: the program refuses before it registers anything (the engine's
    default providers, which would read the keys, are never made).
    """
    tools = toolchain(["pulumi", "language-python", "kubernetes", "keycloak", "random"])
    project, home, backend = project_copy(tmp_path / "dossier-stack"), tmp_path / "pulumi-home", tmp_path / "state"
    backend.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KUBECONFIG"))}
    env.update(PATH=tools.path(), PULUMI_HOME=str(home), PULUMI_CONFIG_PASSPHRASE="first-day-passphrase",
               PULUMI_SKIP_UPDATE_CHECK="true")
    lines = [f"pulumi login file://{backend}", "pulumi stack init prod",
             "pulumi config set kubernetes:contxt my-cluster",
             f"pulumi config set --secret keycloak:clientSecret {secrets.token_hex(8)}"]
    done = _run(["bash", "-c", "\n".join(["set -euo pipefail", *lines])], project, env)
    assert done.returncode == 0, done.stdout + done.stderr

    preview = _run(["pulumi", "preview", "--stack", "prod", "--non-interactive"], project, env)
    out = preview.stdout + preview.stderr
    assert preview.returncode != 0, out
    assert "invalid stack configuration (1 problem(s)):" in out, out
    assert "kubernetes:contxt: unknown key of the kubernetes provider; did you mean 'context'?" in out, out
    assert "Traceback" not in out
    # Only the stack itself: no provider and no resource was registered.
    assert "+ 1 to create" in out and "pulumi:providers:" not in out, out
