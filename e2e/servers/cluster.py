"""A Kubernetes API server of the run's own: etcd and kube-apiserver on 127.0.0.1.

``start_cluster(supervisor, ca, context="e2e", nodes=[...])`` starts etcd
(``--unsafe-no-fsync``, data in the run's folder) and kube-apiserver with token
authentication (``admin`` in ``system:masters``; ``e2e-limited`` in no group,
which RBAC lets do nothing but discovery), RBAC, service-account keys, TLS from
the run's CA, ``--endpoint-reconciler-type=none`` and
``--disable-admission-plugins=ServiceAccount``; writes a kubeconfig (context
``context``, the CA's data, the admin token); installs the Tenant, Certificate
and HTTPProxy CRDs (``e2e/servers/crds.py``) and creates a Node object for each
name in ``nodes``.

What a bare API server does not do (there is no controller manager, scheduler or
kubelet): a deleted Namespace stays ``Terminating`` forever, because only the
namespace controller deletes its content and removes its ``kubernetes``
finalizer (``Cluster.finalize_namespace`` does both, like that controller); no
garbage collection of objects whose owner is gone; no pod is scheduled or runs
(Deployments, StatefulSets and Jobs get no pods); no service-account token
Secrets, ``default`` ServiceAccounts or ``kube-root-ca.crt`` ConfigMaps appear in
new namespaces; Node status is whatever was written (no heartbeats).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from kubernetes import client, config

from e2e.servers.certs import CertificateAuthority, rsa_service_account_keys
from e2e.servers.crds import CRDS, CrdSpec, install_crds, kube_request
from e2e.servers.supervisor import HOST, Process, Supervisor, claim_port, free_port, tool

ADMIN_USER = "admin"
#: The Services' cluster IPs (--service-cluster-ip-range); nothing routes them but the pods' network (pods/).
SERVICE_CIDR = "10.96.0.0/16"
LIMITED_USER = "e2e-limited"
ETCD_LIMIT = 60.0
APISERVER_LIMIT = 180.0


@dataclass
class Cluster:
    """A running API server: where it is, how to reach it, and helpers for what no controller does here."""

    url: str
    kubeconfig: Path
    context: str
    ca_cert: Path
    admin_token: str
    limited_token: str
    etcd: Process
    apiserver: Process
    seconds: dict[str, float]
    """How long each step took (etcd, kube-apiserver, crds, nodes)."""

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

    def create_nodes(self, names: list[str] | tuple[str, ...]) -> None:
        """Node objects named ``names``, labelled as a kubelet would label them (hostname, os, arch)."""
        core = client.CoreV1Api(self.api_client())
        for name in names:
            labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
            core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=name, labels=labels)))

    def namespace_contents(self, namespace: str) -> list[str]:
        """``resource/name`` of every object left in ``namespace`` (all namespaced, listable resources)."""
        api = self.api_client()
        found: list[str] = []
        for base, resource in _namespaced_resources(api, verb="list"):
            items = kube_request(api, "GET", f"{base}/namespaces/{namespace}/{resource}").get("items", [])
            found += [f"{resource}/{item['metadata']['name']}" for item in items]
        return sorted(found)

    def finalize_namespace(self, namespace: str, purge: bool = True) -> bool:
        """Finish deleting a Terminating ``namespace`` as the namespace controller would; False if not deleting.

        With ``purge`` its remaining objects are deleted first (the controller's job);
        then the ``kubernetes`` finalizer is removed through the ``/finalize``
        subresource and the API server removes the namespace.
        """
        api = self.api_client()
        core = client.CoreV1Api(api)
        try:
            current = core.read_namespace(namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        if current.metadata is None or current.metadata.deletion_timestamp is None:
            return False
        if purge:
            for base, resource in _namespaced_resources(api, verb="deletecollection"):
                kube_request(api, "DELETE", f"{base}/namespaces/{namespace}/{resource}")
        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace),
                                  spec=client.V1NamespaceSpec(finalizers=[]))
        core.replace_namespace_finalize(namespace, body)
        return True

    def finalize_terminating_namespaces(self, purge: bool = True) -> list[str]:
        """``finalize_namespace`` for every Terminating namespace; their names."""
        core = client.CoreV1Api(self.api_client())
        terminating = [str(ns.metadata.name) for ns in core.list_namespace().items
                       if ns.metadata is not None and ns.metadata.deletion_timestamp is not None]
        return [name for name in terminating if self.finalize_namespace(name, purge)]


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
                  nodes: list[str] | tuple[str, ...] = (), crds: bool = True, port: int | None = None,
                  etcd_limit: float = ETCD_LIMIT, apiserver_limit: float = APISERVER_LIMIT,
                  crd_specs: tuple[CrdSpec, ...] = CRDS) -> Cluster:
    """Etcd + kube-apiserver, kubeconfig, CRDs and Nodes (see the module doc); the port is free unless given.

    ``crd_specs``: which of the pinned-schema CRDs (``crds.WITHOUT_TENANT`` where Capsule brings its own).
    """
    etcd_bin, apiserver_bin = tool("etcd", "etcd"), tool("kube-apiserver", "kube-apiserver")
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
    tokens = folder / "tokens.csv"
    tokens.touch(mode=0o600)
    tokens.write_text(f'{admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n'
                      f"{limited_token},{LIMITED_USER},{LIMITED_USER}\n")
    serving = ca.issue("kube-apiserver")
    service_accounts = rsa_service_account_keys(folder)
    apiserver = supervisor.start("kube-apiserver", [
        apiserver_bin, f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={secure_port}",
        f"--etcd-servers={etcd_url}", f"--cert-dir={folder / 'certs'}",
        f"--tls-cert-file={serving.cert_path}", f"--tls-private-key-file={serving.key_path}",
        f"--token-auth-file={tokens}", "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={service_accounts.cert_path}",
        f"--service-account-signing-key-file={service_accounts.key_path}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # No endpoint reconciler (nothing to publish) and no ServiceAccount admission (no token controller).
        "--endpoint-reconciler-type=none", "--disable-admission-plugins=ServiceAccount",
        "--profiling=false",
    ])
    seconds["kube-apiserver"] = supervisor.wait_until(
        apiserver, lambda: requests.get(f"{url}/readyz", verify=str(ca.cert_path), timeout=5).status_code == 200,
        limit=apiserver_limit, what="ready (/readyz)")

    kubeconfig = folder / "kubeconfig"
    write_kubeconfig(kubeconfig, url, ca, admin_token, context)
    cluster = Cluster(url, kubeconfig, context, ca.cert_path, admin_token, limited_token, etcd, apiserver, seconds)
    if crds:
        seconds["crds"] = max(install_crds(cluster.api_client(), specs=crd_specs).values())
    cluster.create_nodes(nodes)
    return cluster
