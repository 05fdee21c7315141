"""What the servers hold, object by object: proof that one environment's destroy leaves the other whole.

``objects(api)`` reads every object of every listable resource on the API server
(``state.CHURN`` left out), keyed ``<group/version> <resource> [<namespace>/]<name>``,
each reduced to what says what it is: its ``uid`` (an object deleted and made again has
another), labels, annotations, owner references, finalizers, and everything outside
``metadata`` and ``status`` (``spec``, ``data``, ``rules``, ``subsets``, ...). Left out:
``status`` (what controllers observe, which moves by itself) and the metadata the server
keeps (``resourceVersion``, ``generation``, ``managedFields``).

``owned(env, held)`` names the keys of ``held`` that are the environment's: every object
in its namespace and in the namespaces of its Tenants (Capsule's ``capsule.clastix.io/tenant``
label or the Tenant as owner), those namespaces, the Tenants its hub's ServiceAccount owns,
what its Helm releases made (``meta.helm.sh/release-namespace``: the user-scheduler's
ClusterRole and binding), its ClusterRole and binding ``<namespace>-hub``, the Spawner CRD where ``installed-by``
names it, the persistent volumes its claims bound, the IPAddresses of its Services'
cluster IPs (cluster-scoped, their ``parentRef`` the Service), and the nodes carrying the hub's
node-purpose label (co-owned by both environments). ``changes(before, after)`` names each
key that vanished, appeared or changed, with the first differing field.

``keycloak_client(servers, client_id)`` is what Keycloak holds for one client: its
representation, protocol mappers, roles and each role's users.
"""

from __future__ import annotations

from typing import Any

from e2e import state
from e2e.servers import Servers
from e2e.shared.environments import Environment

#: Metadata the API server keeps by itself; everything else of ``metadata`` is compared.
SERVER_KEPT = ("resourceVersion", "generation", "managedFields")
TENANT_LABEL = "capsule.clastix.io/tenant"
#: Helm's mark on every object a release made: cluster-wide ones too (the user-scheduler's ClusterRole).
HELM_NAMESPACE = "meta.helm.sh/release-namespace"


def objects(api: Any) -> dict[str, dict[str, Any]]:
    """Every object on the API server but ``state.CHURN``, by key, reduced as the module doc says."""
    held: dict[str, dict[str, Any]] = {}
    for base, name, item in state.listed_objects(api):
        meta = item.get("metadata") or {}
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        body = {k: v for k, v in item.items() if k not in ("metadata", "status", "kind", "apiVersion")}
        body["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_KEPT}
        held[f"{base} {name} {where}{meta['name']}"] = body
    return held


def _parts(key: str) -> tuple[str, str, str | None, str]:
    """``(group/version, resource, namespace or None, name)`` of a key of ``objects``."""
    base, resource, path = key.split(" ", 2)
    namespace, _, name = path.rpartition("/")
    return base, resource, namespace or None, name


def owned(env: Environment, held: dict[str, dict[str, Any]]) -> set[str]:
    """The keys of ``held`` that are ``env``'s (see the module doc)."""
    hub = f"system:serviceaccount:{env.namespace}:hub"
    tenants = {name for key, body in held.items() for base, resource, _, name in [_parts(key)]
               if resource == "tenants" and base.startswith("capsule.clastix.io/")
               and any(o.get("kind") == "ServiceAccount" and o.get("name") == hub
                       for o in (body.get("spec") or {}).get("owners") or [])}
    namespaces = {env.namespace} | {
        name for key, body in held.items() for base, resource, _, name in [_parts(key)]
        if base == "v1" and resource == "namespaces"
        and ((body["metadata"].get("labels") or {}).get(TENANT_LABEL) in tenants
             or any(o.get("kind") == "Tenant" and o.get("name") in tenants
                    for o in body["metadata"].get("ownerReferences") or []))}
    cluster_role = f"{env.namespace}-hub"
    mine = set()
    for key, body in held.items():
        base, resource, namespace, name = _parts(key)
        labels = body["metadata"].get("labels") or {}
        annotations = body["metadata"].get("annotations") or {}
        if (namespace in namespaces
                or (base == "v1" and resource == "namespaces" and name in namespaces)
                or (resource == "tenants" and name in tenants)
                or (resource in ("clusterroles", "clusterrolebindings") and name == cluster_role)
                or annotations.get(HELM_NAMESPACE) in namespaces
                or (resource == "customresourcedefinitions" and name == state.SPAWNER_CRD
                    and annotations.get(state.INSTALLED_BY) == env.namespace)
                or (resource == "persistentvolumes"
                    and ((body.get("spec") or {}).get("claimRef") or {}).get("namespace") in namespaces)
                or (resource == "ipaddresses"
                    and ((body.get("spec") or {}).get("parentRef") or {}).get("namespace") in namespaces)
                or (base == "v1" and resource == "nodes" and state.NODE_PURPOSE in labels)):
            mine.add(key)
    return mine


def _first_difference(before: Any, after: Any, path: str = "") -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        for field in sorted(set(before) | set(after)):
            if before.get(field) != after.get(field):
                return _first_difference(before.get(field), after.get(field), f"{path}.{field}")
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (one, other) in enumerate(zip(before, after, strict=True)):
            if one != other:
                return _first_difference(one, other, f"{path}[{index}]")
    return f"{path or '.'}: {str(before)[:200]} -> {str(after)[:200]}"


def changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each key that vanished, appeared or changed between two ``objects`` reads, with what happened."""
    said = {key: "vanished" for key in before.keys() - after.keys()}
    said.update({key: "appeared" for key in after.keys() - before.keys()})
    said.update({key: f"changed {_first_difference(before[key], after[key])}"
                 for key in before.keys() & after.keys() if before[key] != after[key]})
    return dict(sorted(said.items()))


def keycloak_client(servers: Servers, client_id: str) -> dict[str, Any]:
    """What Keycloak holds for the client ``client_id`` of the realm (``{}``: no such client)."""
    assert servers.keycloak
    admin = servers.keycloak.admin()
    clients = admin.get(f"/{state.REALM}/clients", clientId=client_id)
    if not clients:
        return {}
    path = f"/{state.REALM}/clients/{clients[0]['id']}"
    roles = sorted(admin.get(f"{path}/roles"), key=lambda r: r["name"])
    return {
        "client": clients[0],
        "mappers": sorted(admin.get(f"{path}/protocol-mappers/models"), key=lambda m: m["name"]),
        "roles": roles,
        "members": {r["name"]: sorted(u["username"] for u in admin.get(f"{path}/roles/{r['name']}/users"))
                    for r in roles},
    }
