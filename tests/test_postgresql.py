"""PostgreSQL: generated passwords, their Secret and the bitnami/postgresql release."""

from __future__ import annotations

import pytest

from components.common import Chart
from components.postgresql import PostgreSQLArgs, postgresql_values, primary_host
from offline import validate
from offline.engine import RunResult, Secret, leaves, reveal

RELEASE = "kubernetes:helm.sh/v3:Release"
PASSWORD = "random:index/randomPassword:RandomPassword"


def _values(result: RunResult) -> dict:
    return result.one(RELEASE, "postgresql-release").inputs["values"]


def test_chart_is_pinned_oci_with_explicit_release_name(dev: RunResult) -> None:
    release = reveal(dev.one(RELEASE, "postgresql-release").inputs)
    assert release["chart"] == "oci://registry-1.docker.io/bitnamicharts/postgresql"
    assert release["version"] == "12.2.1"
    assert release["name"] == "jhub-postgresql"
    assert release["namespace"] == "jhub"
    assert "repositoryOpts" not in release  # an OCI chart is named by its reference


def test_https_chart_repository_uses_repository_opts(run_program) -> None:
    result = run_program(postgresql={"chartRepository": "https://charts.example.org/bitnami"})
    release = reveal(result.one(RELEASE, "postgresql-release").inputs)
    assert release["chart"] == "postgresql"
    assert release["repositoryOpts"] == {"repo": "https://charts.example.org/bitnami"}


def test_three_distinct_long_connection_safe_passwords(dev: RunResult) -> None:
    passwords = {r.name: r for r in dev.by_type(PASSWORD) if r.name.startswith("postgresql-")}
    assert set(passwords) == {
        "postgresql-user-password",
        "postgresql-admin-password",
        "postgresql-replication-password",
    }
    values = [reveal(p.outputs["result"]) for p in passwords.values()]
    assert len(set(values)) == 3
    for registration, value in zip(passwords.values(), values, strict=True):
        assert registration.inputs["length"] >= 32 and len(value) >= 32
        assert registration.inputs["special"] is False
        assert value.isalnum()
        assert isinstance(registration.outputs["result"], Secret)


def test_secret_holds_the_three_passwords_as_secrets(dev: RunResult) -> None:
    secret = dev.one("kubernetes:core/v1:Secret", "postgresql-secret")
    assert secret.inputs["metadata"] == {"name": "jhub-postgresql", "namespace": "jhub"}
    data = secret.inputs["stringData"]
    # Every value is sealed, whether the SDK marks the map or each entry secret.
    assert all(is_secret for _, _, is_secret in leaves(data))
    data = reveal(data)
    assert set(data) == {"password", "postgres-password", "replication-password"}
    by_role = {
        "password": "postgresql-user-password",
        "postgres-password": "postgresql-admin-password",
        "replication-password": "postgresql-replication-password",
    }
    for key, name in by_role.items():
        assert data[key] == reveal(dev.one(PASSWORD, name).outputs["result"])
    assert "data" not in secret.inputs  # string_data only, nothing hand-encoded


def test_release_reads_the_secret_and_depends_on_it(dev: RunResult) -> None:
    release = dev.one(RELEASE, "postgresql-release")
    auth = reveal(_values(dev))["auth"]
    assert auth["existingSecret"] == "jhub-postgresql"
    assert auth["secretKeys"] == {
        "adminPasswordKey": "postgres-password",
        "userPasswordKey": "password",
        "replicationPasswordKey": "replication-password",
    }
    assert (auth["username"], auth["database"]) == ("jhub", "jhub")
    assert dev.one("kubernetes:core/v1:Secret", "postgresql-secret").urn in release.dependencies
    # No password travels in the values: the chart reads them from the Secret.
    assert not [path for path, _, secret in leaves(_values(dev)) if secret]


def test_architecture_replicas_persistence_and_image(run_program) -> None:
    result = run_program(
        postgresql={"architecture": "replication", "readReplicas": 2, "size": "50Gi", "storageClass": "fast"}
    )
    values = reveal(_values(result))
    assert values["architecture"] == "replication"
    assert values["readReplicas"] == {"replicaCount": 2, "persistence": {"size": "50Gi"}}
    assert values["primary"]["persistence"] == {"size": "50Gi"}
    assert values["global"] == {"storageClass": "fast"}
    # bitnami moved its versioned images to bitnamilegacy (bitnami/charts#35164).
    assert values["image"] == {
        "registry": "docker.io",
        "repository": "bitnamilegacy/postgresql",
        "tag": "15.2.0-debian-11-r2",
    }


def test_standalone_has_no_replicas(run_program) -> None:
    result = run_program(postgresql={"architecture": "standalone", "readReplicas": 0})
    values = reveal(_values(result))
    assert values["architecture"] == "standalone"
    assert "readReplicas" not in values
    assert "readReplicasAccessOnlyFrom" not in values["networkPolicy"]["ingressRules"]
    assert result.outputs["postgresql"].value["host"] == "jhub-postgresql.jhub.svc"


def test_only_the_hub_may_connect(dev: RunResult) -> None:
    policy = reveal(_values(dev))["networkPolicy"]
    hub_labels = reveal(dev.one(RELEASE, "jupyterhub-release").inputs["values"])["hub"]["labels"]
    assert policy["enabled"] is True
    for rule in ("primaryAccessOnlyFrom", "readReplicasAccessOnlyFrom"):
        assert policy["ingressRules"][rule] == {"enabled": True, "podSelector": hub_labels}
        # No namespaceSelector: the chart's rule then admits pods of the release's namespace only.
        assert "namespaceSelector" not in policy["ingressRules"][rule]
    assert "allowExternal" not in policy  # not a key of chart 12.2.1
    # The output contract says so: who may connect is the hub's namespace with these labels.
    assert dev.outputs["postgresql"].value["clientLabels"] == hub_labels


@pytest.mark.parametrize("architecture", ["replication", "standalone"])
def test_host_follows_the_chart_naming_rule(architecture: str) -> None:
    expected = {"replication": "jhub-postgresql-primary", "standalone": "jhub-postgresql"}[architecture]
    assert primary_host("jhub-postgresql", architecture) == expected


@pytest.mark.usefixtures("upstream")
def test_values_use_only_keys_chart_12_2_1_knows(dev: RunResult) -> None:
    assert validate.validate_postgresql_values(reveal(_values(dev))) == []
    full = postgresql_values(
        PostgreSQLArgs(
            namespace="jhub",
            chart=Chart(repository="oci://x", name="postgresql", version="12.2.1"),
            storage_class="fast",
            image={"registry": "r", "repository": "p", "tag": "t"},
            client_pod_labels={"a": "b"},
        )
    )
    assert validate.validate_postgresql_values(full) == []


@pytest.mark.usefixtures("upstream")
def test_a_key_the_chart_does_not_know_is_reported() -> None:
    problems = validate.validate_postgresql_values({"networkPolicy": {"enabled": True, "allowExternal": False}})
    assert problems == [
        "postgresql values.networkPolicy.allowExternal: not a key of bitnami/postgresql 12.2.1 (Helm would drop it)"
    ]
