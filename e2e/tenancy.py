"""What Capsule does with the program's Tenants, checked on the API server (``test_capsule``, ``test_deploy``).

``wait_active`` waits for Capsule's status on Tenants; ``create_namespace`` and
``refusal`` create a namespace with a bearer token (the hub's, as Dossier's
spawner does) and give the API's answer or refusal; ``assert_tenant_namespace``
compares what Capsule put in a tenant namespace with the Tenant's spec as the
program made it: the owner's RoleBindings, NetworkPolicies, LimitRanges,
ResourceQuotas and the node selector. Each failure names the object and both
values.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

from components.tenant import API_VERSION, TENANT_LABEL
from e2e.servers.crds import kube_request

#: Capsule puts a Tenant's node selector on its namespaces; the PodNodeSelector admission plugin enforces it.
NODE_SELECTOR_ANNOTATION = "scheduler.alpha.kubernetes.io/node-selector"
#: The ClusterRoles Capsule binds every owner to in each namespace (the CRD's default ``owners[].clusterRoles``).
OWNER_ROLES = ("admin", "capsule-namespace-deleter")

T = TypeVar("T")


def wait_for(probe: Callable[[], T], what: str, limit: float = 60.0) -> T:
    """``probe()``'s first truthy answer; ``AssertionError`` naming ``what`` and the last answer after ``limit``."""
    deadline = time.monotonic() + limit
    last = probe()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {limit:.0f} s; last seen: {last!r}")
        time.sleep(0.5)
        last = probe()
    return last


def get(api: client.ApiClient, path: str) -> dict[str, Any]:
    return dict(kube_request(api, "GET", path))


def tenant_status(api: client.ApiClient, name: str) -> dict[str, Any]:
    return dict(get(api, f"/apis/{API_VERSION}/tenants/{name}").get("status") or {})


def wait_active(api: client.ApiClient, names: list[str] | set[str], limit: float = 60.0) -> None:
    """Wait until Capsule has reconciled each Tenant: ``status.state`` ``Active``."""
    def state(name: str) -> Callable[[], Any]:
        return lambda: tenant_status(api, name).get("state")

    for name in sorted(names):
        state_of = wait_for(state(name), f"Capsule set a state on Tenant {name}", limit)
        assert state_of == "Active", f"Tenant {name}: Capsule's state is {state_of!r}, expected 'Active'"


def create_namespace(api: client.ApiClient, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """``POST /api/v1/namespaces`` with ``api``'s token; the namespace as the API server stored it."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
    return dict(kube_request(api, "POST", "/api/v1/namespaces", body))


def refusal(api: client.ApiClient, name: str, labels: dict[str, str] | None = None) -> tuple[int, str]:
    """HTTP status and message of the API's refusal of ``create_namespace``; fails if it was created."""
    try:
        create_namespace(api, name, labels)
    except client.ApiException as exc:
        return int(exc.status), str(json.loads(exc.body or "{}").get("message", exc.body))
    raise AssertionError(f"namespace {name} was created; expected a refusal")


def delete_namespace(api: client.ApiClient, name: str, limit: float = 60.0) -> None:
    """Delete a namespace and wait until it is gone (its content deleted and finalized by the controllers)."""
    kube_request(api, "DELETE", f"/api/v1/namespaces/{name}")

    def gone() -> bool:
        names = {item["metadata"]["name"] for item in get(api, "/api/v1/namespaces")["items"]}
        return name not in names
    wait_for(gone, f"namespace {name} deleted", limit)


def _items(api: client.ApiClient, path: str) -> list[dict[str, Any]]:
    return list(get(api, path)["items"])


def _expect(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise AssertionError(f"{what}: the server holds {got!r}, expected {want!r}")


def owner_subject(owner: dict[str, str]) -> tuple[str, str, str | None]:
    """The RoleBinding subject Capsule makes of a Tenant owner: a ServiceAccount ``system:serviceaccount:ns:name``."""
    if owner["kind"] == "ServiceAccount":
        _, _, namespace, name = owner["name"].split(":")
        return "ServiceAccount", name, namespace
    return owner["kind"], owner["name"], None


def assert_tenant_namespace(api: client.ApiClient, namespace: str, tenant: dict[str, Any]) -> None:
    """``namespace`` belongs to ``tenant`` (as the program made it) and holds what its spec asks Capsule for."""
    name, spec = tenant["metadata"]["name"], tenant["spec"]
    base = f"/api/v1/namespaces/{namespace}"
    found = get(api, base)["metadata"]
    owners = [(o["kind"], o["name"], o.get("controller")) for o in found.get("ownerReferences", [])]
    _expect(f"namespace {namespace} ownerReferences", owners, [("Tenant", name, True)])
    labelled = wait_for(lambda: get(api, base)["metadata"].get("labels", {}).get(TENANT_LABEL),
                        f"Capsule labelled namespace {namespace} {TENANT_LABEL}")
    _expect(f"namespace {namespace} label {TENANT_LABEL}", labelled, name)
    selector = spec.get("nodeSelector")
    want_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items())) if selector else None
    if want_selector:
        wait_for(lambda: get(api, base)["metadata"].get("annotations", {}).get(NODE_SELECTOR_ANNOTATION),
                 f"Capsule annotated namespace {namespace} with the node selector")
    _expect(f"namespace {namespace} annotation {NODE_SELECTOR_ANNOTATION}",
            get(api, base)["metadata"].get("annotations", {}).get(NODE_SELECTOR_ANNOTATION), want_selector)

    want_bindings = {(role, *owner_subject(o)) for o in spec["owners"] for role in OWNER_ROLES}
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings"

    def granted() -> set[tuple[str, str, str, str | None]]:
        return {(b["roleRef"]["name"], s["kind"], s["name"], s.get("namespace"))
                for b in _items(api, rbac) for s in b.get("subjects") or []}
    wait_for(lambda: want_bindings <= granted(), f"Capsule's RoleBindings for the owners in {namespace}")
    _expect(f"RoleBindings in {namespace} (role, subject)", granted(), want_bindings)

    policies = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
    want_policies = spec["networkPolicies"]["items"]
    wait_for(lambda: len(_items(api, policies)) == len(want_policies), f"Capsule's NetworkPolicies in {namespace}")
    _expect(f"NetworkPolicies in {namespace}", [p["spec"] for p in _items(api, policies)], want_policies)

    want_limits = (spec.get("limitRanges") or {}).get("items", [])
    want_quotas = [i["hard"] for i in (spec.get("resourceQuotas") or {}).get("items", [])]
    wait_for(lambda: len(_items(api, f"{base}/limitranges")) == len(want_limits)
             and len(_items(api, f"{base}/resourcequotas")) == len(want_quotas),
             f"Capsule's LimitRanges and ResourceQuotas in {namespace}")
    _expect(f"LimitRanges in {namespace}", [lr["spec"] for lr in _items(api, f"{base}/limitranges")], want_limits)
    _expect(f"ResourceQuotas in {namespace} (hard)",
            [q["spec"]["hard"] for q in _items(api, f"{base}/resourcequotas")], want_quotas)
    wait_for(lambda: namespace in (tenant_status(api, name).get("namespaces") or []),
             f"Tenant {name}'s status lists {namespace}")
