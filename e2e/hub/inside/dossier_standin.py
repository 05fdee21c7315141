"""Stand-ins for Dossier's authenticator and spawner, loaded inside the e2e hub (its own virtualenv).

Dossier's ``DossierOAuthenticator`` and ``DossierKubeSpawner`` are not on PyPI. ``TenantAuthenticator``
applies Dossier's login rule on top of oauthenticator 15.1.0's ``GenericOAuthenticator``, the class the
stack's ``hub.config.GenericOAuthenticator`` settings configure:

- the user's tenants are the ``claim_groups_key`` claim (``tenants``) of ``auth_state["oauth_user"]``
  (the userinfo response), kept in ``auth_state["tenants"]`` as Dossier keeps them;
- admin if a tenant is one of ``admin_groups``;
- allowed if admin or if a tenant names an existing Capsule ``Tenant``.

Unlike Dossier, it also returns the tenants as the user's hub groups (the values set
``manage_groups``), so the hub's REST API shows them, and it refuses everyone else where Dossier falls
back to JupyterHub's default check, which admits every user when ``allowed_users`` is empty.
``NoPodSpawner`` starts nothing: no pods run on this machine.
"""

from __future__ import annotations

import json
from typing import Any

from jupyterhub.spawner import Spawner
from oauthenticator.generic import GenericOAuthenticator
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets import List, Unicode

# Ref: alpha-unito/dossier dossier/utils.py (get_tenants): Capsule Tenants, cluster-wide, v1beta2.
TENANTS_PATH = "/apis/capsule.clastix.io/v1beta2/tenants"


class TenantAuthenticator(GenericOAuthenticator):
    """``GenericOAuthenticator`` with Dossier's rule: tenants from the claim, admin roles, existing tenants."""

    existing_tenants = List(
        Unicode(), config=True, help="Tenant names that exist, when no API server is given (tenants_api_url)."
    )
    tenants_api_url = Unicode("", config=True, help="Kubernetes API server listing the Capsule Tenants.")
    tenants_api_token = Unicode("", config=True, help="Bearer token for tenants_api_url.")
    tenants_api_ca = Unicode("", config=True, help="CA bundle of tenants_api_url.")

    def tenants(self, authentication: dict[str, Any] | None) -> Any:
        """The user's tenants claim as Dossier reads it (``_get_user_groups``): the raw claim value."""
        if authentication is None:
            return []
        auth_state = authentication.get("auth_state") or {}
        authentication["auth_state"] = auth_state
        if "tenants" not in auth_state:
            auth_state["tenants"] = auth_state.get("oauth_user", {}).get(self.claim_groups_key, [])
        return auth_state["tenants"]

    async def authenticate(self, handler: Any, data: Any = None) -> dict[str, Any] | None:
        user_info = await super().authenticate(handler, data)
        if user_info is None:
            return None
        claim = self.tenants(user_info)
        if isinstance(claim, list):
            user_info["groups"] = [str(tenant) for tenant in claim]
        else:
            # A single-valued mapper gives a string; Dossier would read it as a set of characters.
            self.log.warning("claim %r of %s is not a list: %r", self.claim_groups_key, user_info["name"], claim)
            user_info["groups"] = []
        return user_info

    async def existing_tenant_names(self) -> set[str]:
        if not self.tenants_api_url:
            return set(self.existing_tenants)
        request = HTTPRequest(
            self.tenants_api_url.rstrip("/") + TENANTS_PATH,
            headers={"Authorization": f"Bearer {self.tenants_api_token}", "Accept": "application/json"},
            ca_certs=self.tenants_api_ca or None,
        )
        response = await AsyncHTTPClient().fetch(request)
        return {item["metadata"]["name"] for item in json.loads(response.body)["items"]}

    async def check_allowed(self, username: str, authentication: dict[str, Any] | None = None) -> bool:
        claim = self.tenants(authentication)
        tenants = set(claim)
        if tenants & set(self.admin_groups):
            self.log.info("allowed %s: admin role in claim %r", username, claim)
            return True
        existing = await self.existing_tenant_names()
        if tenants & existing:
            self.log.info("allowed %s: claim %r names existing tenants %s", username, claim, sorted(tenants & existing))
            return True
        self.log.warning(
            "refused %s: claim %r=%r holds no admin role %s and no existing tenant %s",
            username, self.claim_groups_key, claim, sorted(self.admin_groups), sorted(existing),
        )
        return False

    def is_admin(self, handler: Any, authentication: dict[str, Any]) -> bool | None:
        if set(self.tenants(authentication)) & set(self.admin_groups):
            return True
        result: bool | None = super().is_admin(handler, authentication)
        return result


class NoPodSpawner(Spawner):
    """Spawns nothing: there is no kubelet here, and the e2e checks login, not notebooks."""

    async def start(self) -> Any:
        raise RuntimeError("the e2e hub starts no notebook servers (no pods on this machine)")

    async def poll(self) -> int:
        return 0

    async def stop(self, now: bool = False) -> None:
        return None
