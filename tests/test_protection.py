"""``dossier:protectData`` guards exactly the data-bearing resources, and nothing else.

A prod-like stack (``protectData: true``, one research group) must protect the
PostgreSQL release, its Secret and generated passwords, the Keycloak client and
its secret, the hub's generated secrets, the namespace and every Capsule tenant;
the namespace and the tenants are also ``retain_on_delete`` so that dropping them
from the program never cascades into users' namespaces. The dev stack
(``protectData: false``) protects nothing.
"""

from __future__ import annotations

from offline.engine import RunResult, run
from tests import stacks

NAMESPACE = "kubernetes:core/v1:Namespace"
TENANT = "kubernetes:capsule.clastix.io/v1beta2:Tenant"
GUARD = "dossier:safety:DestroyGuard"
RESEARCH_GROUP = {"name": "physics", "namespaceQuota": 3}

#: What ``protectData: true`` must protect, besides one Tenant per research group.
PROTECTED = {
    (NAMESPACE, "namespace"),
    ("random:index/randomPassword:RandomPassword", "postgresql-user-password"),
    ("random:index/randomPassword:RandomPassword", "postgresql-admin-password"),
    ("random:index/randomPassword:RandomPassword", "postgresql-replication-password"),
    ("kubernetes:core/v1:Secret", "postgresql-secret"),
    ("kubernetes:helm.sh/v3:Release", "postgresql-release"),
    ("random:index/randomPassword:RandomPassword", "keycloak-secret"),
    ("keycloak:openid/client:Client", "keycloak-client"),
    ("random:index/randomPassword:RandomPassword", "jupyterhub-cookie-secret"),
    ("random:index/randomPassword:RandomPassword", "jupyterhub-proxy-token"),
    ("random:index/randomPassword:RandomPassword", "jupyterhub-crypt-key"),
    (TENANT, "tenant-tenant"),
    # Depends on everything else, so a destroy of a protected stack deletes nothing (components/guard.py).
    (GUARD, "destroy-guard"),
}
#: Removing these from the program must leave them (and what they own) on the cluster.
RETAINED = {(NAMESPACE, "namespace"), (TENANT, "tenant-tenant")}


def _research_tenants(result: RunResult) -> set[tuple[str, str]]:
    return {(TENANT, r.name) for r in result.by_type(TENANT) if r.name.startswith("research-")}


def _protected(result: RunResult) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in result.resources if r.protect}


def _retained(result: RunResult) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in result.resources if r.retain_on_delete}


def test_protect_data_defaults_to_true() -> None:
    # Protection must not depend on remembering a setting: an unset key protects.
    config = stacks.config("dev")
    config.pop("dossier:protectData", None)
    assert _protected(run(config, stack="prod")) >= PROTECTED


def test_prod_stack_protects_exactly_the_data_bearing_resources(prod: RunResult) -> None:
    research = _research_tenants(prod)
    assert research, "the prod-like config has a research group, so its tenant must be checked too"
    expected = PROTECTED | research
    actual = _protected(prod)
    assert actual == expected, f"missing: {sorted(expected - actual)}; unexpected: {sorted(actual - expected)}"


def test_every_capsule_tenant_is_protected_and_retained(prod: RunResult) -> None:
    tenants = prod.by_type(TENANT)
    assert len(tenants) >= 2
    for tenant in tenants:
        assert (tenant.protect, tenant.retain_on_delete) == (True, True), tenant.urn


def test_prod_stack_retains_namespace_and_tenants(prod: RunResult) -> None:
    assert _retained(prod) == RETAINED | _research_tenants(prod)


def test_components_themselves_are_not_protected(prod: RunResult) -> None:
    # Protection sits on the resources that hold data, not on the component wrappers (the guard aside).
    assert not [r.urn for r in prod.resources
                if not r.custom and r.type != GUARD and (r.protect or r.retain_on_delete)]


def test_the_destroy_guard_depends_on_every_resource(prod: RunResult) -> None:
    # The engine deletes dependents first: the protected guard must be first, so nothing is deleted.
    guard = prod.one(GUARD, "destroy-guard")
    custom = {r.urn for r in prod.resources if r.custom}
    assert custom, "the stack registered resources"
    assert set(guard.dependencies) >= custom, sorted(custom - set(guard.dependencies))
    assert guard.protect and not guard.retain_on_delete


def test_dev_stack_protects_nothing(dev: RunResult) -> None:
    assert stacks.config("dev")["dossier:protectData"] is False
    assert _protected(dev) == set()
    assert _retained(dev) == set()


def test_protect_data_false_lifts_protection_from_research_tenants_too(run_program) -> None:
    result = run_program(protectData=False, tenants=[RESEARCH_GROUP])
    assert _research_tenants(result)
    assert _protected(result) == set()
    assert _retained(result) == set()
