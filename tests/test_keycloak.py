"""The hub's Keycloak client, its tenants mapper and client roles."""

from __future__ import annotations

from components.keycloak_client import endpoints
from offline.engine import RunResult, Secret, reveal

CLIENT = "keycloak:openid/client:Client"
MAPPER = "keycloak:openid/userClientRoleProtocolMapper:UserClientRoleProtocolMapper"
ROLE = "keycloak:index/role:Role"


def test_client_is_confidential_standard_flow_only(dev: RunResult) -> None:
    client = reveal(dev.one(CLIENT).inputs)
    assert client["realmId"] == "science"
    assert client["clientId"] == "jupyter"
    assert client["accessType"] == "CONFIDENTIAL"
    assert client["standardFlowEnabled"] is True  # the provider defaults it to false
    assert client["implicitFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    assert client["serviceAccountsEnabled"] is False
    assert client["validRedirectUris"] == ["https://notebooks.lab-staging.test/hub/oauth_callback"]
    assert client["webOrigins"] == ["https://notebooks.lab-staging.test"]


def test_client_secret_is_generated_and_secret(dev: RunResult) -> None:
    client = dev.one(CLIENT)
    generated = dev.one("random:index/randomPassword:RandomPassword", "keycloak-secret")
    assert client.inputs["clientSecret"] == Secret(reveal(generated.outputs["result"]))
    assert dev.outputs["keycloakClientSecret"].secret is True
    assert dev.outputs["keycloakClientSecret"].value == reveal(generated.outputs["result"])


def test_tenants_mapper_is_multivalued_on_the_hub_client(dev: RunResult) -> None:
    client = dev.one(CLIENT)
    mapper = reveal(dev.one(MAPPER).inputs)
    assert mapper == {
        "realmId": "science",
        "clientId": client.id,  # Keycloak's internal id of the client, not "jupyter"
        "name": "tenants",
        "claimName": "tenants",
        "claimValueType": "String",
        "clientIdForRoleMappings": "jupyter",
        "multivalued": True,  # single-valued by default: a user in two tenants would get one
        "addToIdToken": True,
        "addToAccessToken": True,
        "addToUserinfo": True,
    }
    assert client.urn in dev.one(MAPPER).dependencies


def test_a_client_role_per_admin_role(run_program) -> None:
    result = run_program(keycloak={"url": "https://kc.example.org", "adminRoles": ["admin", "operators"]})
    roles = {reveal(r.inputs)["name"]: reveal(r.inputs) for r in result.by_type(ROLE)}
    assert set(roles) == {"admin", "operators"}
    client = result.one(CLIENT)
    for role in roles.values():
        assert (role["realmId"], role["clientId"]) == ("dossier", client.id)
    for registration in result.by_type(ROLE):
        assert client.urn in registration.dependencies
    hub = reveal(result.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"])
    assert hub["hub"]["config"]["GenericOAuthenticator"]["admin_groups"] == ["admin", "operators"]


def test_endpoints_follow_keycloak_layout() -> None:
    found = endpoints("https://kc.example.org/auth", "dossier")
    base = "https://kc.example.org/auth/realms/dossier/protocol/openid-connect"
    assert found.issuer == "https://kc.example.org/auth/realms/dossier"
    assert (found.authorize, found.token, found.userinfo, found.end_session) == (
        f"{base}/auth",
        f"{base}/token",
        f"{base}/userinfo",
        f"{base}/logout",
    )
