"""The e2e stack's config and the checks of what the real servers hold after ``pulumi up``.

Each ``assert_*`` compares what Keycloak or the API server really holds with
the stack's outputs and state, and fails naming the object and both values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from kubernetes import client
from pulumi import automation as auto

from components.jupyterhub import hub_cluster_rules
from components.keycloak_client import TENANTS_CLAIM
from e2e import chart_checks
from e2e.servers import NodeSpec, Servers, dossier_nodes
from e2e.servers.nodes import RESEARCH_GROUP_LABEL
from e2e.servers.storage import STORAGE_CLASS
from e2e.stack import MIRROR, E2EStack
from e2e.state import (
    CLIENT,
    CLUSTER_ROLE,
    NAMESPACE,
    NODE_PURPOSE,
    REALM,
    SECRET_SIG,
    plain,
    received_values,
    secret_data,
)
from tests.test_outputs import CONTRACT

FQDN = "dossier.e2e.test"
CONTROL_PLANE_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                            "effect": "NoSchedule"}
#: The e2e cluster, laid out as a Dossier cluster: the control plane is the core node (tainted), two
#: users' nodes, and a research group's node (``e2e/servers/nodes.py``).
CORE_NODES, USER_NODES, RESEARCH_NODES = ["e2e-core-0"], ["e2e-user-0", "e2e-user-1"], {"genomics": ["e2e-genomics-0"]}
#: ``dossier:nodes``: the stack labels the core pool and every node users' notebooks may run on.
NODES = {"core": CORE_NODES, "user": USER_NODES + [n for names in RESEARCH_NODES.values() for n in names]}
#: PostgreSQL as Dossier's reference places it (primary and two read replicas on the control plane).
READ_REPLICAS = 2
POSTGRESQL: dict[str, Any] = {"readReplicas": READ_REPLICAS,
                               "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
                               "tolerations": [CONTROL_PLANE_TOLERATION]}


def cluster_nodes() -> tuple[NodeSpec, ...]:
    """The Node objects of the e2e cluster (kwok's), labelled and tainted like a Dossier cluster's."""
    return dossier_nodes(core=CORE_NODES, user=USER_NODES, research=RESEARCH_NODES)


def tenants_config(groups: list[str]) -> list[dict[str, Any]]:
    """``dossier:tenants`` for ``groups``: a group with nodes of its own selects them."""
    return [{"name": g, **({"nodeSelector": {RESEARCH_GROUP_LABEL: g}} if g in RESEARCH_NODES else {})}
            for g in groups]


def stack_config(servers: Servers, *, nodes: dict[str, list[str]] | None = None, groups: list[str],
                 protect: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The e2e stack's config (as an operator would write it) and its secrets."""
    assert servers.keycloak and servers.realm and servers.cluster
    provider = servers.realm.provider.pulumi_config()
    secret = provider.pop("keycloak:clientSecret")
    config = {
        "dossier:fqdn": FQDN,
        "dossier:keycloak": {"url": servers.keycloak.url, "realm": REALM},
        # The published charts, copied into the project as charts/ (a relative local mirror, e2e/charts.py).
        "dossier:postgresql": {"chartRepository": f"file://{MIRROR}", **POSTGRESQL},
        "dossier:jupyterhub": {"chartRepository": f"file://{MIRROR}", "singleuser": {"storageClass": STORAGE_CLASS}},
        "dossier:nodes": nodes or NODES,
        "dossier:protectData": protect,
        "dossier:tenants": tenants_config(groups),
        "kubernetes:kubeconfig": str(servers.cluster.kubeconfig),
        "kubernetes:context": servers.cluster.context,
        **provider,
    }
    return config, {"keycloak:clientSecret": secret}


def _expect(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise AssertionError(f"{what}: the server holds {got!r}, expected {want!r}")


# --- Keycloak ------------------------------------------------------------------------------


def assert_keycloak(servers: Servers, outputs: dict[str, auto.OutputValue], *, roles: set[str]) -> None:
    """The client (confidential, standard flow only, exact redirect, the stack's secret), mapper and roles."""
    assert servers.keycloak
    admin = servers.keycloak.admin()
    clients = admin.get(f"/{REALM}/clients", clientId=CLIENT)
    _expect(f"clients named {CLIENT!r} in realm {REALM}", len(clients), 1)
    found = clients[0]
    settings: tuple[tuple[str, Any], ...] = (
        ("publicClient", False), ("bearerOnly", False), ("standardFlowEnabled", True),
        ("implicitFlowEnabled", False), ("directAccessGrantsEnabled", False), ("serviceAccountsEnabled", False),
        ("redirectUris", [f"https://{FQDN}/hub/oauth_callback"]), ("webOrigins", [f"https://{FQDN}"]),
    )
    for key, want in settings:
        _expect(f"client {CLIENT} {key}", found.get(key), want)
    _expect(f"client {CLIENT} secret == output keycloakClientSecret", admin.client_secret(REALM, CLIENT),
            outputs["keycloakClientSecret"].value)
    mappers = [m for m in admin.mappers(REALM, CLIENT) if m["name"] == TENANTS_CLAIM]
    _expect(f"mappers named {TENANTS_CLAIM!r}", len(mappers), 1)
    mapper = mappers[0]
    _expect("mapper type", mapper["protocolMapper"], "oidc-usermodel-client-role-mapper")
    for key, want in (("multivalued", "true"), ("claim.name", TENANTS_CLAIM),
                      ("usermodel.clientRoleMapping.clientId", CLIENT), ("id.token.claim", "true"),
                      ("access.token.claim", "true"), ("userinfo.token.claim", "true")):
        _expect(f"mapper {TENANTS_CLAIM} config {key}", mapper["config"].get(key), want)
    _expect(f"client roles of {CLIENT}", {r["name"] for r in admin.client_roles(REALM, CLIENT)}, roles)


def assert_tenants_claim(claims: dict[str, Any], roles: list[str]) -> None:
    """The ``tenants`` claim the hub received: a list of exactly the user's client roles."""
    claim = claims.get(TENANTS_CLAIM)
    if not isinstance(claim, list):
        raise AssertionError(f"claim {TENANTS_CLAIM!r} is {claim!r} ({type(claim).__name__}), expected a list of "
                             f"{sorted(roles)}: is the mapper multivalued?")
    _expect(f"claim {TENANTS_CLAIM!r}", sorted(claim), sorted(roles))


# --- the API server -------------------------------------------------------------------------


def state_output(state: dict[str, Any], name: str) -> dict[str, Any]:
    for resource in state["deployment"]["resources"]:
        if resource["urn"].endswith(f"::{name}"):
            return dict(plain(resource.get("outputs") or {}))
    raise AssertionError(f"no resource {name!r} in the stack's state")


def assert_cluster(api: client.ApiClient, outputs: dict[str, auto.OutputValue], state: dict[str, Any], *,
                   nodes: dict[str, list[str]], tenants: set[str]) -> None:
    core: Any = client.CoreV1Api(api)
    custom: Any = client.CustomObjectsApi(api)
    rbac: Any = client.RbacAuthorizationV1Api(api)
    labels = core.read_namespace(NAMESPACE).metadata.labels or {}
    # The API server adds kubernetes.io/metadata.name itself; the stack sets name=<namespace>.
    _expect(f"namespace {NAMESPACE} label name", labels.get("name"), NAMESPACE)

    secret = secret_data(api, NAMESPACE, outputs["postgresql"].value["secretName"])
    _expect("PostgreSQL Secret password == output postgresqlPassword", secret.get("password"),
            outputs["postgresqlPassword"].value)
    for key, role in (("password", "user"), ("postgres-password", "admin"), ("replication-password", "replication")):
        resource = f"postgresql-{role}-password"
        want = state_output(state, resource)["result"]
        _expect(f"PostgreSQL Secret {key} == state {resource}", secret.get(key), want)
    _expect("PostgreSQL Secret keys", sorted(secret), ["password", "postgres-password", "replication-password"])

    found = custom.list_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants")["items"]
    _expect("Tenants", {t["metadata"]["name"] for t in found}, tenants)
    owner = outputs["hubServiceAccount"].value.rsplit(":", 1)[1]
    for tenant in found:
        owners = [(o["kind"], o["name"]) for o in tenant["spec"]["owners"]]
        if ("ServiceAccount", outputs["hubServiceAccount"].value) not in owners:
            raise AssertionError(f"Tenant {tenant['metadata']['name']} owners {owners}: the hub ({owner}) is missing")

    certificate = custom.get_namespaced_custom_object("cert-manager.io", "v1", NAMESPACE, "certificates",
                                                      _only_name(custom, "cert-manager.io", "certificates"))
    _expect("Certificate dnsNames", certificate["spec"]["dnsNames"], [FQDN])
    tls = outputs["tlsSecret"].value
    _expect("Certificate secretName", certificate["spec"]["secretName"], tls["name"])
    _expect("Certificate namespace == output tlsSecret.namespace", certificate["metadata"]["namespace"],
            tls["namespace"])
    proxy = custom.get_namespaced_custom_object("projectcontour.io", "v1", NAMESPACE, "httpproxies",
                                                _only_name(custom, "projectcontour.io", "httpproxies"))
    _expect("HTTPProxy fqdn", proxy["spec"]["virtualhost"]["fqdn"], FQDN)
    _expect("HTTPProxy TLS secret", proxy["spec"]["virtualhost"]["tls"]["secretName"], tls["name"])
    _expect("HTTPProxy service", [(s["name"], s["port"]) for r in proxy["spec"]["routes"] for s in r["services"]],
            [("proxy-public", 80)])

    role = rbac.read_cluster_role(CLUSTER_ROLE)
    _expect("ClusterRole rules", [{"apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs}
                                  for r in role.rules], hub_cluster_rules())
    binding = rbac.read_cluster_role_binding(CLUSTER_ROLE)
    _expect("ClusterRoleBinding subjects", [(s.kind, s.name, s.namespace) for s in binding.subjects],
            [("ServiceAccount", "hub", NAMESPACE)])
    for purpose, names in nodes.items():
        for name in names:
            _expect(f"node {name} {NODE_PURPOSE}", (core.read_node(name).metadata.labels or {}).get(NODE_PURPOSE),
                    purpose)


def _only_name(custom: Any, group: str, plural: str) -> str:
    items = custom.list_namespaced_custom_object(group, "v1", NAMESPACE, plural)["items"]
    _expect(f"{plural} in {NAMESPACE}", len(items), 1)
    return str(items[0]["metadata"]["name"])


def assert_helm_values(api: client.ApiClient, outputs: dict[str, auto.OutputValue], state: dict[str, Any]) -> None:
    """Helm received exactly the values the program sent (each release's record), secrets included."""
    for release, resource in (("jhub", "jupyterhub-release"), ("jhub-postgresql", "postgresql-release")):
        sent = state_output(state, resource)["values"]
        _expect(f"values Helm gave release {release}", received_values(api, NAMESPACE, release), sent)
    hub = received_values(api, NAMESPACE, "jhub")["hub"]
    _expect("hub.db.password == output postgresqlPassword", hub["db"]["password"], outputs["postgresqlPassword"].value)
    oauth = hub["config"]["GenericOAuthenticator"]
    _expect("GenericOAuthenticator.client_secret == output keycloakClientSecret", oauth["client_secret"],
            outputs["keycloakClientSecret"].value)
    _expect("GenericOAuthenticator.claim_groups_key", oauth["claim_groups_key"], TENANTS_CLAIM)
    tolerations = received_values(api, NAMESPACE, "jhub")["scheduling"]["corePods"]["tolerations"]
    if CONTROL_PLANE_TOLERATION not in tolerations:
        raise AssertionError(f"core pods do not tolerate the control-plane taint: {tolerations}")
    postgresql = received_values(api, NAMESPACE, "jhub-postgresql")
    _expect("postgresql auth.existingSecret", postgresql["auth"]["existingSecret"],
            outputs["postgresql"].value["secretName"])


def assert_output_contract(stack: E2EStack) -> None:
    """``pulumi stack output``: exactly the contract's names; secrets hidden unless asked for."""
    hidden = stack.cli("stack", "output", "--json").json()
    shown = stack.cli("stack", "output", "--json", "--show-secrets").json()
    _expect("stack output names", set(hidden), set(CONTRACT))
    outputs = stack.outputs()
    for name, secret in CONTRACT.items():
        _expect(f"output {name} is secret", outputs[name].secret, secret)
        _expect(f"`pulumi stack output` {name}", hidden[name], "[secret]" if secret else outputs[name].value)
        _expect(f"`pulumi stack output --show-secrets` {name}", shown[name], outputs[name].value)


def assert_outputs_serve_other_namespaces(api: client.ApiClient, outputs: dict[str, auto.OutputValue]) -> None:
    """What docs/outputs.md promises a team in another namespace, against what Helm and the API server hold.

    ``postgresql.host`` is the Service the hub connects to (the host of its ``hub.db.url``,
    short: the hub shares its namespace) qualified with the namespace and ``.svc``;
    ``postgresql.clientLabels`` are the labels the chart's NetworkPolicy values admit, with no
    namespace selector (so: the hub's namespace only), and the hub carries them;
    ``tlsSecret`` names the Secret the Certificate writes and the namespace it is in.
    """
    namespace = outputs["namespace"].value
    postgresql = outputs["postgresql"].value
    hub = received_values(api, namespace, namespace)["hub"]  # the hub's release is named after its namespace
    _expect("output postgresql.host", postgresql["host"], f"{urlparse(hub['db']['url']).hostname}.{namespace}.svc")
    rules = received_values(api, namespace, "jhub-postgresql")["networkPolicy"]["ingressRules"]
    for rule in ("primaryAccessOnlyFrom", "readReplicasAccessOnlyFrom"):
        admitted = rules[rule]
        _expect(f"PostgreSQL {rule} podSelector == output postgresql.clientLabels", admitted.get("podSelector"),
                postgresql["clientLabels"])
        _expect(f"PostgreSQL {rule} namespaceSelector (none: the release's namespace only)",
                admitted.get("namespaceSelector"), None)
    _expect("the hub's labels hold postgresql.clientLabels",
            {key: hub["labels"].get(key) for key in postgresql["clientLabels"]}, postgresql["clientLabels"])
    tls = outputs["tlsSecret"].value
    custom: Any = client.CustomObjectsApi(api)
    certificates = custom.list_namespaced_custom_object("cert-manager.io", "v1", tls["namespace"],
                                                        "certificates")["items"]
    _expect(f"Certificates in {tls['namespace']} writing output tlsSecret.name",
            [c["metadata"]["name"] for c in certificates if c["spec"]["secretName"] == tls["name"]], [tls["name"]])


def _secret_leaves(value: Any) -> Iterator[str]:
    """Every string inside a secret envelope of a revealed state (``pulumi stack export --show-secrets``)."""
    if isinstance(value, dict):
        if SECRET_SIG in value and "plaintext" in value:
            yield from _strings(json.loads(value["plaintext"]))
            return
        for item in value.values():
            yield from _secret_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_leaves(item)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def assert_state_seals_secrets(stack: E2EStack) -> set[str]:
    """``pulumi stack export`` (no ``--show-secrets``) shows no generated secret anywhere: IDs included.

    The generated secrets: every secret output of the random provider's resources (a password,
    a RandomBytes' hex and base64 forms...), the Keycloak client's secret, and the secret stack
    outputs. (Other strings inside secret maps, such as the rest of a Helm values map that holds a
    password, are secret only by company and may also appear in clear elsewhere.)
    """
    revealed = stack.deployment()["deployment"]["resources"]
    values = {v for r in revealed if r["type"].startswith("random:") for v in _secret_leaves(r.get("outputs"))}
    values |= {str(plain(r["outputs"])["clientSecret"]) for r in revealed
               if r["type"] == "keycloak:openid/client:Client"}
    values |= {str(o.value) for o in stack.outputs().values() if o.secret}
    sealed = stack.cli("stack", "export").stdout
    leaked = sorted(f"{v[:4]}... ({len(v)} characters)" for v in values if v in sealed)
    if not values or leaked:
        raise AssertionError(f"`pulumi stack export` shows {len(leaked)} of {len(values)} secret values in clear: "
                             f"{leaked}")
    return values


# --- operations -------------------------------------------------------------------------------


def preview_steps(stack: E2EStack) -> set[tuple[str, str, str]]:
    """(operation, type, name) of every step a preview would take, ``same`` steps left out."""
    steps: set[tuple[str, str, str]] = set()

    def on_event(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is None:
            return
        op = pre.metadata.op.value if hasattr(pre.metadata.op, "value") else str(pre.metadata.op)
        if op not in ("same", "read"):
            steps.add((op, pre.metadata.type, pre.metadata.urn.rsplit("::", 1)[1]))

    stack.preview(on_event=on_event)
    return steps


def up_explained(stack: E2EStack, api: client.ApiClient, **kwargs: Any) -> auto.UpResult:
    """``pulumi up``; when it fails, the error says which workloads were not ready and why (``not_ready``)."""
    try:
        return stack.up(**kwargs)
    except auto.CommandError as error:
        waiting = chart_checks.not_ready(api, NAMESPACE)
        raise AssertionError(f"`pulumi up` failed: {provider_errors(str(error))}; not ready in {NAMESPACE}: "
                             f"{'; '.join(waiting) or 'nothing'}") from error


def provider_errors(output: str) -> str:
    """The ``error:`` lines of a failed command's output, in one line."""
    lines = [" ".join(line.split()) for line in output.splitlines() if "error:" in line or "Error:" in line]
    return " | ".join(dict.fromkeys(lines)) or output[-500:]


def destroy_refused(stack: E2EStack) -> str:
    """The message of a ``pulumi destroy`` that must fail (protected resources)."""
    try:
        stack.destroy()
    except auto.CommandError as error:
        return str(error)
    raise AssertionError("pulumi destroy succeeded on a stack with protected resources")
