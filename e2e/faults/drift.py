"""Changes made by hand behind the stack's back, found by a refresh and repaired.

Three drifts at once, each as an administrator would make it: the ``tenants``
mapper switched to single-valued in Keycloak, the ``name`` label removed from
the hub's Namespace, and a research group's client role deleted in Keycloak
(its member ``alice`` loses it with it). ``pulumi preview --refresh`` must show
exactly one step per drift (the mapper and the Namespace updated, the role
created) and ``pulumi up --refresh`` must repair all three: the commands of
docs/operations.md#changes-made-by-hand, run from the page (``docs.py``). A deleted role comes
back empty: Keycloak deleted its members' mappings with it, and the case says
so (the docs tell the operator to assign it again).
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from components.keycloak_client import TENANTS_CLAIM
from e2e.faults.docs import documented, pick, shell
from e2e.faults.rig import BASE_GROUPS, CaseFailedError, Rig
from e2e.state import CLIENT, NAMESPACE, REALM

GROUP = BASE_GROUPS[0]
USER = "alice"
SECTION = "Changes made by hand"


def planned_steps(output: str) -> dict[str, tuple[str, list[str]]]:
    """Logical name -> (operation, changed properties) of each step ``pulumi preview --json`` plans to take."""
    start = output.find("{")
    document = json.loads(output[start:]) if start >= 0 else {}
    steps: dict[str, tuple[str, list[str]]] = {}
    for step in document.get("steps") or []:
        op = step.get("op", "")
        if op in ("same", "read", "refresh"):
            continue
        keys = sorted({str(k).split(".")[0].split("[")[0] for k in (step.get("detailedDiff") or {})} |
                      set(step.get("diffReasons") or []))
        steps[str(step.get("urn", "")).rsplit("::", 1)[-1]] = (op, keys)
    return steps


def _namespace_labels(rig: Rig) -> dict[str, str]:
    assert rig.servers.cluster
    core: Any = client.CoreV1Api(rig.servers.cluster.api_client())
    return dict(core.read_namespace(NAMESPACE).metadata.labels or {})


def test_drift_made_by_hand(rig: Rig) -> str:
    assert rig.servers.keycloak and rig.servers.cluster
    admin = rig.servers.keycloak.admin()
    admin.assign_client_roles(REALM, CLIENT, USER, [GROUP])
    # The three drifts.
    admin.set_mapper_multivalued(REALM, CLIENT, TENANTS_CLAIM, False)
    core: Any = client.CoreV1Api(rig.servers.cluster.api_client())
    core.patch_namespace(NAMESPACE, {"metadata": {"labels": {"name": None}}})
    client_uuid = admin.client(REALM, CLIENT)["id"]
    admin.delete(f"/{REALM}/clients/{client_uuid}/roles/{GROUP}")

    commands = documented(SECTION)
    # As documented, with --json instead of --diff so that the steps can be read.
    shown = pick(commands, "pulumi preview", SECTION)
    preview = shell(rig, [shown.replace(" --diff", "") + " --json"])
    steps = planned_steps(preview.stdout)
    expected_ops = {"keycloak-tenants-mapper": "update", "namespace": "update", f"research-{GROUP}-role": "create"}
    if {name: op for name, (op, _) in steps.items()} != expected_ops:
        raise CaseFailedError(f"`pulumi preview --refresh` plans {steps}, expected exactly {expected_ops}")
    if "multivalued" not in steps["keycloak-tenants-mapper"][1] or "metadata" not in steps["namespace"][1]:
        raise CaseFailedError(f"the planned updates do not name the drifted properties: {steps}")

    shell(rig, [pick(commands, "pulumi up", SECTION)])
    mapper = admin.mapper(REALM, CLIENT, TENANTS_CLAIM)["config"].get("multivalued")
    labels = _namespace_labels(rig)
    roles = {r["name"] for r in admin.client_roles(REALM, CLIENT)}
    if mapper != "true" or labels.get("name") != NAMESPACE or GROUP not in roles:
        raise CaseFailedError(f"`pulumi up --refresh` left drift: mapper multivalued={mapper}, "
                              f"namespace labels={labels}, role {GROUP} {'present' if GROUP in roles else 'missing'}")
    rig.assert_converged()
    members = admin.user_client_roles(REALM, CLIENT, USER)
    lost = GROUP not in members
    shown = ", ".join(f"{name} {op} [{' '.join(keys)}]" for name, (op, keys) in sorted(steps.items()))
    return (f"`pulumi preview --refresh`: {shown} -> `pulumi up --refresh` repaired all three; "
            f"the re-created role has {'no members (alice must be assigned again)' if lost else 'its members'}")
