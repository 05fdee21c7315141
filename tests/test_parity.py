"""Parity with Dossier's reference values (offline/parity.py): every key set, or different for a stated reason."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from offline import parity, schemas
from offline.engine import RunResult
from offline.parity_data import DIFFERENCES, Difference

pytestmark = pytest.mark.usefixtures("upstream")


@pytest.fixture(scope="module")
def references() -> dict[str, Any]:
    return {chart: parity.reference(chart) for chart in parity.REFERENCES}


def _problems(references: dict[str, Any], values: dict[str, Any], **differences: dict[str, Difference]) -> list[str]:
    table = {chart: {**DIFFERENCES[chart], **differences.get(chart, {})} for chart in DIFFERENCES}
    return parity.rows(references, values, table)[1]


def _without(differences: dict[str, Difference], key: str) -> dict[str, Difference]:
    return {k: v for k, v in differences.items() if k != key}


def test_every_reference_key_is_set_or_a_deliberate_difference(references: dict[str, Any], dev: RunResult) -> None:
    table, problems = parity.rows(references, parity.rendered(dev))
    assert problems == []
    # Every leaf of both files has its row (63 at the pinned commit), each with a note.
    assert [(r.chart, r.key) for r in table] == [
        (chart, key) for chart, tree in references.items() for key in parity.leaves(tree)
    ]
    assert len(table) == 63 and all(r.note for r in table)
    assert {r.status for r in table} == {"same", "set", "not set"}


def test_the_issues_keys_are_now_dossiers_values(references: dict[str, Any], dev: RunResult) -> None:
    table, _ = parity.rows(references, parity.rendered(dev))
    status = {(r.chart, parity.show_key(r.key)): r.status for r in table}
    for key in ("singleuser.defaultUrl", "singleuser.extraEnv.JUPYTERHUB_SINGLEUSER_APP",
                "singleuser.cloudMetadata.blockWithIptables", "singleuser.startTimeout", "debug.enabled",
                "singleuser.extraAnnotations[seccomp.security.alpha.kubernetes.io/pod]",
                "hub.image.pullPolicy", "hub.extraConfig.spawnerConfig"):
        assert status[("jupyterhub", key)] == "same", key
    # Dossier's args, plus --upgrade-db (hub.args replaces the chart's command that would add it).
    assert status[("jupyterhub", "hub.args")] == "set"
    for role in ("primary", "readReplicas"):
        for key in (f"{role}.nodeSelector[node-role.kubernetes.io/control-plane]", f"{role}.tolerations"):
            assert status[("postgresql", key)] == "same", key
    assert status[("postgresql", "readReplicas.replicaCount")] == "same"
    assert status[("jupyterhub", "scheduling.corePods.tolerations")] == "set"
    assert status[("postgresql", "networkPolicy.allowExternal")] == "not set"


def test_the_page_is_generated_from_the_same_rows(references: dict[str, Any], dev: RunResult) -> None:
    table, _ = parity.rows(references, parity.rendered(dev))
    assert parity.PAGE.read_text(encoding="utf-8") == parity.markdown(table), (
        "regenerate the page: .venv/bin/python -m offline.parity --write"
    )


def test_the_page_shows_no_secret(dev: RunResult) -> None:
    page = parity.PAGE.read_text(encoding="utf-8")
    assert not [s for s in dev.generated_secrets if len(s) >= 8 and s in page]
    assert "`[secret]`" in page


# --- the check fails when the table stops being true (mutations) -------------------------------


def test_a_key_the_program_stops_setting_is_reported(references: dict[str, Any], dev: RunResult) -> None:
    values = copy.deepcopy(parity.rendered(dev))
    del values["jupyterhub"]["singleuser"]["defaultUrl"]
    del values["postgresql"]["readReplicas"]["tolerations"]
    assert _problems(references, values) == [
        "jupyterhub singleuser.defaultUrl: neither set by the program nor listed as a deliberate difference "
        "(parity_data.DIFFERENCES)",
        "postgresql readReplicas.tolerations: neither set by the program nor listed as a deliberate difference "
        "(parity_data.DIFFERENCES)",
    ]


def test_another_value_without_a_reason_is_reported(references: dict[str, Any], dev: RunResult) -> None:
    values = copy.deepcopy(parity.rendered(dev))
    values["jupyterhub"]["singleuser"]["startTimeout"] = 300
    assert _problems(references, values) == [
        "jupyterhub singleuser.startTimeout: set to another value nor listed as a deliberate difference "
        "(parity_data.DIFFERENCES)"
    ]


def test_a_dropped_reason_is_reported(references: dict[str, Any], dev: RunResult) -> None:
    differences = _without(DIFFERENCES["postgresql"], "networkPolicy.allowExternal")
    problems = parity.rows(references, parity.rendered(dev), {**DIFFERENCES, "postgresql": differences})[1]
    assert problems == [
        "postgresql networkPolicy.allowExternal: neither set by the program nor listed as a deliberate difference "
        "(parity_data.DIFFERENCES)"
    ]


def test_a_reason_that_no_longer_holds_is_reported(references: dict[str, Any], dev: RunResult) -> None:
    values = copy.deepcopy(parity.rendered(dev))
    values["postgresql"]["networkPolicy"]["allowExternal"] = False  # now rendered, as Dossier has it
    del values["jupyterhub"]["scheduling"]["corePods"]["tolerations"]  # "set to another value" no more
    values["postgresql"]["metrics"] = {"serviceMonitor": {"namespace": "metrics"}}
    assert _problems(references, values) == [
        "jupyterhub scheduling.corePods.tolerations: not set, but DIFFERENCES says it is set to another value",
        "postgresql metrics.serviceMonitor.namespace: rendered, but DIFFERENCES says it is not (unset)",
        "postgresql networkPolicy.allowExternal: the program renders Dossier's value, but DIFFERENCES lists a reason",
        "postgresql networkPolicy.allowExternal: set by the program, but WHERE does not say where",
    ]


def test_claims_about_the_chart_are_checked(references: dict[str, Any], dev: RunResult) -> None:
    problems = _problems(references, parity.rendered(dev), postgresql={
        # The chart's default is false, Dossier's value true; and the chart does have networkPolicy.enabled.
        "metrics.serviceMonitor.enabled": Difference("claimed", "chart-default"),
        "primary.persistence.storageClass": Difference("claimed", "not-in-chart"),
    })
    assert problems == [
        "postgresql metrics.serviceMonitor.enabled: the chart's default is False, not Dossier's value",
        "postgresql primary.persistence.storageClass: the pinned chart has this key",
    ]


def test_reasons_and_places_for_keys_dossier_does_not_have_are_reported(
    references: dict[str, Any], dev: RunResult
) -> None:
    problems = _problems(references, parity.rendered(dev), jupyterhub={"hub.nodeSelector": Difference("stale")})
    assert problems == ["jupyterhub hub.nodeSelector: in DIFFERENCES but not a key of Dossier's file"]
    fewer = copy.deepcopy(references)
    del fewer["jupyterhub"]["proxy"]
    assert _problems(fewer, parity.rendered(dev)) == [
        "jupyterhub proxy.chp.networkPolicy: in WHERE but no key of Dossier's file is under it",
        "jupyterhub proxy.service: in WHERE but no key of Dossier's file is under it",
    ]


def test_a_new_reference_key_is_reported(references: dict[str, Any], dev: RunResult) -> None:
    more = copy.deepcopy(references)
    more["jupyterhub"]["singleuser"]["image"] = {"name": "jupyter/base-notebook"}
    assert _problems(more, parity.rendered(dev)) == [
        "jupyterhub singleuser.image.name: neither set by the program nor listed as a deliberate difference "
        "(parity_data.DIFFERENCES)"
    ]


# --- reading the reference --------------------------------------------------------------------


def test_the_masked_password_is_read_as_a_string() -> None:
    text = schemas.load(parity.REFERENCES["jupyterhub"])
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)  # `password: ******` is an alias to YAML
    assert parity.parse_reference(text)["hub"]["db"] == {
        "password": "******",
        "type": "postgres",
        "url": "postgresql+psycopg2://jhub@jhub-postgresql-primary:5432/jhub",
    }


@pytest.mark.parametrize("key", ["primary.nodeSelector[node-role.kubernetes.io/control-plane]",
                                 "singleuser.extraEnv.JUPYTERHUB_SINGLEUSER_APP", "debug.enabled"])
def test_keys_read_back_as_written(key: str) -> None:
    assert parity.show_key(parity.parse_key(key)) == key


def test_the_command_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert parity.main(["parity"]) == 0
    assert capsys.readouterr().out == parity.PAGE.read_text(encoding="utf-8")
    assert parity.main(["parity", "--bogus"]) == 2
