"""The hub's Capsule tenant: owner, isolation, restrictions, deletion guard."""

from __future__ import annotations

import pytest

from offline import validate
from offline.engine import RunResult, reveal

TENANT = "kubernetes:capsule.clastix.io/v1beta2:Tenant"


def _tenant(result: RunResult) -> dict:
    return reveal(result.one(TENANT, "tenant-tenant").inputs)


def test_tenant_is_owned_by_the_hub_service_account(dev: RunResult) -> None:
    tenant = _tenant(dev)
    assert tenant["apiVersion"] == "capsule.clastix.io/v1beta2"
    assert tenant["metadata"]["name"] == "jhub"
    assert tenant["spec"]["owners"] == [{"kind": "ServiceAccount", "name": "system:serviceaccount:jhub:hub"}]
    # Derived from the hub component, which binds the same account to its ClusterRole.
    binding = reveal(dev.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs)
    subject = binding["subjects"][0]
    assert tenant["spec"]["owners"][0]["name"] == f"system:serviceaccount:{subject['namespace']}:{subject['name']}"
    assert dev.outputs["hubServiceAccount"].value == tenant["spec"]["owners"][0]["name"]


def test_owner_follows_the_namespace(run_program) -> None:
    result = run_program(namespace="notebooks")
    assert _tenant(result)["spec"]["owners"][0]["name"] == "system:serviceaccount:notebooks:hub"


def test_quota_hostnames_and_service_restrictions(dev: RunResult) -> None:
    spec = _tenant(dev)["spec"]
    assert spec["namespaceOptions"] == {"quota": 100}
    assert spec["ingressOptions"] == {"allowedHostnames": {"allowed": []}}
    assert spec["serviceOptions"] == {
        "allowedServices": {"loadBalancer": False, "nodePort": False},
        "externalIPs": {"allowed": []},
    }


def test_prevent_deletion_follows_protect_data(dev: RunResult, prod: RunResult) -> None:
    # Capsule refuses to delete a Tenant with preventDeletion, pulumi destroy included (e2e/tests/test_capsule.py):
    # a stack that lets destroy delete its data (dev) must leave it off; a protected one sets it.
    unprotected = [reveal(t.inputs)["spec"]["preventDeletion"] for t in dev.by_type(TENANT)]
    assert unprotected == [False] * len(unprotected) and unprotected
    protected = [reveal(t.inputs)["spec"]["preventDeletion"] for t in prod.by_type(TENANT)]
    assert protected == [True] * len(protected) and len(protected) >= 2  # the hub's and a research group's


def test_network_policy_egress_and_ingress(dev: RunResult) -> None:
    [policy] = _tenant(dev)["spec"]["networkPolicies"]["items"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["podSelector"] == {}
    assert policy["egress"] == [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["198.18.0.0/15", "10.96.0.0/12"]}}]}
    ]
    assert policy["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"name": "jhub"}}},
                {
                    "namespaceSelector": {"matchLabels": {"name": "projectcontour"}},
                    "podSelector": {"matchLabels": {"app": "envoy"}},
                },
                {"podSelector": {}},
            ]
        }
    ]


def test_hub_namespace_selector_matches_the_namespace_labels(run_program) -> None:
    result = run_program(namespace="notebooks", ingress={"controllerNamespace": "contour"})
    labels = reveal(result.one("kubernetes:core/v1:Namespace").inputs)["metadata"]["labels"]
    [policy] = _tenant(result)["spec"]["networkPolicies"]["items"]
    sources = policy["ingress"][0]["from"]
    assert sources[0] == {"namespaceSelector": {"matchLabels": labels}}
    assert labels == {"name": "notebooks"}
    assert sources[1]["namespaceSelector"] == {"matchLabels": {"name": "contour"}}


def test_ipv6_exceptions_get_their_own_block(run_program) -> None:
    result = run_program(tenant={"egressExcept": ["10.0.0.0/8", "fd00::/8"]})
    [policy] = _tenant(result)["spec"]["networkPolicies"]["items"]
    assert policy["egress"] == [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]},
        {"to": [{"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}]},
    ]


def test_name_and_quota_are_configurable(run_program) -> None:
    tenant = _tenant(run_program(tenant={"name": "notebooks", "namespaceQuota": 7}))
    assert tenant["metadata"]["name"] == "notebooks"
    assert tenant["spec"]["namespaceOptions"] == {"quota": 7}


@pytest.mark.usefixtures("upstream")
def test_tenant_validates_against_the_capsule_crd(dev: RunResult) -> None:
    assert validate.validate_custom_resource(_tenant(dev)) == []


@pytest.mark.usefixtures("upstream")
def test_a_misspelt_tenant_field_is_an_error(dev: RunResult) -> None:
    tenant = _tenant(dev)
    tenant["spec"]["preventDeletions"] = tenant["spec"].pop("preventDeletion")
    problems = validate.validate_custom_resource(tenant)
    assert any("preventDeletions" in p for p in problems), problems
