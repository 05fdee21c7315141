"""A user logs into a real JupyterHub 3.0.0 through Keycloak's real login form.

Keycloak, PostgreSQL and an API server run on loopback; the test creates what the stack creates:
in Keycloak the confidential client, the ``tenants`` mapper and the client roles
(``components/keycloak_client.py``), on the API server the hub's ClusterRole and binding and the
Capsule Tenants (``components/jupyterhub.py``, ``components/tenant.py``). It builds the hub's Helm
values with the program's own ``hub_values()`` fed with the real endpoints, client secret and
database password, starts the hub with them and logs users in.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from components.common import Chart
from components.jupyterhub import (
    HUB_SERVICE_ACCOUNT,
    Database,
    HubImage,
    HubSecrets,
    JupyterHubArgs,
    OAuth,
    hub_cluster_rules,
    hub_values,
)
from components.keycloak_client import TENANTS_CLAIM, callback_url, endpoints
from components.tenant import TenantSpecArgs, tenant_spec
from e2e.hub import Hub, TenantsApi, start_hub
from e2e.hub.identity import hub_tenants_api
from e2e.login import LoginResult, login
from e2e.servers import Cluster, KeycloakAdmin, Servers, ServerStartError, Supervisor, start_servers

pytestmark = pytest.mark.e2e

FQDN = "dossier.e2e.test"
NAMESPACE = "jhub"
HUB_URL = f"https://{FQDN}"
REALM, CLIENT = "dossier", "jupyter"
ADMIN_ROLES = ["admin"]
GROUP = "physics"
"""A research group: its client role and its Tenant exist."""
GONE = "chemistry"
"""A client role whose Tenant does not exist."""
EXISTING_TENANTS = ["jhub", GROUP]
"""The hub's own Tenant and the research group's, as the stack creates them."""
USERS = {"alice": ["admin", GROUP], "bob": [], "carol": [GONE], "dave": [GROUP]}
#: The chart's PostgreSQL names (bitnami/postgresql, release jhub-postgresql); the hub is moved to the local server.
DB_HOST, DB_USER, DB_NAME = "jhub-postgresql-primary", "jhub", "jhub"
#: The environment's CA bundles would replace the run's CA in ``requests`` sessions.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass
class Run:
    servers: Servers
    hub: Hub
    values: dict[str, Any]
    tenants_api: TenantsApi
    passwords: dict[str, str]
    db_password: str
    seconds: dict[str, float]


def hex64() -> str:
    return secrets.token_hex(32)


def create_stack_client(admin: KeycloakAdmin, client_secret: str) -> None:
    """Client, mapper and roles with the settings ``components/keycloak_client.py`` gives the provider."""
    admin.create_client(REALM, {
        "clientId": CLIENT, "name": "JupyterHub (Dossier)", "enabled": True, "protocol": "openid-connect",
        "publicClient": False, "secret": client_secret, "standardFlowEnabled": True, "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False, "serviceAccountsEnabled": False,
        "redirectUris": [callback_url(HUB_URL)], "webOrigins": [HUB_URL], "rootUrl": HUB_URL,
        "attributes": {"post.logout.redirect.uris": f"{HUB_URL}/hub/login"},
    })
    client = admin.client(REALM, CLIENT)["id"]
    admin.post(f"/{REALM}/clients/{client}/protocol-mappers/models", {
        "name": TENANTS_CLAIM, "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-client-role-mapper",
        "config": {
            "claim.name": TENANTS_CLAIM, "jsonType.label": "String", "multivalued": "true",
            "usermodel.clientRoleMapping.clientId": CLIENT,
            "id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true",
        },
    })
    for role in [*ADMIN_ROLES, GROUP, GONE]:
        admin.post(f"/{REALM}/clients/{client}/roles", {"name": role})


def create_stack_cluster_objects(cluster: Cluster) -> None:
    """The hub's namespace, ClusterRole and binding, and the Tenants, with the program's rules and specs."""
    api = cluster.api_client()
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    rbac = client.RbacAuthorizationV1Api(api)
    name = f"{NAMESPACE}-hub"
    rbac.create_cluster_role(client.V1ClusterRole(metadata=client.V1ObjectMeta(name=name), rules=[
        client.V1PolicyRule(api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"])
        for r in hub_cluster_rules()
    ]))
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=name),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name=HUB_SERVICE_ACCOUNT, namespace=NAMESPACE)],
    ))
    owner = f"system:serviceaccount:{NAMESPACE}:{HUB_SERVICE_ACCOUNT}"
    for tenant in EXISTING_TENANTS:
        spec = tenant_spec(TenantSpecArgs(name=tenant, owner=owner, namespace_quota=10,
                                          hub_namespace_labels={"name": NAMESPACE}))
        client.CustomObjectsApi(api).create_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants", {
            "apiVersion": "capsule.clastix.io/v1beta2", "kind": "Tenant",
            "metadata": {"name": tenant}, "spec": spec,
        })


def stack_values(keycloak_url: str, client_secret: str, db_password: str) -> dict[str, Any]:
    """The jupyterhub chart's values, as the program renders them for these endpoints and secrets."""
    args = JupyterHubArgs(
        namespace="jhub",
        chart=Chart(repository="https://hub.jupyter.org/helm-chart/", name="jupyterhub", version="2.0.0"),
        hub_url=HUB_URL,
        image=HubImage(name="alphaunito/dossier", tag="0.0.1-alpha"),
        spawner_class="dossier.spawners.kubespawner.DossierKubeSpawner",
        database=Database(host=DB_HOST, port=5432, database=DB_NAME, username=DB_USER, password=db_password),
        oauth=OAuth(client_id=CLIENT, client_secret=client_secret, endpoints=endpoints(keycloak_url, REALM),
                    claim_name=TENANTS_CLAIM, admin_roles=ADMIN_ROLES),
    )
    return hub_values(args, HubSecrets(cookie_secret=hex64(), proxy_token=hex64(), crypt_key=hex64()))


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with pytest.MonkeyPatch.context() as env, Supervisor("dossier-e2e-login") as supervisor:
        for variable in CA_BUNDLE_VARIABLES:
            env.delenv(variable, raising=False)
        started = time.monotonic()
        servers = start_servers(supervisor, realm=REALM)
        assert servers.keycloak and servers.postgres and servers.realm and servers.cluster
        seconds = {"servers": time.monotonic() - started}
        admin = servers.keycloak.admin()
        client_secret, db_password = secrets.token_urlsafe(36), secrets.token_urlsafe(18)
        create_stack_client(admin, client_secret)
        passwords = dict(servers.realm.users)
        for username, roles in USERS.items():
            if username not in passwords:
                passwords[username] = secrets.token_urlsafe(12)
                admin.create_user(REALM, username, passwords[username], first_name=username.capitalize())
            if roles:
                admin.assign_client_roles(REALM, CLIENT, username, roles)
        servers.postgres.create_chart_database({"password": db_password, "postgres-password": hex64()},
                                               username=DB_USER, database=DB_NAME)
        create_stack_cluster_objects(servers.cluster)
        # Which tenants exist: the hub asks the API server with its own ServiceAccount, as Dossier does.
        tenants_api = hub_tenants_api(servers.cluster, NAMESPACE)
        values = stack_values(servers.keycloak.url, client_secret, db_password)
        started = time.monotonic()
        hub = start_hub(values, database=servers.postgres, keycloak_ca=servers.keycloak.ca_cert,
                        supervisor=supervisor, tenants_exist=tenants_api)
        seconds["hub"] = time.monotonic() - started
        print(f"\nservers ready in {seconds['servers']:.1f} s, hub in {seconds['hub']:.1f} s")
        yield Run(servers, hub, values, tenants_api, passwords, db_password, seconds)
        hub.stop()


def log_in(run: Run, username: str) -> LoginResult:
    started = time.monotonic()
    result = login(run.hub, username, run.passwords[username], callback_url(HUB_URL))
    print(f"\n{result}  ({time.monotonic() - started:.1f} s)")
    return result


def test_admin_in_a_research_group_logs_in_with_their_tenants_as_groups(run: Run) -> None:
    result = log_in(run, "alice")
    assert result.logged_in, f"{result}\n{result.hub_log}"
    assert result.user and result.user["name"] == "alice"
    assert sorted(result.groups) == sorted(USERS["alice"])
    assert result.admin is True
    # The userinfo the hub received: the multivalued claim, as a list of the client's roles.
    assert sorted(result.claims[TENANTS_CLAIM]) == sorted(USERS["alice"]), result.claims
    assert sorted(result.user["auth_state"]["tenants"]) == sorted(USERS["alice"])


def test_research_group_member_logs_in_without_admin(run: Run) -> None:
    result = log_in(run, "dave")
    assert result.logged_in, f"{result}\n{result.hub_log}"
    assert result.groups == [GROUP]
    assert result.admin is False


def test_user_with_no_client_role_is_refused(run: Run) -> None:
    result = log_in(run, "bob")
    assert not result.logged_in
    assert result.status == 403
    assert "not currently authorized" in result.message
    assert "refused bob: claim 'tenants'=[]" in result.hub_log


def test_user_whose_role_names_no_existing_tenant_is_refused(run: Run) -> None:
    result = log_in(run, "carol")
    assert (result.logged_in, result.status) == (False, 403)
    assert f"refused carol: claim 'tenants'=['{GONE}']" in result.hub_log


def test_hub_keeps_its_state_in_the_stack_database(run: Run) -> None:
    log_in(run, "alice")
    connection = run.servers.postgres.connect(DB_USER, run.db_password, DB_NAME)  # type: ignore[union-attr]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, admin FROM users ORDER BY name")
            users = dict(cursor.fetchall())
            cursor.execute("SELECT name FROM groups ORDER BY name")
            groups = [name for (name,) in cursor.fetchall()]
    finally:
        connection.close()
    assert users["alice"] is True
    assert "bob" not in users and "carol" not in users
    assert set(USERS["alice"]) <= set(groups)


def test_wrong_password_is_refused_by_keycloak(run: Run) -> None:
    result = login(run.hub, "alice", "not-" + run.passwords["alice"], callback_url(HUB_URL))
    assert (result.logged_in, result.status) == (False, 200)
    assert result.message.startswith("Keycloak: Invalid username or password"), result.message


def test_a_single_valued_mapper_is_caught_with_the_claims_value(run: Run) -> None:
    # What an operator meets with a broken mapper: it fails the login, and the hub's log shows the real claim.
    admin = run.servers.keycloak.admin()  # type: ignore[union-attr]
    admin.set_mapper_multivalued(REALM, CLIENT, TENANTS_CLAIM, False)
    try:
        result = log_in(run, "alice")
    finally:
        admin.set_mapper_multivalued(REALM, CLIENT, TENANTS_CLAIM, True)
    assert not result.logged_in
    assert re.search(r"claim 'tenants' of alice is not a list: '(admin|physics)'", result.hub_log), result.hub_log


def test_tenants_given_by_name_decide_who_exists(run: Run) -> None:
    # tenants_exist as names (no API server): the research group's Tenant is left out, so its member is refused.
    connection = run.servers.postgres.connect()  # type: ignore[union-attr]
    try:
        connection.cursor().execute(f"CREATE DATABASE jhub_names OWNER {DB_USER}")
    finally:
        connection.close()
    values = {**run.values, "hub": {**run.values["hub"], "db": {
        **run.values["hub"]["db"], "url": run.values["hub"]["db"]["url"].rsplit("/", 1)[0] + "/jhub_names"}}}
    hub = start_hub(values, database=run.servers.postgres, keycloak_ca=run.hub.keycloak_ca,  # type: ignore[arg-type]
                    supervisor=run.hub.supervisor, tenants_exist=["jhub"], name="jupyterhub-names")
    try:
        dave = login(hub, "dave", run.passwords["dave"], callback_url(HUB_URL))
        alice = login(hub, "alice", run.passwords["alice"], callback_url(HUB_URL))
    finally:
        hub.stop()
    assert (dave.logged_in, dave.status) == (False, 403)
    assert "no existing tenant ['jhub']" in dave.hub_log
    assert alice.logged_in and alice.admin


def test_a_hub_refused_by_its_database_fails_with_the_reason(run: Run) -> None:
    values = {**run.values, "hub": {**run.values["hub"], "db": {**run.values["hub"]["db"], "password": "wrong"}}}
    with pytest.raises(ServerStartError, match="jupyterhub-bad-db exited") as error:
        start_hub(values, database=run.servers.postgres, keycloak_ca=run.hub.keycloak_ca,  # type: ignore[arg-type]
                  supervisor=run.hub.supervisor, tenants_exist=["jhub"], name="jupyterhub-bad-db")
    # The stack's hub.args carry --upgrade-db, so the hub upgrades its database first and that step's
    # error, with PostgreSQL's own reason, ends the log the message quotes.
    assert f'password authentication failed for user "{DB_USER}"' in str(error.value)
