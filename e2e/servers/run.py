"""All of a run's servers at once: ``start_servers(supervisor, ...)``.

The cluster, Keycloak (with ``prepare_realm``) and PostgreSQL start in parallel
threads (Keycloak takes the longest); Capsule starts in the cluster's thread
once the cluster is up (its Tenant CRD replaces the pinned-schema one); the
first failure stops everything started so far and is raised. ``Servers.summary()`` is what ``python -m
e2e.servers up`` prints: URLs, the kubeconfig, credentials and start times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from e2e.servers.capsule import Capsule, start_capsule
from e2e.servers.certs import CertificateAuthority
from e2e.servers.cluster import Cluster, start_cluster
from e2e.servers.crds import CRDS, WITHOUT_TENANT
from e2e.servers.keycloak import Keycloak, start_keycloak
from e2e.servers.keycloak_realm import RealmSetup, prepare_realm, server_version_seen_by
from e2e.servers.nodes import NodeSpec
from e2e.servers.postgres import SUPERUSER, Postgres, start_postgres
from e2e.servers.supervisor import ServerError, Supervisor

Server = Literal["cluster", "keycloak", "postgresql", "capsule"]
ALL: tuple[Server, ...] = ("cluster", "keycloak", "postgresql", "capsule")


@dataclass
class Servers:
    """What ``start_servers`` started (``None`` for a server not asked for)."""

    supervisor: Supervisor
    ca: CertificateAuthority
    cluster: Cluster | None = None
    keycloak: Keycloak | None = None
    realm: RealmSetup | None = None
    postgres: Postgres | None = None
    capsule: Capsule | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds from the start of ``start_servers`` until each server was ready."""

    def summary(self) -> str:
        lines = [f"run folder    {self.supervisor.run_dir}", f"CA            {self.ca.cert_path}"]
        if self.cluster:
            c = self.cluster
            lines += [f"cluster       {c.url}  (ready in {self.seconds['cluster']:.0f} s)",
                      f"  kubeconfig  {c.kubeconfig}  (context {c.context})",
                      f"  tokens      admin {c.admin_token}  limited {c.limited_token}",
                      f"  nodes       {', '.join(c.nodes) or '(none)'}  (kwok; pod IPs from {c.pod_cidr})"]
        if self.capsule:
            cap = self.capsule
            lines += [f"capsule       webhooks {cap.webhook_url}  (ready in {self.seconds['capsule']:.0f} s, "
                      f"{cap.seconds['total']:.0f} s after the cluster)",
                      f"  groups      {', '.join(cap.groups)}"]
        if self.keycloak:
            k = self.keycloak
            lines += [f"keycloak      {k.url}  (ready in {self.seconds['keycloak']:.0f} s)",
                      f"  admin       {k.admin_username} / {k.admin_password}  (master realm)"]
        if self.keycloak and self.realm:
            p = self.realm.provider
            lines += [f"  realm       {self.realm.realm}  issuer {self.keycloak.issuer(self.realm.realm)}",
                      f"  provider    client {p.client_id} / {p.client_secret}  (realm {p.realm}, "
                      f"server version it sees: {server_version_seen_by(self.keycloak, p) or '(hidden)'})"]
            lines += [f"  user        {name} / {password}" for name, password in self.realm.users.items()]
        if self.postgres:
            pg = self.postgres
            lines += [f"postgresql    {pg.host}:{pg.port}  (ready in {self.seconds['postgresql']:.0f} s)",
                      f"  superuser   {SUPERUSER} / {pg.superuser_password}"]
        return "\n".join(lines)


def start_servers(supervisor: Supervisor, *, which: tuple[Server, ...] = ALL, context: str = "e2e",
                  nodes: tuple[str | NodeSpec, ...] = (), realm: str = "dossier", provider_realm: str = "master",
                  hub_namespace: str = "jhub") -> Servers:
    """Start the servers named in ``which`` in parallel; on the first failure stop all and raise it.

    ``capsule`` needs ``cluster``; ``hub_namespace`` names its ``system:serviceaccounts:<ns>`` user group.
    """
    if "capsule" in which and "cluster" not in which:
        raise ServerError("capsule runs against the run's cluster: start `cluster` with it")
    servers = Servers(supervisor, CertificateAuthority(supervisor.path("ca")))
    started = time.monotonic()

    def timed(name: str, step: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            result = step()
            servers.seconds.setdefault(name, time.monotonic() - started)
            return result
        return run

    def keycloak() -> tuple[Keycloak, RealmSetup]:
        server = start_keycloak(supervisor, servers.ca)
        return server, prepare_realm(server, realm=realm, provider_realm=provider_realm)

    def cluster() -> tuple[Cluster, Capsule | None]:
        with_capsule = "capsule" in which
        started_cluster = start_cluster(supervisor, servers.ca, context=context, nodes=nodes,
                                        crd_specs=WITHOUT_TENANT if with_capsule else CRDS)
        if not with_capsule:
            return started_cluster, None
        servers.seconds["cluster"] = time.monotonic() - started
        capsule = start_capsule(supervisor, started_cluster, servers.ca, hub_namespace=hub_namespace)
        servers.seconds["capsule"] = time.monotonic() - started
        return started_cluster, capsule

    steps: dict[str, Callable[[], Any]] = {
        "cluster": cluster,
        "keycloak": keycloak,
        "postgresql": lambda: start_postgres(supervisor),
    }
    with ThreadPoolExecutor(max_workers=len(which) or 1) as pool:
        futures: dict[Future[Any], str] = {pool.submit(timed(name, steps[name])): name for name in which
                                           if name != "capsule"}
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            supervisor.close()  # the other threads' waits then fail fast: their processes are gone
            error = failed[0].exception()
            if isinstance(error, ServerError):
                raise error
            raise ServerError(f"{futures[failed[0]]}: {type(error).__name__}: {error}") from error
    results = {futures[f]: f.result() for f in futures}
    if "cluster" in results:
        servers.cluster, servers.capsule = results["cluster"]
    if "keycloak" in results:
        servers.keycloak, servers.realm = results["keycloak"]
    servers.postgres = results.get("postgresql")
    return servers
