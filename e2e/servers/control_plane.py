"""What acts on the API server's objects: kube-controller-manager, kube-scheduler and kwok.

``start_controller_manager`` runs kube-controller-manager 1.35.4 (the
``kube-control-plane`` piece) as kubeadm configures it, on loopback: its own
kubeconfig (user ``system:kube-controller-manager``, whom the bootstrap RBAC
policy binds), ``--use-service-account-credentials`` (each controller acts as
its own service account), the service-account signing key (token Secrets) and
the run's CA as ``--root-ca-file`` (``kube-root-ca.crt`` in every namespace),
no leader election, its secure port a free one with a certificate of the run's
CA, ``--controllers`` as asked (``"*"``: all that start by default).
``restart_controller_manager`` starts it again with other controllers: a fault
case runs it without the namespace controller (``"*,-namespace-controller"``).

``start_scheduler`` runs kube-scheduler 1.35.4 the same way (user
``system:kube-scheduler``). ``start_kwok`` runs kwok v0.7.0 (the ``kwok`` piece)
for every Node (``--manage-all-nodes``): it keeps them Ready with leases and
turns each pod bound to one into a Running, Ready pod (a Job's pod into a
Succeeded one) without running anything, renewing a Lease per node every 10 s
as a kubelet does, its IP from ``pod_cidr``, a range of
its own inside 127.0.0.0/8 (a process of the run can bind such an address).
kwok reads no configuration of the user's: its work dir is the run's.

kwok also serves the kubelet API of its nodes (``--server-address``, TLS from
the run's CA; each Node's ``daemonEndpoints`` names that port), so ``kubectl
exec`` and ``kubectl port-forward`` reach it through the API server as they
reach a kubelet. What they reach in a simulated pod is said by kwok's ``Exec``
and ``PortForward`` objects (``--enable-crds``; ``pod_exec.py``): a local
command, a local address.
"""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from e2e.servers.certs import CertificateAuthority
from e2e.servers.supervisor import HOST, Process, Supervisor, free_port, tool

PIECE = "kube-control-plane"
COMPONENT_LIMIT = 120.0
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"
KWOK_USER = "kwok"
NODE_LEASE_SECONDS = 40


@dataclass(frozen=True)
class Component:
    """How a control-plane component reaches the API server: its kubeconfig (its own user and token)."""

    user: str
    token: str
    kubeconfig: Path


def random_pod_cidr() -> str:
    """A /24 inside 127.0.0.0/8 away from 127.0.0.x, as kwok's ``--cidr`` (its first address is the gateway)."""
    network = ipaddress.ip_network(f"127.{random.randint(64, 254)}.{random.randint(0, 255)}.0/24")
    return f"{network.network_address + 1}/{network.prefixlen}"


def _healthy(url: str, ca: CertificateAuthority) -> bool:
    return requests.get(url, verify=str(ca.cert_path), timeout=5).text == "ok"


def _serving(name: str, kubeconfig: Path, ca: CertificateAuthority, folder: Path) -> tuple[list[str], int]:
    """A component's serving flags and their port.

    TLS from the run's CA on a free loopback port; requests authenticated and authorized with ``kubeconfig``.
    """
    serving, port = ca.issue(name), free_port()
    return [
        f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={HOST}", f"--secure-port={port}", f"--cert-dir={folder}",
        f"--tls-cert-file={serving.cert_path}", f"--tls-private-key-file={serving.key_path}",
    ], port


def _start_healthy(supervisor: Supervisor, name: str, argv: list[str], port: int, ca: CertificateAuthority,
                   limit: float) -> tuple[Process, float]:
    """Start ``argv`` as ``name``; the process and the seconds until its ``/healthz`` on ``port`` says ok."""
    process = supervisor.start(name, argv)
    url = f"https://{HOST}:{port}/healthz"
    return process, supervisor.wait_until(process, lambda: _healthy(url, ca), limit=limit, what="healthy (/healthz)")


def controller_manager_argv(component: Component, ca: CertificateAuthority, service_account_key: Path,
                            folder: Path, controllers: str) -> list[str]:
    serving, _ = _serving("kube-controller-manager", component.kubeconfig, ca, folder)
    return [
        str(tool(PIECE, "kube-controller-manager")), f"--kubeconfig={component.kubeconfig}", *serving,
        "--leader-elect=false", "--use-service-account-credentials=true",
        f"--service-account-private-key-file={service_account_key}", f"--root-ca-file={ca.cert_path}",
        f"--controllers={controllers}", "--profiling=false",
    ]


def _secure_port(argv: list[str]) -> int:
    return int(next(a for a in argv if a.startswith("--secure-port=")).split("=", 1)[1])


def start_controller_manager(supervisor: Supervisor, argv: list[str], ca: CertificateAuthority,
                             limit: float = COMPONENT_LIMIT) -> tuple[Process, float]:
    """kube-controller-manager from ``argv`` (``controller_manager_argv``); seconds until ``/healthz`` says ok."""
    return _start_healthy(supervisor, "kube-controller-manager", argv, _secure_port(argv), ca, limit)


def restart_controller_manager(supervisor: Supervisor, process: Process, ca: CertificateAuthority,
                               controllers: str) -> tuple[Process, float]:
    """Stop ``process`` and start it again with ``--controllers=<controllers>`` (on a new port)."""
    argv = [str(a) for a in process.popen.args]  # type: ignore[union-attr]
    supervisor.stop(process)
    argv = [a for a in argv if not a.startswith(("--controllers=", "--secure-port="))]
    argv += [f"--controllers={controllers}", f"--secure-port={free_port()}"]
    return start_controller_manager(supervisor, argv, ca)


def start_scheduler(supervisor: Supervisor, component: Component, ca: CertificateAuthority, folder: Path,
                    limit: float = COMPONENT_LIMIT) -> tuple[Process, float]:
    """kube-scheduler (see the module doc); seconds until ``/healthz`` says ok."""
    serving, port = _serving("kube-scheduler", component.kubeconfig, ca, folder)
    argv = [str(tool(PIECE, "kube-scheduler")), f"--kubeconfig={component.kubeconfig}", *serving,
            "--leader-elect=false", "--profiling=false"]
    return _start_healthy(supervisor, "kube-scheduler", argv, port, ca, limit)


def scheduler_kubeconfig(cluster_folder: Path) -> Path:
    """The kubeconfig of the cluster's ``system:kube-scheduler`` user (``cluster.py`` writes it)."""
    return cluster_folder / f"{SCHEDULER_USER.rsplit(':', 1)[-1]}.kubeconfig"


def start_profile_scheduler(supervisor: Supervisor, name: str, kubeconfig: Path, ca: CertificateAuthority,
                            folder: Path, profiles: list[dict[str, Any]],
                            limit: float = COMPONENT_LIMIT) -> tuple[Process, float]:
    """Another kube-scheduler of the same build, serving ``profiles`` (a ``KubeSchedulerConfiguration`` v1's)."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = folder / "config.yaml"
    settings.write_text(json.dumps({
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)}, "leaderElection": {"leaderElect": False},
        "profiles": profiles}, indent=1))
    serving, port = _serving(name, kubeconfig, ca, folder)
    return _start_healthy(supervisor, name, [str(tool(PIECE, "kube-scheduler")), f"--config={settings}", *serving],
                          port, ca, limit)


def start_kwok(supervisor: Supervisor, component: Component, folder: Path, pod_cidr: str,
               ca: CertificateAuthority) -> Process:
    """Start kwok for every node (see the module doc); it is ready when the nodes it manages are."""
    work = folder / "kwok"
    work.mkdir(parents=True, exist_ok=True)
    serving, port = ca.issue("kwok"), free_port()
    return supervisor.start("kwok", [
        tool("kwok", "kwok"), f"--kubeconfig={component.kubeconfig}", "--manage-all-nodes=true",
        f"--cidr={pod_cidr}", f"--node-ip={HOST}",
        # The nodes' kubelet API, on one port for all of them: the API server's exec requests land here.
        f"--server-address={HOST}:{port}", f"--node-port={port}", "--enable-crds=Exec,PortForward",
        f"--tls-cert-file={serving.cert_path}", f"--tls-private-key-file={serving.key_path}",
        # Its documented default, which v0.7.0 applies only from a configuration file: without it kwok
        # renews no node Lease, its status heartbeats (20 to 45 s apart) miss the node lifecycle
        # controller's 50 s grace under load, and nodes and their pods flap NotReady (measured).
        f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
    ], env={"PATH": "/usr/bin:/bin", "HOME": str(work), "KWOK_WORKDIR": str(work)})
