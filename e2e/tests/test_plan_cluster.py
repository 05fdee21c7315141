"""``make plan SCHEMAS=cluster`` against a real API server (``offline/cluster.py``, docs/schemas.md).

The offline tests (``tests/test_cluster.py``) read recorded answers; here the
plan of the tests' dev stack (``tests/fixtures/stacks``) reads the three CRDs from a
real kube-apiserver through the stack's own ``kubernetes:context`` of a kubeconfig
whose current context points elsewhere. The CRDs are installed from the pinned
schemas, so the plan must pass; then the Tenant CRD is replaced by one without
``spec.ingressOptions`` (an older Capsule) and the plan must fail naming that
field; and a token the API server's RBAC refuses must stop the plan with the
server's reason, not pass it quietly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from e2e.servers import CertificateAuthority, Cluster, Supervisor, start_cluster
from e2e.servers.supervisor import free_port
from offline import cluster as cluster_schemas
from offline import plan, schemas, validate
from tests import stacks

pytestmark = pytest.mark.e2e
CONTEXT = stacks.config("dev")["kubernetes:context"]
TENANT = ("capsule.clastix.io/v1beta2", "Tenant")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Supervisor() as supervisor:
        yield start_cluster(supervisor, CertificateAuthority(supervisor.path("ca")), context=CONTEXT)


def _kubeconfig(tmp_path: Path, cluster: Cluster, token: str | None = None) -> Path:
    """The cluster's kubeconfig, its current context moved to ``other`` (a closed port); ``token``: another user's."""
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    closed = free_port()  # nothing listens there
    document["clusters"].append({"name": "nowhere", "cluster": {"server": f"https://127.0.0.1:{closed}"}})
    document["contexts"].append({"name": "other", "context": {"cluster": "nowhere",
                                                              "user": document["users"][0]["name"]}})
    document["current-context"] = "other"
    if token is not None:
        document["users"][0]["user"] = {"token": token}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


def _plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          kubeconfig: Path) -> tuple[int, str]:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    code = plan.main([*stacks.plan_args(), "--out", str(tmp_path / "build"), "--schemas", "cluster"])
    return code, capsys.readouterr().out


def test_the_plan_checks_against_the_served_crds_through_the_stacks_context(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    kubeconfig = _kubeconfig(tmp_path, cluster)
    found = cluster_schemas.read_crd_schemas(context=CONTEXT, kubeconfig=str(kubeconfig))
    assert (found.absent, found.unreadable) == ({}, {})
    assert sorted(found.schemas) == sorted(cluster_schemas.CRD_NAMES)
    code, out = _plan(tmp_path, monkeypatch, capsys, kubeconfig)
    assert code == 0, out
    assert "not run" not in out and "not checked" not in out


def _served_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A patch of the Tenant CRD serving (and storing) v1beta2 with ``schema``."""
    return {"spec": {"versions": [{"name": "v1beta2", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}, "subresources": {"status": {}}}]}}


def test_an_older_crd_in_the_cluster_fails_the_plan_naming_the_field(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    extensions = client.ApiextensionsV1Api(cluster.api_client())
    name = cluster_schemas.CRD_NAMES[TENANT]
    crd = extensions.read_custom_resource_definition(name)
    original = copy.deepcopy(schemas.load(validate.CRD_SCHEMAS[TENANT]))
    older = copy.deepcopy(original)
    del older["properties"]["spec"]["properties"]["ingressOptions"]
    extensions.patch_custom_resource_definition(name, _served_schema(older))
    try:
        code, out = _plan(tmp_path, monkeypatch, capsys, _kubeconfig(tmp_path, cluster))
    finally:
        extensions.patch_custom_resource_definition(name, _served_schema(original))
    assert crd.spec.versions[0].name == "v1beta2"
    assert code == 1, out
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1, out
    assert problems[0].startswith("  - Tenant tenant-tenant: Tenant jhub.spec: Additional properties"), out
    assert "'ingressOptions' was unexpected" in problems[0]


def test_a_token_the_cluster_refuses_stops_the_plan_with_the_servers_reason(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _plan(tmp_path, monkeypatch, capsys, _kubeconfig(tmp_path, cluster, token=cluster.limited_token))
    assert code != 0, out
    assert "HTTP 403" in out and "forbidden" in out.lower(), out
    assert cluster.url in out, out
