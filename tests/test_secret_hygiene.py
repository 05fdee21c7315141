"""No generated secret value leaves a Pulumi secret.

The whole program runs (not in preview, so the stand-in generates every
password, key and client secret the providers would). Each generated value —
and each ``secure:`` config value — must then appear only inside a ``Secret``:
never in a plain leaf of any resource's inputs (Helm values, annotations,
labels, specs), of the outputs the engine would store, or of a stack output not
marked secret. A value embedded in a longer string (a connection URL) counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from offline import plan
from offline.engine import RunResult, Secret, leaves
from tests import stacks


def _config_secrets(stack: str) -> list[str]:
    # The stand-in hands each `secure:` key to the program as this placeholder (offline/engine.py).
    return [f"offline-placeholder-for-{k}" for k, v in stacks.config(stack).items() if isinstance(v, dict)
            and set(v) == {"secure"}]


def _secret_values(result: RunResult, stack: str = "dev") -> list[str]:
    values = [v for v in result.generated_secrets if v] + _config_secrets(stack)
    assert values, "nothing was generated: the test would pass vacuously"
    return values


def plain_leaks(value: Any, secrets: Iterable[str], where: str) -> Iterator[str]:
    """Every plain (non-secret) leaf of ``value`` that contains one of ``secrets``."""
    secrets = list(secrets)
    for path, leaf, is_secret in leaves(value):
        if is_secret or not isinstance(leaf, str):
            continue
        if any(s in leaf for s in secrets):
            yield f"{where}: {path}"


def resource_leaks(result: RunResult, secrets: list[str]) -> list[str]:
    found: list[str] = []
    for r in result.resources:
        found += plain_leaks(r.inputs, secrets, f"{r.urn} input")
        found += plain_leaks(r.outputs, secrets, f"{r.urn} output")
    return found


def output_leaks(result: RunResult, secrets: list[str]) -> list[str]:
    found: list[str] = []
    for name, output in result.outputs.items():
        if not output.secret:
            found += plain_leaks(output.value, secrets, f"stack output {name}")
    return found


@pytest.mark.parametrize("which", ["dev", "prod"])
def test_no_secret_in_plain_resource_inputs_or_outputs(which: str, request: pytest.FixtureRequest) -> None:
    result: RunResult = request.getfixturevalue(which)
    leaks = resource_leaks(result, _secret_values(result))
    assert not leaks, "generated secrets outside a Pulumi secret:\n" + "\n".join(leaks)


@pytest.mark.parametrize("which", ["dev", "prod"])
def test_no_secret_in_plain_stack_outputs(which: str, request: pytest.FixtureRequest) -> None:
    result: RunResult = request.getfixturevalue(which)
    leaks = output_leaks(result, _secret_values(result))
    assert not leaks, "generated secrets in stack outputs not marked secret:\n" + "\n".join(leaks)


def test_the_scan_sees_the_secrets_where_they_are_used(dev: RunResult) -> None:
    # Guards against a vacuous pass: the generated values do reach the Helm values and
    # outputs, as secrets.
    hub = dev.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"]
    password = dev.outputs["postgresqlPassword"]
    assert password.secret and password.value in dev.generated_secrets
    db_password = hub["hub"]["db"]["password"]
    assert isinstance(db_password, Secret) and db_password.value == password.value
    secret_leaves = [leaf for _, leaf, is_secret in leaves(hub) if is_secret]
    used = [s for s in dev.generated_secrets if s in secret_leaves]
    # user password, client secret, cookie secret, proxy token, crypt key
    assert len(used) >= 5


def test_a_plain_copy_of_a_secret_is_caught() -> None:
    # The detector itself: a password pasted into a label or a URL is a leak.
    value = {
        "metadata": {"labels": {"pw": "s3cr3t-value"}, "annotations": {"ok": Secret("s3cr3t-value")}},
        "values": {"url": "postgresql://jhub:s3cr3t-value@db/jhub", "password": Secret("s3cr3t-value")},
    }
    assert sorted(plain_leaks(value, ["s3cr3t-value"], "r")) == ["r: metadata.labels.pw", "r: values.url"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_in_the_offline_plan_files(tmp_path: Path, stack: str) -> None:
    # Not a preview: the stand-in generates the values, so there is something to leak.
    report = plan.plan(stack, stacks=stacks.STACKS, out=tmp_path, preview=False)
    secrets = _secret_values(report.result)
    files = [p for p in (tmp_path / stack).rglob("*") if p.is_file()]
    assert files, "the plan wrote no files"
    leaks = [f"{p.relative_to(tmp_path)} holds a secret value" for p in files for s in secrets if s in p.read_text()]
    assert not leaks, "secrets written into build/:\n" + "\n".join(leaks)
