"""The PostgreSQL runbook (docs/operations.md) against the outputs contract, for both architectures.

The runbook's first block derives the namespace, the primary's pod, the Secret and the database
from ``pulumi stack output postgresql --json``. Here it runs as written in bash, ``pulumi`` a
function that prints the output the program gives for the stack, and what it derives is compared
with what the program registers: the Release's namespace, the pod the chart names
(``<release>-0`` standalone, ``<release>-primary-0`` with replication: bitnami/postgresql
12.2.1's ``postgresql.primary.fullname``, and a StatefulSet's first pod is ``<name>-0``), the
Secret resource, and the hub's database. ``make e2e-faults`` runs the whole runbook
(``e2e/faults/backup.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from e2e.faults.docs import documented_blocks
from offline.engine import RunResult
from tests.stacks import config, run_stack

SECTION = "Backing up and restoring PostgreSQL"


def derived(outputs: dict[str, Any]) -> dict[str, str]:
    """NS, POD, SECRET and DB as the runbook's variables block sets them from ``outputs['postgresql']``."""
    variables = documented_blocks(SECTION)[0]
    script = "\n".join([
        "set -euo pipefail",
        # The CLI as the block calls it: `pulumi stack output --stack $STACK postgresql --json`.
        'pulumi() { [ "$*" = "stack output --stack $STACK postgresql --json" ] || exit 9; printf "%s" "$OUTPUT"; }',
        *variables,
        'printf "%s\\n" "$NS" "$POD" "$SECRET" "$DB"',
    ])
    env = {**os.environ, "STACK": "any", "OUTPUT": json.dumps(outputs["postgresql"])}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return dict(zip(("NS", "POD", "SECRET", "DB"), done.stdout.split(), strict=True))


def expected(result: RunResult) -> dict[str, str]:
    """What the program registers: the Release's namespace and name, the chart's naming rule, the Secret, the DB."""
    release = result.one("kubernetes:helm.sh/v3:Release", "postgresql-release").inputs
    values = release["values"]
    statefulset = f"{release['name']}-primary" if values["architecture"] == "replication" else release["name"]
    secret = result.one("kubernetes:core/v1:Secret", "postgresql-secret").inputs["metadata"]
    return {"NS": release["namespace"], "POD": f"{statefulset}-0", "SECRET": secret["name"],
            "DB": values["auth"]["database"]}


@pytest.mark.parametrize(("stack", "architecture", "pod"), [
    ("dev", "replication", "jhub-postgresql-primary-0"),
    ("dev", "standalone", "jhub-postgresql-0"),
    ("prod", "replication", "jhub-postgresql-primary-0"),
    ("prod", "standalone", "jhub-postgresql-0"),
])
def test_the_runbook_finds_the_primary_its_secret_and_database(stack: str, architecture: str, pod: str) -> None:
    postgresql = {**config(stack).get("dossier:postgresql", {}), "architecture": architecture}
    if architecture == "standalone":
        postgresql.pop("readReplicas", None)  # refused without replication
    result = run_stack(stack, postgresql=postgresql)
    found = derived({name: out.value for name, out in result.outputs.items()})
    assert found == expected(result)
    assert found["POD"] == pod


def test_the_restore_recreates_the_database_the_hub_uses(dev: RunResult) -> None:
    """The restore drops and creates the database by its name in the dump: the one the hub's URL names."""
    hub = dev.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"]["hub"]["db"]
    assert hub["url"].rsplit("/", 1)[1] == derived({n: o.value for n, o in dev.outputs.items()})["DB"]
    restore = documented_blocks(SECTION)[3]
    assert any("pg_restore" in c and "--clean --if-exists --create" in c and "-d postgres" in c for c in restore)
