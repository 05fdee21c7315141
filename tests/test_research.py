"""Research groups (``dossier:tenants``) and remote spawners (``dossier:spawners``).

Each group renders exactly one client role of the hub's client and one Capsule
Tenant in the shape Dossier's spawner reads (policy annotations; limit ranges
as ``spec.limitRanges.items[].limits[]`` of type ``Container`` with ``default``,
``defaultRequest``, ``min`` and ``max``); mistakes in the list are config errors
that name the entry; removing a group leaves every other group untouched.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from components.config import ConfigError
from offline import validate
from offline.engine import Registration, RunResult, reveal, run
from tests import stacks

TENANT = "kubernetes:capsule.clastix.io/v1beta2:Tenant"
ROLE = "keycloak:index/role:Role"
CLIENT = "keycloak:openid/client:Client"
MAPPER = "keycloak:openid/userClientRoleProtocolMapper:UserClientRoleProtocolMapper"
SPAWNER = "kubernetes:dossier.unito.it/v1alpha1:Spawner"
COMPONENT = "dossier:research:ResearchTenants"

#: The research group of docs/research-groups.md's config example, verbatim.
GENOMICS: dict[str, Any] = {
    "name": "genomics",
    "namespaceQuota": 5,
    "nodeSelector": {"pool": "genomics"},
    "resourceQuota": {"cpu": "64", "memory": "256Gi", "storage": "1Ti"},
    "limits": {
        "cpu": {"default": "1", "defaultRequest": "500m", "min": "100m", "max": "8"},
        "memory": {"default": "2Gi", "defaultRequest": "1Gi", "min": "256Mi", "max": "32Gi"},
    },
    "imagePolicy": "profiles",
    "resourcePolicy": "manual",
    "owners": [{"kind": "Group", "name": "genomics-admins"}],
}
HPC: dict[str, Any] = {
    "name": "hpc-cluster",
    "class": "dossier.spawners.sshspawner.SSHSpawner",
    "properties": {"host": "login.hpc.example.org"},
    "parameters": {},
    "tenants": ["genomics"],
}


def _group(name: str, **fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(GENOMICS), "name": name, "owners": [{"kind": "Group", "name": f"{name}-admins"}], **fields}


def _tenants(result: RunResult) -> dict[str, Registration]:
    """Research-group Tenants by their Kubernetes name."""
    return {r.inputs["metadata"]["name"]: r for r in result.by_type(TENANT) if COMPONENT in r.urn}


def _roles(result: RunResult) -> dict[str, Registration]:
    return {r.inputs["name"]: r for r in result.by_type(ROLE) if COMPONENT in r.urn}


def _object(registration: Registration) -> dict[str, Any]:
    inputs = reveal(registration.inputs)
    return {key: inputs[key] for key in ("apiVersion", "kind", "metadata", "spec")}


@pytest.fixture(scope="module")
def genomics() -> RunResult:
    config = stacks.config("dev")
    config.update({"dossier:tenants": [GENOMICS], "dossier:spawners": [HPC]})
    return run(config)


@pytest.fixture(scope="module")
def spec(genomics: RunResult) -> dict[str, Any]:
    return reveal(_tenants(genomics)["genomics"].inputs["spec"])


# --- one group: one role, one tenant ---------------------------------------------


def test_a_group_renders_one_client_role_of_the_hub_client(genomics: RunResult) -> None:
    roles = _roles(genomics)
    assert list(roles) == ["genomics"]
    role = roles["genomics"]
    assert {k: role.inputs[k] for k in ("realmId", "name")} == {"realmId": "science", "name": "genomics"}
    # keycloak.Role(client_id=<the client's internal id>) is a client role of that client: the
    # same id the tenants mapper is attached to, whose roles (of "jupyter") fill the claim.
    client = genomics.one(CLIENT)
    mapper = genomics.one(MAPPER)
    assert client.urn in role.dependencies
    assert role.inputs["clientId"] == mapper.inputs["clientId"]
    assert mapper.inputs["clientIdForRoleMappings"] == client.inputs["clientId"] == "jupyter"


def test_a_group_renders_one_tenant_named_after_it(genomics: RunResult) -> None:
    tenants = _tenants(genomics)
    assert list(tenants) == ["genomics"]
    assert tenants["genomics"].inputs["apiVersion"] == "capsule.clastix.io/v1beta2"
    assert tenants["genomics"].inputs["kind"] == "Tenant"


def test_policy_annotations_are_what_the_spawner_reads(genomics: RunResult) -> None:
    annotations = _tenants(genomics)["genomics"].inputs["metadata"]["annotations"]
    assert annotations == {
        "dossier.unito.it/image-policy": "profiles",
        "dossier.unito.it/resource-policy": "manual",
    }


def test_policies_default_to_fixed_and_annotations_are_never_absent(run_program) -> None:
    # Dossier reads tenant["metadata"]["annotations"] unguarded: a KeyError without them.
    result = run_program(tenants=[{"name": "plain"}])
    tenant = _tenants(result)["plain"].inputs
    assert tenant["metadata"]["annotations"] == {
        "dossier.unito.it/image-policy": "fixed",
        "dossier.unito.it/resource-policy": "fixed",
    }
    for absent in ("nodeSelector", "resourceQuotas", "limitRanges"):
        assert absent not in tenant["spec"]
    assert tenant["spec"]["namespaceOptions"] == {"quota": 5}


def test_limit_ranges_have_the_shape_the_spawner_reads(spec: dict[str, Any]) -> None:
    # DossierKubeSpawner: for item in spec.limitRanges.items: for limit in item.limits:
    #   if limit.type == "Container": limit.default / .min / .max [cpu|memory]
    containers = [
        limit
        for item in spec["limitRanges"]["items"]
        for limit in item["limits"]
        if limit.get("type") == "Container"
    ]
    assert containers == [
        {
            "type": "Container",
            "default": {"cpu": "1", "memory": "2Gi"},
            "defaultRequest": {"cpu": "500m", "memory": "1Gi"},
            "min": {"cpu": "100m", "memory": "256Mi"},
            "max": {"cpu": "8", "memory": "32Gi"},
        }
    ]


def test_limits_of_one_resource_only_render_that_resource(run_program) -> None:
    group = _group("cpu-only")
    group["limits"] = {"cpu": GENOMICS["limits"]["cpu"]}
    group["resourceQuota"] = {"cpu": "64", "storage": "1Ti"}
    spec = _tenants(run_program(tenants=[group]))["cpu-only"].inputs["spec"]
    (entry,) = spec["limitRanges"]["items"][0]["limits"]
    assert {bound: set(entry[bound]) for bound in ("default", "defaultRequest", "min", "max")} == {
        bound: {"cpu"} for bound in ("default", "defaultRequest", "min", "max")
    }


def test_resource_quota_is_one_tenant_wide_budget(spec: dict[str, Any]) -> None:
    assert spec["resourceQuotas"] == {
        "scope": "Tenant",
        "items": [{"hard": {"limits.cpu": "64", "limits.memory": "256Gi", "requests.storage": "1Ti"}}],
    }


def test_namespace_quota_and_node_selector(spec: dict[str, Any]) -> None:
    assert spec["namespaceOptions"] == {"quota": 5}
    assert spec["nodeSelector"] == {"pool": "genomics"}


def test_the_hub_puts_the_tenants_node_selector_on_each_notebook_pod(genomics: RunResult) -> None:
    """The hub's extraConfig, run as the chart's jupyterhub_config.py runs it, on the Tenant the program sends.

    Capsule 0.2.1 annotates a new namespace with the selector only after it exists; the pod must not wait for it.
    """
    from kubernetes.client import V1ObjectMeta, V1Pod, V1PodSpec

    values = reveal(genomics.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"])
    c = SimpleNamespace(KubeSpawner=SimpleNamespace(), JupyterHub=SimpleNamespace())
    exec(values["hub"]["extraConfig"]["tenantNodeSelector"], {"c": c})  # as z2jh's jupyterhub_config.py does
    hook = c.KubeSpawner.modify_pod_hook
    tenant = _object(_tenants(genomics)["genomics"])  # as Dossier's spawner lists it from the API
    pod = V1Pod(metadata=V1ObjectMeta(name="jupyter-carol"), spec=V1PodSpec(containers=[],
                node_selector={"hub.jupyter.org/node-purpose": "user"}))
    assert hook(SimpleNamespace(tenant=tenant), pod).spec.node_selector == {
        "hub.jupyter.org/node-purpose": "user", "pool": "genomics"}
    # A Tenant without a selector, and a spawner that chose none (not Dossier's), leave the pod as it is.
    bare = V1Pod(spec=V1PodSpec(containers=[]))
    assert hook(SimpleNamespace(tenant={"spec": {}}), bare).spec.node_selector is None
    assert hook(SimpleNamespace(), bare).spec.node_selector is None


def test_owned_by_the_hub_service_account_plus_extra_owners(genomics: RunResult, spec: dict[str, Any]) -> None:
    hub_account = genomics.outputs["hubServiceAccount"].value
    assert spec["owners"] == [
        {"kind": "ServiceAccount", "name": hub_account},
        {"kind": "Group", "name": "genomics-admins"},
    ]
    assert hub_account == "system:serviceaccount:jhub:hub"


def test_prevent_deletion_as_the_hub_tenant(spec: dict[str, Any], run_program) -> None:
    assert spec["preventDeletion"] is False  # the dev stack: protectData false
    protected = run_program(tenants=[GENOMICS], protectData=True)
    assert reveal(_tenants(protected)["genomics"].inputs["spec"])["preventDeletion"] is True


def test_same_isolation_as_the_hub_tenant_plus_its_own_namespaces(genomics: RunResult, spec: dict[str, Any]) -> None:
    hub = reveal(genomics.one(TENANT, "tenant-tenant").inputs["spec"])
    own = {"namespaceSelector": {"matchLabels": {"capsule.clastix.io/tenant": "genomics"}}}
    (policy,) = spec["networkPolicies"]["items"]
    (hub_policy,) = hub["networkPolicies"]["items"]
    sources = policy["ingress"][0]["from"]
    assert own in sources
    assert own not in hub_policy["ingress"][0]["from"]
    assert [s for s in sources if s != own] == hub_policy["ingress"][0]["from"]
    assert policy["egress"] == hub_policy["egress"]
    assert policy["policyTypes"] == hub_policy["policyTypes"] == ["Ingress", "Egress"]
    for key in ("ingressOptions", "serviceOptions", "preventDeletion"):
        assert spec[key] == hub[key]


def test_tenant_validates_against_the_capsule_crd(upstream: None, genomics: RunResult) -> None:
    tenant = _object(_tenants(genomics)["genomics"])
    assert validate.validate_custom_resource(tenant) == []


def test_minimal_tenant_validates_against_the_capsule_crd(upstream: None, run_program) -> None:
    tenant = _object(_tenants(run_program(tenants=[{"name": "plain"}]))["plain"])
    assert validate.validate_custom_resource(tenant) == []


def test_dev_stack_tenants_are_not_protected(genomics: RunResult) -> None:
    # Pulumi.dev.yaml sets protectData: false.
    tenant, role = _tenants(genomics)["genomics"], _roles(genomics)["genomics"]
    assert (tenant.protect, tenant.retain_on_delete) == (False, False)
    assert (role.protect, role.retain_on_delete) == (False, False)


def test_protect_data_protects_and_retains_each_tenant_but_not_its_role(run_program) -> None:
    result = run_program(tenants=[GENOMICS], protectData=True)
    tenant, role = _tenants(result)["genomics"], _roles(result)["genomics"]
    assert (tenant.protect, tenant.retain_on_delete) == (True, True)
    assert (role.protect, role.retain_on_delete) == (False, False)


def test_groups_are_listed_in_the_tenants_output(genomics: RunResult) -> None:
    assert genomics.outputs["tenants"].value == ["jhub", "genomics"]


# --- spawners ---------------------------------------------------------------------


def test_spawner_renders_with_its_tenants(genomics: RunResult) -> None:
    spawner = genomics.one(SPAWNER).inputs
    assert spawner["metadata"]["name"] == "hpc-cluster"
    assert spawner["metadata"]["annotations"]  # Dossier reads them unguarded
    assert spawner["spec"] == {
        "class": "dossier.spawners.sshspawner.SSHSpawner",
        "properties": {"host": "login.hpc.example.org"},
        "parameters": {},
        "tenants": ["genomics"],
    }


def test_spawner_may_name_the_hub_tenant(run_program) -> None:
    result = run_program(tenants=[], spawners=[{**HPC, "tenants": ["jhub"]}])
    assert result.one(SPAWNER).inputs["spec"]["tenants"] == ["jhub"]


# --- config errors name the entry ---------------------------------------------------


def _config_error(run_program, **overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        run_program(**overrides)
    return str(caught.value)


def test_duplicate_group_names_are_a_config_error(run_program) -> None:
    message = _config_error(run_program, tenants=[_group("a"), _group("b"), _group("a")])
    assert "dossier:tenants[2].name" in message
    assert "dossier:tenants[0].name" not in message


@pytest.mark.parametrize("name", ["Genomics", "gen_omics", "-genomics", "g" * 64, ""])
def test_invalid_group_names_are_a_config_error(run_program, name: str) -> None:
    message = _config_error(run_program, tenants=[_group("ok"), _group(name)])
    assert "dossier:tenants[1].name" in message


def test_a_group_named_like_the_hub_tenant_is_a_config_error(run_program) -> None:
    assert "dossier:tenants[0].name" in _config_error(run_program, tenants=[_group("jhub")])


def test_unknown_spawner_tenants_are_a_config_error(run_program) -> None:
    message = _config_error(run_program, tenants=[GENOMICS], spawners=[{**HPC, "tenants": ["genomics", "physics"]}])
    assert "dossier:spawners[0].tenants[1]" in message
    assert "physics" in message


def test_spawner_tenants_must_exist_after_a_group_is_removed(run_program) -> None:
    # Retiring a group a spawner still lists fails before anything is registered.
    message = _config_error(run_program, tenants=[], spawners=[HPC])
    assert "dossier:spawners[0].tenants[0]" in message


# --- removing a group leaves the others untouched -------------------------------------


def _snapshot(result: RunResult) -> dict[str, tuple[Any, ...]]:
    return {
        r.urn: (r.type, reveal(r.inputs), r.protect, r.retain_on_delete, r.parent, sorted(r.dependencies))
        for r in result.resources
        if r.parent.endswith(f"{COMPONENT}::research")
    }


def test_removing_a_group_leaves_the_others_untouched(run_program) -> None:
    groups = [_group("alpha"), _group("beta", namespaceQuota=2), _group("gamma", imagePolicy="manual")]
    before = _snapshot(run_program(tenants=groups))
    after = _snapshot(run_program(tenants=[groups[0], groups[2]]))
    gone = {urn for urn in before if "-beta-" in urn}
    assert len(gone) == 2  # its role and its tenant
    assert set(after) == set(before) - gone
    assert {urn: before[urn] for urn in after} == after


def test_reordering_groups_changes_nothing(run_program) -> None:
    groups = [_group("alpha"), _group("beta")]
    assert _snapshot(run_program(tenants=groups)) == _snapshot(run_program(tenants=groups[::-1]))


# --- at scale -------------------------------------------------------------------------


def test_hundred_groups_in_one_pass(run_program) -> None:
    result = run_program(tenants=[_group(f"group-{i:03d}") for i in range(100)])
    assert len(result.by_type(COMPONENT)) == 1
    assert len(_tenants(result)) == len(_roles(result)) == 100
    assert len(set(result.urns)) == len(result.urns)
    component = result.one(COMPONENT).urn
    children = [r for r in result.resources if r.parent == component]
    groups = [*_tenants(result).values(), *_roles(result).values()]
    assert sorted(r.urn for r in children) == sorted(r.urn for r in groups)  # nothing else per group


# --- the limit-range forms Dossier's spawner parses (checked by components/config.py) ---
# Dossier's spawner parses limit-range quantities itself: cpu as int(v) or int(v[:-1]) / 1000
# for "...m"; memory as an integer with one of m, k, M, G, T, P, E, Mi, Gi, Ti, Pi, Ei. A
# fraction ("1.5Gi"), "Ki" or an exponent ("1e9") is valid Kubernetes but breaks its form.


@pytest.mark.parametrize(
    ("resource", "value"), [("cpu", "1.5"), ("cpu", "2k"), ("memory", "1.5Gi"), ("memory", "512Ki"), ("memory", "1e9")]
)
def test_limits_the_spawner_cannot_parse_are_a_config_error(run_program, resource: str, value: str) -> None:
    group = _group("odd")
    group["limits"][resource] = dict.fromkeys(("default", "defaultRequest", "min", "max"), value)
    assert f"dossier:tenants[0].limits.{resource}.max" in _config_error(run_program, tenants=[group])


def test_a_quota_on_cpu_without_cpu_limits_is_a_config_error(run_program) -> None:
    # A ResourceQuota on limits.cpu rejects every pod without a CPU limit; only the
    # LimitRange default gives notebooks one.
    group = _group("no-limits")
    del group["limits"]
    assert "dossier:tenants[0].limits" in _config_error(run_program, tenants=[group])


def test_a_group_named_like_an_admin_role_is_a_config_error(run_program) -> None:
    # Both would be client role "admin" of the same client: Keycloak refuses the second.
    assert "dossier:tenants[0].name" in _config_error(run_program, tenants=[_group("admin")])
