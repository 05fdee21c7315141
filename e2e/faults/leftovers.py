"""What an interrupted update leaves behind, made sure of, so that every documented recovery step runs.

An outage or a killed CLI leaves objects the state does not hold in most runs,
not in all (measured: 0 to 7 Keycloak roles after a Keycloak outage; Keycloak
roles or Tenants after a kill). So that the recovery's import and its forced
update run on every ``make e2e-faults``, a case adds one such object itself,
made exactly as the interrupted update makes it, when the run left none of
that kind:

- ``late_role``: a group's client role created through Keycloak's admin API
  with the program's description (what Keycloak does when it finishes a create
  after the provider gave up on it);
- ``late_tenant``: a group's Tenant, as the program would send it, applied
  server-side by a field manager ``pulumi-kubernetes-<hex>`` of its own (what a
  create of a killed kubernetes provider leaves).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from kubernetes import client

from e2e import state
from e2e.faults.rig import Rig
from e2e.state import CLIENT, REALM

ROLE = "keycloak:index/role:Role"
TENANT = "kubernetes:capsule.clastix.io/v1beta2:Tenant"


def _state_names(rig: Rig, type_: str) -> set[str]:
    names = set()
    for resource in rig.stack.resources(type_):
        outputs = state.plain(resource.get("outputs") or {})
        names.add(str(outputs.get("name") or (outputs.get("metadata") or {}).get("name")))
    return names


def late_role(rig: Rig, groups: list[str]) -> str | None:
    """The role of the last of ``groups`` that neither Keycloak nor the state holds, made; None if one exists."""
    assert rig.servers.keycloak
    admin = rig.servers.keycloak.admin()
    on_server = {r["name"] for r in admin.client_roles(REALM, CLIENT)}
    in_state = _state_names(rig, ROLE)
    if any(g in on_server and g not in in_state for g in groups):
        return None  # the run left one already
    for group in reversed(groups):
        if group not in on_server and group not in in_state:
            client_uuid = admin.client(REALM, CLIENT)["id"]
            admin.post(f"/{REALM}/clients/{client_uuid}/roles",
                       {"name": group, "description": f"Members use the {group} tenant"})
            return group
    return None


def late_tenant(rig: Rig, groups: list[str]) -> str | None:
    """The Tenant of the last of ``groups`` that no server nor the state holds, applied as a killed create would."""
    assert rig.servers.cluster
    api = rig.servers.cluster.api_client()
    on_server, in_state = state.tenant_names(api), _state_names(rig, TENANT)
    if any(g in on_server and g not in in_state for g in groups):
        return None
    made = [r for r in rig.stack.resources(TENANT) if "::research-" in r["urn"]]
    missing = [g for g in reversed(groups) if g not in on_server and g not in in_state]
    if not made or not missing:
        return None
    template = state.plain(made[0]["outputs"])
    name, group = template["metadata"]["name"], missing[0]
    # The program's Tenant for another group differs in the group's name only (components/research.py).
    body: dict[str, Any] = json.loads(json.dumps(template["__inputs"]).replace(f'"{name}"', f'"{group}"'))
    request = api.param_serialize(
        method="PATCH", resource_path=f"/apis/capsule.clastix.io/v1beta2/tenants/{group}",
        query_params=[("fieldManager", f"pulumi-kubernetes-{secrets.token_hex(4)}")], body=json.dumps(body),
        auth_settings=["BearerToken"],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"})
    response = api.call_api(*request)
    response.read()
    if not 200 <= response.status <= 299:
        raise client.ApiException.from_response(http_resp=response, body=None, data=None)
    return group
