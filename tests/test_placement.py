"""Placement as in Dossier's reference: core pods tolerate the control plane, PostgreSQL pinned alike."""

from __future__ import annotations

import copy

import pytest

from components.config import ConfigError, parse
from components.config_placement import CONTROL_PLANE, Z2JH_CORE_DEFAULTS
from offline import schemas, validate
from offline.engine import RunResult, reveal

RELEASE = "kubernetes:helm.sh/v3:Release"
CONTROL_PLANE_SPEC = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
REQUIRED = {"fqdn": "hub.example.org", "keycloak": '{"url": "https://auth.example.org"}'}


def _hub(result: RunResult) -> dict:
    return reveal(result.one(RELEASE, "jupyterhub-release").inputs["values"])


def _pg(result: RunResult) -> dict:
    return reveal(result.one(RELEASE, "postgresql-release").inputs["values"])


# --- the hub's core pods -----------------------------------------------------------


def test_dev_core_pods_tolerate_the_control_plane_they_require(dev: RunResult) -> None:
    scheduling = _hub(dev)["scheduling"]
    assert scheduling["corePods"]["nodeAffinity"] == {"matchNodePurpose": "require"}
    assert CONTROL_PLANE_SPEC in scheduling["corePods"]["tolerations"]
    assert CONTROL_PLANE.spec() == CONTROL_PLANE_SPEC
    # The only core node of the dev stack is the control-plane node.
    core = [p for p in dev.by_type("kubernetes:core/v1:NodePatch")
            if reveal(p.inputs)["metadata"]["labels"]["hub.jupyter.org/node-purpose"] == "core"]
    assert [reveal(p.inputs)["metadata"]["name"] for p in core] == ["staging-cp-a"]
    # Users' notebooks stay off the control plane.
    assert "tolerations" not in scheduling["userPods"]


@pytest.mark.usefixtures("upstream")
def test_the_default_keeps_the_charts_own_core_tolerations(dev: RunResult) -> None:
    # A list in the values replaces the chart's list: the default repeats the chart's entries.
    chart_defaults = schemas.load(validate.Z2JH_VALUES)["scheduling"]["corePods"]["tolerations"]
    assert [t.spec() for t in Z2JH_CORE_DEFAULTS] == chart_defaults
    assert _hub(dev)["scheduling"]["corePods"]["tolerations"] == [*chart_defaults, CONTROL_PLANE_SPEC]


def test_without_a_core_pool_the_chart_list_stays(run_program) -> None:
    core_pods = _hub(run_program(nodes={"user": ["dossier-worker-0"]}))["scheduling"]["corePods"]
    assert core_pods == {"nodeAffinity": {"matchNodePurpose": "prefer"}}


def test_configured_tolerations_replace_the_default(run_program) -> None:
    mine = [{"key": "example.org/core", "operator": "Equal", "value": "yes", "effect": "NoExecute",
             "tolerationSeconds": 30}, {"operator": "Exists"}]
    core_pods = _hub(run_program(jupyterhub={"corePodTolerations": mine}))["scheduling"]["corePods"]
    assert core_pods["tolerations"] == mine


def test_an_empty_list_clears_the_tolerations(run_program) -> None:
    # Rendered as [] (not left out), so the chart's own list is cleared too.
    core_pods = _hub(run_program(jupyterhub={"corePodTolerations": []}))["scheduling"]["corePods"]
    assert core_pods["tolerations"] == []


def test_unset_toleration_fields_are_left_out() -> None:
    cfg = parse({**REQUIRED, "jupyterhub": '{"corePodTolerations": [{"key": "a"}]}'})
    assert cfg.jupyterhub.corePodTolerations is not None
    assert [t.spec() for t in cfg.jupyterhub.corePodTolerations] == [{"key": "a", "operator": "Equal"}]


def test_toleration_problems_are_named_all_at_once() -> None:
    bad = '{"tolerations": [{"operator": "Equal"}, {"key": "a", "operator": "Exists", "value": "b"}, {"key": "a b"}]}'
    with pytest.raises(ConfigError) as raised:
        parse({**REQUIRED, "postgresql": bad})
    assert [p.split(":", 2)[1].strip() for p in raised.value.problems] == [
        "postgresql.tolerations[0].operator",
        "postgresql.tolerations[1].value",
        "postgresql.tolerations[2].key",
    ]


# --- PostgreSQL ------------------------------------------------------------------------


def test_dev_places_primary_and_replicas_as_dossier_does(dev: RunResult) -> None:
    values = _pg(dev)
    placement = {"nodeSelector": {"node-role.kubernetes.io/control-plane": ""}, "tolerations": [CONTROL_PLANE_SPEC]}
    for role in ("primary", "readReplicas"):
        assert {k: values[role][k] for k in placement} == placement, role
    assert values["readReplicas"]["replicaCount"] == 2


def test_placement_unset_leaves_the_chart_defaults(run_program) -> None:
    values = _pg(run_program(postgresql={}))
    for role in ("primary", "readReplicas"):
        assert "nodeSelector" not in values[role] and "tolerations" not in values[role]
    assert values["readReplicas"]["replicaCount"] == 1


def test_standalone_places_the_primary(run_program) -> None:
    selector = {"example.org/pool": "db"}
    values = _pg(run_program(postgresql={"architecture": "standalone", "nodeSelector": selector}))
    assert values["primary"]["nodeSelector"] == selector
    assert "readReplicas" not in values


def test_replicas_do_not_share_the_primary_objects(run_program) -> None:
    values = _pg(run_program(postgresql={"nodeSelector": {"a": "b"}, "tolerations": [{"operator": "Exists"}]}))
    before = copy.deepcopy(values["readReplicas"])
    values["primary"]["tolerations"].append({"key": "x"})
    assert values["readReplicas"] == before


@pytest.mark.usefixtures("upstream")
def test_placed_values_validate_against_the_pinned_charts(run_program) -> None:
    tolerations = [{"key": "example.org/dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute",
                    "tolerationSeconds": 60}]
    result = run_program(
        postgresql={"nodeSelector": {"example.org/pool": "db"}, "tolerations": tolerations},
        jupyterhub={"corePodTolerations": tolerations},
    )
    assert validate.validate_postgresql_values(_pg(result)) == []
    assert validate.validate_z2jh_values(_hub(result)) == []
