"""JupyterHub: the z2jh release wired to Keycloak and PostgreSQL, and the hub's cluster RBAC."""

from __future__ import annotations

import re

import pytest

from offline import validate
from offline.engine import RunResult, Secret, leaves, reveal

RELEASE = "kubernetes:helm.sh/v3:Release"


def _values(result: RunResult) -> dict:
    return result.one(RELEASE, "jupyterhub-release").inputs["values"]


def test_chart_is_pinned_with_explicit_release_name(dev: RunResult) -> None:
    release = reveal(dev.one(RELEASE, "jupyterhub-release").inputs)
    assert release["chart"] == "jupyterhub"
    assert release["version"] == "2.0.0"
    assert release["repositoryOpts"] == {"repo": "https://hub.jupyter.org/helm-chart/"}
    assert release["name"] == "jhub"
    assert release["namespace"] == "jhub"


def test_hub_db_on_postgresql_without_password_in_url(dev: RunResult) -> None:
    db = _values(dev)["hub"]["db"]
    pg = dev.outputs["postgresql"].value
    assert db["type"] == "postgres"
    # The hub connects by the Service's short name (its namespace's); the output names it for every namespace.
    assert db["url"] == f"postgresql+psycopg2://{pg['username']}@jhub-postgresql-primary:5432/{pg['database']}"
    assert db["url"] == "postgresql+psycopg2://jhub@jhub-postgresql-primary:5432/jhub"
    assert pg["host"] == "jhub-postgresql-primary.jhub.svc"
    user_password = dev.one("random:index/randomPassword:RandomPassword", "postgresql-user-password")
    assert db["password"] == Secret(reveal(user_password.outputs["result"]))
    assert db["upgrade"] is True
    # hub.args replaces the chart's command, which would add --upgrade-db from hub.db.upgrade.
    assert _values(dev)["hub"]["args"][-1] == "--upgrade-db"


def test_authenticator_wired_to_the_keycloak_client(dev: RunResult) -> None:
    config = _values(dev)["hub"]["config"]
    oauth = config["GenericOAuthenticator"]
    realm = "https://sso.lab-staging.test/realms/science/protocol/openid-connect"
    client_secret = reveal(dev.one("random:index/randomPassword:RandomPassword", "keycloak-secret").outputs["result"])
    assert oauth["client_id"] == "jupyter"
    assert oauth["client_secret"] == Secret(client_secret)
    assert oauth["oauth_callback_url"] == "https://notebooks.lab-staging.test/hub/oauth_callback"
    assert oauth["authorize_url"] == f"{realm}/auth"
    assert oauth["token_url"] == f"{realm}/token"
    assert oauth["userdata_url"] == f"{realm}/userinfo"
    mapper = dev.one("keycloak:openid/userClientRoleProtocolMapper:UserClientRoleProtocolMapper")
    assert oauth["claim_groups_key"] == mapper.inputs["claimName"] == "tenants"
    assert oauth["admin_groups"] == ["admin"]
    assert oauth["username_key"] == "preferred_username"
    assert oauth["scope"] == ["openid"]
    assert oauth["enable_auth_state"] is True
    assert oauth["login_service"] == "Keycloak"
    assert config["JupyterHub"]["authenticator_class"] == "dossier.auth.oauth.DossierOAuthenticator"
    assert config["Authenticator"]["manage_groups"] is True


def test_hub_secrets_come_from_pulumi_random_and_stay_secret(dev: RunResult) -> None:
    config = _values(dev)["hub"]["config"]
    generated = {r.name: reveal(r.outputs["result"]) for r in dev.by_type("random:index/randomPassword:RandomPassword")
                 if r.name.startswith("jupyterhub-")}
    # Not RandomBytes: its ID (kept in clear in the state) is its base64 value.
    assert not dev.by_type("random:index/randomBytes:RandomBytes")
    assert config["JupyterHub"]["cookie_secret"] == Secret(generated["jupyterhub-cookie-secret"])
    assert config["ConfigurableHTTPProxy"]["auth_token"] == Secret(generated["jupyterhub-proxy-token"])
    assert config["CryptKeeper"]["keys"] in ([Secret(generated["jupyterhub-crypt-key"])],
                                             Secret([generated["jupyterhub-crypt-key"]]))
    for value in generated.values():
        assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert len(set(generated.values())) == 3


def test_every_secret_in_the_values_is_sealed(dev: RunResult) -> None:
    generated = set(dev.generated_secrets)
    for path, value, secret in leaves(_values(dev)):
        if value in generated:
            assert secret, f"hub values {path} holds a generated secret in plain text"


def test_hub_image_spawner_and_labels(dev: RunResult) -> None:
    hub = _values(dev)["hub"]
    # Dossier's reference pulls the hub image on every start (pullPolicy Always).
    assert hub["image"] == {"name": "docker.io/alphaunito/dossier", "tag": "0.0.1-alpha", "pullPolicy": "Always"}
    assert hub["args"][0] == "dossier"
    spawner = hub["extraConfig"]["spawnerConfig"]
    assert "from dossier.spawners.kubespawner import DossierKubeSpawner" in spawner
    assert "c.JupyterHub.spawner_class = DossierKubeSpawner" in spawner
    assert "c.KubeSpawner.enable_user_namespaces = True" in spawner
    pg_selector = reveal(dev.one(RELEASE, "postgresql-release").inputs["values"])["networkPolicy"]["ingressRules"]
    assert pg_selector["primaryAccessOnlyFrom"]["podSelector"] == hub["labels"]


def test_network_scheduling_and_singleuser(run_program) -> None:
    result = run_program(jupyterhub={"singleuser": {"storageClass": "cinder", "startTimeout": 600}})
    values = reveal(_values(result))
    for policy in (values["hub"]["networkPolicy"], values["proxy"]["chp"]["networkPolicy"],
                   values["singleuser"]["networkPolicy"]):
        # Notebooks run in tenant namespaces: they must be admitted across namespaces.
        assert policy == {"enabled": True, "interNamespaceAccessLabels": "accept"}
    assert values["proxy"]["service"] == {"type": "ClusterIP"}
    assert values["scheduling"]["userScheduler"] == {"enabled": True}
    assert values["singleuser"]["storage"] == {"dynamic": {"storageClass": "cinder"}}
    assert values["singleuser"]["startTimeout"] == 600


def test_hub_image_and_spawner_are_configurable(run_program) -> None:
    result = run_program(
        jupyterhub={
            "image": {
                "name": "registry.example.org/dossier/hub",
                "tag": "2024.10",
                "pullPolicy": "IfNotPresent",
                "pullSecrets": ["registry-example-org", "mirror"],
            },
            "spawnerClass": "dossier.spawners.kubernetes.DossierKubeSpawner",
        }
    )
    hub = reveal(_values(result))["hub"]
    assert hub["image"] == {
        "name": "registry.example.org/dossier/hub",
        "tag": "2024.10",
        "pullPolicy": "IfNotPresent",
        "pullSecrets": ["registry-example-org", "mirror"],
    }
    assert "from dossier.spawners.kubernetes import DossierKubeSpawner" in hub["extraConfig"]["spawnerConfig"]


def test_pull_policy_null_leaves_the_chart_default(run_program) -> None:
    hub = reveal(_values(run_program(jupyterhub={"image": {"pullPolicy": None}})))["hub"]
    assert hub["image"] == {"name": "docker.io/alphaunito/dossier", "tag": "0.0.1-alpha"}


@pytest.mark.usefixtures("upstream")
def test_values_validate_against_the_z2jh_2_0_0_schema(dev: RunResult) -> None:
    assert validate.validate_z2jh_values(reveal(_values(dev))) == []


@pytest.mark.usefixtures("upstream")
def test_schema_check_catches_a_misspelt_key(dev: RunResult) -> None:
    values = reveal(_values(dev))
    values["hub"]["dbb"] = values["hub"].pop("db")
    problems = validate.validate_z2jh_values(values)
    assert any("dbb" in p for p in problems)


def test_cluster_role_rules_are_the_dossier_guide(dev: RunResult) -> None:
    role = reveal(dev.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs)
    manage = ["get", "watch", "list", "create", "delete"]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "persistentvolumeclaims", "secrets", "services"], "verbs": manage},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "watch", "list"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
        {"apiGroups": ["capsule.clastix.io"], "resources": ["tenants"], "verbs": ["get", "list"]},
        {"apiGroups": ["dossier.unito.it"], "resources": ["spawners"], "verbs": ["get", "list"]},
    ]


def test_binding_binds_the_hub_service_account(dev: RunResult) -> None:
    role = reveal(dev.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs)
    binding = reveal(dev.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "jhub"}]
    assert dev.outputs["hubServiceAccount"].value == "system:serviceaccount:jhub:hub"
