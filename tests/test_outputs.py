"""The output contract other teams read through StackReference."""

from __future__ import annotations

from offline.engine import RunResult, reveal

CONTRACT = {
    "hubUrl": False,
    "namespace": False,
    "tenant": False,
    "tenants": False,
    "postgresql": False,
    "postgresqlPassword": True,
    "keycloak": False,
    "keycloakClientSecret": True,
    "hubServiceAccount": False,
    "tlsSecret": False,
    "chartVersions": False,
}


def test_outputs_are_exactly_the_contract_with_secrets_sealed(dev: RunResult) -> None:
    assert {name: out.secret for name, out in dev.outputs.items()} == CONTRACT


def test_output_values(dev: RunResult) -> None:
    values = {name: out.value for name, out in dev.outputs.items()}
    user_password = dev.one("random:index/randomPassword:RandomPassword", "postgresql-user-password")
    assert values["hubUrl"] == "https://notebooks.lab-staging.test"
    assert values["namespace"] == "jhub"
    assert values["tenant"] == "jhub"
    assert values["postgresql"] == {
        "host": "jhub-postgresql-primary.jhub.svc",
        "port": 5432,
        "database": "jhub",
        "username": "jhub",
        "secretName": "jhub-postgresql",
        "clientLabels": {"jhub-postgresql-client": "true"},
    }
    assert values["postgresqlPassword"] == reveal(user_password.outputs["result"])
    assert values["keycloak"] == {
        "clientId": "jupyter",
        "issuerUrl": "https://sso.lab-staging.test/realms/science",
        "realm": "science",
    }
    assert values["hubServiceAccount"] == "system:serviceaccount:jhub:hub"
    assert values["tlsSecret"] == {"name": "notebooks.lab-staging.test-tls", "namespace": "jhub"}
    assert values["chartVersions"] == {"postgresql": "12.2.1", "jupyterhub": "2.0.0"}


def test_outputs_are_known_at_preview_except_generated_secrets(run_program) -> None:
    result = run_program(preview=True)
    unknown = {name for name, out in result.outputs.items() if not out.known}
    assert unknown <= {"postgresqlPassword", "keycloakClientSecret"}
    assert result.outputs["postgresql"].known and result.outputs["hubServiceAccount"].known
    assert result.outputs["tlsSecret"].known


def test_names_other_namespaces_can_use(run_program) -> None:
    # Another namespace: the outputs follow it, and the hub keeps its own short name.
    result = run_program(namespace="notebooks")
    values = {name: out.value for name, out in result.outputs.items()}
    assert values["postgresql"]["host"] == "jhub-postgresql-primary.notebooks.svc"
    assert values["tlsSecret"] == {"name": "notebooks.lab-staging.test-tls", "namespace": "notebooks"}
    hub = result.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"]["hub"]
    assert hub["db"]["url"] == "postgresql+psycopg2://jhub@jhub-postgresql-primary:5432/jhub"
    certificate = result.one("kubernetes:cert-manager.io/v1:Certificate", "ingress-certificate").inputs
    assert (certificate["metadata"]["namespace"], certificate["spec"]["secretName"]) == (
        values["tlsSecret"]["namespace"], values["tlsSecret"]["name"])
