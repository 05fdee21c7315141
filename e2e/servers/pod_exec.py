"""``kubectl exec`` and ``kubectl port-forward`` into a simulated pod, reaching this machine: kwok's objects.

kwok serves its nodes' kubelet API (``control_plane.start_kwok``), so ``kubectl exec`` and
``kubectl port-forward`` to a pod it runs reach kwok through the API server exactly as they reach a
kubelet (the API server's ``pods/exec`` and ``pods/portforward`` authorization, the stream upgrade).
A pod of kwok's runs nothing; two objects of ``kwok.x-k8s.io/v1alpha1``, named and namespaced as the
pod, say what answers instead: an ``Exec`` runs the requested command on this machine with the
environment it gives, a ``PortForward`` connects a pod port to a local address.

``reach_locally(...)`` creates (or replaces) both and waits until kwok answers an exec with them.
``postgres_env(host, port)`` is the environment that makes a command in PostgreSQL's pod reach the
run's real PostgreSQL server as the image's programs reach theirs: the client programs of the
``postgresql`` piece (the server's major version, as in the chart's image) first on ``PATH``, and
``PGHOST``/``PGPORT`` naming the server, where the image's programs use the pod's local socket.

kwok v0.7.0 (and v0.8.0) never closes an exec'd command's standard input when the client's ends:
a command that reads its input to the end (``pg_restore`` from a pipe) waits forever. A command
that reads a line (``read -r PGPASSWORD``) or nothing works as on a kubelet.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from kubernetes import client

from e2e.servers.crds import kube_request
from e2e.servers.supervisor import tool

GROUP_VERSION = "kwok.x-k8s.io/v1alpha1"
READY_LIMIT = 60.0


class PodExecError(Exception):
    """kwok did not take the objects in time; the message holds kubectl's last answer."""


def postgres_env(host: str, port: int) -> dict[str, str]:
    """The environment of a command "in" PostgreSQL's pod: its programs and where its server is."""
    programs = tool("postgresql", "pg_dump").resolve().parent
    return {"PATH": f"{programs}:/usr/bin:/bin", "PGHOST": host, "PGPORT": str(port)}


def manifests(namespace: str, pod: str, env: Mapping[str, str],
              ports: Mapping[int, tuple[str, int]]) -> list[dict[str, object]]:
    """The ``Exec`` and ``PortForward`` objects for ``namespace/pod``."""
    metadata = {"name": pod, "namespace": namespace}
    return [
        {"apiVersion": GROUP_VERSION, "kind": "Exec", "metadata": metadata,
         "spec": {"execs": [{"local": {"envs": [{"name": k, "value": v} for k, v in env.items()]}}]}},
        {"apiVersion": GROUP_VERSION, "kind": "PortForward", "metadata": metadata,
         "spec": {"forwards": [{"ports": [pod_port], "target": {"address": address, "port": port}}
                               for pod_port, (address, port) in ports.items()]}},
    ]


def reach_locally(api: client.ApiClient, kubeconfig: Path, namespace: str, pod: str, env: Mapping[str, str],
                  ports: Mapping[int, tuple[str, int]], limit: float = READY_LIMIT) -> float:
    """Exec and port-forward of ``namespace/pod`` reach this machine (module doc); seconds until kwok uses them.

    kwok learns the objects through its watches: the wait runs ``kubectl exec <pod> -- printenv <name>``
    with the last variable given until it prints that variable's value.
    """
    for manifest in manifests(namespace, pod, env, ports):
        plural = f"{str(manifest['kind']).lower()}s"
        base = f"/apis/{GROUP_VERSION}/namespaces/{namespace}/{plural}"
        try:
            kube_request(api, "DELETE", f"{base}/{pod}")
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        kube_request(api, "POST", base, manifest)
    name, value = list(env.items())[-1]
    argv = [str(tool("kubectl", "kubectl")), f"--kubeconfig={kubeconfig}", "-n", namespace, "exec", pod, "--",
            "printenv", name]
    started = time.monotonic()
    while True:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode == 0 and done.stdout.strip() == value:
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            last = (done.stdout + done.stderr).strip()[-300:]
            raise PodExecError(f"`kubectl exec {namespace}/{pod}` did not run locally within {limit:.0f} s: {last}")
        time.sleep(1)
