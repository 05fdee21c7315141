"""CRD schemas read from a cluster (offline/cluster.py, `make plan SCHEMAS=cluster`), against recorded answers.

The local server answers as the API server does: a CRD GET (tests/fixtures/apiserver/crd-get.json, its
versions filled in per test) or a Status object (status-404.json, status-403.json). The same reading
against a real API server belongs to the end-to-end tests (cluster.read_crd_schemas is their entry point).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import checks, cluster, plan, schemas, validate
from offline.engine import RunResult
from tests import stacks

FIXTURES = Path(__file__).parent / "fixtures" / "apiserver"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
TOKEN = "recorded-test-token"
TENANT = ("capsule.clastix.io/v1beta2", "Tenant")
HTTPPROXY = ("projectcontour.io/v1", "HTTPProxy")
CERTIFICATE = ("cert-manager.io/v1", "Certificate")
#: The kubeconfig context the tests' dev stack names.
CONTEXT = stacks.config("dev")["kubernetes:context"]


def crd_answer(key: tuple[str, str], schema: Any = None, *, served: bool = True) -> tuple[int, bytes]:
    """The API server's answer to a GET of the CRD serving ``key`` (the recorded one, its names and schema set)."""
    crd = json.loads((FIXTURES / "crd-get.json").read_text())
    name, (api_version, kind) = cluster.CRD_NAMES[key], key
    group, version = api_version.split("/")
    names = {"plural": name.split(".")[0], "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"}
    crd["metadata"]["name"], crd["spec"]["group"] = name, group
    crd["spec"]["names"] = crd["status"]["acceptedNames"] = names
    older, current = crd["spec"]["versions"]
    older["name"], current["name"], current["served"] = "v1alpha0", version, served
    if schema is not None:
        current["schema"]["openAPIV3Schema"] = schema
    return 200, json.dumps(crd).encode()


def status(code: int) -> tuple[int, bytes]:
    return code, (FIXTURES / f"status-{code}.json").read_bytes()


def kubeconfig(tmp_path: Path, server: str, unreachable: str) -> Path:
    """A kubeconfig whose context ``CONTEXT`` (the tests' dev stack's kubernetes:context) reaches ``server``.

    Its current context, ``other``, points at a closed port: a read that ignored the stack's context fails.
    """
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "local", "cluster": {"server": server}},
                     {"name": "nowhere", "cluster": {"server": unreachable}}],
        "users": [{"name": "reviewer", "user": {"token": TOKEN}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": "local", "user": "reviewer"}},
                     {"name": "other", "context": {"cluster": "nowhere", "user": "reviewer"}}],
    }))
    return path


@pytest.fixture
def unreachable(unreachable_url: str) -> str:
    return unreachable_url


def test_the_crd_names_cover_every_pinned_crd() -> None:
    assert set(cluster.CRD_NAMES) == set(validate.CRD_SCHEMAS)


def test_reads_each_crd_through_the_named_context(tmp_path: Path, local_server, unreachable: str) -> None:
    routes = {CRD_PATH + cluster.CRD_NAMES[key]: crd_answer(key) for key in cluster.CRD_NAMES}
    server = local_server(routes)
    served = cluster.read_crd_schemas(context=CONTEXT, kubeconfig=str(kubeconfig(tmp_path, server.url,
                                                                                       unreachable)))
    recorded = json.loads((FIXTURES / "crd-get.json").read_text())["spec"]["versions"][1]["schema"]
    assert served.schemas == dict.fromkeys(cluster.CRD_NAMES, recorded["openAPIV3Schema"])
    assert served.absent == {} and served.unreadable == {}
    assert sorted(path for path, _ in server.requests) == sorted(routes)
    assert {headers["authorization"] for _, headers in server.requests} == {f"Bearer {TOKEN}"}


def test_missing_forbidden_and_unserved_crds(
    tmp_path: Path, local_server, unreachable: str, dev: RunResult
) -> None:
    server = local_server({
        CRD_PATH + cluster.CRD_NAMES[TENANT]: crd_answer(TENANT, served=False),
        CRD_PATH + cluster.CRD_NAMES[HTTPPROXY]: status(404),
        CRD_PATH + cluster.CRD_NAMES[CERTIFICATE]: status(403),
    })
    served = cluster.read_crd_schemas(context=CONTEXT, kubeconfig=str(kubeconfig(tmp_path, server.url,
                                                                                       unreachable)))
    assert served.schemas == {}
    assert served.absent == {
        TENANT: f"CRD tenants.capsule.clastix.io in cluster context {CONTEXT} does not serve version v1beta2",
        HTTPPROXY: f"CRD httpproxies.projectcontour.io is not installed in cluster context {CONTEXT}",
    }
    assert served.unreadable[CERTIFICATE] == (
        f"cannot read CRD certificates.cert-manager.io from {server.url}: HTTP 403 "
        'customresourcedefinitions.apiextensions.k8s.io "certificates.cert-manager.io" is forbidden: User "reviewer" '
        'cannot get resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope'
    )
    report = checks.validate_resources(dev, "1.30.0", cluster=served)
    assert sorted(p for p in report.problems if "cluster context" in p) == [
        "HTTPProxy ingress-httpproxy: CRD httpproxies.projectcontour.io is not installed in cluster context "
        f"{CONTEXT}: applying it would fail",
        f"Tenant tenant-tenant: CRD tenants.capsule.clastix.io in cluster context {CONTEXT} does not serve "
        "version v1beta2: applying it would fail",
    ]
    unchecked = report.unchecked[f"CRD certificates.cert-manager.io from cluster context {CONTEXT}"]
    assert unchecked.what == {"Certificate (cert-manager.io/v1) against its CRD schema": 1}
    assert "HTTP 403" in unchecked.reasons[0]


def test_an_unreachable_cluster_or_unknown_context_is_a_reason_not_a_traceback(
    tmp_path: Path, unreachable: str
) -> None:
    config = str(kubeconfig(tmp_path, unreachable, unreachable))
    served = cluster.read_crd_schemas(kubeconfig=config)  # the current context: other
    assert served.context == "(current context)" and served.schemas == {} and served.absent == {}
    reasons = set(served.unreadable.values())
    assert len(reasons) == 1 and set(served.unreadable) == set(cluster.CRD_NAMES)
    assert reasons.pop().startswith(f"cannot reach the API server of context (current context) ({unreachable}): ")
    served = cluster.read_crd_schemas(context="no-such-context", kubeconfig=config)
    assert set(served.unreadable) == set(cluster.CRD_NAMES)
    assert all(r.startswith(f"kubeconfig {config} (kubernetes:kubeconfig): ") and "no-such-context" in r
               for r in served.unreadable.values())


def test_a_kubeconfig_that_cannot_be_read_is_named_with_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    reasons = set(cluster.read_crd_schemas().unreadable.values())
    assert reasons == {"kubeconfig ~/.kube/config (the default: no kubernetes:kubeconfig, KUBECONFIG unset): "
                       "no such file"}
    missing = tmp_path / "missing" / "config"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    assert set(cluster.read_crd_schemas().unreadable.values()) == {f"kubeconfig {missing} (KUBECONFIG): no such file"}
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\n")
    reasons = set(cluster.for_stack({"kubernetes:kubeconfig": str(broken)}).unreadable.values())
    assert len(reasons) == 1 and reasons.pop().startswith(f"kubeconfig {broken} (kubernetes:kubeconfig): ")


def test_the_stack_may_hold_the_kubeconfig_itself(tmp_path: Path, local_server, unreachable: str) -> None:
    server = local_server({CRD_PATH + cluster.CRD_NAMES[key]: crd_answer(key) for key in cluster.CRD_NAMES})
    content = kubeconfig(tmp_path, server.url, unreachable).read_text()
    served = cluster.for_stack({"kubernetes:context": CONTEXT, "kubernetes:kubeconfig": content})
    assert set(served.schemas) == set(cluster.CRD_NAMES) and served.context == CONTEXT


@pytest.mark.usefixtures("upstream")
def test_plan_checks_against_the_clusters_crds_through_the_stacks_context(
    tmp_path: Path, local_server, unreachable: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The cluster runs an older Capsule whose Tenant has no ingressOptions: the pinned schema has it.
    older = copy.deepcopy(schemas.load(validate.CRD_SCHEMAS[TENANT]))
    del older["properties"]["spec"]["properties"]["ingressOptions"]
    routes = {CRD_PATH + cluster.CRD_NAMES[key]: crd_answer(key, schemas.load(validate.CRD_SCHEMAS[key]))
              for key in cluster.CRD_NAMES}
    routes[CRD_PATH + cluster.CRD_NAMES[TENANT]] = crd_answer(TENANT, older)
    server = local_server(routes)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, server.url, unreachable)))
    assert plan.main([*stacks.plan_args(), "--out", str(tmp_path / "build"), "--schemas", "cluster"]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1, out
    assert problems[0].startswith("  - Tenant tenant-tenant: Tenant jhub.spec: Additional properties")
    assert "'ingressOptions' was unexpected" in problems[0]
    assert sorted(path for path, _ in server.requests) == sorted(routes)
    assert "not run" not in out
