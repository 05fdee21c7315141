"""What a run needs in Keycloak before ``pulumi up``: realm ``dossier``, the provider's account, test users.

``prepare_realm(keycloak)`` creates the realm, a confidential service-account
client for the Pulumi keycloak provider (client-credentials grant, no browser
flows) and the test users (enabled, verified e-mail, permanent password).
Client roles are not assigned here: the stack's client and roles exist only
after ``pulumi up``; then the harness calls ``KeycloakAdmin.assign_client_roles``.

Where the provider's service account lives (``provider_realm``):

- ``"master"`` (default): the client is in the master realm and its service
  account holds the master realm's ``admin`` role; the provider config says
  ``keycloak:realm: master``.
- the stack's realm (``"dossier"``): the service account holds
  ``realm-management``'s ``realm-admin`` in that realm only; the provider config
  says ``keycloak:realm: dossier``.

The Terraform provider inside pulumi-keycloak reads the server version from
``/admin/serverinfo`` (``systemInfo.version``) at login and fails with
"Malformed version" when it is empty. Keycloak 26.4 hid it from non-master
administrators (keycloak/terraform-provider-keycloak#1342);
``server_version_seen_by`` returns what that account gets, so a run records
which placements work (docs/e2e.md has the measured result).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import requests

from e2e.servers.keycloak import Keycloak
from e2e.servers.keycloak_admin import KeycloakAdmin

DEFAULT_USERS = ("alice", "bob")


@dataclass(frozen=True)
class ProviderAccount:
    """Credentials of the Pulumi keycloak provider's service account."""

    url: str
    realm: str
    """The realm the account logs in to (the provider's ``keycloak:realm``)."""
    client_id: str
    client_secret: str
    ca_pem: str

    def pulumi_config(self) -> dict[str, str]:
        """The provider's stack config (``keycloak:clientSecret`` should be set as a secret)."""
        return {"keycloak:url": self.url, "keycloak:realm": self.realm, "keycloak:clientId": self.client_id,
                "keycloak:clientSecret": self.client_secret, "keycloak:rootCaCertificate": self.ca_pem}


@dataclass
class RealmSetup:
    realm: str
    provider: ProviderAccount
    users: dict[str, str] = field(default_factory=dict)
    """username -> password."""


def create_provider_account(keycloak: Keycloak, admin: KeycloakAdmin, *, provider_realm: str = "master",
                            client_id: str = "pulumi") -> ProviderAccount:
    """A confidential client with a service account that may administer the stack's realm (see the module doc)."""
    admin.create_client(provider_realm, {
        "clientId": client_id, "protocol": "openid-connect", "publicClient": False,
        "serviceAccountsEnabled": True, "standardFlowEnabled": False, "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False, "secret": secrets.token_urlsafe(24),
    })
    client = admin.client(provider_realm, client_id)
    account = admin.get(f"/{provider_realm}/clients/{client['id']}/service-account-user")["id"]
    mappings = f"/{provider_realm}/users/{account}/role-mappings"
    if provider_realm == "master":
        admin.request("POST", f"{mappings}/realm", json=[admin.get("/master/roles/admin")])
    else:
        management = admin.client(provider_realm, "realm-management")
        admin.request("POST", f"{mappings}/clients/{management['id']}",
                      json=[admin.client_role(provider_realm, "realm-management", "realm-admin")])
    return ProviderAccount(keycloak.url, provider_realm, client_id, admin.client_secret(provider_realm, client_id),
                           keycloak.ca_cert.read_text())


def server_version_seen_by(keycloak: Keycloak, account: ProviderAccount) -> str:
    """``systemInfo.version`` of ``/admin/serverinfo`` for the account ("" if hidden): what the provider reads."""
    verify = str(keycloak.ca_cert)
    token = requests.post(f"{keycloak.url}/realms/{account.realm}/protocol/openid-connect/token", verify=verify,
                          data={"grant_type": "client_credentials", "client_id": account.client_id,
                                "client_secret": account.client_secret}, timeout=30)
    token.raise_for_status()
    info = requests.get(f"{keycloak.url}/admin/serverinfo", verify=verify, timeout=30,
                        headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    info.raise_for_status()
    return str((info.json().get("systemInfo") or {}).get("version") or "")


def prepare_realm(keycloak: Keycloak, admin: KeycloakAdmin | None = None, *, realm: str = "dossier",
                  users: tuple[str, ...] = DEFAULT_USERS, provider_realm: str = "master",
                  provider_client_id: str = "pulumi") -> RealmSetup:
    """Realm ``realm``, the provider's service account (in ``provider_realm``) and ``users`` with fresh passwords."""
    admin = admin or keycloak.admin()
    admin.create_realm(realm)
    account = create_provider_account(keycloak, admin, provider_realm=provider_realm, client_id=provider_client_id)
    passwords = {}
    for username in users:
        passwords[username] = secrets.token_urlsafe(12)
        admin.create_user(realm, username, passwords[username], first_name=username.capitalize())
    return RealmSetup(realm, account, passwords)
