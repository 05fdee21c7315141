"""The checks ``make e2e-faults`` ends every case with, on made-up data (no servers, no CLI).

A case fails when Keycloak or the API server hold something the stack's state
does not (made twice, or by an interrupted update), or the state holds what no
server has (lost): ``e2e/faults/compare.py`` must name each such object. The
state side is the real ``e2e.state.state_inventory`` over a made-up
``pulumi stack export``. Also: the Helm releases read from Helm's own Secrets,
the error line a case reports, and the commands the cases read from
docs/operations.md (each must be there, once).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from e2e.faults import destroy, drift, recovery, runbook
from e2e.faults.compare import differences, pending_operations
from e2e.faults.docs import RESEARCH_GROUPS, as_script, documented, documented_blocks, pick
from e2e.faults.rig import diagnostics, last_error, squeeze
from e2e.state import EMPTY_INVENTORY, helm_releases, state_inventory

CLIENT_TYPE = "keycloak:openid/client:Client"
ROLE_TYPE = "keycloak:index/role:Role"
TENANT_TYPE = "kubernetes:capsule.clastix.io/v1beta2:Tenant"
MAPPER_TYPE = "keycloak:openid/userClientRoleProtocolMapper:UserClientRoleProtocolMapper"


def _resource(type_: str, name: str, outputs: dict[str, Any]) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:e2e::dossier::{type_}::{name}", "type": type_, "outputs": outputs}


def _stack(roles: list[str], tenants: list[str]) -> list[dict[str, Any]]:
    """A ``pulumi stack export``'s resources: the client, its mapper, roles and Tenants (no namespace)."""
    return [
        _resource(CLIENT_TYPE, "keycloak-client", {"clientId": "jupyter"}),
        _resource(MAPPER_TYPE, "keycloak-tenants-mapper", {"name": "tenants"}),
        *(_resource(ROLE_TYPE, f"role-{i}", {"name": role}) for i, role in enumerate(roles)),
        *(_resource(TENANT_TYPE, f"tenant-{i}", {"metadata": {"name": t}}) for i, t in enumerate(tenants)),
    ]


def _servers(roles: list[str], tenants: list[str], clients: int = 1) -> dict[str, Any]:
    """What ``e2e.state.inventory`` reads from the servers, for the same objects."""
    return {
        "keycloak": {"clients": clients, "mappers": ["tenants"], "roles": sorted(roles)},
        "cluster": {**EMPTY_INVENTORY["cluster"], "tenants": sorted(tenants)},
    }


def test_the_same_objects_on_both_sides_differ_in_nothing() -> None:
    state = state_inventory(_stack(["admin", "genomics"], ["jhub", "genomics"]))
    assert differences(_servers(["admin", "genomics"], ["jhub", "genomics"]), state) == []
    assert differences(EMPTY_INVENTORY, state_inventory([])) == []


def test_an_object_the_state_does_not_hold_is_named() -> None:
    state = state_inventory(_stack(["admin", "kc-000"], ["jhub"]))
    found = differences(_servers(["admin", "kc-000", "kc-001"], ["jhub", "kill-003"]), state)
    assert found == [
        "Tenant 'kill-003' is on the server but not in the stack's state "
        "(made behind the stack's back or by an interrupted update)",
        "Keycloak client role 'kc-001' is on the server but not in the stack's state "
        "(made behind the stack's back or by an interrupted update)",
    ]


def test_an_object_no_server_holds_is_named_lost() -> None:
    state = state_inventory(_stack(["admin", "genomics"], ["jhub", "genomics"]))
    found = differences(_servers(["admin"], ["jhub", "genomics"]), state)
    assert found == ["Keycloak client role 'genomics' is in the stack's state but not on the server (lost)"]


def test_a_duplicate_is_named_with_both_counts() -> None:
    # Two resources of the state for one role (a create recorded twice), and two clients on the server.
    state = state_inventory(_stack(["admin", "admin"], ["jhub"]))
    found = differences(_servers(["admin"], ["jhub"], clients=2), state)
    assert found == [
        "Keycloak clients: 2 on the server, 1 in the stack's state",
        "Keycloak client role 'admin' is on the server once and in the stack's state 2 times (a duplicate)",
    ]


def test_a_kind_missing_on_one_side_counts_as_empty() -> None:
    found = differences({"cluster": {"secrets": ["jhub-postgresql"]}}, {"cluster": {}})
    assert found == ["Secret 'jhub-postgresql' is on the server but not in the stack's state "
                     "(made behind the stack's back or by an interrupted update)"]


def test_pending_operations_are_listed() -> None:
    urn = f"urn:pulumi:e2e::dossier::{TENANT_TYPE}::research-kill-004-tenant"
    exported = {"deployment": {"resources": [], "pending_operations": [{"type": "creating", "resource": {"urn": urn}}]}}
    assert pending_operations(exported) == [f"creating {urn}"]
    assert pending_operations({"deployment": {"resources": []}}) == []


def _helm_secret(name: str, version: int, status: str) -> Any:
    labels = {"owner": "helm", "name": name, "version": str(version), "status": status}
    return SimpleNamespace(metadata=SimpleNamespace(name=f"sh.helm.release.v1.{name}.v{version}", labels=labels))


def test_helm_releases_come_from_the_latest_revision_with_a_status_unless_deployed() -> None:
    secrets = [_helm_secret("jhub", 1, "superseded"), _helm_secret("jhub", 2, "deployed"),
               _helm_secret("jhub-postgresql", 1, "pending-install"),
               SimpleNamespace(metadata=SimpleNamespace(name="jhub-postgresql", labels=None))]
    assert helm_releases(secrets) == ["jhub", "jhub-postgresql (pending-install)"]
    # ... which then differs from the state's release, by name.
    state = {"cluster": {"releases": ["jhub", "jhub-postgresql"]}}
    assert differences({"cluster": {"releases": helm_releases(secrets)}}, state) == [
        "Helm release 'jhub-postgresql' is in the stack's state but not on the server (lost)",
        "Helm release 'jhub-postgresql (pending-install)' is on the server but not in the stack's state "
        "(made behind the stack's back or by an interrupted update)",
    ]


OUTPUT = """\
Updating (e2e):
 +  keycloak:index:Role research-kc-001-role creating (5s) error: (progress line, not a diagnostic)
Diagnostics:
  pulumi:pulumi:Stack (dossier-e2e):
    warning: using pulumi-resource-keycloak from $PATH at /somewhere
    error: update failed

  keycloak:index:Role (research-kc-001-role):
    error:   sdk-v2/provider2.go:571: sdk.helper_schema: error sending request: Put "https://localhost:40533/x": \
context deadline exceeded: provider=keycloak@6.14.1
    error: 1 error occurred:
    \t* error sending request: Put "https://localhost:40533/x": context deadline exceeded

Resources:
    2 errored
"""


def test_the_reported_error_is_the_resources_first_without_the_bridges_wrapping() -> None:
    assert diagnostics(OUTPUT)[0] == ("pulumi:pulumi:Stack (dossier-e2e)", "update failed")
    assert last_error(OUTPUT) == ('keycloak:index:Role (research-kc-001-role): error sending request: '
                                  'Put "https://localhost:40533/x": context deadline exceeded')
    assert last_error("error: the stack is currently locked by 1 lock(s).") == \
        "error: the stack is currently locked by 1 lock(s)."
    urn = "urn:pulumi:e2e::dossier::dossier:safety:DestroyGuard::destroy-guard"
    assert squeeze(f'error: resource "{urn}" cannot be deleted\n   because it is protected') == \
        "error: resource destroy-guard cannot be deleted because it is protected"


def test_documented_commands_run_as_a_script_would() -> None:
    assert as_script('pulumi up --stack $STACK --policy-pack policy --replace "$URN"', {}) == \
        'pulumi up --stack $STACK --replace "$URN" --yes --skip-preview'
    assert as_script("PULUMI_K8S_ENABLE_PATCH_FORCE=true pulumi up --stack $STACK", {}) == \
        "PULUMI_K8S_ENABLE_PATCH_FORCE=true pulumi up --stack $STACK --yes --skip-preview"
    assert as_script("pulumi import --stack $STACK x research-<group>-role <realm>/<role id>",
                     {"<group>": "kc-1", "<realm>": "dossier", "<role id>": "42"}) == \
        "pulumi import --stack $STACK x research-kc-1-role dossier/42 --yes"
    unprotect = 'pulumi state unprotect --stack $STACK "$URN"'
    assert as_script(unprotect, {}) == unprotect


@pytest.mark.parametrize(("section", "start", "exact"), [
    (recovery.SECTION, recovery.SIDECARS, False),
    (recovery.SECTION, "pulumi cancel", False),
    (recovery.SECTION, "pulumi stack export", False),
    (recovery.SECTION, "pulumi refresh", False),
    (recovery.SECTION, recovery.RERUN, False),
    (recovery.SECTION, "PARENT=", False),
    (recovery.SECTION, "pulumi import", False),
    (recovery.SECTION, recovery.FORCED, True),
    (recovery.SECTION, recovery.UP, True),
    (drift.SECTION, "pulumi preview", False),
    (drift.SECTION, "pulumi up", False),
    (destroy.SECTION, "pulumi destroy", False),
])
def test_the_commands_the_cases_run_are_on_the_page_once(section: str, start: str, exact: bool) -> None:
    assert pick(documented(section), start, section, exact=exact)


def test_the_runbook_sections_hold_the_steps_the_cases_run() -> None:
    rotate, keycloak = documented_blocks(runbook.ROTATING)
    assert [c.split()[0] for c in runbook.pulumi_lines(rotate)] == [
        "URN=$(pulumi", "SECRET=$(pulumi", "pulumi", "pulumi", "pulumi", "NEW=$(pulumi"]
    assert [c.split()[:3] for c in runbook.pulumi_lines(rotate) if c.startswith("pulumi ")] == [
        ["pulumi", "state", "unprotect"], ["pulumi", "state", "unprotect"], ["pulumi", "up", "--stack"]]
    assert any("ALTER USER jhub WITH PASSWORD" in c for c in rotate)
    assert runbook.pulumi_lines(keycloak)[0].endswith("::keycloak-secret')")
    remove = documented(runbook.RETIRING, RESEARCH_GROUPS)
    assert runbook.pulumi_lines(remove)[-1] == "pulumi up --stack $STACK --policy-pack policy"
    assert "kubectl delete tenant <name>" in remove


def test_the_documented_sidecar_line_deletes_the_empty_sidecars_and_nothing_else(tmp_path: Path) -> None:
    """The first recovery line, run by bash on a folder laid out as a ``file://`` backend after a kill."""
    stacks = tmp_path / ".pulumi" / "stacks" / "dossier"
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "dossier" / "e2e"
    for folder in (stacks, locks):
        folder.mkdir(parents=True)
    kept = {stacks / "e2e.json": "{}", stacks / "e2e.json.attrs": '{"user.content_type":"application/json"}',
            stacks / "e2e.json.bak": "{}", locks / "x.json": "{}", stacks / "empty-but-no-sidecar.json": ""}
    emptied = [stacks / "e2e.json.bak.attrs", locks / "x.json.attrs"]
    for path, text in kept.items():
        path.write_text(text)
    for path in emptied:
        path.write_bytes(b"")
    line = pick(documented(recovery.SECTION), recovery.SIDECARS, recovery.SECTION)
    done = subprocess.run(["bash", "-c", f"set -euo pipefail\n{as_script(line, {})}"], capture_output=True,
                          text=True, env={**os.environ, "BACKEND_DIR": str(tmp_path)}, check=True)
    assert sorted(done.stdout.split()) == sorted(str(p) for p in emptied)
    assert {p: p.read_text() for p in kept} == kept
    assert not any(p.exists() for p in emptied)
    # Nothing empty: it succeeds and prints nothing.
    again = subprocess.run(["bash", "-c", as_script(line, {})], capture_output=True, text=True,
                           env={**os.environ, "BACKEND_DIR": str(tmp_path)}, check=True)
    assert again.stdout == ""
