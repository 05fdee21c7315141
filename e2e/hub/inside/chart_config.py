"""The hub configuration z2jh 2.0.0 derives from its Helm values, mirrored for the e2e hub.

Runs inside the hub (its own virtualenv). The run folder holds what the chart would mount: the
values it received (``values.json``, the chart Secret's ``values.yaml``), the Secret's keys
(``secret/<key>``), and ``local.json``, what differs on one machine (loopback ports, the local
database server, the proxy program, the stand-in classes, the API token of the test's service).

Applied like the chart's ``jupyterhub_config.py``: ``hub.db`` (the url, the password in
``PGPASSWORD``), ``hub.services`` and ``hub.loadRoles``, the seeded secrets from the Secret, then
every ``hub.config`` section merged into the traitlets config with the seeded secrets removed.
``hub.extraConfig`` is not executed (it imports Dossier's spawner); the stand-ins take its place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

# Ref: https://github.com/jupyterhub/zero-to-jupyterhub-k8s/blob/2.0.0/jupyterhub/files/hub/jupyterhub_config.py
# (hub.db handling, hub.services, seeded secrets, the hub.config merge) and files/hub/z2jh.py (get_config).

#: Keys of ``hub.config`` the chart passes through its Secret instead (popped before the merge).
SEEDED = {
    "JupyterHub": ("proxy_auth_token", "cookie_secret", "services"),
    "ConfigurableHTTPProxy": ("auth_token",),
    "CryptKeeper": ("keys",),
}


class Chart:
    """The chart's view of one run folder: ``get_config`` and ``get_secret_value`` of z2jh.py."""

    def __init__(self, run: Path) -> None:
        self.run = run
        self.values: dict[str, Any] = json.loads((run / "values.json").read_text())
        self.local: dict[str, Any] = json.loads((run / "local.json").read_text())

    def get(self, key: str, default: Any = None) -> Any:
        value: Any = self.values
        for level in key.split("."):
            if not isinstance(value, dict) or level not in value:
                return default
            value = value[level]
        return value

    def secret(self, key: str, default: str | None = None) -> str | None:
        path = self.run / "secret" / key
        return path.read_text() if path.exists() else default


def database(c: Any, chart: Chart) -> None:
    """``hub.db``: the url from the values (host and port moved to the local server), the password as libpq's."""
    db_type = chart.get("hub.db.type")
    if db_type == "sqlite-memory":
        c.JupyterHub.db_url = "sqlite://"
    elif db_type == "sqlite-pvc":
        c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
    elif chart.get("hub.db.url") is not None:
        url = make_url(chart.get("hub.db.url"))
        server = chart.local["database"]
        c.JupyterHub.db_url = url.set(host=server["host"], port=server["port"]).render_as_string(hide_password=False)
    password = chart.secret("hub.db.password")
    if password is not None:
        if db_type == "postgres":
            os.environ["PGPASSWORD"] = password
        elif db_type == "mysql":
            os.environ["MYSQL_PWD"] = password
        else:
            print(f"Warning: hub.db.password is ignored for hub.db.type={db_type}")


def services(c: Any, chart: Chart) -> None:
    """``hub.services`` (api tokens from the Secret) and ``hub.loadRoles``, dicts of dicts in the values."""
    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    for key, service in (chart.get("hub.services") or {}).items():
        service = {k: v for k, v in service.items() if k != "apiToken"}
        service.setdefault("name", key)
        service["api_token"] = chart.secret(f"hub.services.{key}.apiToken")
        c.JupyterHub.services.append(service)
    for key, role in (chart.get("hub.loadRoles") or {}).items():
        c.JupyterHub.load_roles.append({"name": key, **role})


def hub_config(c: Any, chart: Chart) -> None:
    """Seeded secrets from the Secret, then every ``hub.config`` section without them."""
    c.JupyterHub.cookie_secret = chart.secret("hub.config.JupyterHub.cookie_secret")
    c.CryptKeeper.keys = (chart.secret("hub.config.CryptKeeper.keys") or "").split(";")
    for app, section in (chart.get("hub.config") or {}).items():
        section = {k: v for k, v in section.items() if k not in SEEDED.get(app, ())}
        c[app].update(section)


def local(c: Any, chart: Chart) -> None:
    """What differs on one machine: loopback ports, a proxy the hub starts, the stand-in classes."""
    here = chart.local
    asked = c.JupyterHub.get("authenticator_class", "(chart default)")
    print(f"e2e hub: authenticator {asked!r} of the values stood in by {here['authenticator_class']!r}")
    c.JupyterHub.authenticator_class = here["authenticator_class"]
    c.JupyterHub.spawner_class = here["spawner_class"]
    c.TenantAuthenticator.update(here["tenants"])
    c.JupyterHub.bind_url = here["bind_url"]
    c.JupyterHub.hub_bind_url = here["hub_bind_url"]
    c.JupyterHub.hub_connect_url = here["hub_bind_url"]
    # The chart runs the proxy in its own pod (should_start False); here the hub starts it.
    c.ConfigurableHTTPProxy.should_start = True
    c.ConfigurableHTTPProxy.api_url = here["proxy_api_url"]
    c.ConfigurableHTTPProxy.command = here["proxy_command"]
    c.ConfigurableHTTPProxy.pid_file = str(chart.run / "proxy.pid")
    c.JupyterHub.pid_file = str(chart.run / "hub.pid")
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.last_activity_interval = 60
    c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}


def apply(c: Any, run: Path) -> None:
    chart = Chart(run)
    database(c, chart)
    services(c, chart)
    if chart.get("debug.enabled"):
        c.JupyterHub.log_level = "DEBUG"
        c.Spawner.debug = True
    hub_config(c, chart)
    local(c, chart)
