"""What a pod's processes resolve and reach (e2e/servers/pods/network.py): hosts file, Services' routes."""

from __future__ import annotations

from typing import Any

from e2e.servers.pods import network


def service(name: str, namespace: str, ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"clusterIP": ip, "ports": list(ports)}}


def pod(name: str, namespace: str, labels: dict[str, str], ip: str, *, ready: bool = True,
        ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "ports": ports or []}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


SERVICES = [
    service("proxy-public", "jhub", "10.96.0.20", {"name": "http", "port": 80, "targetPort": "http"}),
    service("hub", "jhub", "10.96.0.10", {"port": 8081, "targetPort": 8081}),
    service("jupyterhub-postgresql", "jhub", "10.96.0.30", {"name": "tcp-postgresql", "port": 5432}),
    service("headless", "jhub", "None", {"port": 1}),
    service("kubernetes", "default", "10.96.0.1", {"name": "https", "port": 443}),
    service("dns", "kube-system", "10.96.0.53", {"name": "dns", "port": 53, "protocol": "UDP"}),
]


def test_hosts_file_is_the_kubelets_then_the_services_names() -> None:
    pod = {"metadata": {"name": "hub-abc", "namespace": "jhub"}, "spec": {
        "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["keycloak.example"]}]}, "status": {"podIP": "127.1.0.5"}}
    assert network.hosts_file(pod, SERVICES).splitlines() == [
        "# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters",
        "127.1.0.5\thub-abc", "127.0.0.1\tkeycloak.example",
        "# The Services' names, as the cluster's DNS would answer them (stand-in).",
        "10.96.0.1\tkubernetes.default.svc.cluster.local kubernetes.default.svc kubernetes.default",
        "10.96.0.10\thub.jhub.svc.cluster.local hub.jhub.svc hub.jhub hub",
        "10.96.0.30\tjupyterhub-postgresql.jhub.svc.cluster.local jupyterhub-postgresql.jhub.svc "
        "jupyterhub-postgresql.jhub jupyterhub-postgresql",
        "10.96.0.20\tproxy-public.jhub.svc.cluster.local proxy-public.jhub.svc proxy-public.jhub proxy-public",
        "10.96.0.53\tdns.kube-system.svc.cluster.local dns.kube-system.svc dns.kube-system",
    ]


def test_routes_go_to_a_ready_selected_pod_at_its_target_port_or_to_an_override() -> None:
    services = [dict(s, spec={**s["spec"], "selector": {"component": s["metadata"]["name"]}}) for s in SERVICES]
    pods = [
        pod("hub-a", "jhub", {"component": "hub"}, "127.1.0.4", ready=False),
        pod("hub-b", "jhub", {"component": "hub", "extra": "x"}, "127.1.0.5"),
        pod("hub-c", "jhub", {"component": "hub"}, "127.1.0.7"),
        pod("proxy", "jhub", {"component": "proxy-public"}, "127.1.0.6",
            ports=[{"name": "http", "containerPort": 8000}]),
        pod("hub-z", "elsewhere", {"component": "hub"}, "127.9.9.9"),  # another namespace's
    ]
    overrides = {("jhub", "jupyterhub-postgresql", 5432): ("127.0.0.1", 41000)}
    assert network.service_routes(services, pods, overrides) == [
        ("10.96.0.10", 8081, "127.1.0.5", 8081),  # the first ready pod, not the one not ready
        ("10.96.0.30", 5432, "127.0.0.1", 41000),  # the override: its pods do not run here
        ("10.96.0.20", 80, "127.1.0.6", 8000),  # the target port by the container port's name
    ]  # kubernetes and dns: no pod; headless: no cluster IP
    assert network.service_routes(SERVICES, pods) == []  # no selector, no endpoints


def test_the_settings_file_is_what_podnet_reads() -> None:
    assert network.network_settings("127.1.0.5", [8081, 8081, 80], [("10.96.0.10", 8081, "127.1.0.5", 8081)],
                                    reject=("10.96.0.0/16",)) == (
        "ip 127.1.0.5\nport 80\nport 8081\nroute 10.96.0.10 8081 127.1.0.5 8081\nreject 10.96.0.0/16\n")
