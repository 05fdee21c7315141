"""Two stacks of the program in one cluster: every cluster-scoped object is named or owned per hub namespace.

The kubernetes provider creates with server-side apply, which adopts an existing
object with the same fields without an error, and deletes it with whichever stack
is destroyed. So two environments in one cluster must not send the same
cluster-scoped object under the same name unless the API server refuses the
second (docs/operations.md, "Two environments in one cluster"). The e2e proves
it against a real API server (e2e/tests/test_shared_backend.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from offline.engine import RunResult, reveal

CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
SPAWNER = "kubernetes:dossier.unito.it/v1alpha1:Spawner"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
PATCH = "kubernetes:core/v1:NodePatch"
TENANT = "kubernetes:capsule.clastix.io/v1beta2:Tenant"
#: The kinds this program creates without a namespace.
CLUSTER_SCOPED = (CRD, SPAWNER, ROLE, BINDING, PATCH, TENANT)


@pytest.fixture(scope="module")
def second() -> RunResult:
    """A second environment as the docs describe it: its own namespace, tenant, no CRD of its own."""
    from tests.stacks import run_stack

    return run_stack(namespace="jhub-prod", tenant={"name": "jhub-prod"}, spawnerCrd=False,
                       tenants=[{"name": "genomics-prod"}])


def _names(result: RunResult, type_: str) -> set[str]:
    return {reveal(r.inputs)["metadata"]["name"] for r in result.by_type(type_)}


def test_the_cluster_role_and_binding_are_named_after_the_namespace(dev: RunResult, second: RunResult) -> None:
    assert _names(dev, ROLE) == _names(dev, BINDING) == {"jhub-hub"}  # the default namespace: names as before
    assert _names(second, ROLE) == _names(second, BINDING) == {"jhub-prod-hub"}
    binding = reveal(second.one(BINDING).inputs)
    assert binding["roleRef"]["name"] == "jhub-prod-hub"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hub", "namespace": "jhub-prod"}]


RELEASE = "kubernetes:helm.sh/v3:Release"


def test_the_hub_release_is_named_after_the_namespace(dev: RunResult, second: RunResult) -> None:
    """z2jh names its cluster-wide objects after the release (``<release>-user-scheduler``)."""
    def hub_release(result: RunResult) -> tuple[str, bool]:
        (release,) = [r for r in result.by_type(RELEASE) if r.name == "jupyterhub-release"]
        return reveal(release.inputs)["name"], release.delete_before_replace

    assert hub_release(dev)[0] == "jhub"  # the default namespace: the name as before
    # The chart's namespaced names are fixed: the old release goes before the new one installs.
    assert hub_release(second) == ("jhub-prod", True)


def test_node_patches_write_the_same_annotations_in_every_stack(dev: RunResult, second: RunResult) -> None:
    """The provider applies a patch's annotations to the Node: a value per stack would be overwritten by the other.

    So no ``pulumi.com/patchFieldManager``: each patch's field manager is the provider's own, kept in the
    state, and two stacks labelling one node both own the label (the e2e destroys one and checks the other).
    """
    def annotations(result: RunResult) -> list[dict[str, str]]:
        return [reveal(p.inputs)["metadata"]["annotations"] for p in result.by_type(PATCH)]

    assert annotations(dev) and annotations(dev) == annotations(second)
    assert all("pulumi.com/patchFieldManager" not in a for a in annotations(dev))


def test_the_crd_names_the_namespace_that_installed_it(dev: RunResult) -> None:
    crd = reveal(dev.one(CRD).inputs)
    assert crd["metadata"]["annotations"] == {"dossier.unito.it/installed-by": "jhub"}


def test_spawner_crd_false_installs_no_crd_and_keeps_the_spawners(run_program: Any) -> None:
    spawner = {"name": "hpc", "class": "dossier.spawners.sshspawner.SSHSpawner", "tenants": ["jhub"]}
    result = run_program(spawnerCrd=False, spawners=[spawner])
    assert result.by_type(CRD) == []
    assert _names(result, SPAWNER) == {"hpc"}
    # The ClusterRole still reads Spawners: the CRD is the other stack's.
    role = reveal(result.one(ROLE).inputs)
    assert {"apiGroups": ["dossier.unito.it"], "resources": ["spawners"], "verbs": ["get", "list"]} in role["rules"]


def test_no_cluster_scoped_name_is_shared_by_the_two_environments(dev: RunResult, second: RunResult) -> None:
    shared = {(t, n) for t in CLUSTER_SCOPED if t != PATCH for n in _names(dev, t) & _names(second, t)}
    assert shared == set(), shared


def test_spawner_crd_must_be_a_boolean(run_program: Any) -> None:
    from components.config import ConfigError

    with pytest.raises(ConfigError, match="dossier:spawnerCrd"):
        run_program(spawnerCrd="maybe")
