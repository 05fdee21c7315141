"""Capsule 0.2.1, real, against the program's Tenants: admission, reconciliation, tenant namespaces.

The run's API server with Capsule (``e2e/servers/capsule.py``: its chart's CRDs,
RBAC, configuration and webhooks, rendered with Dossier's values). On it, what
the stack creates around Capsule, from the program's own functions: the hub's
namespace, ServiceAccount ``jhub:hub``, ClusterRole and binding
(``hub_cluster_rules()``), the hub's Tenant (``tenant_spec``) and a research
group's (``group_tenant``, with a node pool, quotas and limits). Then a token of
the hub's ServiceAccount, as Dossier's spawner holds, creates namespaces.

Run alone: ``python -m pytest -m e2e e2e/tests/test_capsule.py`` (after
``python -m e2e.tools --only etcd kube-apiserver capsule``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from components.config import ResearchTenant
from components.jupyterhub import HUB_SERVICE_ACCOUNT, hub_cluster_rules
from components.research import group_tenant
from components.tenant import API_VERSION, TENANT_LABEL, TenantSpecArgs, tenant_spec
from e2e.hub.identity import hub_token
from e2e.servers import Cluster, Servers, Supervisor, start_servers
from e2e.servers.capsule import DOSSIER_GROUP, user_groups
from e2e.servers.crds import kube_request
from e2e.tenancy import (
    assert_tenant_namespace,
    create_namespace,
    get,
    refusal,
    tenant_status,
    wait_active,
    wait_for,
)

pytestmark = pytest.mark.e2e

HUB_NAMESPACE = "jhub"
OWNER = f"system:serviceaccount:{HUB_NAMESPACE}:{HUB_SERVICE_ACCOUNT}"
GROUP = ResearchTenant.model_validate({
    "name": "genomics",
    "namespaceQuota": 3,
    "nodeSelector": {"hub.jupyter.org/node-purpose": "genomics"},
    "resourceQuota": {"cpu": "4", "memory": "8Gi", "storage": "20Gi"},
    "limits": {"cpu": {"default": "1", "defaultRequest": "500m", "min": "100m", "max": "2"},
               "memory": {"default": "1Gi", "defaultRequest": "512Mi", "min": "128Mi", "max": "2Gi"}},
    "owners": [{"kind": "Group", "name": "genomics-admins"}],
})
REFUSED_PREFIX = "The Namespace prefix used doesn't match any available Tenant"


@dataclass
class World:
    servers: Servers
    cluster: Cluster
    tenants: dict[str, dict[str, Any]]
    """The Tenants as the program makes them (``apiVersion``, ``kind``, ``metadata``, ``spec``), by name."""
    hub_token: str

    @property
    def admin(self) -> client.ApiClient:
        return self.cluster.api_client()

    @property
    def hub(self) -> client.ApiClient:
        """The API as the hub's ServiceAccount (what Dossier's spawner creates namespaces with)."""
        return self.cluster.api_client(self.hub_token)


def hub_base(protect: bool) -> TenantSpecArgs:
    return TenantSpecArgs(name=HUB_NAMESPACE, owner=OWNER, namespace_quota=10, egress_except=["169.254.169.254/32"],
                          hub_namespace_labels={"name": HUB_NAMESPACE}, prevent_deletion=protect)


def program_tenants(protect: bool = True) -> dict[str, dict[str, Any]]:
    """The hub's Tenant and the research group's, from the program's spec functions."""
    base = hub_base(protect)
    return {
        HUB_NAMESPACE: {"apiVersion": API_VERSION, "kind": "Tenant", "metadata": {"name": HUB_NAMESPACE},
                        "spec": tenant_spec(base)},
        GROUP.name: group_tenant(GROUP, base),
    }


def create_hub_side(cluster: Cluster) -> str:
    """The hub's namespace, ClusterRole and binding as the program makes them; a token of ``jhub:hub``."""
    api = cluster.api_client()
    client.CoreV1Api(api).create_namespace(client.V1Namespace(
        metadata=client.V1ObjectMeta(name=HUB_NAMESPACE, labels={"name": HUB_NAMESPACE})))
    rbac = client.RbacAuthorizationV1Api(api)
    name = f"{HUB_NAMESPACE}-hub"
    rbac.create_cluster_role(client.V1ClusterRole(metadata=client.V1ObjectMeta(name=name), rules=[
        client.V1PolicyRule(api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"])
        for r in hub_cluster_rules()
    ]))
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name=name),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name=HUB_SERVICE_ACCOUNT, namespace=HUB_NAMESPACE)],
    ))
    return hub_token(cluster, HUB_NAMESPACE)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Supervisor("dossier-e2e-capsule") as supervisor:
        servers = start_servers(supervisor, which=("cluster", "capsule"), hub_namespace=HUB_NAMESPACE)
        print(servers.summary(), flush=True)
        assert servers.cluster and servers.capsule
        token = create_hub_side(servers.cluster)
        tenants = program_tenants()
        for tenant in tenants.values():
            kube_request(servers.cluster.api_client(), "POST", f"/apis/{API_VERSION}/tenants", tenant)
        yield World(servers, servers.cluster, tenants, token)


def test_capsule_serves_the_charts_webhooks_on_loopback(world: World) -> None:
    capsule = world.servers.capsule
    assert capsule
    registered = {}
    for kind, path in (("MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
                       ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations")):
        (chart,) = [o for o in capsule.installed["templates"] if o["kind"] == kind]
        live = get(world.admin, f"/apis/admissionregistration.k8s.io/v1/{path}/{chart['metadata']['name']}")
        assert [w["name"] for w in live["webhooks"]] == [w["name"] for w in chart["webhooks"]]
        registered.update({w["name"]: w["clientConfig"]["url"] for w in live["webhooks"]})
    assert registered["namespaces.capsule.clastix.io"] == f"{capsule.webhook_url}/namespaces"
    assert registered["tenants.capsule.clastix.io"] == f"{capsule.webhook_url}/tenants"
    assert registered["owner.namespace.capsule.clastix.io"] == f"{capsule.webhook_url}/namespace-owner-reference"
    assert len(registered) == 13, sorted(registered)
    tenant_crd = get(world.admin, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tenants.capsule.clastix.io")
    assert [v["name"] for v in tenant_crd["spec"]["versions"]] == ["v1alpha1", "v1beta1", "v1beta2"]
    assert tenant_crd["spec"]["conversion"]["webhook"]["clientConfig"]["url"] == f"{capsule.webhook_url}/convert"
    configuration = capsule.configuration()["spec"]
    assert configuration["forceTenantPrefix"] is True
    assert configuration["userGroups"] == [DOSSIER_GROUP, f"system:serviceaccounts:{HUB_NAMESPACE}"]
    assert configuration["enableTLSReconciler"] is False
    assert capsule.provisioner_groups() == list(user_groups(HUB_NAMESPACE))


def test_the_programs_tenants_are_admitted_and_reconciled(world: World) -> None:
    wait_active(world.admin, set(world.tenants))
    # The Tenant webhook is live: Capsule refuses a ServiceAccount owner not written system:serviceaccount:<ns>:<name>.
    bad = program_tenants()[HUB_NAMESPACE]
    bad["metadata"]["name"] = "malformed"
    bad["spec"]["owners"] = [{"kind": "ServiceAccount", "name": "hub"}]
    with pytest.raises(client.ApiException) as refused:
        kube_request(world.admin, "POST", f"/apis/{API_VERSION}/tenants", bad)
    assert "tenants.capsule.clastix.io" in str(refused.value.body), refused.value.body


@pytest.mark.parametrize("tenant", [HUB_NAMESPACE, GROUP.name])
def test_the_hubs_namespace_in_a_tenant_gets_what_the_tenant_asks_for(world: World, tenant: str) -> None:
    name = f"{tenant}-alice"
    create_namespace(world.hub, name)
    assert_tenant_namespace(world.admin, name, world.tenants[tenant])


def test_a_namespace_without_the_tenant_prefix_is_refused(world: World) -> None:
    # The hub's ServiceAccount owns two Tenants: Capsule picks one by the name's prefix, and there is none.
    status, message = refusal(world.hub, "alice")
    assert status == 403, message
    assert f'admission webhook "owner.namespace.capsule.clastix.io" denied the request: {REFUSED_PREFIX}' == message
    # Naming the Tenant by its label does not lift the prefix rule.
    status, message = refusal(world.hub, "bob", {TENANT_LABEL: HUB_NAMESPACE})
    assert status == 403, message
    assert message == ('admission webhook "namespaces.capsule.clastix.io" denied the request: '
                       f"The namespace doesn't match the tenant prefix, expected {HUB_NAMESPACE}-bob")


def test_the_namespace_quota_is_enforced(world: World) -> None:
    quota = world.tenants[GROUP.name]["spec"]["namespaceOptions"]["quota"]
    existing = len(tenant_status(world.admin, GROUP.name).get("namespaces") or [])
    def listed_more_than(count: int) -> Callable[[], bool]:
        return lambda: len(tenant_status(world.admin, GROUP.name).get("namespaces") or []) > count

    for index in range(quota - existing):
        create_namespace(world.hub, f"{GROUP.name}-quota-{index}")
        # Capsule counts the Tenant's status, which its controller updates after the create: wait for it.
        wait_for(listed_more_than(existing + index), f"Tenant {GROUP.name}'s status counts {index + 1} more")
    status, message = refusal(world.hub, f"{GROUP.name}-one-too-many")
    assert status == 403, message
    assert "namespaces.capsule.clastix.io" in message and "Cannot exceed Namespace quota" in message, message


def test_deleting_a_tenant_follows_prevent_deletion(world: World) -> None:
    for protect in (True, False):
        tenant = program_tenants(protect)[HUB_NAMESPACE]
        tenant["metadata"]["name"] = f"deletable-{str(protect).lower()}"
        kube_request(world.admin, "POST", f"/apis/{API_VERSION}/tenants", tenant)
        path = f"/apis/{API_VERSION}/tenants/{tenant['metadata']['name']}"
        if not protect:
            kube_request(world.admin, "DELETE", path)
            continue
        # Capsule refuses everyone, cluster-admin included: so does it refuse pulumi destroy.
        with pytest.raises(client.ApiException) as refused:
            kube_request(world.admin, "DELETE", path)
        assert "tenant is protected and cannot be deleted" in str(refused.value.body), refused.value.body


def test_without_the_hubs_service_account_group_the_namespace_is_refused(world: World) -> None:
    capsule = world.servers.capsule
    assert capsule
    capsule.configure([DOSSIER_GROUP])
    try:
        status, message = refusal(world.hub, f"{HUB_NAMESPACE}-carol")
        # Capsule lets only its user groups create namespaces (its provisioner ClusterRoleBinding): RBAC refuses.
        assert status == 403, message
        assert f'User "{OWNER}" cannot create resource "namespaces"' in message, message
    finally:
        capsule.configure(user_groups(HUB_NAMESPACE))
    created = create_namespace(world.hub, f"{HUB_NAMESPACE}-carol")
    assert [o["name"] for o in created["metadata"]["ownerReferences"]] == [HUB_NAMESPACE]
