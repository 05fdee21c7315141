"""Dossier's hub and the proxy, run from the pods the jupyterhub chart's Deployments made.

``start_hub(cluster, supervisor, database=..., trust=...)`` finds the Running pods of the release's
``hub`` and ``proxy`` Deployments (kwok reports them Running with a loopback IP) and starts their
containers with the pod runner (``e2e/servers/pods/``, a stand-in for the kubelet): the hub
container's command is the one z2jh rendered from ``hub.args`` (``dossier --config
/usr/local/etc/jupyterhub/jupyterhub_config.py ...``), reading the chart's own
``jupyterhub_config.py`` and ``z2jh.py`` and the values of the ``hub`` ConfigMap and Secret where
the chart mounts them, with the hub ServiceAccount's token and the environment a kubelet gives; the
proxy's is configurable-http-proxy with the flags of the proxy Deployment. The only thing added is
where the PostgreSQL Service leads: its pods are kwok's, so a connection to its cluster IP goes to
the run's PostgreSQL server (``database``). Returns once the hub answers through the proxy.

``Hub.url(path)`` is a URL through the proxy's public port (``proxy-public`` leads there);
``Hub.authorize(session, name)`` gets an API token of a logged-in admin (as an admin does in the
hub's token page), which ``Hub.api(path)`` then uses to read users and their auth state.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from e2e.servers import Cluster, ServerStartError, Supervisor
from e2e.servers.crds import kube_request
from e2e.servers.pods import PodRunner, RunningPod

START_LIMIT = 120.0
#: The proxy container's public port (z2jh 2.0.0's proxy Deployment: ``--port=8000``).
PROXY_PUBLIC_PORT = 8000


class HubError(Exception):
    """The hub's REST API answered with an error (the message holds the path, status and body)."""


class DatabaseServer(Protocol):
    """The run's PostgreSQL server, where the chart's PostgreSQL Service leads (its pods run nothing)."""

    host: str
    port: int


@dataclass
class Hub:
    """Dossier's hub and its proxy, running from the chart's pods (see the module doc)."""

    base_url: str
    keycloak_ca: str
    oauth_callback_url: str
    proxy_token: str = field(repr=False)
    """The proxy's API token (the hub Secret's, as both Deployments read it): to read the proxy's routes."""
    runner: PodRunner = field(repr=False)
    hub_pod: RunningPod = field(repr=False)
    proxy_pod: RunningPod = field(repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.hub_pod.containers["hub"].log

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxy, CA bundle or netrc from the environment
        return session

    def api(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """``/hub/api/<path>`` with the admin's token ``authorize`` got."""
        if self.token is None:
            raise HubError("no API token yet: an admin logs in, then Hub.authorize(session, name)")
        with self.session() as session:
            response = session.request(method, self.url("hub/api/" + path.lstrip("/")),
                                       headers={"Authorization": f"token {self.token}"}, timeout=30, **kwargs)
        if response.status_code >= 300:
            raise HubError(f"{method} hub/api/{path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def authorize(self, session: requests.Session, name: str) -> str:
        """An API token of the logged-in admin ``name`` (its scopes are the admin's), kept for ``api``."""
        # JupyterHub 3 takes a session cookie on its API only with a same-origin Referer.
        answer = session.post(self.url(f"hub/api/users/{name}/tokens"), json={"note": "e2e", "expires_in": 3600},
                              headers={"Referer": self.url("hub/token")}, timeout=30)
        if answer.status_code != 201:
            raise HubError(f"POST hub/api/users/{name}/tokens: {answer.status_code} {answer.text[:300]}")
        self.token = str(answer.json()["token"])
        return self.token

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the hub's and the proxy's containers (the pods stay, as when a kubelet stops)."""
        self.runner.stop(self.hub_pod)
        self.runner.stop(self.proxy_pod)


def release_pod(cluster: Cluster, namespace: str, release: str, component: str, limit: float = 60.0) -> str:
    """The name of the newest Running pod with an IP of the release's ``component`` (z2jh's labels)."""
    api = cluster.api_client()
    selector = f"component={component},release={release}"
    deadline = time.monotonic() + limit
    while True:
        pods = kube_request(api, "GET", f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}")["items"]
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
                   and p["status"].get("podIP") and not p["metadata"].get("deletionTimestamp")]
        if running:
            newest = max(running, key=lambda p: p["metadata"]["creationTimestamp"])
            return str(newest["metadata"]["name"])
        if time.monotonic() > deadline:
            raise ServerStartError(f"no Running pod of {selector} in {namespace} within {limit:.0f} s: "
                                   + ", ".join(f"{p['metadata']['name']} {p.get('status', {}).get('phase')}"
                                               for p in pods))
        time.sleep(0.5)


def database_override(values: Mapping[str, Any], namespace: str, database: DatabaseServer) -> dict[
        tuple[str, str, int], tuple[str, int]]:
    """Where the Service named by ``hub.db.url`` leads: the run's PostgreSQL server."""
    address = urlsplit(str(values["hub"]["db"]["url"]))
    host, port = str(address.hostname), int(address.port or 5432)
    service, _, service_namespace = host.partition(".")
    return {(service_namespace.split(".")[0] or namespace, service, port): (database.host, database.port)}


def start_hub(cluster: Cluster, supervisor: Supervisor, *, values: Mapping[str, Any], database: DatabaseServer,
              trust: Path, namespace: str = "jhub", release: str = "jhub", limit: float = START_LIMIT) -> Hub:
    """Dossier's hub and the proxy from the release's pods, once the hub answers through the proxy.

    ``values`` are the chart's values as z2jh stored them (the hub's database URL and callback URL are
    read from them), ``trust`` the run's CA (Keycloak's and the API server's certificates).
    """
    runner = PodRunner(cluster, supervisor, trust=trust, overrides=database_override(values, namespace, database))
    proxy = runner.start(namespace, release_pod(cluster, namespace, release, "proxy"))
    try:
        hub = runner.start(namespace, release_pod(cluster, namespace, release, "hub"))
    except BaseException:
        runner.stop(proxy)
        raise
    secret = kube_request(cluster.api_client(), "GET", f"/api/v1/namespaces/{namespace}/secrets/hub")["data"]
    started = Hub(base_url=f"http://{proxy.ip}:{PROXY_PUBLIC_PORT}/", keycloak_ca=str(trust),
                  oauth_callback_url=str(values["hub"]["config"]["GenericOAuthenticator"]["oauth_callback_url"]),
                  proxy_token=base64.b64decode(secret["hub.config.ConfigurableHTTPProxy.auth_token"]).decode(),
                  runner=runner, hub_pod=hub, proxy_pod=proxy)
    try:
        # /hub/api answers without a token (the hub's version): the proxy's default route reached the hub.
        supervisor.wait_until(hub.containers["hub"], lambda: _answers(started), limit=limit,
                              what="answering /hub/api through the proxy")
    except BaseException:
        started.stop()
        raise
    return started


def _answers(hub: Hub) -> bool:
    with hub.session() as session:
        return session.get(hub.url("hub/api/"), timeout=5).status_code == 200
