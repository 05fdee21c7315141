"""The e2e servers start, answer, and are stopped by the PIDs they started (``pytest -m e2e e2e/tests``).

The supervisor tests need nothing but Python; the server tests need the
toolchain pieces (``make e2e-tools``) and fail with that instruction without them.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client

from e2e.servers import (
    CertificateAuthority,
    Cluster,
    Keycloak,
    MissingToolError,
    PortInUseError,
    Postgres,
    RealmSetup,
    ServerStartError,
    Supervisor,
    claim_port,
    dossier_nodes,
    prepare_realm,
    server_version_seen_by,
    start_cluster,
    start_keycloak,
    start_postgres,
    tool,
)
from e2e.servers.keycloak_realm import create_provider_account
from e2e.servers.nodes import RESEARCH_GROUP_LABEL
from e2e.servers.storage import STORAGE_CLASS, volumes

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
NODES = dossier_nodes(core=["dossier-control-plane-0"], user=["dossier-worker-0"],
                      research={"genomics": ["dossier-genomics-0"]})


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie is dead, only not yet reaped


# --- supervisor ---------------------------------------------------------------------


def test_stops_what_it_started_and_removes_its_folder() -> None:
    with Supervisor(keep=False) as supervisor:
        process = supervisor.start("sleeper", ["sleep", "300"])
        assert (supervisor.pids / "sleeper.pid").read_text().strip() == str(process.pid)
        assert os.getpgid(process.pid) == process.pid  # its own process group
        folder = supervisor.run_dir
    assert _gone(process.pid)
    assert not folder.exists()


def test_an_exception_stops_the_processes_too() -> None:
    with pytest.raises(RuntimeError), Supervisor(keep=False) as supervisor:
        process = supervisor.start("sleeper", ["sleep", "300"])
        raise RuntimeError("a step failed")
    assert _gone(process.pid)


def test_stopping_waits_until_the_children_are_gone_and_their_port_is_free() -> None:
    with Supervisor(keep=False) as supervisor:
        port = claim_port(None, "test")
        # The leader exits on SIGTERM at once; the child it leaves behind keeps the port until it is killed.
        script = (f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen();"
                  " print('listening', flush=True); time.sleep(300)")
        command = f"trap 'exit 0' TERM; {sys.executable} -c \"{script}\" & wait"
        process = supervisor.start("parent", ["bash", "-c", command])
        supervisor.wait_until(process, lambda: "listening" in process.log.read_text(), limit=30)
        supervisor.stop(process)
        assert claim_port(port, "test") == port  # bindable again the moment stop returns


def test_keep_leaves_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOSSIER_E2E_KEEP", "1")
    with Supervisor() as supervisor:
        supervisor.start("sleeper", ["sleep", "300"])
    assert (supervisor.logs / "sleeper.log").exists()
    assert not (supervisor.pids / "sleeper.pid").exists()
    subprocess.run(["rm", "-rf", str(supervisor.run_dir)], check=True)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 128 + 15), (signal.SIGINT, -signal.SIGINT)])
def test_a_signal_stops_the_processes_and_ends_the_run(signum: int, code: int) -> None:
    script = textwrap.dedent("""
        import time
        from e2e.servers import Supervisor
        with Supervisor(keep=False) as supervisor:
            process = supervisor.start("sleeper", ["sleep", "300"])
            print(process.pid, supervisor.run_dir, flush=True)
            time.sleep(300)
    """)
    run = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert run.stdout is not None
    pid, folder = run.stdout.readline().split()
    run.send_signal(signum)
    assert run.wait(30) == code  # SIGINT: KeyboardInterrupt, which Python ends by dying of SIGINT
    assert _gone(int(pid))
    assert not Path(folder).exists()


def test_a_server_that_does_not_come_up_fails_with_its_name_limit_and_log() -> None:
    with Supervisor(keep=False) as supervisor:
        process = supervisor.start("slowpoke", ["sh", "-c", "echo warming up; sleep 300"])
        with pytest.raises(ServerStartError) as failure:
            supervisor.wait_until(process, lambda: False, limit=1, what="ready")
    message = str(failure.value)
    assert "slowpoke was not ready within its limit of 1 s" in message
    assert "warming up" in message


def test_a_server_that_exits_fails_with_its_exit_code_and_log() -> None:
    with Supervisor(keep=False) as supervisor:
        process = supervisor.start("crasher", ["sh", "-c", "echo bad flag >&2; exit 3"])
        with pytest.raises(ServerStartError, match=r"crasher exited with code 3 before it was ready(.|\n)*bad flag"):
            supervisor.wait_until(process, lambda: False, limit=30)


def test_a_fixed_port_in_use_is_refused_by_number() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} in use on 127.0.0.1: cannot start Keycloak"):
            claim_port(port, "Keycloak")
    assert claim_port(port, "Keycloak") == port


def test_a_missing_toolchain_program_names_its_piece_and_make_e2e_tools(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOSSIER_E2E_CACHE", str(tmp_path))
    with pytest.raises(MissingToolError, match=r"etcd is not built: toolchain piece e2e/toolchain/etcd .*e2e-tools"):
        tool("etcd", "etcd")


# --- servers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[Supervisor, CertificateAuthority]]:
    with Supervisor() as supervisor:
        yield supervisor, CertificateAuthority(supervisor.path("ca"))


@pytest.fixture(scope="module")
def cluster(run: tuple[Supervisor, CertificateAuthority]) -> Cluster:
    return start_cluster(*run, context="e2e-test", nodes=NODES)


@pytest.fixture(scope="module")
def keycloak(run: tuple[Supervisor, CertificateAuthority]) -> Keycloak:
    return start_keycloak(*run)


@pytest.fixture(scope="module")
def realm(keycloak: Keycloak) -> RealmSetup:
    return prepare_realm(keycloak)


@pytest.fixture(scope="module")
def postgres(run: tuple[Supervisor, CertificateAuthority]) -> Postgres:
    return start_postgres(run[0])


def test_cluster_answers_through_its_kubeconfig(cluster: Cluster) -> None:
    api = cluster.api_client()
    assert client.VersionApi(api).get_code().git_version == "v1.35.4"
    assert sorted(str(n.metadata and n.metadata.name) for n in client.CoreV1Api(api).list_node().items) == sorted(
        n.name for n in NODES)
    assert cluster.url.startswith("https://127.0.0.1:")


def test_rbac_refuses_the_limited_token(cluster: Cluster) -> None:
    with pytest.raises(client.ApiException) as refused:
        client.CoreV1Api(cluster.api_client(cluster.limited_token)).list_namespace()
    assert refused.value.status == 403


def test_the_crds_are_served_with_their_names_and_schemas(cluster: Cluster) -> None:
    api = cluster.api_client()
    resources = {(r.name, r.namespaced, tuple(r.short_names or ())) for group in (
        ("capsule.clastix.io", "v1beta2"), ("cert-manager.io", "v1"), ("projectcontour.io", "v1"))
        for r in client.CustomObjectsApi(api).get_api_resources(*group).resources if "/" not in r.name}
    assert resources == {("tenants", False, ("tnt",)), ("certificates", True, ("cert", "certs")),
                         ("httpproxies", True, ("proxy", "proxies"))}
    objects = client.CustomObjectsApi(api)
    objects.create_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants", {
        "apiVersion": "capsule.clastix.io/v1beta2", "kind": "Tenant", "metadata": {"name": "t1"},
        "spec": {"owners": [{"kind": "User", "name": "alice"}], "preventDeletion": True}})
    with pytest.raises(client.ApiException) as invalid:
        objects.create_namespaced_custom_object("cert-manager.io", "v1", "default", "certificates", {
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c1"},
            "spec": {"secretName": "s", "issuerRef": {"name": "i"}, "dnsNames": "not-a-list"}})
    assert invalid.value.status == 422


def _wait(what: str, probe: Callable[[], Any], limit: float = 90.0) -> Any:
    deadline = time.monotonic() + limit
    while not (found := probe()):
        assert time.monotonic() < deadline, f"{what}: not within {limit:.0f} s"
        time.sleep(0.5)
    return found


def test_nodes_are_ready_labelled_and_tainted_like_a_dossier_cluster(cluster: Cluster) -> None:
    core: Any = client.CoreV1Api(cluster.api_client())
    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert sorted(nodes) == sorted(n.name for n in NODES)
    for node in nodes.values():
        assert [c.status for c in node.status.conditions if c.type == "Ready"] == ["True"], node.metadata.name
    control_plane = nodes["dossier-control-plane-0"]
    assert "node-role.kubernetes.io/control-plane" in control_plane.metadata.labels
    assert [(t.key, t.effect) for t in control_plane.spec.taints] == [
        ("node-role.kubernetes.io/control-plane", "NoSchedule")]
    assert nodes["dossier-genomics-0"].metadata.labels[RESEARCH_GROUP_LABEL] == "genomics"


def test_a_deployment_gets_a_running_pod_on_a_node_that_admits_it(cluster: Cluster) -> None:
    api = cluster.api_client()
    core: Any = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="apps")))
    # The serviceaccount controller gives every namespace its default ServiceAccount (admission needs it).
    _wait("the default ServiceAccount", lambda: core.list_namespaced_service_account("apps").items)
    container = client.V1Container(name="web", image="nginx")
    pod = client.V1PodSpec(containers=[container], node_selector={"kubernetes.io/hostname": "dossier-worker-0"})
    client.AppsV1Api(api).create_namespaced_deployment("apps", client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(replicas=1, selector=client.V1LabelSelector(match_labels={"app": "web"}),
                                     template=client.V1PodTemplateSpec(
                                         metadata=client.V1ObjectMeta(labels={"app": "web"}), spec=pod))))
    running = _wait("a Running pod", lambda: [p for p in core.list_namespaced_pod("apps").items
                                              if p.status.phase == "Running"])
    assert running[0].spec.node_name == "dossier-worker-0"
    assert ipaddress.ip_address(running[0].status.pod_ip) in ipaddress.ip_network(cluster.pod_cidr, strict=False)
    # Without a toleration the scheduler leaves a pod for the control plane Pending, saying why.
    core.create_namespaced_pod("apps", client.V1Pod(metadata=client.V1ObjectMeta(name="stuck"), spec=client.V1PodSpec(
        containers=[container], node_selector={"node-role.kubernetes.io/control-plane": ""})))
    event = _wait("FailedScheduling", lambda: [e for e in core.list_namespaced_event("apps").items
                                               if e.reason == "FailedScheduling" and e.involved_object.name == "stuck"])
    assert "1 node(s) had untolerated taint(s)" in event[0].message, event[0].message


def test_a_claim_binds_a_local_volume_of_the_node_its_pod_lands_on(cluster: Cluster) -> None:
    core: Any = client.CoreV1Api(cluster.api_client())
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="data")))
    _wait("the default ServiceAccount", lambda: core.list_namespaced_service_account("data").items)
    requests = client.V1VolumeResourceRequirements(requests={"storage": "1Gi"})
    core.create_namespaced_persistent_volume_claim("data", client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="db"),
        spec=client.V1PersistentVolumeClaimSpec(access_modes=["ReadWriteOnce"], resources=requests)))
    volume = client.V1Volume(name="data",
                             persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(claim_name="db"))
    core.create_namespaced_pod("data", client.V1Pod(metadata=client.V1ObjectMeta(name="db"), spec=client.V1PodSpec(
        containers=[client.V1Container(name="db", image="postgres")],
        node_selector={"kubernetes.io/hostname": "dossier-worker-0"}, volumes=[volume])))
    _wait("the claim Bound", lambda: core.read_namespaced_persistent_volume_claim("db", "data").status.phase == "Bound")
    claim = core.read_namespaced_persistent_volume_claim("db", "data")
    assert claim.spec.storage_class_name == STORAGE_CLASS  # the default class
    assert volumes(cluster.api_client())[claim.spec.volume_name]["node"] == "dossier-worker-0"


def test_the_namespace_controller_empties_and_removes_a_deleted_namespace(cluster: Cluster) -> None:
    core: Any = client.CoreV1Api(cluster.api_client())
    for name in ("doomed", "held"):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="left")))
    core.delete_namespace("doomed")
    _wait("doomed gone", lambda: "doomed" not in {n.metadata.name for n in core.list_namespace().items})
    # Without the namespace controller (as a fault case runs it) a deleted namespace stays Terminating.
    cluster.restart_controller_manager("*,-namespace-controller")
    core.delete_namespace("held")
    time.sleep(10)
    assert core.read_namespace("held").status.phase == "Terminating"
    assert cluster.namespace_contents("held") == ["configmaps/kube-root-ca.crt", "configmaps/left",
                                                  "serviceaccounts/default"]
    cluster.restart_controller_manager()
    _wait("held gone", lambda: "held" not in {n.metadata.name for n in core.list_namespace().items})


def test_keycloak_serves_the_realm_over_https_with_the_run_ca(keycloak: Keycloak, realm: RealmSetup) -> None:
    discovery = requests.get(f"{keycloak.issuer('dossier')}/.well-known/openid-configuration",
                             verify=str(keycloak.ca_cert), timeout=10).json()
    assert discovery["issuer"] == f"https://localhost:{keycloak.port}/realms/dossier"


def test_the_test_users_log_in_with_their_passwords(keycloak: Keycloak, realm: RealmSetup) -> None:
    def login(password: str) -> int:
        return requests.post(f"{keycloak.issuer('dossier')}/protocol/openid-connect/token", timeout=10,
                             verify=str(keycloak.ca_cert), data={"grant_type": "password", "client_id": "admin-cli",
                                                                 "username": "alice", "password": password}).status_code
    assert login(realm.users["alice"]) == 200
    assert login("wrong") == 401


def test_the_provider_account_in_either_realm_sees_the_server_version(keycloak: Keycloak, realm: RealmSetup) -> None:
    # What the Terraform provider inside pulumi-keycloak reads at login ("Malformed version" when empty).
    in_realm = create_provider_account(keycloak, keycloak.admin(), provider_realm="dossier", client_id="pulumi-realm")
    assert realm.provider.realm == "master"
    assert server_version_seen_by(keycloak, realm.provider) == "26.5.5"
    assert server_version_seen_by(keycloak, in_realm) == "26.5.5"


def test_admin_helpers_assign_roles_and_change_the_mapper(keycloak: Keycloak, realm: RealmSetup) -> None:
    admin = keycloak.admin()
    admin.create_client("dossier", {"clientId": "hub", "publicClient": True, "directAccessGrantsEnabled": True,
                                    "protocolMappers": [{"name": "tenants", "protocol": "openid-connect",
                                                         "protocolMapper": "oidc-usermodel-client-role-mapper",
                                                         "config": {"claim.name": "tenants", "multivalued": "true",
                                                                    "usermodel.clientRoleMapping.clientId": "hub",
                                                                    "access.token.claim": "true",
                                                                    "userinfo.token.claim": "true"}}]})
    hub = admin.client("dossier", "hub")
    for role in ("admin", "genomics"):
        admin.post(f"/dossier/clients/{hub['id']}/roles", {"name": role})
    admin.assign_client_roles("dossier", "hub", "alice", ["admin", "genomics"])
    assert admin.user_client_roles("dossier", "hub", "alice") == ["admin", "genomics"]
    assert sorted(admin.example_userinfo("dossier", "hub", "alice")["tenants"]) == ["admin", "genomics"]
    admin.set_mapper_multivalued("dossier", "hub", "tenants", False)
    assert admin.mapper("dossier", "hub", "tenants")["config"]["multivalued"] == "false"
    # Single-valued, the claim is one of the roles, as a string.
    assert admin.example_userinfo("dossier", "hub", "alice")["tenants"] in ("admin", "genomics")


def test_postgres_gets_the_chart_user_and_database_from_the_secret(postgres: Postgres) -> None:
    secret = {"password": "user-'pw", "postgres-password": "admin-pw", "replication-password": "r"}
    postgres.create_chart_database(secret)
    assert postgres.can_login("jhub", "user-'pw", "jhub")
    assert postgres.can_login("postgres", "admin-pw", "postgres")
    assert not postgres.can_login("jhub", "wrong", "jhub")
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'jhub'")
        assert cursor.fetchone() == ("jhub",)
    postgres.set_password("jhub", "rotated")
    assert postgres.can_login("jhub", "rotated", "jhub")
    assert not postgres.can_login("jhub", "user-'pw", "jhub")


def test_the_cli_prints_how_to_reach_the_servers_and_stops_them_on_ctrl_c() -> None:
    # The command docs/e2e.md shows (tests/doc_commands.py points here).
    up = subprocess.Popen([sys.executable, "-m", "e2e.servers", "up", "--keep"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert up.stdout is not None
    lines = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        lines.append(up.stdout.readline())
        if "Ctrl-C stops them" in lines[-1] or not lines[-1]:
            break
    printed = "".join(lines)
    assert "Ctrl-C stops them" in printed, printed
    folder = Path(printed.split("run folder", 1)[1].split()[0])
    pids = {name: int((folder / "pids" / f"{name}.pid").read_text())
            for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "keycloak",
                         "postgresql")}
    up.send_signal(signal.SIGINT)
    assert up.wait(120) == 0, printed + up.stdout.read()
    for text in ("cluster       https://127.0.0.1:", "kubeconfig  ", "keycloak      https://localhost:",
                 "provider    client pulumi / ", "user        alice / ", "postgresql    127.0.0.1:"):
        assert text in printed
    assert all(_gone(pid) for pid in pids.values())
    assert (folder / "logs" / "keycloak.log").is_file()  # --keep
    assert not any((folder / "pids").iterdir())
    subprocess.run(["rm", "-rf", str(folder)], check=True)


@pytest.mark.parametrize("placement", ["master", "dossier"])
def test_the_pulumi_keycloak_provider_works_with_its_account_in(
        placement: str, keycloak: Keycloak, realm: RealmSetup, run: tuple[Supervisor, CertificateAuthority],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi
    import pulumi_keycloak
    from pulumi import automation as auto

    account = realm.provider if placement == "master" else create_provider_account(
        keycloak, keycloak.admin(), provider_realm="dossier", client_id="pulumi-in-realm")
    assert account.realm == placement
    home = run[0].path(f"pulumi-{placement}")
    path = os.pathsep.join([str(tool("pulumi", "pulumi").parent),
                            str(tool("keycloak", "pulumi-resource-keycloak").parent), os.environ["PATH"]])
    env = {"PATH": path, "PULUMI_CONFIG_PASSPHRASE": "throwaway", "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true", "PULUMI_BACKEND_URL": f"file://{home}"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the automation API runs the CLI it finds on PATH
    client_id = f"probe-{placement}"

    def program() -> None:
        provider = pulumi_keycloak.Provider("keycloak", url=account.url, realm=account.realm,
                                            client_id=account.client_id, client_secret=account.client_secret,
                                            root_ca_certificate=account.ca_pem)
        opts = pulumi.ResourceOptions(provider=provider)
        hub = pulumi_keycloak.openid.Client("client", realm_id="dossier", client_id=client_id,
                                            access_type="CONFIDENTIAL", standard_flow_enabled=True,
                                            valid_redirect_uris=["https://hub.example.org/hub/oauth_callback"],
                                            opts=opts)
        pulumi_keycloak.Role("role", realm_id="dossier", client_id=hub.id, name="admin", opts=opts)

    options = auto.LocalWorkspaceOptions(work_dir=str(home), pulumi_home=str(home / ".pulumi"), env_vars=env)
    stack = auto.create_or_select_stack("probe", project_name=client_id, program=program, opts=options)
    assert stack.up().summary.resource_changes == {"create": 4}  # stack, provider, client, role
    assert [r["name"] for r in keycloak.admin().client_roles("dossier", client_id)] == ["admin"]
    stack.destroy()
    assert keycloak.admin().find_client("dossier", client_id) is None
