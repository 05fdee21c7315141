"""The real program, the real CLI, real servers: ``pulumi up`` end to end.

One stack ``e2e`` of the unmodified program on a ``file://`` backend, deployed
by the toolchain's CLI (``e2e/stack.py``) into the run's own API server and
Keycloak; the tests run in file order, each phase building on the previous
one: preview and up, what the servers hold, no perpetual diff, a research
group added and removed, the login into a real hub, protection, destroy.
Only the two charts are stand-ins (``e2e/charts``: they store the values Helm
received); everything else is the real thing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from e2e import checks, state
from e2e.hub import start_hub
from e2e.hub.identity import hub_tenants_api
from e2e.login import login
from e2e.servers import Controllers, Servers, Supervisor, start_servers
from e2e.stack import E2EStack, Phase, Toolchain, changes, toolchain
from e2e.tenancy import assert_tenant_namespace, create_namespace, delete_namespace, get, wait_active

pytestmark = pytest.mark.e2e

NODES = {"core": ["e2e-core-0"], "user": ["e2e-user-0", "e2e-user-1"]}
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
            servers = start_servers(supervisor, nodes=tuple(NODES["core"] + NODES["user"]))
        print(servers.summary(), flush=True)
        assert servers.cluster
        stack = E2EStack(supervisor.path("stack"), tools)
        config, secrets = checks.stack_config(servers, nodes=NODES, groups=[GROUP], protect=False)
        stack.configure(config, secrets)
        # No controller manager runs here: this finishes deletes as its collectors would (see docs/e2e.md).
        with Controllers(servers.cluster):
            yield Deployment(servers, stack, supervisor, tools)


def test_01_preview_then_up(deployment: Deployment) -> None:
    with Phase("preview"):
        preview = deployment.stack.preview()
    planned = changes(preview.change_summary)
    created = planned.get("create", 0)
    assert created > 30 and set(planned) == {"create"}, planned
    with Phase("up"):
        up = deployment.stack.up()
    assert up.summary.result == "succeeded"
    assert changes(up.summary.resource_changes) == {"create": created}


def test_02_keycloak_holds_the_client_mapper_and_roles(deployment: Deployment) -> None:
    outputs = deployment.stack.outputs()
    checks.assert_keycloak(deployment.servers, outputs, roles={"admin", GROUP})


def test_03_api_server_holds_the_stack(deployment: Deployment) -> None:
    state = deployment.stack.deployment()
    checks.assert_cluster(deployment.api, deployment.stack.outputs(), state, nodes=NODES, tenants={"jhub", GROUP})


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


def test_05_stack_output_is_the_contract_with_secrets_hidden(deployment: Deployment) -> None:
    checks.assert_output_contract(deployment.stack)
    # The names other teams use hold from their namespaces (docs/outputs.md#who-may-connect-to-what).
    checks.assert_outputs_serve_other_namespaces(deployment.api, deployment.stack.outputs())
    # The README's last step, as written: one output by name, through the CLI itself.
    hub_url = deployment.stack.cli("stack", "output", "hubUrl").stdout.strip()
    assert hub_url.startswith("https://") and hub_url == deployment.stack.outputs()["hubUrl"].value, hub_url
    # The state itself: a value the engine stores in clear (a resource ID, say) would show here.
    sealed = checks.assert_state_seals_secrets(deployment.stack)
    assert len(sealed) >= 7  # at least the 3 PostgreSQL passwords, the client secret and the 3 hub secrets


def test_06_no_perpetual_diff_and_no_drift(deployment: Deployment) -> None:
    with Phase("preview --expect-no-changes"):
        deployment.stack.preview(expect_no_changes=True)
    with Phase("refresh --expect-no-changes"):
        refresh = deployment.stack.refresh(expect_no_changes=True)
    assert set(changes(refresh.summary.resource_changes)) == {"same"}, refresh.summary.resource_changes


def test_07_a_research_group_added_then_removed(deployment: Deployment) -> None:
    stack = deployment.stack
    stack.configure({"dossier:tenants": [{"name": GROUP}, {"name": ADDED}]})
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

    stack.configure({"dossier:tenants": [{"name": GROUP}]})
    with Phase(f"preview: remove {ADDED}"):
        steps = checks.preview_steps(stack)
    assert {(op, name) for op, _, name in steps} == {
        ("delete", f"research-{ADDED}-role"), ("delete", f"research-{ADDED}-tenant")
    }, steps
    with Phase(f"up: remove {ADDED}"):
        assert changes(stack.up().summary.resource_changes).get("delete") == 2
    checks.assert_keycloak(deployment.servers, stack.outputs(), roles={"admin", GROUP})
    assert state.tenant_names(deployment.api) == {"jhub", GROUP}


def test_08_a_user_logs_into_a_real_hub(deployment: Deployment) -> None:
    servers = deployment.servers
    assert servers.keycloak and servers.realm and servers.postgres and servers.cluster
    admin = servers.keycloak.admin()
    for username, roles in USERS.items():
        if roles:
            admin.assign_client_roles(servers.realm.realm, "jupyter", username, roles)
    values = state.received_values(deployment.api, "jhub", "jhub")
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


def test_09_protected_data_survives_destroy(deployment: Deployment) -> None:
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


def test_10_destroy_leaves_nothing(deployment: Deployment) -> None:
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
    print(f"\ndestroyed; nothing of the stack left ({time.strftime('%H:%M:%S')})")
