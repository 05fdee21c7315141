"""What a pod's processes resolve and reach: its hosts file, the Services' names and routes.

A cluster gives a pod a hosts file (the kubelet's), a DNS server that answers the Services' names
(``<svc>``, ``<svc>.<ns>``, ``<svc>.<ns>.svc``, ``<svc>.<ns>.svc.<domain>``) with their cluster
IPs, and kube-proxy's rules that send a cluster IP's port to a ready endpoint. Here, pure functions:

- ``hosts_file``: the kubelet's hosts file, then every Service with a cluster IP under those names
  (the short ones for the pod's namespace, as its DNS search path would find them);
- ``service_routes``: for each Service port, its cluster IP and port -> a ready pod its selector
  selects, at its target port (the endpoint controller's and kube-proxy's part), or an override
  for a Service whose pods run elsewhere (the e2e's own PostgreSQL server, say);
- ``network_settings``: the file the ``pod-net`` library reads (``podnet.c``); a connection into the
  Services' range that no route takes is refused, as kube-proxy refuses one to a Service without
  endpoints (it would otherwise leave the machine: that range may be a real network here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from e2e.servers.pods.environment import hostname

#: (namespace, service, port) -> (address, port): where a Service's port goes when no endpoint of it runs here.
Overrides = Mapping[tuple[str, str, int], tuple[str, int]]
Route = tuple[str, int, str, int]

KUBELET_HOSTS = """# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def _cluster_ip(service: Mapping[str, Any]) -> str | None:
    ip = (service.get("spec") or {}).get("clusterIP")
    return None if not ip or ip == "None" else str(ip)


def hosts_file(pod: Mapping[str, Any], services: list[Mapping[str, Any]], domain: str = "cluster.local") -> str:
    """The kubelet's hosts file for ``pod``, then the Services' names (a stand-in for the cluster's DNS)."""
    lines = [KUBELET_HOSTS.rstrip("\n"), f"{pod['status']['podIP']}\t{hostname(pod)}"]
    for alias in pod["spec"].get("hostAliases") or []:
        lines.append(f"{alias['ip']}\t{' '.join(alias.get('hostnames', []))}")
    lines.append("# The Services' names, as the cluster's DNS would answer them (stand-in).")
    own = pod["metadata"]["namespace"]
    for service in sorted(services, key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"])):
        ip = _cluster_ip(service)
        if ip is None:
            continue
        name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
        names = [f"{name}.{namespace}.svc.{domain}", f"{name}.{namespace}.svc", f"{name}.{namespace}"]
        if namespace == own:
            names.append(name)
        lines.append(f"{ip}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def service_routes(services: list[Mapping[str, Any]], pods: list[Mapping[str, Any]],
                   overrides: Overrides | None = None) -> list[Route]:
    """(cluster IP, port, pod IP, target port) of each TCP Service port that has somewhere to go.

    The endpoint controller's and kube-proxy's part at once: the first Running, Ready pod (by name) of
    the Service's namespace that its selector selects, its ``targetPort`` (a number, or the name of
    one of the pod's container ports). EndpointSlices cannot hold these endpoints: the API server
    refuses loopback addresses in them, and the pods' IPs here are loopback addresses.
    """
    routes: list[Route] = []
    for service in sorted(services, key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"])):
        ip = _cluster_ip(service)
        if ip is None or ":" in ip:
            continue
        name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
        selector = service["spec"].get("selector") or {}
        chosen = [p for p in sorted(pods, key=lambda p: p["metadata"]["name"])
                  if selector and p["metadata"].get("namespace") == namespace and _ready(p)
                  and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        for port in service["spec"].get("ports", []):
            if port.get("protocol", "TCP") != "TCP":
                continue
            override = (overrides or {}).get((namespace, name, int(port["port"])))
            if override is not None:
                routes.append((ip, int(port["port"]), override[0], int(override[1])))
                continue
            for pod in chosen:
                target = _target_port(pod, port.get("targetPort", port["port"]))
                if target is not None:
                    routes.append((ip, int(port["port"]), pod["status"]["podIP"], target))
                    break
    return routes


def _ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return status.get("phase") == "Running" and bool(status.get("podIP")) and ready


def _target_port(pod: Mapping[str, Any], target: int | str) -> int | None:
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in pod["spec"].get("containers", []):
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def network_settings(ip: str, ports: list[int], routes: list[Route], reject: tuple[str, ...] = ()) -> str:
    """The ``network`` file of ``podnet.c``: the pod's IP, its container ports, the routes, the refused ranges."""
    lines = [f"ip {ip}", *(f"port {p}" for p in sorted(set(ports))),
             *(f"route {a} {p} {b} {q}" for a, p, b, q in routes), *(f"reject {cidr}" for cidr in reject)]
    return "\n".join(lines) + "\n"
