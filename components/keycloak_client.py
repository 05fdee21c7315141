"""The hub's OpenID client in Keycloak, its ``tenants`` mapper and its client roles.

Creates a confidential ``keycloak.openid.Client`` (standard flow only) whose
secret is generated here, the multivalued ``UserClientRoleProtocolMapper``
that puts the user's roles of this client into the ``tenants`` claim, and one
client role per admin role and per research-group tenant. Assumes the realm
exists and the Keycloak provider is configured (``keycloak:*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_keycloak as keycloak
import pulumi_random as random

from components.common import child

TENANTS_CLAIM = "tenants"


@dataclass(frozen=True, kw_only=True)
class KeycloakClientArgs:
    url: str
    """Keycloak base URL without a trailing slash."""
    realm: str
    client_id: str
    hub_url: str
    admin_roles: list[str] = field(default_factory=lambda: ["admin"])
    protect: bool = True


@dataclass(frozen=True)
class OidcEndpoints:
    issuer: str
    authorize: str
    token: str
    userinfo: str
    end_session: str


def endpoints(url: str, realm: str) -> OidcEndpoints:
    """The realm's OpenID Connect endpoints (Keycloak's fixed layout)."""
    # Ref: https://www.keycloak.org/docs/latest/securing_apps/#endpoints
    issuer = f"{url.rstrip('/')}/realms/{realm}"
    base = f"{issuer}/protocol/openid-connect"
    return OidcEndpoints(issuer, f"{base}/auth", f"{base}/token", f"{base}/userinfo", f"{base}/logout")


def callback_url(hub_url: str) -> str:
    return f"{hub_url}/hub/oauth_callback"


class KeycloakClient(pulumi.ComponentResource):
    """A confidential OpenID client for JupyterHub."""

    client: keycloak.openid.Client
    client_id: pulumi.Output[str]
    """The OpenID client id (``jupyter``)."""
    client_secret: pulumi.Output[str]
    """The client secret (secret)."""
    endpoints: OidcEndpoints
    claim_name: str
    """Claim carrying the user's tenants (the hub's ``claim_groups_key``)."""
    roles: dict[str, keycloak.Role]

    def __init__(self, name: str, args: KeycloakClientArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:keycloak:KeycloakClient", name, None, opts)
        secret = random.RandomPassword(
            f"{name}-secret", length=48, special=False, opts=child(self, protect=args.protect)
        )
        self.client = keycloak.openid.Client(
            f"{name}-client",
            realm_id=args.realm,
            client_id=args.client_id,
            name="JupyterHub (Dossier)",
            enabled=True,
            access_type="CONFIDENTIAL",
            client_secret=secret.result,
            # standard_flow_enabled defaults to false in the provider: set every flow explicitly.
            standard_flow_enabled=True,
            implicit_flow_enabled=False,
            direct_access_grants_enabled=False,
            service_accounts_enabled=False,
            valid_redirect_uris=[callback_url(args.hub_url)],
            valid_post_logout_redirect_uris=[f"{args.hub_url}/hub/login"],
            web_origins=[args.hub_url],
            root_url=args.hub_url,
            opts=child(self, protect=args.protect),
        )
        self.claim_name = TENANTS_CLAIM
        keycloak.openid.UserClientRoleProtocolMapper(
            f"{name}-tenants-mapper",
            realm_id=args.realm,
            client_id=self.client.id,
            name=TENANTS_CLAIM,
            claim_name=TENANTS_CLAIM,
            claim_value_type="String",
            client_id_for_role_mappings=args.client_id,
            # Single-valued by default: a user in two tenants would get only one.
            multivalued=True,
            add_to_id_token=True,
            add_to_access_token=True,
            add_to_userinfo=True,
            opts=child(self),
        )
        # Members of these roles get them in the tenants claim, which admin_groups matches.
        self.roles = {
            role: keycloak.Role(
                f"{name}-role-{role}",
                realm_id=args.realm,
                client_id=self.client.id,
                name=role,
                description="JupyterHub administrators",
                opts=child(self),
            )
            for role in args.admin_roles
        }
        self.client_id = self.client.client_id
        self.client_secret = pulumi.Output.secret(secret.result)
        self.endpoints = endpoints(args.url, args.realm)
        self.register_outputs({
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "issuerUrl": self.endpoints.issuer,
        })
