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


@pytest.fixture(scope="module")
def hook(genomics: RunResult) -> Any:
    """The hub's ``modify_pod_hook``: the extraConfig the program sends, run as z2jh's jupyterhub_config.py does."""
    values = reveal(genomics.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"])
    c = SimpleNamespace(KubeSpawner=SimpleNamespace(), JupyterHub=SimpleNamespace())
    exec(values["hub"]["extraConfig"]["tenantPodDefaults"], {"c": c})
    return c.KubeSpawner.modify_pod_hook


@pytest.fixture(scope="module")
def tenant(genomics: RunResult) -> dict[str, Any]:
    """The group's Tenant as Dossier's spawner lists it from the API."""
    return _object(_tenants(genomics)["genomics"])


def _notebook_pod(init_resources: Any = None) -> Any:
    """A pod as KubeSpawner 4.3.0 makes it under z2jh 2.0.0's defaults: its notebook container's resources a
    model holding the chart's 1G memory guarantee, z2jh's block-cloud-metadata init container's a dict."""
    from kubernetes.client import V1Container, V1ObjectMeta, V1Pod, V1PodSpec, V1ResourceRequirements

    notebook = V1Container(name="notebook", resources=V1ResourceRequirements(requests={"memory": "1G"}, limits={}))
    init = V1Container(name="block-cloud-metadata", resources=init_resources)
    return V1Pod(metadata=V1ObjectMeta(name="jupyter-carol"), spec=V1PodSpec(
        containers=[notebook], init_containers=[init], node_selector={"hub.jupyter.org/node-purpose": "user"}))


def test_the_hub_puts_the_tenants_node_selector_on_each_notebook_pod(hook: Any, tenant: dict[str, Any]) -> None:
    """Capsule 0.2.1 annotates a new namespace with the selector only after it exists; the pod must not wait for it."""
    assert hook(SimpleNamespace(tenant=tenant), _notebook_pod()).spec.node_selector == {
        "hub.jupyter.org/node-purpose": "user", "pool": "genomics"}


def test_the_hub_gives_each_notebook_container_its_tenants_default_limits(hook: Any, tenant: dict[str, Any]) -> None:
    """Capsule 0.2.1 creates a new namespace's LimitRange after the namespace: the pod carries the defaults itself.

    As the LimitRanger admission plugin: ``default`` fills unset limits, ``defaultRequest`` unset requests, on
    every container; a value the container has (the chart's memory guarantee) is kept.
    """
    from kubernetes.client import ApiClient

    limits = {r: GENOMICS["limits"][r]["default"] for r in ("cpu", "memory")}
    requests = {r: GENOMICS["limits"][r]["defaultRequest"] for r in ("cpu", "memory")}
    for init_resources in ({}, None):  # z2jh's init container (resources from values, {}), one with none
        hooked = hook(SimpleNamespace(tenant=tenant), _notebook_pod(init_resources))
        pod = ApiClient().sanitize_for_serialization(hooked)
        notebook, = pod["spec"]["containers"]
        assert notebook["resources"] == {"limits": limits, "requests": {**requests, "memory": "1G"}}, notebook
        init, = pod["spec"]["initContainers"]
        assert init["resources"] == {"limits": limits, "requests": requests}, init
    own = _notebook_pod()
    own.spec.containers[0].resources.limits = {"cpu": "2"}
    kept = hook(SimpleNamespace(tenant=tenant), own).spec.containers[0].resources
    assert kept.limits == {"cpu": "2", "memory": limits["memory"]}, kept


@pytest.mark.parametrize("spawner", [SimpleNamespace(tenant={"metadata": {"name": "open"}, "spec": {}}),
                                     SimpleNamespace()], ids=["tenant-without-selector-or-limits", "not-dossier"])
def test_the_hub_leaves_a_pod_alone_when_no_tenant_asks(hook: Any, spawner: Any) -> None:
    """A Tenant that asks for no selector or limits, or a spawner that chose no Tenant (not Dossier's)."""
    from kubernetes.client import ApiClient

    before = ApiClient().sanitize_for_serialization(_notebook_pod())
    assert ApiClient().sanitize_for_serialization(hook(spawner, _notebook_pod())) == before


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
