"""What the servers hold of a stack, and what its state says: read back for the e2e checks.

``inventory(servers)`` lists everything of the stack that exists in Keycloak and
on the API server (clients, mappers and roles; namespace, Secrets, Tenants,
Certificates, HTTPProxies, Helm releases, RBAC, the Spawner CRD, node labels),
as plain data to compare; ``EMPTY_INVENTORY`` is a destroyed stack.
``state_inventory`` is the same view computed from ``pulumi stack export``: a
fault test compares the two (nothing duplicated, nothing missing;
``e2e/faults/compare.py`` names each difference). ``plain`` unwraps the secret
envelopes of ``pulumi stack export --show-secrets``.

Two stacks of the program can share the servers (``make e2e-shared``): given the
stack's ``namespace`` and Keycloak ``client``, ``inventory`` counts only that
stack's objects (its client; Tenants owned by its hub's ServiceAccount; its
ClusterRole ``<namespace>-hub``; the Spawner CRD where its ``installed-by``
annotation names the namespace). Node labels are shared: two stacks that label
the same node both own the label.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import yaml
from kubernetes import client

from e2e.helm_release import read_release
from e2e.servers import Servers
from e2e.servers.crds import kube_request

NODE_PURPOSE = "hub.jupyter.org/node-purpose"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
REALM, CLIENT, NAMESPACE, RELEASES = "dossier", "jupyter", "jhub", ("jhub", "jhub-postgresql")
SPAWNER_CRD = "spawners.dossier.unito.it"
INSTALLED_BY = "dossier.unito.it/installed-by"
CLUSTER_ROLE = "jhub-hub"
#: The Secret z2jh 2.0.0 renders for its hub (``templates/hub/secret.yaml``, the hub's fullname).
HUB_SECRET = "hub"


def plain(value: Any) -> Any:
    """A state value with every secret envelope (``{sig, plaintext}``) replaced by its plaintext."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270" and "plaintext" in value:
            return plain(json.loads(value["plaintext"]))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def secret_data(api: client.ApiClient, namespace: str, name: str) -> dict[str, str]:
    core: Any = client.CoreV1Api(api)
    secret = core.read_namespaced_secret(name, namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def received_values(api: client.ApiClient, namespace: str, release: str) -> dict[str, Any]:
    """The values Helm received for ``release`` (its release record's ``config``, ``e2e/helm_release.py``)."""
    return read_release(api, namespace, release).config


def hub_chart_values(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    """The values z2jh stored in the hub's Secret (``values.yaml``): what its hub reads, defaults merged in."""
    return dict(yaml.safe_load(secret_data(api, namespace, HUB_SECRET)["values.yaml"]))


def tenant_names(api: client.ApiClient) -> set[str]:
    custom: Any = client.CustomObjectsApi(api)
    found = custom.list_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants")
    return {item["metadata"]["name"] for item in found["items"]}


def _names(items: list[Any]) -> list[str]:
    return sorted(str(i.metadata.name) for i in items)


def _keycloak(servers: Servers, client_id: str) -> dict[str, Any]:
    assert servers.keycloak
    admin = servers.keycloak.admin()
    clients = admin.get(f"/{REALM}/clients", clientId=client_id)
    found: dict[str, Any] = {"clients": len(clients)}
    if clients:
        path = f"/{REALM}/clients/{clients[0]['id']}"
        found["mappers"] = sorted(m["name"] for m in admin.get(f"{path}/protocol-mappers/models"))
        found["roles"] = sorted(r["name"] for r in admin.get(f"{path}/roles"))
    return found


def _owned_tenants(custom: Any, namespace: str) -> list[str]:
    owner = ("ServiceAccount", f"system:serviceaccount:{namespace}:hub")
    found = custom.list_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants")["items"]
    return sorted(t["metadata"]["name"] for t in found
                  if owner in [(o.get("kind"), o.get("name")) for o in t.get("spec", {}).get("owners") or []])


def _installed_by(crd: Any, namespace: str) -> bool:
    """The CRD is this stack's: its annotation names the namespace (or, from a program before it, is absent)."""
    return (crd.metadata.annotations or {}).get(INSTALLED_BY, namespace) == namespace


def _cluster(servers: Servers, namespace: str) -> dict[str, Any]:
    cluster_role = f"{namespace}-hub"
    assert servers.cluster
    api = servers.cluster.api_client()
    core: Any = client.CoreV1Api(api)
    custom: Any = client.CustomObjectsApi(api)
    rbac: Any = client.RbacAuthorizationV1Api(api)
    extensions: Any = client.ApiextensionsV1Api(api)
    namespaces = [n for n in core.list_namespace().items if n.metadata.name == namespace]
    found: dict[str, Any] = {
        "namespace": [f"{namespace}{' (terminating)' if n.metadata.deletion_timestamp else ''}" for n in namespaces],
        "tenants": _owned_tenants(custom, namespace),
        "clusterRoles": [n for n in _names(rbac.list_cluster_role().items) if n == cluster_role],
        "clusterRoleBindings": [n for n in _names(rbac.list_cluster_role_binding().items) if n == cluster_role],
        "crds": [c.metadata.name for c in extensions.list_custom_resource_definition().items
                 if c.metadata.name == SPAWNER_CRD and _installed_by(c, namespace)],
        "nodeLabels": sorted(f"{n.metadata.name}={n.metadata.labels[NODE_PURPOSE]}" for n in core.list_node().items
                             if NODE_PURPOSE in (n.metadata.labels or {})),
    }
    if namespaces:
        # Helm's own release records (sh.helm.release.v1.*) are Helm's, not the stack's.
        secrets = core.list_namespaced_secret(namespace).items
        # Helm's own release records (sh.helm.release.v1.*) are Helm's, not the stack's: they give the releases.
        found["secrets"] = [n for n in _names(secrets) if not n.startswith("sh.helm.release.")]
        found["releases"] = helm_releases(secrets)
        for plural, group in (("certificates", "cert-manager.io"), ("httpproxies", "projectcontour.io")):
            items = custom.list_namespaced_custom_object(group, "v1", namespace, plural)["items"]
            found[plural] = sorted(i["metadata"]["name"] for i in items)
    return found


def helm_releases(secrets: list[Any]) -> list[str]:
    """Release names from Helm's storage Secrets (latest revision each), with the status unless ``deployed``.

    A release an interrupted install left behind shows as ``<name> (pending-install)``.
    """
    latest: dict[str, tuple[int, str]] = {}
    for secret in secrets:
        labels = secret.metadata.labels or {}
        if labels.get("owner") != "helm" or "name" not in labels:
            continue
        version = int(labels.get("version", "0"))
        if version >= latest.get(labels["name"], (-1, ""))[0]:
            latest[labels["name"]] = (version, labels.get("status", ""))
    return sorted(name if status == "deployed" else f"{name} ({status})" for name, (_, status) in latest.items())


def inventory(servers: Servers, *, namespace: str = NAMESPACE, client_id: str = CLIENT) -> dict[str, Any]:
    """Everything of the stack (the one of ``namespace`` and ``client_id``) in Keycloak and on the API server."""
    return {"keycloak": _keycloak(servers, client_id), "cluster": _cluster(servers, namespace)}


EMPTY_INVENTORY: dict[str, Any] = {
    "keycloak": {"clients": 0},
    "cluster": {"namespace": [], "tenants": [], "clusterRoles": [], "clusterRoleBindings": [], "crds": [],
                "nodeLabels": []},
}


def state_inventory(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``inventory`` should find, computed from the state's resources (``pulumi stack export``)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["type"], []).append(resource)

    def outputs(type_: str) -> list[dict[str, Any]]:
        return [plain(r.get("outputs") or {}) for r in by_type.get(type_, [])]

    clients = outputs("keycloak:openid/client:Client")
    keycloak: dict[str, Any] = {"clients": len(clients)}
    if clients:
        keycloak["mappers"] = sorted(m["name"] for m in outputs(
            "keycloak:openid/userClientRoleProtocolMapper:UserClientRoleProtocolMapper"))
        keycloak["roles"] = sorted(r["name"] for r in outputs("keycloak:index/role:Role"))
    namespaces = [o["metadata"]["name"] for o in outputs("kubernetes:core/v1:Namespace")]
    labels = [f"{o['metadata']['name']}={o['metadata']['labels'][NODE_PURPOSE]}"
              for o in outputs("kubernetes:core/v1:NodePatch")]
    cluster: dict[str, Any] = {
        "namespace": namespaces,
        "tenants": sorted(o["metadata"]["name"] for o in outputs("kubernetes:capsule.clastix.io/v1beta2:Tenant")),
        "clusterRoles": [o["metadata"]["name"] for o in outputs("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")],
        "clusterRoleBindings": [o["metadata"]["name"] for o in
                                outputs("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")],
        "crds": [o["metadata"]["name"] for o in outputs("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")],
        "nodeLabels": sorted(labels),
    }
    if namespaces:
        secrets = [o["metadata"]["name"] for o in outputs("kubernetes:core/v1:Secret")]
        # The Secrets the charts rendered: each Release's state lists what it created (``resourceNames``).
        releases = [o.get("name") for o in outputs("kubernetes:helm.sh/v3:Release")]
        secrets += [name.rsplit("/", 1)[-1] for o in outputs("kubernetes:helm.sh/v3:Release")
                    for name in (o.get("resourceNames") or {}).get("Secret/v1", [])]
        cluster["secrets"] = sorted(secrets)
        cluster["releases"] = sorted(str(name) for name in releases)
        for plural, type_ in (("certificates", "kubernetes:cert-manager.io/v1:Certificate"),
                              ("httpproxies", "kubernetes:projectcontour.io/v1:HTTPProxy")):
            cluster[plural] = sorted(o["metadata"]["name"] for o in outputs(type_))
    return {"keycloak": keycloak, "cluster": cluster}


#: Resources that change by themselves on a live cluster (heartbeats, events), left out of ``cluster_objects``.
CHURN = {"events", "leases"}


def listed_objects(api: client.ApiClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(group/version, resource, object)`` of every object on the API server.

    Every listable resource of each group's preferred version, but ``CHURN``.
    """
    groups = kube_request(api, "GET", "/apis").get("groups", [])
    versions = ["v1"] + [g["preferredVersion"]["groupVersion"] for g in groups]
    for version in versions:
        base = "/api/v1" if version == "v1" else f"/apis/{version}"
        for resource in kube_request(api, "GET", base).get("resources", []):
            name = resource["name"]
            if "/" in name or name in CHURN or "list" not in resource.get("verbs", []):
                continue
            for item in kube_request(api, "GET", f"{base}/{name}").get("items", []):
                yield version, name, item


def cluster_objects(api: client.ApiClient) -> set[str]:
    """``resource namespace/name`` of every object on the API server (``listed_objects``)."""
    found = set()
    for _, name, item in listed_objects(api):
        meta = item["metadata"]
        found.add(f"{name} {meta['namespace'] + '/' if meta.get('namespace') else ''}{meta['name']}")
    return found


def duplicates(names: list[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)
