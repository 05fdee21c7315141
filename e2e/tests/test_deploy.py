"""The real program, the real CLI, real servers and charts: ``pulumi up`` end to end.

One stack ``e2e`` of the unmodified program on a ``file://`` backend, deployed
by the toolchain's CLI (``e2e/stack.py``) into the run's own cluster (API
server, controller manager, scheduler, kwok's nodes laid out as a Dossier
cluster's) and Keycloak, installing the published charts from a local mirror
(``e2e/charts.py``); the tests run in file order, each phase building on the
previous one: preview and up (the releases wait for their pods as users' do),
what the servers hold, what the charts rendered and where their pods run, the
network policies, no perpetual diff, a research group added and removed, the
login into a real hub, protection, destroy. What is stood in is listed in
docs/e2e.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from e2e import chart_checks, checks, state
from e2e.hub import start_hub
from e2e.hub.identity import hub_tenants_api
from e2e.login import login
from e2e.servers import Servers, Supervisor, start_servers
from e2e.servers.storage import volumes
from e2e.stack import E2EStack, Phase, Toolchain, changes, toolchain
from e2e.tenancy import assert_tenant_namespace, create_namespace, delete_namespace, get, wait_active

pytestmark = pytest.mark.e2e

GROUP, ADDED = "genomics", "astro"
USERS = {"alice": ["admin", GROUP], "bob": []}


@dataclass
class Deployment:
    servers: Servers
    stack: E2EStack
    supervisor: Supervisor
    tools: Toolchain
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def api(self) -> client.ApiClient:
        assert self.servers.cluster
        return self.servers.cluster.api_client()


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with Phase("toolchain"):
        tools = toolchain()
    with Supervisor("dossier-e2e-deploy") as supervisor:
        with Phase("servers"):
            servers = start_servers(supervisor, nodes=checks.cluster_nodes())
        print(servers.summary(), flush=True)
        assert servers.cluster
        stack = E2EStack(supervisor.path("stack"), tools)
        config, secrets = checks.stack_config(servers, groups=[GROUP], protect=False)
        stack.configure(config, secrets)
        deployment = Deployment(servers, stack, supervisor, tools)
        # What the API server holds before the stack: after `pulumi destroy` it must hold exactly that again.
        deployment.notes["before"] = state.cluster_objects(deployment.api)
        yield deployment


def test_01_preview_then_up(deployment: Deployment) -> None:
    with Phase("preview"):
        preview = deployment.stack.preview()
    planned = changes(preview.change_summary)
    created = planned.get("create", 0)
    assert created > 30 and set(planned) == {"create"}, planned
    with Phase("up (the releases wait for their pods)"):
        up = checks.up_explained(deployment.stack, deployment.api)
    assert up.summary.result == "succeeded"
    assert changes(up.summary.resource_changes) == {"create": created}


def test_02_keycloak_holds_the_client_mapper_and_roles(deployment: Deployment) -> None:
    outputs = deployment.stack.outputs()
    checks.assert_keycloak(deployment.servers, outputs, roles={"admin", GROUP})


def test_03_api_server_holds_the_stack(deployment: Deployment) -> None:
    state = deployment.stack.deployment()
    checks.assert_cluster(deployment.api, deployment.stack.outputs(), state, nodes=checks.NODES,
                          tenants={"jhub", GROUP})


def test_03b_capsule_admits_the_stacks_tenants_and_the_hubs_namespaces(deployment: Deployment) -> None:
    assert deployment.servers.cluster and deployment.servers.capsule
    api = deployment.api
    tenants = {"jhub", GROUP}
    wait_active(api, tenants)
    # A namespace per Tenant with the hub's ServiceAccount token, as Dossier's spawner makes them (e2e/tenancy.py).
    hub = deployment.servers.cluster.api_client(hub_tenants_api(deployment.servers.cluster, "jhub").token)
    for tenant in sorted(tenants):
        namespace = f"{tenant}-e2e"
        create_namespace(hub, namespace)
        assert_tenant_namespace(api, namespace, get(api, f"/apis/capsule.clastix.io/v1beta2/tenants/{tenant}"))
        delete_namespace(api, namespace)


def test_04_helm_got_the_values_the_program_sent(deployment: Deployment) -> None:
    checks.assert_helm_values(deployment.api, deployment.stack.outputs(), deployment.stack.deployment())


def test_05_every_object_the_charts_rendered_exists(deployment: Deployment) -> None:
    listing = chart_checks.assert_rendered_exist(deployment.api, state.NAMESPACE)
    for release, objects in listing.items():
        print(f"\nrelease {release}: {len(objects)} objects rendered, each on the API server:\n    "
              + "\n    ".join(objects))
    kinds = {o.split()[0] for objects in listing.values() for o in objects}
    assert {"Deployment", "StatefulSet", "Service", "NetworkPolicy", "PodDisruptionBudget", "ConfigMap", "Secret",
            "Role", "RoleBinding", "ServiceAccount", "DaemonSet"} <= kinds, kinds


def test_06_every_pod_runs_on_a_node_the_values_intend(deployment: Deployment) -> None:
    placed = chart_checks.assert_placement(
        deployment.api, state.NAMESPACE, core_nodes=checks.CORE_NODES, read_replicas=checks.READ_REPLICAS,
        user_nodes=checks.NODES["user"])
    print("\npods (Running and Ready), by node:\n    " + "\n    ".join(
        f"{node}: {pod} ({role})" for pod, (role, node) in sorted(placed.items(), key=lambda p: (p[1][1], p[0]))))
    claims = {v["claim"]: f"{name} on {v['node']}" for name, v in volumes(deployment.api).items() if v["claim"]}
    print("claims bound:\n    " + "\n    ".join(f"{c} -> {v}" for c, v in sorted(claims.items())))
    assert len([c for c in claims if c.startswith(f"{state.NAMESPACE}/data-jhub-postgresql-")]) == 3, claims


def test_07_the_values_reach_the_objects(deployment: Deployment) -> None:
    exported = deployment.stack.deployment()
    outputs = {name: output.value for name, output in deployment.stack.outputs().items()}
    chart_checks.assert_values_reach_objects(
        deployment.api, state.NAMESPACE, outputs=outputs,
        sent_hub=checks.state_output(exported, "jupyterhub-release")["values"],
        sent_postgresql=checks.state_output(exported, "postgresql-release")["values"])


def test_08_network_policies_admit_the_hub_to_postgresql_only(deployment: Deployment) -> None:
    # Evaluated over the real pods' and namespaces' labels: nothing enforces them here (docs/e2e.md).
    verdicts = chart_checks.assert_network_policies(deployment.api, state.NAMESPACE)
    print("\nNetworkPolicy verdicts:\n    " + "\n    ".join(verdicts))
    assert any(v.startswith("hub -> PostgreSQL") and v.endswith("admitted") for v in verdicts), verdicts


def test_09_stack_output_is_the_contract_with_secrets_hidden(deployment: Deployment) -> None:
    checks.assert_output_contract(deployment.stack)
    # The names other teams use hold from their namespaces (docs/outputs.md#who-may-connect-to-what).
    checks.assert_outputs_serve_other_namespaces(deployment.api, deployment.stack.outputs())
    # The README's last step, as written: one output by name, through the CLI itself.
    hub_url = deployment.stack.cli("stack", "output", "hubUrl").stdout.strip()
    assert hub_url.startswith("https://") and hub_url == deployment.stack.outputs()["hubUrl"].value, hub_url
    # The state itself: a value the engine stores in clear (a resource ID, say) would show here.
    sealed = checks.assert_state_seals_secrets(deployment.stack)
    assert len(sealed) >= 7  # at least the 3 PostgreSQL passwords, the client secret and the 3 hub secrets


def test_10_no_perpetual_diff_and_no_drift(deployment: Deployment) -> None:
    with Phase("preview --expect-no-changes"):
        deployment.stack.preview(expect_no_changes=True)
    with Phase("refresh --expect-no-changes"):
        refresh = deployment.stack.refresh(expect_no_changes=True)
    assert set(changes(refresh.summary.resource_changes)) == {"same"}, refresh.summary.resource_changes


def test_11_a_research_group_added_then_removed(deployment: Deployment) -> None:
    stack = deployment.stack
    stack.configure({"dossier:tenants": checks.tenants_config([GROUP, ADDED])})
    with Phase(f"preview: add {ADDED}"):
        steps = checks.preview_steps(stack)
    assert steps == {
        ("create", "keycloak:index/role:Role", f"research-{ADDED}-role"),
        ("create", "kubernetes:capsule.clastix.io/v1beta2:Tenant", f"research-{ADDED}-tenant"),
    }, steps
    with Phase(f"up: add {ADDED}"):
        assert changes(stack.up().summary.resource_changes).get("create") == 2
    checks.assert_keycloak(deployment.servers, stack.outputs(), roles={"admin", GROUP, ADDED})
    assert state.tenant_names(deployment.api) == {"jhub", GROUP, ADDED}

    stack.configure({"dossier:tenants": checks.tenants_config([GROUP])})
    with Phase(f"preview: remove {ADDED}"):
        steps = checks.preview_steps(stack)
    assert {(op, name) for op, _, name in steps} == {
        ("delete", f"research-{ADDED}-role"), ("delete", f"research-{ADDED}-tenant")
    }, steps
    with Phase(f"up: remove {ADDED}"):
        assert changes(stack.up().summary.resource_changes).get("delete") == 2
    checks.assert_keycloak(deployment.servers, stack.outputs(), roles={"admin", GROUP})
    assert state.tenant_names(deployment.api) == {"jhub", GROUP}


def test_12_a_user_logs_into_a_real_hub(deployment: Deployment) -> None:
    servers = deployment.servers
    assert servers.keycloak and servers.realm and servers.postgres and servers.cluster
    admin = servers.keycloak.admin()
    for username, roles in USERS.items():
        if roles:
            admin.assign_client_roles(servers.realm.realm, "jupyter", username, roles)
    # What z2jh stored for its hub (the hub Secret's values.yaml: the values, the chart's defaults merged in).
    values = state.hub_chart_values(deployment.api, "jhub")
    secret = state.secret_data(deployment.api, "jhub", "jhub-postgresql")
    servers.postgres.create_chart_database(secret, username="jhub", database="jhub")
    with Phase("hub start"):
        hub = start_hub(values, database=servers.postgres, keycloak_ca=servers.keycloak.ca_cert,
                        supervisor=deployment.supervisor, tenants_exist=hub_tenants_api(servers.cluster, "jhub"))
    try:
        callback = values["hub"]["config"]["GenericOAuthenticator"]["oauth_callback_url"]
        with Phase("login alice"):
            alice = login(hub, "alice", servers.realm.users["alice"], callback)
        assert alice.logged_in, f"{alice}\n{alice.hub_log}"
        checks.assert_tenants_claim(alice.claims, USERS["alice"])
        assert sorted(alice.groups) == sorted(USERS["alice"]), alice
        assert alice.admin is True
        with Phase("login bob"):
            bob = login(hub, "bob", servers.realm.users["bob"], callback)
        assert (bob.logged_in, bob.status) == (False, 403), f"{bob}\n{bob.hub_log}"
    finally:
        hub.stop()


def test_13_protected_data_survives_destroy(deployment: Deployment) -> None:
    stack = deployment.stack
    stack.configure({"dossier:protectData": True})
    with Phase("up: protectData true"):
        stack.up()
    before = state.inventory(deployment.servers)
    with Phase("destroy (protected)"):
        refused = checks.destroy_refused(stack)
    # The guard (components/guard.py) goes first and is protected: nothing at all is deleted.
    assert "destroy-guard" in refused and "protected" in refused, refused
    assert state.inventory(deployment.servers) == before
    protected = {r["urn"].rsplit("::", 1)[1] for r in stack.resources() if r.get("protect")}
    assert {"namespace", "tenant-tenant", "postgresql-secret", "postgresql-release"} <= protected, protected


def test_14_destroy_leaves_nothing(deployment: Deployment) -> None:
    stack = deployment.stack
    stack.configure({"dossier:protectData": False})
    with Phase("up: protectData false"):
        stack.up()
    assert not [r["urn"] for r in stack.resources() if r.get("protect")]
    with Phase("destroy"):
        result = stack.destroy()
    assert result.summary.result == "succeeded"
    assert stack.resources() == []
    leftovers = state.inventory(deployment.servers)
    assert leftovers == state.EMPTY_INVENTORY, json.dumps(leftovers, indent=1)
    # Everything on the API server, not only what the stack names: the controllers deleted what the charts made.
    after = state.cluster_objects(deployment.api)
    before = deployment.notes["before"]
    changed = {"left": sorted(after - before), "gone": sorted(before - after)}
    assert changed == {"left": [], "gone": []}, changed
    released = {name: v["claim"] for name, v in volumes(deployment.api).items() if v["phase"] == "Released"}
    print(f"\ndestroyed ({time.strftime('%H:%M:%S')}); on the API server: the {len(after)} objects it held before "
          f"`pulumi up`, nothing else; local volumes Released (reclaim policy Retain, data kept): {released}")
    assert sorted(released.values()) == [f"{state.NAMESPACE}/data-jhub-postgresql-{n}"
                                         for n in ("primary-0", "read-0", "read-1")], released
