"""What z2jh 2.0.0 hands its hub container, from the Helm values: the Secret's keys, the args, the env.

Pure functions (no process, no network): the e2e hub's run folder is written from them, and the hub
inside reads it back the way the chart's ``jupyterhub_config.py`` reads its mounts
(``inside/chart_config.py``).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from typing import Any

# Ref: https://github.com/jupyterhub/zero-to-jupyterhub-k8s/blob/2.0.0/jupyterhub/templates/hub/secret.yaml
# and templates/hub/_helpers-passwords.tpl (seeded secrets: the value given, else a generated one).

#: The harness's own service on the hub: its token reads users, their groups and auth state.
SERVICE = "dossier-e2e"
SERVICE_SCOPES = ["list:users", "read:users", "read:groups", "admin:auth_state"]


class ValuesError(ValueError):
    """The Helm values lack something the hub needs; the message names the key."""


def lookup(values: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``values["a"]["b"]`` for ``"a.b"``, or ``default`` where a level is missing (z2jh's ``get_config``)."""
    value: Any = values
    for level in key.split("."):
        if not isinstance(value, Mapping) or level not in value:
            return default
        value = value[level]
    return value


def with_service(values: Mapping[str, Any], api_token: str) -> dict[str, Any]:
    """A copy of the values with the harness's API service and its role (``hub.services``, ``hub.loadRoles``)."""
    added = copy.deepcopy(dict(values))
    hub = added.setdefault("hub", {})
    if SERVICE in (hub.get("services") or {}):
        raise ValuesError(f"hub.services.{SERVICE} is already set; the e2e harness adds its own service by that name")
    hub["services"] = {**(hub.get("services") or {}), SERVICE: {"apiToken": api_token}}
    hub["loadRoles"] = {**(hub.get("loadRoles") or {}), SERVICE: {"scopes": SERVICE_SCOPES, "services": [SERVICE]}}
    return added


def secret_data(values: Mapping[str, Any]) -> dict[str, str]:
    """The chart Secret's keys: db password, service tokens, and the three seeded hub secrets."""
    data: dict[str, str] = {}
    password = lookup(values, "hub.db.password")
    if password:
        data["hub.db.password"] = str(password)
    for key, service in (lookup(values, "hub.services") or {}).items():
        data[f"hub.services.{key}.apiToken"] = str(service.get("apiToken") or secrets.token_hex(32))
    config = lookup(values, "hub.config") or {}
    proxy_token = lookup(config, "ConfigurableHTTPProxy.auth_token") or lookup(values, "proxy.secretToken")
    data["hub.config.ConfigurableHTTPProxy.auth_token"] = str(proxy_token or secrets.token_hex(32))
    cookie_secret = lookup(config, "JupyterHub.cookie_secret")
    data["hub.config.JupyterHub.cookie_secret"] = str(cookie_secret or secrets.token_hex(32))
    keys = lookup(config, "CryptKeeper.keys") or [secrets.token_hex(32)]
    data["hub.config.CryptKeeper.keys"] = ";".join(str(k) for k in keys)
    return data


def hub_flags(values: Mapping[str, Any]) -> list[str]:
    """The hub's command-line flags as the chart's Deployment sets them (its ``args``).

    ``hub.args`` replaces the chart's whole command: its program and ``--config`` give way to the
    e2e hub's, its other flags stay. Without it, ``--debug`` and ``--upgrade-db`` come from the values.
    """
    # Ref: https://github.com/jupyterhub/zero-to-jupyterhub-k8s/blob/2.0.0/jupyterhub/templates/hub/deployment.yaml
    args = lookup(values, "hub.args")
    if args:
        flags: list[str] = []
        rest = [str(a) for a in args[1:]]
        while rest:
            arg = rest.pop(0)
            if arg in ("--config", "-f"):
                rest = rest[1:]
            elif not arg.startswith(("--config=", "-f=")):
                flags.append(arg)
        return flags
    flags = ["--debug"] if lookup(values, "debug.enabled") else []
    upgrade = lookup(values, "hub.db.upgrade")
    if upgrade is True or (upgrade is None and lookup(values, "hub.db.type") == "sqlite-pvc"):
        flags.append("--upgrade-db")
    return flags


def check(values: Mapping[str, Any]) -> None:
    """Refuse values the e2e hub cannot run, naming every missing key at once."""
    problems = []
    if lookup(values, "hub.db.type") != "postgres":
        problems.append(f"hub.db.type is {lookup(values, 'hub.db.type')!r}, expected 'postgres'")
    for key in ("hub.db.url", "hub.db.password", "hub.config.GenericOAuthenticator.oauth_callback_url",
                "hub.config.GenericOAuthenticator.client_id", "hub.config.GenericOAuthenticator.token_url"):
        if not lookup(values, key):
            problems.append(f"{key} is missing")
    if problems:
        raise ValuesError("the hub values cannot run the e2e hub: " + "; ".join(problems))
