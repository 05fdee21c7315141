"""The published charts of the e2e stack (e2e/charts.py): pinned in pins.yaml, found as `make plan` finds its pinned
files, checked."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from components.config_charts import find_local_chart
from e2e import charts
from offline import pins, schemas, validate
from offline.engine import ROOT

JUPYTERHUB, POSTGRESQL = charts.archives()
FIXTURE_PIN = Path(__file__).parent / "fixtures" / "pins" / "jupyterhub-2.1.0-fixture.1.pins.yaml"


@pytest.fixture
def upstream() -> Path:
    sources = schemas.Sources.from_env()
    if sources.directory is None or not (sources.directory / "charts").is_dir():
        pytest.skip("the published charts are not in DOSSIER_UPSTREAM")
    return sources.directory


def _sources(directory: Path | None, cache: Path, mirror: str | None = None) -> schemas.Sources:
    return schemas.Sources(directory=directory, cache=cache, mirror=mirror, timeout=2.0)


def _pack(folder: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=name)
    return buffer.getvalue()


# --- the pins: pins.yaml's archives --------------------------------------------------------------


def test_the_charts_are_the_versions_the_program_deploys_as_pins_yaml_pins_their_archives() -> None:
    assert validate.DEFAULT_CHART_VERSIONS == {"jupyterhub": "2.0.0", "postgresql": "12.2.1"}
    document = yaml.safe_load((ROOT / "pins.yaml").read_text())
    written = {(c["chart"], c["version"]): c["archive"] for c in document["charts"]}
    assert [(p.entry, p.url, p.sha256, p.packed) for p in (JUPYTERHUB, POSTGRESQL)] == [
        ("jupyterhub-2.0.0.tgz", written["jupyterhub", "2.0.0"]["url"], written["jupyterhub", "2.0.0"]["sha256"],
         True),
        # unpacked: the folder a mirror holds as `helm pull --untar` leaves it, named as the chart
        ("postgresql", written["postgresql", "12.2.1"]["url"], written["postgresql", "12.2.1"]["sha256"], False),
    ]
    assert JUPYTERHUB.url == "https://jupyterhub.github.io/helm-chart/jupyterhub-2.0.0.tgz"
    assert POSTGRESQL.url == "https://charts.bitnami.com/bitnami/postgresql-12.2.1.tgz"


def _pins_without_archive(tmp_path: Path, chart: str) -> pins.Pins:
    document = yaml.safe_load((ROOT / "pins.yaml").read_text())
    for entry in document["charts"]:
        if entry["chart"] == chart:
            del entry["archive"]
    path = tmp_path / "pins.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return pins.load(path)


def test_a_chart_pinned_without_its_archive_is_refused_naming_the_entry(tmp_path: Path) -> None:
    pinned = _pins_without_archive(tmp_path, "postgresql")
    assert charts.archive("jupyterhub", "2.0.0", pinned) == JUPYTERHUB
    with pytest.raises(charts.ChartUnavailable) as refused:
        charts.archive("postgresql", "12.2.1", pinned)
    assert str(refused.value) == (
        "pins.yaml pins postgresql 12.2.1 without its archive, which make e2e installs: add `archive` (url, sha256) "
        'to its entry (docs/upgrades.md, "The pins file")')
    with pytest.raises(charts.ChartUnavailable, match=r"^pins.yaml pins no jupyterhub 9\.9\.9: add its entry"):
        charts.archive("jupyterhub", "9.9.9")
    # The mirror checks every pin before it copies anything.
    with pytest.raises(charts.ChartUnavailable, match=r"postgresql 12\.2\.1 without its archive"):
        charts.mirror(tmp_path / "mirror", _sources(None, tmp_path / "cache"), pinned=pinned)
    assert not (tmp_path / "mirror").exists()


def _fixture_chart(version: str) -> bytes:
    """A chart version of the test's own, as its repository would publish it (made once: its digest is pinned)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = f"apiVersion: v2\nname: jupyterhub\nversion: {version}\n".encode()
        info = tarfile.TarInfo("jupyterhub/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_chart_version_pinned_in_pins_yaml_alone_reaches_the_mirror(tmp_path: Path) -> None:
    # docs/upgrades.md's procedure: a new entry in pins.yaml, with its archive, and nothing else.
    (new,) = yaml.safe_load(FIXTURE_PIN.read_text())["charts"]
    published = _fixture_chart(new["version"])
    new["archive"] = {"url": f"https://charts.example.org/jupyterhub-{new['version']}.tgz",
                      "sha256": hashlib.sha256(published).hexdigest()}
    document = yaml.safe_load((ROOT / "pins.yaml").read_text())
    document["charts"].append(new)
    (tmp_path / "pins.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    pinned = pins.load(tmp_path / "pins.yaml")

    served = tmp_path / "served" / "charts.example.org"
    served.mkdir(parents=True)
    (served / f"jupyterhub-{new['version']}.tgz").write_bytes(published)
    sources = _sources(None, tmp_path / "cache", mirror=(tmp_path / "served").as_uri())
    mirror = charts.mirror(tmp_path / "project" / "charts", sources, {"jupyterhub": new["version"]}, pinned)
    found = find_local_chart("file://charts", "jupyterhub", new["version"], project_dir=tmp_path / "project")
    assert found.source == mirror / f"jupyterhub-{new['version']}.tgz"
    assert found.source.read_bytes() == published


# --- finding them -------------------------------------------------------------------------------


def test_the_upstream_copies_match_their_pins(upstream: Path, tmp_path: Path) -> None:
    sources = _sources(upstream, tmp_path / "cache")
    assert charts.find(JUPYTERHUB, sources) == upstream / "charts" / "jupyterhub-2.0.0.tgz"
    assert charts.find(POSTGRESQL, sources) == upstream / "charts" / "postgresql"


def test_a_mirror_holds_both_charts_as_the_program_reads_a_local_mirror(upstream: Path, tmp_path: Path) -> None:
    mirror = charts.mirror(tmp_path / "charts", _sources(upstream, tmp_path / "cache"))
    hub = find_local_chart("file://charts", "jupyterhub", "2.0.0", project_dir=tmp_path)
    database = find_local_chart("file://charts", "postgresql", "12.2.1", project_dir=tmp_path)
    assert (hub.source, database.source) == (mirror / "jupyterhub-2.0.0.tgz", mirror / "postgresql")
    assert (mirror / "postgresql" / "charts" / "common" / "Chart.yaml").is_file()


def test_the_digest_is_of_what_helm_renders_packed_or_unpacked(upstream: Path, tmp_path: Path) -> None:
    chart = shutil.copytree(upstream / "charts" / "postgresql", tmp_path / "postgresql")
    # As `helm dependency build` leaves it: the dependency packed; and without what Helm does not render.
    (chart / "charts" / "common-2.2.3.tgz").write_bytes(_pack(chart / "charts" / "common", "common"))
    shutil.rmtree(chart / "charts" / "common")
    (chart / "README.md").unlink()
    (chart / "Chart.lock").unlink()
    assert charts.folder_digest(chart) == POSTGRESQL.sha256
    # Chart.yaml counts by content, not layout.
    (chart / "Chart.yaml").write_text((chart / "Chart.yaml").read_text().replace("name: postgresql",
                                                                                   "name:   postgresql"))
    assert charts.folder_digest(chart) == POSTGRESQL.sha256
    template = chart / "templates" / "primary" / "statefulset.yaml"
    template.write_text(template.read_text() + "\n# changed\n")
    assert charts.folder_digest(chart) != POSTGRESQL.sha256


def test_a_changed_chart_is_refused_whatever_its_source(upstream: Path, tmp_path: Path) -> None:
    local = tmp_path / "upstream"
    (local / "charts").mkdir(parents=True)
    data = (upstream / "charts" / "jupyterhub-2.0.0.tgz").read_bytes()
    middle = len(data) // 2
    flipped = data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:]
    (local / "charts" / "jupyterhub-2.0.0.tgz").write_bytes(flipped)
    with pytest.raises(charts.ChartUnavailable, match="does not match the pin"):
        charts.find(JUPYTERHUB, _sources(local, tmp_path / "cache"))
    cache = tmp_path / "cache" / "charts"
    shutil.copytree(upstream / "charts" / "postgresql", cache / "postgresql")
    (cache / "postgresql" / "values.yaml").write_text("architecture: standalone\n")
    with pytest.raises(charts.ChartUnavailable, match="remove it to download it again"):
        charts.find(POSTGRESQL, _sources(None, tmp_path / "cache"))


def test_a_download_is_checked_then_kept_in_the_cache(upstream: Path, tmp_path: Path) -> None:
    # A mirror of the chart repositories (DOSSIER_SCHEMA_MIRROR): the same paths under a file:// URL.
    served = tmp_path / "served"
    (served / "jupyterhub.github.io" / "helm-chart").mkdir(parents=True)
    shutil.copy2(upstream / "charts" / "jupyterhub-2.0.0.tgz", served / "jupyterhub.github.io" / "helm-chart")
    (served / "charts.bitnami.com" / "bitnami").mkdir(parents=True)
    (served / "charts.bitnami.com" / "bitnami" / "postgresql-12.2.1.tgz").write_bytes(
        _pack(upstream / "charts" / "postgresql", "postgresql"))
    sources = _sources(None, tmp_path / "cache", mirror=served.as_uri())
    assert charts.find(JUPYTERHUB, sources) == tmp_path / "cache" / "charts" / "jupyterhub-2.0.0.tgz"
    assert charts.find(POSTGRESQL, sources) == tmp_path / "cache" / "charts" / "postgresql"
    assert charts.folder_digest(tmp_path / "cache" / "charts" / "postgresql") == POSTGRESQL.sha256
    # The cache now answers without the mirror.
    assert charts.find(POSTGRESQL, _sources(None, tmp_path / "cache")).is_dir()


def test_a_download_that_does_not_match_is_not_kept(upstream: Path, tmp_path: Path) -> None:
    served = tmp_path / "served" / "charts.bitnami.com" / "bitnami"
    served.mkdir(parents=True)
    chart = shutil.copytree(upstream / "charts" / "postgresql", tmp_path / "postgresql")
    (chart / "values.yaml").write_text("architecture: standalone\n")
    (served / "postgresql-12.2.1.tgz").write_bytes(_pack(chart, "postgresql"))
    sources = _sources(None, tmp_path / "cache", mirror=(tmp_path / "served").as_uri())
    with pytest.raises(charts.ChartUnavailable, match=r"the download of https://charts\.bitnami\.com/"):
        charts.find(POSTGRESQL, sources)
    assert not (tmp_path / "cache" / "charts" / "postgresql").exists()


def test_no_source_names_every_place_it_looked(tmp_path: Path) -> None:
    sources = _sources(None, tmp_path / "cache", mirror=(tmp_path / "nowhere").as_uri())
    with pytest.raises(charts.ChartUnavailable) as missing:
        charts.find(JUPYTERHUB, sources)
    assert "DOSSIER_UPSTREAM is not set; not in the cache" in str(missing.value)
    assert "download of " in str(missing.value) and "jupyterhub-2.0.0.tgz failed" in str(missing.value)
