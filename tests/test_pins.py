"""The pins file (pins.yaml, offline/pins.py): what it pins, how a bad one is refused, and an upgrade through it alone.

The upgrade test does what docs/upgrades.md tells a user: in a copy of the project, pin another
jupyterhub chart version by adding an entry to pins.yaml (tests/fixtures/pins/), set the version
in a stack, and run `make plan`, which downloads the new files from a local mirror, checks them
against the pin and the values against that version's schema.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from offline import pins, schemas, validate
from offline.engine import ROOT, RunResult
from offline.registration import kind_of
from tests.doc_pages import project_copy

if TYPE_CHECKING:
    from tests.conftest import LocalServer

FIXTURES = Path(__file__).parent / "fixtures"
NEW_PIN = FIXTURES / "pins" / "jupyterhub-2.1.0-fixture.1.pins.yaml"
NEW_VERSION = "2.1.0-fixture.1"


# --- the project's pins -------------------------------------------------------------------


def test_the_project_pins_what_the_program_deploys(dev: RunResult) -> None:
    pinned = pins.load()
    for chart, version in validate.DEFAULT_CHART_VERSIONS.items():
        pin = pinned.chart(chart, version)
        assert pin is not None, f"pins.yaml pins no {chart} {version}, the version the program deploys"
        assert set(pin.needs) <= set(pinned.files)
    stack_crds = {(f"{r.inputs['spec']['group']}/{v['name']}", r.inputs["spec"]["names"]["kind"])
                  for r in dev.by_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
                  for v in r.inputs["spec"]["versions"]}
    custom = {(r.inputs["apiVersion"], r.inputs["kind"]) for r in dev.resources
              if kind_of(r) == "kubernetes" and "." in r.inputs["apiVersion"].split("/")[0]
              and not r.inputs["apiVersion"].split("/")[0].endswith(".k8s.io")}
    assert custom - stack_crds, "the dev stack creates custom resources of prerequisites' CRDs"
    assert custom - stack_crds <= set(pinned.crds), "every such kind has a pinned CRD schema"
    assert set(pinned.references) == set(validate.DEFAULT_CHART_VERSIONS)
    assert pinned.files == schemas.PINS  # the table offline/schemas.py finds files by


# --- a bad pins file ------------------------------------------------------------------------

PROJECT_PINS = (ROOT / "pins.yaml").read_text()
SCHEMA_SHA = "683c5100bab06e62fb0a4242526e569a4cd0257bdb0708a4de07232c21d00a4e"
TENANT_EXTRACT = "extract: crd:Tenant/v1beta2"


def _edit(old: str, new: str, count: int = 1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert text.count(old) >= count, f"pins.yaml no longer holds {old!r}"
        return text.replace(old, new, count)

    return edit


def _without_schema(text: str) -> str:
    """pins.yaml without the schema of the postgresql entry (which its keys check does not read)."""
    start = text.index("    schema:  # pinned with the chart")
    return text[:start] + text[text.index("\n\n", start):]


BAD = {
    "short-sha": (_edit(SCHEMA_SHA, "683c5100"),
                  ["charts[0] (jupyterhub 2.0.0): schema.sha256: expected 64 lower-case hexadecimal digits",
                   "(got '683c5100')"]),
    "misspelt-key": (_edit(f"sha256: {SCHEMA_SHA}", f"sha265: {SCHEMA_SHA}"),
                     ["charts[0] (jupyterhub 2.0.0): schema.sha265: unknown key",
                      "charts[0] (jupyterhub 2.0.0): schema.sha256: required, not set"]),
    "version-a-number": (_edit("version: 12.2.1", "version: 12.2"),
                         ["charts[1] (postgresql 12.2): version: expected a string (quote it: YAML read 12.2)"]),
    "schema-check-without-schema": (lambda text: _edit("  check: keys", "  check: schema")(_without_schema(text)),
                                    ["charts[1] (postgresql 12.2.1): schema: required with check: schema"]),
    "crd-extract-of-another-version": (_edit(TENANT_EXTRACT, "extract: crd:Tenant/v1beta1"),
                                       ["crds[0] (Tenant capsule.clastix.io/v1beta2): schema.extract: "
                                        "crd:Tenant/v1beta1 does not take the schema of Tenant v1beta2"]),
    "one-file-two-pins": (_edit("file: bitnami-postgresql-12.2.1.values.schema.json",
                                "file: z2jh-2.0.0.values.schema.json"),
                          ["charts[1] (postgresql 12.2.1): schema: file z2jh-2.0.0.values.schema.json is pinned "
                           "already by charts[0] (jupyterhub 2.0.0): schema"]),
    "key-twice": (_edit("    check: schema\n", "    check: schema\n    check: keys\n"),
                  ["line 27, column 5: not valid YAML: key 'check' given twice (lines 26 and 27)"]),
    "a-tab": (_edit("    check: keys\n", "\tcheck: keys\n"),
              ["line 44, column 1: not valid YAML: found character '\\t' that cannot start any token"]),
    "release-without-version": (_edit("release: Contour 1.24.0", "release: Contour"),
                                ["crds[1] (HTTPProxy projectcontour.io/v1): release: expected <project> <version>, "
                                 "such as Contour 1.24.0", "(got 'Contour')"]),
    "archive-short-sha": (_edit("sha256: a96fd0a77816c3f78dde8f7863771216f2760fddadc8ff9b20039be6fa2c5af7",
                                "sha256: a96fd0a7"),
                          ["charts[0] (jupyterhub 2.0.0): archive.sha256: expected 64 lower-case hexadecimal digits"]),
    "archive-misspelt-key": (_edit("      unpacked: true", "      unpack: true"),
                             ["charts[1] (postgresql 12.2.1): archive.unpack: unknown key"]),
    "archive-copied-without-its-url": (
        _edit("url: https://charts.bitnami.com/bitnami/postgresql-12.2.1.tgz",
              "url: https://jupyterhub.github.io/helm-chart/jupyterhub-2.0.0.tgz"),
        ["charts[1] (postgresql 12.2.1): archive: archive https://jupyterhub.github.io/helm-chart/jupyterhub-2.0.0.tgz "
         "is pinned already by charts[0] (jupyterhub 2.0.0): archive"]),
    "every-problem-at-once": (
        lambda text: _edit(SCHEMA_SHA, "x")(_edit("kind: HTTPProxy", "kind: httpproxy")(text)),
        ["charts[0] (jupyterhub 2.0.0): schema.sha256: expected 64 lower-case",
         "crds[1] (httpproxy projectcontour.io/v1): kind: expected a kind such as HTTPProxy (got 'httpproxy')"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_pins_file_is_refused_naming_the_entry(case: str, tmp_path: Path) -> None:
    edit, expected = BAD[case]
    path = tmp_path / "pins.yaml"
    path.write_text(edit(PROJECT_PINS))
    with pytest.raises(pins.PinsError) as refused:
        pins.load(path)
    message = str(refused.value)
    assert message.startswith("pins.yaml: "), message
    for text in expected:
        assert text in message, message
    assert len(refused.value.problems) == (2 if case in ("misspelt-key", "every-problem-at-once") else 1), message


def test_a_chart_entry_carries_its_published_archive(tmp_path: Path) -> None:
    # What make e2e installs (e2e/charts.py): a packed archive is kept as <chart>-<version>.tgz, an unpacked one as
    # the folder <chart>, the two layouts a local chart mirror is read in; an entry may leave it out.
    pinned = pins.load()
    hub, database = pinned.chart("jupyterhub", "2.0.0"), pinned.chart("postgresql", "12.2.1")
    assert hub is not None and hub.archive == pins.ArchivePin(
        "jupyterhub-2.0.0.tgz", "https://jupyterhub.github.io/helm-chart/jupyterhub-2.0.0.tgz",
        "a96fd0a77816c3f78dde8f7863771216f2760fddadc8ff9b20039be6fa2c5af7")
    assert database is not None and database.archive is not None
    assert (database.archive.entry, database.archive.packed) == ("postgresql", False)
    path = tmp_path / "pins.yaml"
    document = yaml.safe_load(PROJECT_PINS)
    document["charts"] += yaml.safe_load(NEW_PIN.read_text())["charts"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    upgraded = pins.load(path).chart("jupyterhub", NEW_VERSION)
    assert upgraded is not None and upgraded.archive is None


def test_the_project_pins_file_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "pins.yaml"
    path.write_text(PROJECT_PINS)
    assert pins.load(path) == pins.load()


# --- an upgrade through the pins file alone -------------------------------------------------------


def _chart_archive(version: str) -> bytes:
    """The made-up chart version as its repository would publish it: a .tgz holding the two fixture files."""
    members = {
        "jupyterhub/Chart.yaml": f"apiVersion: v2\nname: jupyterhub\nversion: {version}\n".encode(),
        "jupyterhub/values.yaml": (FIXTURES / "pins" / f"jupyterhub-{version}.values.yaml").read_bytes(),
        "jupyterhub/values.schema.json": (FIXTURES / "pins" / f"jupyterhub-{version}.values.schema.json").read_bytes(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _stack(project: Path, name: str, jupyterhub: dict[str, Any]) -> None:
    """A stack of the tests' own: the smallest valid config, with ``dossier:jupyterhub`` as given."""
    config = yaml.safe_load((FIXTURES / "config" / "happy.minimal.yaml").read_text())["config"]
    config["dossier:jupyterhub"] = jupyterhub
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))


def _make_plan(project: Path, stack: str, env: dict[str, str]) -> tuple[int, str]:
    """`make plan STACK=<stack>` in ``project``: the plan's exit status (make itself exits 2 on any) and output."""
    done = subprocess.run(["make", "plan", f"STACK={stack}"], cwd=project, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    out = done.stdout + done.stderr
    failed = re.search(r"^make(?:\[\d+\])?: \*\*\* \[.*\] Error (\d+)$", out, re.M)
    return (int(failed[1]) if failed else done.returncode), out


@pytest.fixture
def sources(upstream: None, tmp_path: Path, local_server: Callable[..., LocalServer]) -> dict[str, str]:
    """The environment of a hermetic `make plan`: today's pinned files in a directory of their own, an empty
    cache, and a mirror that serves the made-up chart version's archive."""
    directory = tmp_path / "upstream"
    directory.mkdir()
    for name in schemas.PINS:
        shutil.copy(schemas.path(name), directory / name)
    mirror = local_server({f"/charts.example.org/jupyterhub-{NEW_VERSION}.tgz": (200, _chart_archive(NEW_VERSION))})
    # Strict, and not a sub-make of a `make test` that runs this.
    dropped = ("ALLOW_UNCHECKED", "DOSSIER_ALLOW_UNCHECKED", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({schemas.ENV_DIRECTORY: str(directory), schemas.ENV_CACHE: str(tmp_path / "cache"),
                schemas.ENV_MIRROR: mirror.url})
    return env


def test_pinning_another_chart_version_in_the_pins_file_alone_lets_make_plan_check_it(
    tmp_path: Path, sources: dict[str, str]
) -> None:
    project = project_copy(tmp_path / "project")
    _stack(project, "upgrade", {"chartVersion": NEW_VERSION})
    _stack(project, "slowstart", {"chartVersion": NEW_VERSION, "singleuser": {"startTimeout": 900}})

    status, out = _make_plan(project, "upgrade", sources)
    assert status == 3, out  # not pinned yet: its values cannot be checked, and the plan says so
    assert f"missing: a pinned values schema for chart jupyterhub {NEW_VERSION}" in out

    document = yaml.safe_load((project / "pins.yaml").read_text())
    document["charts"] += yaml.safe_load(NEW_PIN.read_text())["charts"]
    (project / "pins.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    status, out = _make_plan(project, "upgrade", sources)
    assert status == 0, out
    assert f"dossier-stack {(ROOT / 'VERSION').read_text().strip()}" in out.splitlines()
    assert f"chart=jupyterhub version={NEW_VERSION}" in out
    assert out.rstrip().endswith("checks passed"), out  # every check ran: none "not run"
    cached = {p.name for p in (tmp_path / "cache").iterdir()}
    assert cached == {f"jupyterhub-{NEW_VERSION}.values.yaml", f"jupyterhub-{NEW_VERSION}.values.schema.json"}

    # That version's own schema decides: it bounds startTimeout, which 2.0.0's does not.
    status, out = _make_plan(project, "slowstart", sources)
    assert status == 1, out
    assert "jupyterhub values.singleuser.startTimeout: 900 is greater than the maximum of 600" in out
    assert validate.validate_z2jh_values({"singleuser": {"startTimeout": 900}}, version="2.0.0") == []


def test_make_plan_stops_at_a_bad_pins_file_with_its_message(tmp_path: Path, sources: dict[str, str]) -> None:
    project = project_copy(tmp_path / "project")
    _stack(project, "upgrade", {})
    (project / "pins.yaml").write_text(PROJECT_PINS.replace(SCHEMA_SHA, "683c5100"))
    status, out = _make_plan(project, "upgrade", sources)
    assert status == 2, out
    assert "error: pins.yaml: 1 problem(s)" in out
    assert "charts[0] (jupyterhub 2.0.0): schema.sha256: expected 64 lower-case hexadecimal digits" in out
    assert "Traceback" not in out
