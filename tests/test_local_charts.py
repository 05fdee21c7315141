"""Local chart mirrors (``chartRepository: file://<dir>``): the release gets the chart's path, checked first."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from components.common import Chart
from components.config import ConfigError, parse
from components.config_charts import PROJECT_DIR, LocalChartError, find_local_chart
from offline.engine import reveal
from offline.registration import chart_name

RELEASE = "kubernetes:helm.sh/v3:Release"
MIRROR = Path(__file__).parent / "fixtures" / "config" / "charts" / "mirror"
MIRROR_IN_PROJECT = MIRROR.relative_to(PROJECT_DIR).as_posix()
REQUIRED = {"fqdn": "hub.example.org", "keycloak": '{"url": "https://auth.example.org"}'}


def _releases(result) -> dict[str, dict]:
    return {name: reveal(result.one(RELEASE, f"{name}-release").inputs) for name in ("postgresql", "jupyterhub")}


def _pack(folder: Path, name: str, chart_yaml: str) -> Path:
    """``<folder>/<name>-<version>.tgz`` as ``helm package`` lays it out (``<name>/Chart.yaml`` inside)."""
    version = next(line.split(":", 1)[1].strip() for line in chart_yaml.splitlines() if line.startswith("version:"))
    archive = folder / f"{name}-{version}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        data = chart_yaml.encode()
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return archive


def test_a_relative_mirror_gives_the_release_a_relative_path(run_program) -> None:
    repository = f"file://{MIRROR_IN_PROJECT}"
    releases = _releases(run_program(
        postgresql={"chartRepository": repository}, jupyterhub={"chartRepository": f"{repository}/"}
    ))
    for name, release in releases.items():
        # A path the provider resolves in the project directory: the state holds no machine path.
        assert release["chart"] == f"./{MIRROR_IN_PROJECT}/{name}"
        assert "repositoryOpts" not in release
        assert chart_name(release) == name  # the plan still checks the values against the pinned chart
    assert releases["postgresql"]["version"] == "12.2.1"
    assert releases["jupyterhub"]["version"] == "2.0.0"


def test_an_absolute_mirror_stays_absolute(run_program, tmp_path: Path) -> None:
    shutil.copytree(MIRROR, tmp_path, dirs_exist_ok=True)
    releases = _releases(run_program(
        postgresql={"chartRepository": f"file://{tmp_path}"}, jupyterhub={"chartRepository": f"file://{tmp_path}"}
    ))
    assert releases["postgresql"]["chart"] == str(tmp_path / "postgresql")
    assert releases["jupyterhub"]["chart"] == str(tmp_path / "jupyterhub")


def test_a_packed_chart_is_used_when_not_unpacked(run_program, tmp_path: Path) -> None:
    archive = _pack(tmp_path, "postgresql", "apiVersion: v2\nname: postgresql\nversion: 12.2.1\n")
    release = _releases(run_program(postgresql={"chartRepository": f"file://{tmp_path}"}))["postgresql"]
    assert release["chart"] == str(archive)
    assert "repositoryOpts" not in release


def test_the_unpacked_chart_wins_over_the_packed_one(tmp_path: Path) -> None:
    shutil.copytree(MIRROR / "postgresql", tmp_path / "postgresql")
    _pack(tmp_path, "postgresql", "apiVersion: v2\nname: postgresql\nversion: 12.2.1\n")
    assert find_local_chart(f"file://{tmp_path}", "postgresql", "12.2.1").source == tmp_path / "postgresql"


@pytest.mark.parametrize(
    ("chart_yaml", "message"),
    [
        ("apiVersion: v2\nname: postgresql\nversion: 12.2.0\n", "holds postgresql 12.2.0, but chartVersion is 12.2.1"),
        ("apiVersion: v2\nname: mysql\nversion: 12.2.1\n", "holds chart 'mysql', expected 'postgresql'"),
    ],
    ids=["version", "name"],
)
def test_a_packed_chart_is_checked_inside(tmp_path: Path, chart_yaml: str, message: str) -> None:
    archive = _pack(tmp_path, "postgresql", chart_yaml)
    archive.rename(tmp_path / "postgresql-12.2.1.tgz")  # named as expected, holding something else
    with pytest.raises(ConfigError) as raised:
        parse({**REQUIRED, "postgresql": f'{{"chartRepository": "file://{tmp_path}"}}'})
    [problem] = raised.value.problems
    assert problem.startswith("dossier:postgresql.chartRepository: ")
    assert message in problem


def test_an_archive_that_is_not_a_chart_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jupyterhub-2.0.0.tgz").write_bytes(b"not gzip")
    with pytest.raises(LocalChartError, match=r"is not a packed jupyterhub chart"):
        find_local_chart(f"file://{tmp_path}", "jupyterhub", "2.0.0")


def test_a_broken_chart_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "jupyterhub").mkdir()
    (tmp_path / "jupyterhub" / "Chart.yaml").write_text("name: [jupyterhub\n")
    with pytest.raises(LocalChartError, match=r"is not valid YAML"):
        find_local_chart(f"file://{tmp_path}", "jupyterhub", "2.0.0")
    (tmp_path / "jupyterhub" / "Chart.yaml").unlink()
    with pytest.raises(LocalChartError, match=r"has no Chart.yaml"):
        find_local_chart(f"file://{tmp_path}", "jupyterhub", "2.0.0")


def test_a_missing_absolute_mirror_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        parse({**REQUIRED, "jupyterhub": f'{{"chartRepository": "file://{tmp_path}/nowhere"}}'})
    assert raised.value.problems == [
        f"dossier:jupyterhub.chartRepository: local chart mirror {tmp_path}/nowhere is not a folder"
        f" (got \"file://{tmp_path}/nowhere\")"
    ]


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("file://charts", "./charts/postgresql"),
        ("file://./charts/", "./charts/postgresql"),
        ("file://../mirror", "../mirror/postgresql"),
        ("file://{tmp}/abs//", "{tmp}/abs/postgresql"),
    ],
)
def test_release_paths_are_normalised(tmp_path: Path, configured: str, expected: str) -> None:
    # The project directory is tmp_path/project here; each mirror is made where it points.
    configured, expected = configured.format(tmp=tmp_path), expected.format(tmp=tmp_path)
    project = tmp_path / "project"
    folder = project / configured.removeprefix("file://")  # an absolute path replaces project
    (folder / "postgresql").mkdir(parents=True)
    (folder / "postgresql" / "Chart.yaml").write_text("name: postgresql\nversion: 12.2.1\n")
    assert find_local_chart(configured, "postgresql", "12.2.1", project).release_path == expected


def test_chart_with_a_path_names_it_and_no_repository() -> None:
    local = Chart(repository="file://charts", name="postgresql", version="12.2.1", path="./charts/postgresql")
    assert (local.chart, local.repository_opts) == ("./charts/postgresql", None)
    oci = Chart(repository="oci://registry.example.org/charts", name="postgresql", version="12.2.1")
    assert (oci.chart, oci.repository_opts) == ("oci://registry.example.org/charts/postgresql", None)
    index = Chart(repository="https://charts.example.org", name="jupyterhub", version="2.0.0")
    assert index.chart == "jupyterhub" and index.repository_opts is not None


@pytest.mark.parametrize("repository", ["file://", "ftp://charts.example.org", "charts"])
def test_other_locations_are_refused(repository: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse({**REQUIRED, "postgresql": f'{{"chartRepository": "{repository}"}}'})
    [problem] = raised.value.problems
    assert problem.startswith("dossier:postgresql.chartRepository: expected an https:// or oci:// chart repository")
