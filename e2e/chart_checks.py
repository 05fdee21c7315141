"""What the real charts made of the stack's values, checked against the cluster that runs them.

- ``assert_rendered_exist``: every object of each release's rendered manifest
  (``e2e/helm_release.py``) is on the API server; the listing is returned.
- ``assert_placement``: every pod of the namespace is Running and Ready on a
  node Dossier's values intend: the core components (hub, proxy,
  user-scheduler, every PostgreSQL pod) on the core nodes and nowhere else,
  the continuous image puller on each user node, nothing else on the core
  nodes; as many read replicas as configured.
- ``assert_values_reach_objects``: the values the program sent are in what the
  charts rendered: the hub Deployment's command, the hub Secret's values,
  PostgreSQL's StatefulSets' placement and replicas.
- ``assert_network_policies``: the rendered NetworkPolicies, evaluated over the
  real pods and namespaces (``e2e/netpol.py``; evaluation, not enforcement),
  admit the hub to PostgreSQL on 5432 and refuse every pod without the client label.

Each failure names the object, and never prints a secret.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from components.jupyterhub import DB_CLIENT_LABELS
from components.postgresql import PORT
from e2e import netpol
from e2e.helm_release import Release, describe, find_object, read_release
from e2e.state import HUB_SECRET, RELEASES, hub_chart_values, secret_data

HUB_RELEASE, POSTGRESQL_RELEASE = RELEASES
#: z2jh's ``component`` label of the pods that run on the core nodes.
CORE_COMPONENTS = ("hub", "proxy", "user-scheduler")
SECRET_PATHS = ("client_secret", "cookie_secret", "auth_token", "keys", "password")
SETTLE_LIMIT = 120.0


def releases(api: client.ApiClient, namespace: str) -> dict[str, Release]:
    return {name: read_release(api, namespace, name) for name in (HUB_RELEASE, POSTGRESQL_RELEASE)}


def assert_rendered_exist(api: client.ApiClient, namespace: str) -> dict[str, list[str]]:
    """``release -> ["Kind name", ...]`` of every rendered object; ``AssertionError`` naming those missing."""
    listing: dict[str, list[str]] = {}
    missing = []
    for name, release in releases(api, namespace).items():
        if release.status != "deployed":
            raise AssertionError(f"Helm release {namespace}/{name} is {release.status!r}, expected 'deployed'")
        listing[name] = sorted(describe(obj) for obj in release.objects())
        missing += [f"{name}: {describe(obj)}" for obj in release.objects() if find_object(api, obj, namespace) is None]
    if missing:
        raise AssertionError(f"rendered but not on the API server: {', '.join(missing)}")
    return listing


# --- pods ---------------------------------------------------------------------------------------


def _role(pod: Any) -> str:
    labels = pod.metadata.labels or {}
    if labels.get("app.kubernetes.io/name") == "postgresql":
        return f"postgresql-{labels.get('app.kubernetes.io/component')}"
    return str(labels.get("component", "?"))


def _unsettled(pods: list[Any]) -> list[str]:
    return [f"{p.metadata.name} ({p.status.phase}{', deleting' if p.metadata.deletion_timestamp else ''}, "
            f"node {p.spec.node_name or 'none'})" for p in pods
            if p.metadata.deletion_timestamp or p.status.phase != "Running"
            or not any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]


def pods_settled(api: client.ApiClient, namespace: str, limit: float = SETTLE_LIMIT) -> list[Any]:
    """The namespace's pods once each is Running and Ready and none is being deleted (hooks' pods gone)."""
    core: Any = client.CoreV1Api(api)
    deadline = time.monotonic() + limit
    while True:
        pods = core.list_namespaced_pod(namespace).items
        unsettled = _unsettled(pods)
        if not unsettled:
            return list(pods)
        if time.monotonic() > deadline:
            raise AssertionError(f"pods not Running and Ready after {limit:.0f} s: {', '.join(unsettled)}")
        time.sleep(1)


def assert_placement(api: client.ApiClient, namespace: str, *, core_nodes: list[str], user_nodes: list[str],
                     read_replicas: int) -> dict[str, tuple[str, str]]:
    """``pod -> (role, node)``; ``AssertionError`` naming each pod on a node the values do not intend."""
    placed = {str(p.metadata.name): (_role(p), str(p.spec.node_name)) for p in pods_settled(api, namespace)}
    problems = []
    for pod, (role, node) in sorted(placed.items()):
        core = role in CORE_COMPONENTS or role.startswith("postgresql-")
        if core and node not in core_nodes:
            problems.append(f"{pod} ({role}) runs on {node}, not on a core node ({', '.join(core_nodes)})")
        if not core and node in core_nodes:
            problems.append(f"{pod} ({role}) runs on the core node {node}")
    roles = sorted(role for role, _ in placed.values())
    for role in (*CORE_COMPONENTS, "postgresql-primary"):
        if role not in roles:
            problems.append(f"no {role} pod")
    if roles.count("postgresql-read") != read_replicas:
        problems.append(f"{roles.count('postgresql-read')} PostgreSQL read replicas, expected {read_replicas}")
    pullers = sorted(node for role, node in placed.values() if role == "continuous-image-puller")
    if pullers != sorted(user_nodes):
        problems.append(f"continuous-image-puller on {pullers}, expected one on each user node {sorted(user_nodes)}")
    if problems:
        raise AssertionError("; ".join(problems))
    return placed


def _selects(selector: Any, labels: Mapping[str, str]) -> bool:
    return netpol.matches({"matchLabels": selector.match_labels or {}, "matchExpressions": [
        e.to_dict() for e in selector.match_expressions or []]}, labels)


def not_ready(api: client.ApiClient, namespace: str) -> list[str]:
    """Each workload of ``namespace`` short of ready pods, and why its pods wait (the scheduler's last word).

    What Helm's wait waited on, which the kubernetes provider's timeout does not say
    (pulumi/pulumi-kubernetes#4389): ``Deployment hub: 0 of 1 pods ready; pod hub-... Pending:
    0/4 nodes are available: 1 node(s) had untolerated taint(s), ...``.
    """
    apps: Any = client.AppsV1Api(api)
    core: Any = client.CoreV1Api(api)
    pods = core.list_namespaced_pod(namespace).items
    events = {}
    for event in sorted(core.list_namespaced_event(namespace).items,
                        key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp):
        if event.involved_object.kind == "Pod" and event.type == "Warning":
            events[event.involved_object.name] = event.message
    found = []
    workloads = [("Deployment", w, w.spec.replicas or 0, w.status.ready_replicas or 0)
                 for w in apps.list_namespaced_deployment(namespace).items]
    workloads += [("StatefulSet", w, w.spec.replicas or 0, w.status.ready_replicas or 0)
                  for w in apps.list_namespaced_stateful_set(namespace).items]
    workloads += [("DaemonSet", w, w.status.desired_number_scheduled or 0, w.status.number_ready or 0)
                  for w in apps.list_namespaced_daemon_set(namespace).items]
    for kind, workload, wanted, ready in workloads:
        if ready >= wanted:
            continue
        waiting = [f"pod {p.metadata.name} {p.status.phase}: {events.get(p.metadata.name, 'no event')}"
                   for p in pods if _selects(workload.spec.selector, p.metadata.labels or {})
                   and p.status.phase != "Running"]
        found.append(f"{kind} {workload.metadata.name}: {ready} of {wanted} pods ready"
                     + ("; " + "; ".join(waiting) if waiting else ""))
    return found


def stuck_pods(api: client.ApiClient, namespace: str) -> list[str]:
    """Pods a StatefulSet made from a template it has since replaced, and which never became ready.

    A StatefulSet rolls its pods one at a time and waits for each to be Running and Ready, so
    after its template is fixed it keeps such a pod forever: Kubernetes' "forced rollback" says
    to delete those pods, and the StatefulSet makes them again from the new template.
    """
    apps: Any = client.AppsV1Api(api)
    core: Any = client.CoreV1Api(api)
    found = []
    for workload in apps.list_namespaced_stateful_set(namespace).items:
        revision = workload.status.update_revision
        for pod in core.list_namespaced_pod(namespace).items:
            labels = pod.metadata.labels or {}
            ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
            if _selects(workload.spec.selector, labels) and not ready \
                    and labels.get("controller-revision-hash") != revision:
                found.append(str(pod.metadata.name))
    return sorted(found)


# --- values -------------------------------------------------------------------------------------


def _secret(path: str) -> bool:
    return path.rsplit(".", 1)[-1] in SECRET_PATHS or path.endswith("CryptKeeper.keys")


def missing_values(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Each leaf of ``sent`` that ``stored`` lacks or holds otherwise (secret values not shown)."""
    if isinstance(sent, Mapping):
        if not isinstance(stored, Mapping):
            return [f"{path or '.'}: expected a mapping"]
        return [p for key, value in sent.items()
                for p in missing_values(value, stored.get(key), f"{path}.{key}" if path else str(key))]
    if sent == stored:
        return []
    return [f"{path}: differs (secret, not shown)" if _secret(path) else f"{path}: {stored!r}, sent {sent!r}"]


#: The z2jh policies the stack opens to labelled namespaces (``interNamespaceAccessLabels: accept``).
INTER_NAMESPACE_POLICIES = ("hub", "proxy", "singleuser")


def inter_namespace_problems(rendered: list[dict[str, Any]]) -> list[str]:
    """Each of ``INTER_NAMESPACE_POLICIES`` whose ingress admits no labelled namespace.

    Users' notebooks run in tenant namespaces: ``accept`` renders a peer of a ``namespaceSelector`` alone.
    """
    policies = {o["metadata"]["name"]: o for o in rendered if o["kind"] == "NetworkPolicy"}
    problems = []
    for name in INTER_NAMESPACE_POLICIES:
        peers = [peer for rule in (policies.get(name, {}).get("spec") or {}).get("ingress") or []
                 for peer in rule.get("from") or []]
        if not any((peer.get("namespaceSelector") or {}).get("matchLabels") and "podSelector" not in peer
                   for peer in peers):
            problems.append(f"NetworkPolicy {name} admits no labelled namespace (interNamespaceAccessLabels)")
    return problems


def _container(workload: Any, name: str) -> Any:
    return next(c for c in workload.spec.template.spec.containers if c.name == name)


def assert_values_reach_objects(api: client.ApiClient, namespace: str, *, sent_hub: dict[str, Any],
                                sent_postgresql: dict[str, Any], outputs: Mapping[str, Any]) -> None:
    """The values sent are in the objects the charts rendered (see the module doc)."""
    apps: Any = client.AppsV1Api(api)
    problems = []
    hub = apps.read_namespaced_deployment("hub", namespace)
    if _container(hub, "hub").args != sent_hub["hub"]["args"]:
        problems.append(f"Deployment hub args {_container(hub, 'hub').args}, sent hub.args {sent_hub['hub']['args']}")
    if "--upgrade-db" not in (_container(hub, "hub").args or []):
        problems.append("Deployment hub does not run --upgrade-db")
    stored = hub_chart_values(api, namespace)
    problems += [f"Secret {HUB_SECRET} values.yaml {p}" for p in missing_values(sent_hub, stored)]
    oauth = stored["hub"]["config"]["GenericOAuthenticator"]
    for key, want in (("client_id", outputs["keycloak"]["clientId"]), ("claim_groups_key", "tenants"),
                      ("admin_groups", ["admin"]), ("client_secret", outputs["keycloakClientSecret"])):
        if oauth.get(key) != want:
            problems.append(f"Secret {HUB_SECRET} GenericOAuthenticator.{key} " + (
                "differs from the output keycloakClientSecret" if key == "client_secret"
                else f"{oauth.get(key)!r}, expected {want!r}"))
    problems += inter_namespace_problems(read_release(api, namespace, HUB_RELEASE).objects())
    if secret_data(api, namespace, HUB_SECRET).get("hub.db.password") != outputs["postgresqlPassword"]:
        problems.append(f"Secret {HUB_SECRET} hub.db.password differs from the output postgresqlPassword")
    for role, name, settings in (("primary", f"{POSTGRESQL_RELEASE}-primary", sent_postgresql["primary"]),
                                 ("read", f"{POSTGRESQL_RELEASE}-read", sent_postgresql.get("readReplicas"))):
        if settings is None:
            continue
        pod = apps.read_namespaced_stateful_set(name, namespace).spec.template.spec
        tolerations = [{k: v for k, v in t.to_dict().items() if v is not None} for t in pod.tolerations or []]
        if (pod.node_selector or {}) != settings.get("nodeSelector", {}):
            problems.append(f"StatefulSet {name} nodeSelector {pod.node_selector}, sent {settings.get('nodeSelector')}")
        if tolerations != settings.get("tolerations", []):
            problems.append(f"StatefulSet {name} tolerations {tolerations}, sent {settings.get('tolerations')}")
        if role == "read" and apps.read_namespaced_stateful_set(name, namespace).spec.replicas != settings[
                "replicaCount"]:
            problems.append(f"StatefulSet {name} replicas differ from readReplicas.replicaCount")
    if problems:
        raise AssertionError("; ".join(problems))


# --- network policies ------------------------------------------------------------------------------


def _as_pod(pod: Any) -> netpol.Pod:
    ports = {p.name: (p.container_port, p.protocol or "TCP") for c in pod.spec.containers for p in c.ports or []
             if p.name}
    return netpol.Pod(str(pod.metadata.name), str(pod.metadata.namespace), dict(pod.metadata.labels or {}),
                      pod.status.pod_ip, ports)


def policy_verdicts(api: client.ApiClient, namespace: str) -> list[tuple[str, netpol.Verdict, bool]]:
    """(connection, verdict, expected) of what an operator expects of the rendered policies."""
    core: Any = client.CoreV1Api(api)
    policies = [obj for release in releases(api, namespace).values() for obj in release.objects()
                if obj["kind"] == "NetworkPolicy"]
    for policy in policies:
        policy["metadata"].setdefault("namespace", namespace)
    labels = {str(n.metadata.name): dict(n.metadata.labels or {}) for n in core.list_namespace().items}
    pods = [_as_pod(p) for p in core.list_namespaced_pod(namespace).items]

    def by_role(role: str) -> list[netpol.Pod]:
        return [p for p in pods if p.labels.get("component") == role
                or f"postgresql-{p.labels.get('app.kubernetes.io/component')}" == role]

    (hub,) = by_role("hub")
    databases = by_role("postgresql-primary") + by_role("postgresql-read")
    unlabelled = dict(hub.labels)
    for key in DB_CLIENT_LABELS:
        unlabelled.pop(key, None)
    without = netpol.Pod("a pod with the hub's labels but the client label", namespace, unlabelled, hub.ip)
    found = []
    for database in databases:
        found.append((f"hub -> PostgreSQL ({database.name}:{PORT})",
                      netpol.connection(policies, labels, hub, database, PORT), True))
        for other in [p for p in pods if not set(DB_CLIENT_LABELS.items()) <= set(p.labels.items())
                      and p.labels.get("app.kubernetes.io/name") != "postgresql"] + [without]:
            found.append((f"{other.name} -> PostgreSQL ({database.name}:{PORT})",
                          netpol.connection(policies, labels, other, database, PORT), False))
    for replica in by_role("postgresql-read"):
        for primary in by_role("postgresql-primary"):
            found.append((f"replication {replica.name} -> {primary.name}:{PORT}",
                          netpol.connection(policies, labels, replica, primary, PORT), True))
    return found


def assert_network_policies(api: client.ApiClient, namespace: str) -> list[str]:
    """The verdicts as lines; ``AssertionError`` naming each connection decided otherwise than expected."""
    verdicts = policy_verdicts(api, namespace)
    wrong = [f"{what}: {'admitted' if verdict else 'refused'} ({verdict.reason}), expected "
             f"{'admitted' if expected else 'refused'}" for what, verdict, expected in verdicts
             if bool(verdict) != expected]
    if wrong:
        raise AssertionError("; ".join(wrong))
    return [f"{what}: {'admitted' if verdict else 'refused'}" for what, verdict, _ in verdicts]
