"""Two runs of the e2e on one machine: what each server set listens on, and that nothing is shared.

``listeners(supervisor)`` lists every listening TCP socket of every process a
run started (each server's process group, children included), as
``(server, address, port)``. ``problems(*runs)`` names each socket that would
make a second run on the machine collide: one that is not on 127.0.0.1 (or
``::1``), one on a server's well-known default port (a run that took the
default instead of a free port fails the next run with "Address already in
use", as Keycloak's management interface on 9000 did), and a port two runs hold
at once.
"""

from __future__ import annotations

import contextlib

import psutil

from e2e.servers import Supervisor

#: Default ports of the servers an e2e run starts (and of their admin or metrics interfaces).
DEFAULTS = {
    2379: "etcd client", 2380: "etcd peer", 6443: "kube-apiserver", 8080: "Keycloak http",
    8443: "Keycloak https", 9000: "Keycloak management", 5432: "PostgreSQL", 7070: "versitygw",
    8000: "JupyterHub proxy", 8001: "configurable-http-proxy API", 8081: "JupyterHub hub",
}
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")  # the last: a JVM's IPv4 socket, as IPv6 shows it


def listeners(supervisor: Supervisor) -> list[tuple[str, str, int]]:
    found: set[tuple[str, str, int]] = set()
    for process in supervisor.processes:
        if not process.alive():
            continue
        try:
            leader = psutil.Process(process.pid)
            members = [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                for connection in member.net_connections(kind="tcp"):
                    if connection.status == psutil.CONN_LISTEN:
                        found.add((process.name, connection.laddr.ip, connection.laddr.port))
    return sorted(found)


def problems(*runs: list[tuple[str, str, int]]) -> list[str]:
    said: list[str] = []
    holders: dict[int, list[str]] = {}
    for index, run in enumerate(runs, 1):
        for server, address, port in run:
            holders.setdefault(port, []).append(f"run {index}'s {server}")
            if address not in LOOPBACK:
                said.append(f"run {index}'s {server} listens on {address}:{port}, not on loopback")
            if port in DEFAULTS:
                said.append(f"run {index}'s {server} listens on {port}, the default port of {DEFAULTS[port]}")
    said += [f"port {port} is held by {' and '.join(who)}" for port, who in holders.items() if len(who) > 1]
    return said
