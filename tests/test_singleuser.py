"""Notebook servers and hub logging: Dossier's reference by default, each setting configurable."""

from __future__ import annotations

import pytest

from offline import validate
from offline.engine import RunResult, reveal

RELEASE = "kubernetes:helm.sh/v3:Release"
SECCOMP = {
    "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
    "container.seccomp.security.alpha.kubernetes.io/notebook": "runtime/default",
}
CUSTOM = {
    "debug": False,
    "singleuser": {
        "defaultUrl": "/lab",
        "extraEnv": {"JUPYTERHUB_SINGLEUSER_APP": "jupyter_server.serverapp.ServerApp", "LANG": "C.UTF-8"},
        "extraAnnotations": {"example.org/owner": "research-it"},
        "cloudMetadata": {"blockWithIptables": True},
        "startTimeout": 120,
    },
}


def _values(result: RunResult) -> dict:
    return reveal(result.one(RELEASE, "jupyterhub-release").inputs["values"])


def test_dev_notebooks_follow_dossiers_reference(dev: RunResult) -> None:
    singleuser = _values(dev)["singleuser"]
    assert singleuser["defaultUrl"] == "/tree/"
    assert singleuser["extraEnv"] == {"JUPYTERHUB_SINGLEUSER_APP": "notebook.notebookapp.NotebookApp"}
    assert singleuser["extraAnnotations"] == SECCOMP
    # The chart's default (true) adds a privileged init container to every notebook pod.
    assert singleuser["cloudMetadata"] == {"blockWithIptables": False}
    assert singleuser["startTimeout"] == 600
    assert "storage" not in singleuser  # the cluster's default storage class


def test_dev_hub_logs_at_debug_level(dev: RunResult) -> None:
    values = _values(dev)
    assert values["debug"] == {"enabled": True}
    assert values["hub"]["args"] == [
        "dossier", "--config", "/usr/local/etc/jupyterhub/jupyterhub_config.py", "--debug", "--upgrade-db"
    ]


def test_every_setting_is_configurable(run_program) -> None:
    values = _values(run_program(jupyterhub=CUSTOM))
    assert values["debug"] == {"enabled": False}
    assert "--debug" not in values["hub"]["args"]
    singleuser = values["singleuser"]
    assert singleuser["defaultUrl"] == "/lab"
    assert singleuser["extraEnv"] == CUSTOM["singleuser"]["extraEnv"]
    # A configured map replaces the default as a whole: no seccomp annotations left.
    assert singleuser["extraAnnotations"] == {"example.org/owner": "research-it"}
    assert singleuser["cloudMetadata"] == {"blockWithIptables": True}
    assert singleuser["startTimeout"] == 120


def test_empty_maps_and_null_leave_the_chart_defaults(run_program) -> None:
    singleuser = _values(run_program(
        jupyterhub={"singleuser": {"defaultUrl": None, "extraEnv": {}, "extraAnnotations": {}}}
    ))["singleuser"]
    assert not {"defaultUrl", "extraEnv", "extraAnnotations"} & set(singleuser)
    # The keys not given keep their defaults.
    assert singleuser["cloudMetadata"] == {"blockWithIptables": False}
    assert singleuser["startTimeout"] == 600


def test_prod_example_turns_debug_logging_off(prod: RunResult) -> None:
    values = _values(prod)
    assert values["debug"] == {"enabled": False}
    assert "--debug" not in values["hub"]["args"]


@pytest.mark.usefixtures("upstream")
@pytest.mark.parametrize("jupyterhub", [{}, CUSTOM], ids=["defaults", "custom"])
def test_values_validate_against_the_z2jh_schema(run_program, jupyterhub: dict) -> None:
    values = _values(run_program(jupyterhub={**jupyterhub, "image": {"pullSecrets": ["registry-puller"]}}))
    assert validate.validate_z2jh_values(values) == []


@pytest.mark.usefixtures("upstream")
def test_the_schema_check_sees_these_keys(dev: RunResult) -> None:
    # A misspelt key or a wrong type under singleuser is caught (the check is not vacuous).
    values = _values(dev)
    values["singleuser"]["cloudMetadata"]["blockWithIptables"] = "no"
    values["singleuser"]["defaultURL"] = values["singleuser"].pop("defaultUrl")
    problems = validate.validate_z2jh_values(values)
    assert any("blockWithIptables" in p or "'no' is not of type 'boolean'" in p for p in problems)
    assert any("defaultURL" in p for p in problems)
