"""A cluster of the run's own on 127.0.0.1: etcd, kube-apiserver, the controllers, the scheduler, kwok's nodes.

``start_cluster(supervisor, ca, context="e2e", nodes=[...])`` starts etcd
(``--unsafe-no-fsync``, data in the run's folder) and kube-apiserver with token
authentication (``admin`` in ``system:masters``; ``e2e-limited`` in no group,
which RBAC lets do nothing but discovery; one user per control-plane
component), RBAC, service-account keys, TLS from the run's CA, privileged
containers allowed (as kubeadm does) and ``--endpoint-reconciler-type=none``
(the API server's address is loopback, which an Endpoints object may not
hold); writes a kubeconfig (context ``context``, the CA's data, the admin
token); installs the Tenant, Certificate and HTTPProxy CRDs
(``e2e/servers/crds.py``); then starts kube-controller-manager,
kube-scheduler and kwok (``control_plane.py``), creates the Nodes
(``nodes.py``: names or ``NodeSpec``s), waits until kwok has made them Ready
and provisions local volumes on them (``storage.py``).

What Kubernetes does on a real cluster it does here, with its own code: the
namespace controller empties and removes deleted namespaces, the garbage
collector deletes what an owner leaves, Deployments and StatefulSets get pods,
the scheduler binds them to nodes, kwok reports them Running. What differs is
listed in docs/e2e.md ("What is stood in").
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml
from kubernetes import client, config

from e2e.servers import control_plane, storage
from e2e.servers import nodes as nodes_module
from e2e.servers.certs import CertificateAuthority, rsa_service_account_keys
from e2e.servers.control_plane import Component
from e2e.servers.crds import CRDS, CrdSpec, apply_crds, install_crds, kube_request
from e2e.servers.nodes import NodeSpec
from e2e.servers.supervisor import HOST, Process, Supervisor, claim_port, free_port, piece_file, tool

ADMIN_USER = "admin"
#: The Services' cluster IPs (--service-cluster-ip-range); nothing routes them but the pods' network (pods/).
SERVICE_CIDR = "10.96.0.0/16"
LIMITED_USER = "e2e-limited"
ETCD_LIMIT = 60.0
APISERVER_LIMIT = 180.0
NODES_LIMIT = 120.0
#: Local volumes per node (``storage.py``). PostgreSQL's primary and read replicas claim 3 on the
#: control plane per deploy, and a destroyed deploy leaves them Released (``Retain``, no deleter):
#: enough for the up-and-destroy rounds of a run (``make bench-real`` makes the most).
VOLUMES_PER_NODE = 2
VOLUMES_ON_CONTROL_PLANE = 24


@dataclass
class Cluster:
    """A running cluster: where it is, how to reach it, its processes."""

    url: str
    kubeconfig: Path
    context: str
    ca_cert: Path
    admin_token: str
    limited_token: str
    etcd: Process
    apiserver: Process
    seconds: dict[str, float]
    """How long each step took (etcd, kube-apiserver, crds, controllers, scheduler, nodes)."""
    controller_manager: Process | None = None
    scheduler: Process | None = None
    kwok: Process | None = None
    pod_cidr: str = ""
    nodes: list[str] = field(default_factory=list)
    supervisor: Supervisor | None = None
    ca: CertificateAuthority | None = None

    def api_client(self, token: str | None = None) -> client.ApiClient:
        """A ``kubernetes`` client: from the kubeconfig (admin), or with another bearer ``token``."""
        if token is None:
            return config.new_client_from_config(config_file=str(self.kubeconfig), context=self.context)
        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = str(self.ca_cert)
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(configuration)

    def create_nodes(self, specs: Iterable[str | NodeSpec], limit: float = NODES_LIMIT) -> float:
        """Nodes (``nodes.py``); seconds until kwok has made them Ready."""
        api = self.api_client()
        names = nodes_module.create_nodes(api, specs)
        self.nodes += names
        alive = self.kwok.alive if self.kwok is not None else None
        return nodes_module.wait_ready(api, names, limit, alive)

    def restart_controller_manager(self, controllers: str = "*") -> float:
        """kube-controller-manager again with ``--controllers=<controllers>``; seconds until healthy."""
        assert self.supervisor and self.ca and self.controller_manager
        self.controller_manager, seconds = control_plane.restart_controller_manager(
            self.supervisor, self.controller_manager, self.ca, controllers)
        return seconds

    def namespace_contents(self, namespace: str) -> list[str]:
        """``resource/name`` of every object left in ``namespace`` (all namespaced, listable resources)."""
        api = self.api_client()
        found: list[str] = []
        for base, resource in _namespaced_resources(api, verb="list"):
            items = kube_request(api, "GET", f"{base}/namespaces/{namespace}/{resource}").get("items", [])
            found += [f"{resource}/{item['metadata']['name']}" for item in items]
        return sorted(found)


def _namespaced_resources(api: client.ApiClient, verb: str) -> list[tuple[str, str]]:
    """(API base path, resource) of every namespaced top-level resource that supports ``verb``."""
    bases = ["/api/v1"]
    for group in kube_request(api, "GET", "/apis").get("groups", []):
        bases.append(f"/apis/{group['preferredVersion']['groupVersion']}")
    found = []
    for base in bases:
        for resource in kube_request(api, "GET", base).get("resources", []):
            if resource.get("namespaced") and "/" not in resource["name"] and verb in resource.get("verbs", []):
                found.append((base, resource["name"]))
    return found


def write_kubeconfig(path: Path, url: str, ca: CertificateAuthority, token: str, context: str) -> None:
    """A kubeconfig with one cluster, user and context, all named ``context``."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {
            "server": url, "certificate-authority-data": base64.b64encode(ca.cert_pem).decode()}}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def start_cluster(supervisor: Supervisor, ca: CertificateAuthority, *, context: str = "e2e",
                  nodes: Iterable[str | NodeSpec] = (), crds: bool = True, port: int | None = None,
                  controllers: str = "*", etcd_limit: float = ETCD_LIMIT,
                  apiserver_limit: float = APISERVER_LIMIT, crd_specs: tuple[CrdSpec, ...] = CRDS) -> Cluster:
    """The whole cluster (see the module doc); the API server's port is free unless given.

    ``crd_specs``: which of the pinned-schema CRDs (``crds.WITHOUT_TENANT`` where Capsule brings its own).
    """
    etcd_bin, apiserver_bin = tool("etcd", "etcd"), tool(control_plane.PIECE, "kube-apiserver")
    folder = supervisor.path("cluster")
    seconds: dict[str, float] = {}

    client_port, peer_port = free_port(), free_port()
    etcd_url = f"http://{HOST}:{client_port}"
    peer_url = f"http://{HOST}:{peer_port}"
    etcd = supervisor.start("etcd", [
        etcd_bin, "--name=e2e", f"--data-dir={folder / 'etcd'}", "--unsafe-no-fsync",
        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=e2e={peer_url}", "--log-level=warn",
    ])
    seconds["etcd"] = supervisor.wait_until(
        etcd, lambda: requests.get(f"{etcd_url}/health", timeout=2).json().get("health") == "true",
        limit=etcd_limit, what="healthy")

    secure_port = claim_port(port, "kube-apiserver")
    url = f"https://{HOST}:{secure_port}"
    admin_token, limited_token = secrets.token_hex(24), secrets.token_hex(24)
    components = {user: Component(user, secrets.token_hex(24), folder / f"{user.rsplit(':', 1)[-1]}.kubeconfig")
                  for user in (control_plane.CONTROLLER_MANAGER_USER, control_plane.SCHEDULER_USER,
                               control_plane.KWOK_USER)}
    tokens = folder / "tokens.csv"
    tokens.touch(mode=0o600)
    # kwok acts for every node's kubelet; a real kubelet is narrowed by the Node authorizer, kwok is an admin.
    tokens.write_text(f'{admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
                      f"{limited_token},{LIMITED_USER},{LIMITED_USER}\n"
                      + "".join(f"{c.token},{c.user},{c.user}"
                                + (',"system:masters"' if c.user == control_plane.KWOK_USER else "") + "\n"
                                for c in components.values()))
    serving = ca.issue("kube-apiserver")
    service_accounts = rsa_service_account_keys(folder)
    apiserver = supervisor.start("kube-apiserver", [
        apiserver_bin, f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={secure_port}",
        f"--etcd-servers={etcd_url}", f"--cert-dir={folder / 'certs'}",
        f"--tls-cert-file={serving.cert_path}", f"--tls-private-key-file={serving.key_path}",
        f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
        # Client certificates of the run's CA (none is issued): the API server then publishes its
        # extension-apiserver-authentication ConfigMap, which the controllers' own servers read.
        f"--client-ca-file={ca.cert_path}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={service_accounts.cert_path}",
        f"--service-account-signing-key-file={service_accounts.key_path}",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
        # The API server's address is loopback, which an Endpoints object may not hold: nothing to publish.
        "--endpoint-reconciler-type=none",
        # A Tenant's nodeSelector reaches its pods through the namespace annotation Capsule sets, which
        # only this plugin applies (a Dossier cluster enables it: docs/research-groups.md).
        "--enable-admission-plugins=PodNodeSelector",
        # The kubelet API (kwok's, for every node) at the node's InternalIP: its Hostname address is the
        # node's name, which no DNS resolves here. Its certificate is the run's CA's.
        "--kubelet-preferred-address-types=InternalIP", f"--kubelet-certificate-authority={ca.cert_path}",
        "--profiling=false",
    ])
    seconds["kube-apiserver"] = supervisor.wait_until(
        apiserver, lambda: requests.get(f"{url}/readyz", verify=str(ca.cert_path), timeout=5).status_code == 200,
        limit=apiserver_limit, what="ready (/readyz)")

    kubeconfig = folder / "kubeconfig"
    write_kubeconfig(kubeconfig, url, ca, admin_token, context)
    for component in components.values():
        write_kubeconfig(component.kubeconfig, url, ca, component.token, context)
    cluster = Cluster(url, kubeconfig, context, ca.cert_path, admin_token, limited_token, etcd, apiserver, seconds,
                      pod_cidr=control_plane.random_pod_cidr(), supervisor=supervisor, ca=ca)
    if crds:
        seconds["crds"] = max(install_crds(cluster.api_client(), specs=crd_specs).values())
    cluster.controller_manager, seconds["kube-controller-manager"] = control_plane.start_controller_manager(
        supervisor, control_plane.controller_manager_argv(
            components[control_plane.CONTROLLER_MANAGER_USER], ca, service_accounts.key_path,
            folder / "controller-manager", controllers), ca)
    cluster.scheduler, seconds["kube-scheduler"] = control_plane.start_scheduler(
        supervisor, components[control_plane.SCHEDULER_USER], ca, folder / "scheduler")
    # kwok watches its Exec and PortForward objects from the start: their CRDs first.
    seconds["kwok crds"] = max(apply_crds(cluster.api_client(), [
        yaml.safe_load(path.read_text()) for path in sorted(piece_file("kwok", "crds").glob("*.yaml"))]).values())
    cluster.kwok = control_plane.start_kwok(supervisor, components[control_plane.KWOK_USER], folder,
                                            cluster.pod_cidr, ca)
    specs = nodes_module.as_specs(nodes)
    seconds["nodes"] = cluster.create_nodes(specs)
    storage.provision_local_volumes(cluster.api_client(), folder / "volumes", {
        spec.name: VOLUMES_ON_CONTROL_PLANE if nodes_module.CONTROL_PLANE in spec.labels else VOLUMES_PER_NODE
        for spec in specs})
    return cluster
