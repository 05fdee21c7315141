"""Node pools: node-purpose labels and the hub's matching scheduling."""

from __future__ import annotations

from offline.engine import RunResult, reveal

PATCH = "kubernetes:core/v1:NodePatch"


def _affinity(result: RunResult) -> tuple[str, str]:
    values = reveal(result.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"])
    scheduling = values["scheduling"]
    return (
        scheduling["corePods"]["nodeAffinity"]["matchNodePurpose"],
        scheduling["userPods"]["nodeAffinity"]["matchNodePurpose"],
    )


def test_a_patch_per_node_with_its_purpose(dev: RunResult) -> None:
    labels = {
        reveal(p.inputs)["metadata"]["name"]: reveal(p.inputs)["metadata"]["labels"] for p in dev.by_type(PATCH)
    }
    assert labels == {
        "staging-cp-a": {"hub.jupyter.org/node-purpose": "core"},
        "staging-gpu-a": {"hub.jupyter.org/node-purpose": "user"},
        "staging-gpu-b": {"hub.jupyter.org/node-purpose": "user"},
    }


def test_patches_take_over_labels_set_by_kubectl(dev: RunResult) -> None:
    for patch in dev.by_type(PATCH):
        annotations = reveal(patch.inputs)["metadata"]["annotations"]
        # No pulumi.com/patchFieldManager: the provider writes the annotations onto the Node, where two stacks'
        # managers would overwrite each other (tests/test_shared_cluster.py); each patch gets a manager of its own.
        assert annotations == {"pulumi.com/patchForce": "true"}


def test_both_pools_require_node_purpose(dev: RunResult) -> None:
    assert _affinity(dev) == ("require", "require")


def test_one_pool_only_prefers(run_program) -> None:
    result = run_program(nodes={"user": ["w0"]})
    assert _affinity(result) == ("prefer", "prefer")
    assert [reveal(p.inputs)["metadata"]["name"] for p in result.by_type(PATCH)] == ["w0"]


def test_no_nodes_no_patches(run_program) -> None:
    result = run_program(nodes={})
    assert result.by_type(PATCH) == []
    assert _affinity(result) == ("prefer", "prefer")


def test_removing_a_node_leaves_the_other_patches_untouched(dev: RunResult, run_program) -> None:
    smaller = run_program(nodes={"core": ["staging-cp-a"], "user": ["staging-gpu-b"]})
    before = {p.urn: p.inputs for p in dev.by_type(PATCH)}
    after = {p.urn: p.inputs for p in smaller.by_type(PATCH)}
    assert set(after) < set(before)
    assert all(before[urn] == inputs for urn, inputs in after.items())
    # Removing the patch deletes only the fields it applied (server-side apply), not the node.
    assert [r for r in smaller.resources if r.type == "kubernetes:core/v1:Node"] == []
