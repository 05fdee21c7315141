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
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from components.keycloak_client import TENANTS_CLAIM
from e2e import chart_checks, checks, state
from e2e.deployment import Deployment
from e2e.hub import Hub, NotebookPods, start_hub, start_user_scheduler
from e2e.hub.identity import hub_token
from e2e.login import LoginResult, login, page_text
from e2e.servers import Supervisor, start_servers
from e2e.servers.capsule import DOSSIER_GROUP, user_groups
from e2e.servers.pods import PodRunner
from e2e.servers.storage import volumes
from e2e.spawn import SpawnError, spawn, stop
from e2e.stack import E2EStack, Phase, changes, toolchain
from e2e.tenancy import assert_tenant_namespace, create_namespace, delete_namespace, get, wait_active

pytestmark = pytest.mark.e2e

GROUP, ADDED = "genomics", "astro"
#: The group's container bounds (``dossier:tenants[].limits``): its Tenant's LimitRange, in each of its namespaces.
LIMITS = {"cpu": {"default": "1", "defaultRequest": "500m", "min": "100m", "max": "2"},
          "memory": {"default": "2Gi", "defaultRequest": "1Gi", "min": "256Mi", "max": "4Gi"}}


def tenants(groups: list[str]) -> list[dict[str, Any]]:
    """``dossier:tenants`` of the deploy: the e2e's, the research group with its limits."""
    return [{**entry, **({"limits": LIMITS} if entry["name"] == GROUP else {})}
            for entry in checks.tenants_config(groups)]


#: Keycloak users and their client roles: an admin of the group, a member of the group, no role.
USERS = {"alice": ["admin", GROUP], "carol": [GROUP], "bob": []}


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
        stack.configure({**config, "dossier:tenants": tenants([GROUP])}, secrets)
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
    hub = deployment.servers.cluster.api_client(hub_token(deployment.servers.cluster, "jhub"))
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
    stack.configure({"dossier:tenants": tenants([GROUP, ADDED])})
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

    stack.configure({"dossier:tenants": tenants([GROUP])})
    with Phase(f"preview: remove {ADDED}"):
        steps = checks.preview_steps(stack)
    assert {(op, name) for op, _, name in steps} == {
        ("delete", f"research-{ADDED}-role"), ("delete", f"research-{ADDED}-tenant")
    }, steps
    with Phase(f"up: remove {ADDED}"):
        assert changes(stack.up().summary.resource_changes).get("delete") == 2
    checks.assert_keycloak(deployment.servers, stack.outputs(), roles={"admin", GROUP})
    assert state.tenant_names(deployment.api) == {"jhub", GROUP}


def test_12_dossiers_hub_runs_from_the_charts_pods(deployment: Deployment) -> None:
    servers = deployment.servers
    assert servers.postgres and servers.cluster
    api = deployment.api
    # The chart's PostgreSQL pods are kwok's: the run's PostgreSQL serves its Service, made as bitnami's image does.
    values = state.hub_chart_values(api, state.NAMESPACE)
    servers.postgres.create_chart_database(state.secret_data(api, state.NAMESPACE, "jhub-postgresql"),
                                           username="jhub", database="jhub")
    with Phase("hub and proxy started from their pods"):
        hub = start_hub(servers.cluster, deployment.supervisor, values=values, database=servers.postgres,
                        trust=servers.ca.cert_path, namespace=state.NAMESPACE)
    deployment.notes["hub"] = hub
    # The hub process runs the command of the hub Deployment the chart rendered, nothing else.
    rendered = get(api, f"/apis/apps/v1/namespaces/{state.NAMESPACE}/deployments/hub")
    args = rendered["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "dossier" and "--upgrade-db" in args, args
    cmdline = Path(f"/proc/{hub.hub_pod.containers['hub'].pid}/cmdline").read_bytes().split(b"\0")[:-1]
    assert Path(cmdline[1].decode()).name == "dossier" and [a.decode() for a in cmdline[2:]] == args[1:], cmdline
    log = hub.log.read_text()
    for line in ("Loading extra config: spawnerConfig", "Loading extra config: tenantPodDefaults",
                 "Running JupyterHub version 3.1.1",
                 "Using Authenticator: dossier.auth.oauth.DossierOAuthenticator",
                 "Using Spawner: dossier.spawners.kubespawner.DossierKubeSpawner",
                 "Not starting proxy", "Adding route for Hub: / => http://hub.jhub:8081"):
        assert line in log, f"{line!r} not in the hub's log:\n{log[-3000:]}"
    proxy_args = get(api, f"/apis/apps/v1/namespaces/{state.NAMESPACE}/deployments/proxy")[
        "spec"]["template"]["spec"]["containers"][0]["command"]
    proxy_cmdline = Path(f"/proc/{hub.proxy_pod.containers['chp'].pid}/cmdline").read_bytes().split(b"\0")[:-1]
    # The kubelet expands $(VAR) from the container's environment: the hub Service's port here.
    port = str(get(api, f"/api/v1/namespaces/{state.NAMESPACE}/services/hub")["spec"]["ports"][0]["port"])
    expanded = [a.replace("$(HUB_SERVICE_PORT)", port) for a in proxy_args[1:]]
    assert [a.decode() for a in proxy_cmdline[-len(expanded):]] == expanded, proxy_cmdline


def test_12b_users_log_in_through_keycloaks_form(deployment: Deployment) -> None:
    servers, hub = deployment.servers, deployment.notes["hub"]
    assert servers.keycloak and servers.realm
    admin, realm = servers.keycloak.admin(), servers.realm.realm
    passwords = dict(servers.realm.users)
    for username, roles in USERS.items():
        if username not in passwords:
            passwords[username] = secrets.token_urlsafe(16)
            admin.create_user(realm, username, passwords[username])
        if roles:
            admin.assign_client_roles(realm, "jupyter", username, roles)
    deployment.notes["passwords"] = passwords
    logins = {}
    for username in ("alice", "carol", "bob"):
        with Phase(f"login {username}"):
            logins[username] = login(hub, username, passwords[username], hub.oauth_callback_url)
        assert logins[username].logged_in, f"{logins[username]}\n{logins[username].hub_log}"
        if username == "alice":  # the admin's token reads everyone's auth state, as on the hub's token page
            hub.authorize(logins["alice"].session, "alice")
            logins["alice"] = login(hub, "alice", passwords["alice"], hub.oauth_callback_url)
    deployment.notes["logins"] = logins
    # The admin role makes alice a hub admin; Dossier keeps the tenants claim in the auth state.
    assert (logins["alice"].admin, logins["carol"].admin, logins["bob"].admin) == (True, False, False)
    for username, result in logins.items():
        if USERS[username]:
            checks.assert_tenants_claim(result.claims, USERS[username])
        else:  # Keycloak leaves the claim out for a user with no client role; Dossier then stores []
            assert TENANTS_CLAIM not in result.claims, result.claims
        assert sorted(result.auth_state["tenants"]) == sorted(USERS[username]), result.auth_state.keys()
    # Dossier admits a user with no tenant role at login (JupyterHub's default: no allowed_users) ...
    assert "Not using allowed_users. Any authenticated user will be allowed." in hub.log.read_text()


def test_12c_a_user_without_a_tenant_cannot_spawn(deployment: Deployment) -> None:
    hub, bob = deployment.notes["hub"], deployment.notes["logins"]["bob"]
    offset = hub.log_size()
    answer = bob.session.get(hub.url("hub/spawn"), allow_redirects=False, timeout=30)
    # ... and refuses the spawn. Its message reaches only the log: Dossier passes its handler as a
    # format argument of the HTTPError, so the page shows the status alone (docs/e2e.md).
    assert (answer.status_code, page_text(answer)) == (403, "Forbidden"), answer.text[:500]
    assert "User bob has no tenants assigned and no default tenant is defined." in hub.log_since(offset)
    assert not hub.api("users/bob")["servers"]


def test_12d_a_notebook_starts_in_the_users_tenant(deployment: Deployment) -> None:
    servers, hub = deployment.servers, deployment.notes["hub"]
    assert servers.cluster
    api = deployment.api
    _, names = start_user_scheduler(servers.cluster, deployment.supervisor, state.NAMESPACE)
    assert names == ["jhub-user-scheduler"], names
    notebooks = NotebookPods(PodRunner(servers.cluster, deployment.supervisor, trust=servers.ca.cert_path)).start()
    deployment.notes["notebooks"] = notebooks
    carol = deployment.notes["logins"]["carol"]
    with Phase("spawn carol"):
        spawned = spawn(hub, carol.session, "carol")
    assert spawned.pages == [("hub/spawn", 302)], spawned.pages  # one tenant: no choice asked
    namespace = f"{GROUP}-{state.NAMESPACE}-carol"  # Dossier's: <tenant>-<KubeSpawner's namespace>
    tenant = get(api, f"/apis/capsule.clastix.io/v1beta2/tenants/{GROUP}")
    assert_tenant_namespace(api, namespace, tenant)
    first = get(api, f"/api/v1/namespaces/{namespace}/pods/jupyter-carol")
    assert first["spec"]["schedulerName"] == "jhub-user-scheduler"
    # Capsule 0.2.1 annotates a new namespace with the Tenant's node selector and creates its LimitRange after
    # creating it, and KubeSpawner creates the pod in the same second: the first pod carries the selector and
    # the limit-range defaults itself (the hub's extraConfig tenantPodDefaults), so it runs on the group's
    # nodes with the group's limits and is not refused by a LimitRange half-seen (docs/research-groups.md).
    print(f"\nfirst pod: node {first['spec']['nodeName']}, nodeSelector {first['spec'].get('nodeSelector')}")
    assert tenant["spec"]["nodeSelector"].items() <= first["spec"].get("nodeSelector", {}).items(), first["spec"]
    assert first["spec"]["nodeName"] in checks.RESEARCH_NODES[GROUP], first["spec"]["nodeName"]
    assert_group_limits(first)
    assert_notebook_answers(hub, carol, "carol", notebooks.pod(namespace, "jupyter-carol").ip)
    with Phase("restart carol's server"):
        stop(hub, "carol")
        notebooks.wait_gone(namespace, "jupyter-carol")  # as a kubelet ends a deleted pod's containers
        spawn(hub, carol.session, "carol")
    # A restarted server's pod: the same selector, from the hook and from the namespace Capsule annotated.
    again = get(api, f"/api/v1/namespaces/{namespace}/pods/jupyter-carol")
    assert again["spec"].get("nodeSelector") == tenant["spec"]["nodeSelector"], again["spec"].get("nodeSelector")
    assert_group_limits(again)
    assert again["spec"]["nodeName"] in checks.RESEARCH_NODES[GROUP], again["spec"]["nodeName"]
    assert_notebook_answers(hub, carol, "carol", notebooks.pod(namespace, "jupyter-carol").ip)
    claim = get(api, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/claim-carol")
    assert claim["status"]["phase"] == "Bound"


def assert_group_limits(pod: dict[str, Any]) -> None:
    """Each container of ``pod`` has the group's default limits and, where the chart asks for none, requests.

    Dossier's "fixed" resource policy asks for no form, so its own limits do not apply: the hub's hook and the
    LimitRange Capsule put in the namespace give what the spawner left unset.
    """
    for container in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
        resources = container["resources"]
        print(f"{pod['metadata']['name']} container {container['name']} resources: {resources}")
        assert resources["limits"] == {r: LIMITS[r]["default"] for r in ("cpu", "memory")}, resources
        assert resources["requests"]["cpu"] == LIMITS["cpu"]["defaultRequest"], resources


def assert_notebook_answers(hub: Hub, user: LoginResult, name: str, ip: str) -> None:
    """The user's server answers through the proxy: its API with the user's cookies, not without."""
    assert hub.api(f"users/{name}")["servers"][""]["ready"]
    # As a browser: a page first (the server's OAuth with the hub sets its cookie), then the API.
    assert user.session is not None
    page = user.session.get(hub.url(f"user/{name}/tree"), timeout=30)
    assert page.status_code == 200 and page.url == hub.url(f"user/{name}/tree"), (page.status_code, page.url)
    version = user.session.get(hub.url(f"user/{name}/api"), timeout=30)
    assert (version.status_code, version.json()) == (200, {"version": "6.4.12"}), version.text
    contents = user.session.get(hub.url(f"user/{name}/api/contents"), timeout=30)
    assert contents.status_code == 200 and contents.json()["type"] == "directory", contents.text[:300]
    with hub.session() as stranger:
        assert stranger.get(hub.url(f"user/{name}/api/contents"), allow_redirects=False, timeout=30).status_code == 403
    route = requests.get(f"http://{hub.proxy_pod.ip}:8001/api/routes", timeout=10,
                         headers={"Authorization": f"token {hub.proxy_token}"}).json()
    assert route[f"/user/{name}"]["target"] == f"http://{ip}:8888", route


def test_12f_a_single_valued_tenants_mapper_unmakes_an_admin(deployment: Deployment) -> None:
    servers, hub = deployment.servers, deployment.notes["hub"]
    assert servers.keycloak and servers.realm
    admin, realm = servers.keycloak.admin(), servers.realm.realm
    password = secrets.token_urlsafe(16)
    admin.create_user(realm, "erin", password)
    admin.assign_client_roles(realm, "jupyter", "erin", ["admin", GROUP])
    wrong = login(hub, "erin", password + "x", hub.oauth_callback_url)
    assert (wrong.logged_in, wrong.message) == (False, "Keycloak: Invalid username or password."), wrong
    # The mapper as drift or a broken program would leave it: the claim becomes one of the roles, a string.
    admin.set_mapper_multivalued(realm, "jupyter", TENANTS_CLAIM, False)
    try:
        erin = login(hub, "erin", password, hub.oauth_callback_url)
    finally:
        admin.set_mapper_multivalued(realm, "jupyter", TENANTS_CLAIM, True)
    # Dossier matches a string claim as a set of its characters: no role name matches, so the admin role
    # makes no hub admin, and the login still passes (JupyterHub's default admits every user).
    claim = erin.claims[TENANTS_CLAIM]
    assert erin.logged_in and isinstance(claim, str) and claim in ("admin", GROUP), erin.claims
    assert erin.admin is False and erin.auth_state["tenants"] == claim, erin
    print(f"\nsingle-valued mapper: erin (admin, {GROUP}) logged in with tenants={claim!r}, admin={erin.admin}")


def test_12g_without_the_hubs_group_in_capsule_the_spawn_fails_naming_it(deployment: Deployment) -> None:
    servers, hub = deployment.servers, deployment.notes["hub"]
    assert servers.keycloak and servers.realm and servers.capsule
    admin, realm = servers.keycloak.admin(), servers.realm.realm
    password = secrets.token_urlsafe(16)
    admin.create_user(realm, "frank", password)
    admin.assign_client_roles(realm, "jupyter", "frank", [GROUP])
    frank = login(hub, "frank", password, hub.oauth_callback_url)
    assert frank.logged_in and frank.session, frank
    # Capsule configured as by a `helm upgrade` whose capsuleUserGroups lost the hub's ServiceAccount group.
    servers.capsule.configure([DOSSIER_GROUP])
    try:
        with pytest.raises(SpawnError) as failed:
            spawn(hub, frank.session, "frank", limit=60)
    finally:
        servers.capsule.configure(user_groups(state.NAMESPACE))
    # Dossier's spawner creates the namespace first: the API server's 403, in the hub's log.
    said = str(failed.value)
    assert 'namespaces is forbidden: User \\"system:serviceaccount:jhub:hub\\" cannot create resource' in said \
        or 'namespaces is forbidden: User "system:serviceaccount:jhub:hub" cannot create resource' in said, said
    assert not hub.api("users/frank")["servers"]


def test_12h_remote_spawners_in_the_stack_send_users_to_dossiers_spawner_page(deployment: Deployment) -> None:
    servers, stack, hub = deployment.servers, deployment.stack, deployment.notes["hub"]
    assert servers.keycloak and servers.realm
    remotes = [{"name": name, "class": "dossier.spawners.sshspawner.SSHSpawner",
                "properties": {"host": f"login.{name}.example.org"}, "parameters": {}, "tenants": [GROUP]}
               for name in ("hpc", "cloud")]
    stack.configure({"dossier:spawners": remotes})
    with Phase("up: two remote spawners"):
        assert changes(stack.up().summary.resource_changes).get("create") == len(remotes)
    try:
        # A user who has not spawned yet: Dossier's spawner keeps the choice it made at a first spawn.
        admin, realm, password = servers.keycloak.admin(), servers.realm.realm, secrets.token_urlsafe(16)
        admin.create_user(realm, "gina", password)
        admin.assign_client_roles(realm, "jupyter", "gina", [GROUP])
        gina = login(hub, "gina", password, hub.oauth_callback_url)
        assert gina.logged_in and gina.session, gina
        answer = gina.session.get(hub.url("hub/spawn"), allow_redirects=False, timeout=30)
        # With a Spawner on the cluster, Dossier's spawner sends every user to its spawner page first.
        assert (answer.status_code, answer.headers.get("Location")) == (302, "/hub/spawner/gina"), answer.headers
        page = gina.session.get(hub.url("hub/spawner/gina"), timeout=30)
        assert page.status_code == 200 and "Spawner Selection" in page.text, page.text[:500]
        choices = re.findall(r"<input\s+type='radio'\s+name='spawner'\s+id='([^']*)'\s+value='([^']*)'", page.text)
        # Dossier efd8873's handler renders the Spawners' names, not the entries it builds: one choice per
        # Spawner of the cluster, its id and value empty, and no choice of its own default spawner (docs/e2e.md).
        print(f"\nspawner page of gina with Spawners {[r['name'] for r in remotes]}: choices (id, value) {choices}")
        assert choices == [("spawner-item-", "")] * len(remotes), choices
    finally:
        stack.configure({"dossier:spawners": []})
        with Phase("up: the remote spawners removed"):
            assert changes(stack.up().summary.resource_changes).get("delete") == len(remotes)


def test_12e_a_user_with_two_tenants_chooses_one(deployment: Deployment) -> None:
    stack, hub = deployment.stack, deployment.notes["hub"]
    assert deployment.servers.keycloak and deployment.servers.realm
    stack.configure({"dossier:tenants": tenants([GROUP, ADDED])})
    with Phase(f"up: add {ADDED}"):
        assert changes(stack.up().summary.resource_changes).get("create") == 2
    admin, realm = deployment.servers.keycloak.admin(), deployment.servers.realm.realm
    password = secrets.token_urlsafe(16)
    admin.create_user(realm, "dave", password)
    admin.assign_client_roles(realm, "jupyter", "dave", [GROUP, ADDED])
    dave = login(hub, "dave", password, hub.oauth_callback_url)
    assert dave.logged_in and dave.session and sorted(dave.auth_state["tenants"]) == sorted([GROUP, ADDED]), dave
    with Phase("spawn dave"):
        spawned = spawn(hub, dave.session, "dave", tenant=ADDED)
    assert spawned.pages[:3] == [("hub/spawn", 302), ("/hub/tenant/dave", 200), ("POST /hub/tenant/dave", 302)]
    assert sorted(spawned.tenant_choices) == sorted([GROUP, ADDED]), spawned.tenant_choices
    namespace = f"{ADDED}-{state.NAMESPACE}-dave"
    assert_tenant_namespace(deployment.api, namespace, get(deployment.api,
                                                           f"/apis/capsule.clastix.io/v1beta2/tenants/{ADDED}"))
    notebooks = deployment.notes["notebooks"]
    assert_notebook_answers(hub, dave, "dave", notebooks.pod(namespace, "jupyter-dave").ip)
    stop(hub, "dave")
    stack.configure({"dossier:tenants": tenants([GROUP])})
    with Phase(f"up: remove {ADDED} (its Tenant's namespaces go with it)"):
        assert changes(stack.up().summary.resource_changes).get("delete") == 2
    # The hub, its proxy and the notebooks stop here: the destroy below deletes their pods.
    stop(hub, "carol")
    notebooks.stop()
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
    # Everything on the API server, not only what the stack names: the controllers deleted what the charts made,
    # and the users' namespaces with their Tenants (the garbage collector, Capsule's owner references).
    deadline = time.monotonic() + 120
    while users := [n for n in state.cluster_objects(deployment.api)
                    if n.startswith("namespaces ") and f"-{state.NAMESPACE}-" in n]:
        assert time.monotonic() < deadline, f"users' namespaces left after destroy: {users}"
        time.sleep(1)
    after = state.cluster_objects(deployment.api)
    before = deployment.notes["before"]
    changed = {"left": sorted(after - before), "gone": sorted(before - after)}
    assert changed == {"left": [], "gone": []}, changed
    released = {name: v["claim"] for name, v in volumes(deployment.api).items() if v["phase"] == "Released"}
    print(f"\ndestroyed ({time.strftime('%H:%M:%S')}); on the API server: the {len(after)} objects it held before "
          f"`pulumi up`, nothing else; local volumes Released (reclaim policy Retain, data kept): {released}")
    assert sorted(released.values()) == sorted([
        f"{state.NAMESPACE}/data-jhub-postgresql-{n}" for n in ("primary-0", "read-0", "read-1")]
        + [f"{GROUP}-{state.NAMESPACE}-carol/claim-carol", f"{ADDED}-{state.NAMESPACE}-dave/claim-dave"]), released
