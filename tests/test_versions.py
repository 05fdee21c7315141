"""The versions table of docs/operations.md is generated from the pins, and ``make plan`` accepts what it says.

``offline/versions.py`` reads each version where it is pinned; the page must hold exactly
what it writes. The Kubernetes range the table states is the one ``make plan
--kubernetes-version`` accepts, checked here at both ends and one step past each.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from offline import pins, plan, versions
from offline.engine import ROOT


def test_the_table_in_the_docs_is_the_generated_one() -> None:
    page = versions.PAGE.read_text()
    assert page.count(versions.START) == 1 and page.count(versions.END) == 1
    match = re.search(re.escape(versions.START) + r"\n(.*?)\n?" + re.escape(versions.END), page, re.S)
    assert match, f"{versions.PAGE.name}: the versions-table end marker comes before the start marker"
    assert match.group(1).strip() == versions.markdown_table(), (
        "regenerate the table: .venv/bin/python -m offline.versions --update-docs"
    )


def test_the_kubernetes_range_is_what_make_plan_accepts() -> None:
    oldest, newest = versions.kubernetes_versions()
    row = versions.rows()[0]
    assert row.what == "Kubernetes" and row.needs.startswith(f"{oldest} to {newest} ")
    for accepted in (f"{oldest}.0", f"v{newest}.3"):
        plan.check_kubernetes_version(accepted)
    major, minor = (int(part) for part in oldest.split("."))
    below, above = f"{major}.{minor - 1}.0", f"{major}.{int(newest.split('.')[1]) + 1}.0"
    for refused in (below, above):
        with pytest.raises(plan.UsageError) as error:
            plan.check_kubernetes_version(refused)
        assert f"for Kubernetes {oldest} to {newest}" in str(error.value)
        assert f"--kubernetes-version {refused} (KUBERNETES_VERSION)" in str(error.value)


def test_make_plan_refuses_a_version_it_cannot_check_with_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    # 1.24, which the docs once said was enough: kubernetes-validate 1.37.0 has no schemas of it.
    oldest, newest = versions.kubernetes_versions()
    assert plan.main(["--kubernetes-version", "1.24.0"]) == 2
    assert f"for Kubernetes {oldest} to {newest} (docs/operations.md#prerequisites)" in capsys.readouterr().err


def test_every_toolchain_piece_is_in_the_table_or_says_why_not() -> None:
    assert versions.unaccounted_pieces() == [], (
        "a piece of e2e/toolchain/ the versions table does not mention: read its version in a row of "
        "offline/versions.py, or add it to NOT_PREREQUISITES with why"
    )
    assert set(versions.NOT_PREREQUISITES) <= {p.name for p in versions.TOOLCHAIN.iterdir()}


def test_each_fact_comes_from_its_pin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    table = versions.markdown_table()
    assert "3.187.0 or newer" in table and "Keycloak 26.5.5" in table and "kube-scheduler 1.35.4" in table
    assert "Capsule 0.2.1's Tenant schema" in table and "`pulumi-keycloak` 6.14.1" in table
    assert "with the Python language host of 3.259.0" in table
    # Another CRD release in pins.yaml, another requirement pin, another Keycloak build: the table follows.
    project_pins = tmp_path / "pins.yaml"
    project_pins.write_text((ROOT / "pins.yaml").read_text().replace("release: Contour 1.24.0",
                                                                       "release: Contour 1.24.6"))
    monkeypatch.setattr(pins, "current", lambda: pins.load(project_pins))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(versions.REQUIREMENTS.read_text().replace("pulumi-keycloak==6.14.1",
                                                                      "pulumi-keycloak==6.15.0"))
    monkeypatch.setattr(versions, "REQUIREMENTS", requirements)
    toolchain = tmp_path / "toolchain"
    shutil.copytree(versions.TOOLCHAIN, toolchain, ignore=shutil.ignore_patterns("*.sum"))
    build = toolchain / "keycloak-server" / "build"
    build.write_text(build.read_text().replace("version=26.5.5", "version=26.6.0"))
    host = toolchain / "language-python" / "go.mod"
    host.write_text(host.read_text().replace("sdk/v3 v3.259.0", "sdk/v3 v3.260.0"))
    monkeypatch.setattr(versions, "TOOLCHAIN", toolchain)
    changed = versions.markdown_table()
    assert "Contour 1.24.6's HTTPProxy schema" in changed and "`pulumi-keycloak` 6.15.0" in changed
    assert "Keycloak 26.6.0" in changed and "language host of 3.260.0" in changed and changed != table


def test_a_pin_that_moved_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toolchain = tmp_path / "toolchain"
    shutil.copytree(versions.TOOLCHAIN, toolchain, ignore=shutil.ignore_patterns("*.sum"))
    build = toolchain / "keycloak-server" / "build"
    build.write_text(build.read_text().replace("version=26.5.5", "KEYCLOAK=26.5.5"))
    monkeypatch.setattr(versions, "TOOLCHAIN", toolchain)
    with pytest.raises(versions.VersionSourceError, match=r"keycloak-server/build: expected one version=, found none"):
        versions.markdown_table()
