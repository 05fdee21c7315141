"""Start JupyterHub 3.0.0 on loopback with the hub configuration the stack sent Helm.

``start_hub`` writes a run folder as the chart would mount it (values, Secret keys) plus what
differs on one machine (``local.json``: free loopback ports, the local PostgreSQL server, the
stand-in authenticator and spawner, the proxy program), then starts ``jupyterhub`` from the ``hub``
toolchain piece under the servers' ``Supervisor``. The hub starts configurable-http-proxy (the
``chp`` piece) itself, in its process group, with the proxy token of the values; the supervisor
stops the group. The hub trusts the run's CA for Keycloak through ``SSL_CERT_FILE``
(oauthenticator 15.1.0 has no CA option; its tornado client uses Python's default context,
which reads that variable).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests

from e2e.hub import chart
from e2e.servers.supervisor import Process, Supervisor, free_port, tool

INSIDE = Path(__file__).resolve().parent / "inside"
START_LIMIT = 90.0


class HubError(Exception):
    """The hub's REST API answered with an error (the message holds the path, status and body)."""


class DatabaseServer(Protocol):
    """The local PostgreSQL server (the servers helper's): the hub's ``hub.db.url`` is moved to it."""

    host: str
    port: int


@dataclass(frozen=True)
class TenantsApi:
    """A Kubernetes API server whose Capsule Tenants decide which tenants exist (as Dossier asks it)."""

    server: str
    token: str
    ca_file: Path | None = None


@dataclass
class Hub:
    """A running e2e hub: its public URL (the proxy), the harness's API token, its log; ``stop()`` ends it."""

    base_url: str
    api_token: str
    keycloak_ca: str
    oauth_callback_url: str
    run_dir: Path
    log: Path
    supervisor: Supervisor = field(repr=False)
    process: Process = field(repr=False)

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def api(self, path: str) -> Any:
        """``GET /hub/api/<path>`` with the harness's service token (reads users, groups, auth state)."""
        with requests.Session() as session:
            session.trust_env = False
            headers = {"Authorization": f"token {self.api_token}"}
            response = session.get(self.url("hub/api/" + path.lstrip("/")), headers=headers, timeout=30)
        if response.status_code != 200:
            raise HubError(f"GET hub/api/{path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the hub and its proxy (the hub's process group)."""
        self.supervisor.stop(self.process)


def tenants_settings(tenants_exist: Sequence[str] | TenantsApi) -> dict[str, Any]:
    """``TenantAuthenticator`` settings: a fixed list of tenant names, or the API server to list them from."""
    if isinstance(tenants_exist, TenantsApi):
        return {
            "tenants_api_url": tenants_exist.server,
            "tenants_api_token": tenants_exist.token,
            "tenants_api_ca": str(tenants_exist.ca_file or ""),
        }
    return {"existing_tenants": sorted(tenants_exist)}


def write_run(
    run: Path, values: Mapping[str, Any], *, database: DatabaseServer, tenants_exist: Sequence[str] | TenantsApi,
    proxy: Path, api_token: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The run folder: values (with the harness's service), the Secret's keys, ``local.json``."""
    values = chart.with_service(values, api_token)
    data = chart.secret_data(values)
    ports = {name: free_port() for name in ("public", "api", "hub")}
    local = {
        "database": {"host": database.host, "port": database.port},
        "authenticator_class": "dossier_standin.TenantAuthenticator",
        "spawner_class": "dossier_standin.NoPodSpawner",
        "tenants": tenants_settings(tenants_exist),
        "bind_url": f"http://127.0.0.1:{ports['public']}/",
        "proxy_api_url": f"http://127.0.0.1:{ports['api']}",
        "hub_bind_url": f"http://127.0.0.1:{ports['hub']}",
        "proxy_command": [str(proxy)],
    }
    (run / "secret").mkdir(mode=0o700)
    for key, value in data.items():
        (run / "secret" / key).write_text(value)
    (run / "values.json").write_text(json.dumps(values, indent=1))
    (run / "local.json").write_text(json.dumps(local, indent=1))
    return local, data


def start_hub(
    values: Mapping[str, Any],
    *,
    database: DatabaseServer,
    keycloak_ca: str | Path,
    supervisor: Supervisor,
    tenants_exist: Sequence[str] | TenantsApi,
    name: str = "jupyterhub",
    limit: float = START_LIMIT,
) -> Hub:
    """JupyterHub 3.0.0 with ``values`` (the jupyterhub chart's values as Helm received them), ready to log in.

    ``database`` is the local PostgreSQL server that stands for ``hub.db.url``'s host (its user,
    database and password are the values'); ``tenants_exist`` names the tenants that exist, or the
    API server whose Capsule Tenants say so. Raises ``chart.ValuesError`` for values the hub cannot
    run, ``MissingToolError`` if the pieces are not built, ``ServerStartError`` if it does not answer.
    """
    chart.check(values)
    program = tool("hub", "jupyterhub")
    proxy = tool("chp", "configurable-http-proxy")
    run = supervisor.path(name)
    api_token = secrets.token_hex(32)
    local, data = write_run(run, values, database=database, tenants_exist=tenants_exist, proxy=proxy,
                            api_token=api_token)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(run),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",  # the stand-ins are imported from the work tree
        "PYTHONPATH": str(INSIDE),
        "DOSSIER_E2E_HUB_RUN": str(run),
        # As the chart's Deployment: the proxy token from its Secret.
        "CONFIGPROXY_AUTH_TOKEN": data["hub.config.ConfigurableHTTPProxy.auth_token"],
        "SSL_CERT_FILE": str(keycloak_ca),
    }
    argv = [str(program), "-f", str(INSIDE / "jupyterhub_config.py"), *chart.hub_flags(values)]
    process = supervisor.start(name, argv, env=env, cwd=run)
    hub = Hub(
        base_url=local["bind_url"],
        api_token=api_token,
        keycloak_ca=str(keycloak_ca),
        oauth_callback_url=str(chart.lookup(values, "hub.config.GenericOAuthenticator.oauth_callback_url")),
        run_dir=run,
        log=process.log,
        supervisor=supervisor,
        process=process,
    )
    try:
        supervisor.wait_until(process, lambda: hub.api("users") is not None, limit=limit,
                              what="answering its REST API through the proxy")
    except BaseException:
        hub.stop()
        raise
    return hub
