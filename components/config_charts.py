"""Local chart mirrors: ``chartRepository: file://<dir>`` for clusters without registry access.

A mirror is a folder (relative to the project directory, or absolute) holding
the chart unpacked as ``<chart>/Chart.yaml`` (what ``helm pull --untar`` writes)
or packed as ``<chart>-<version>.tgz`` (what ``helm pull`` writes); the unpacked
one wins when both are there. Helm installs a local chart whatever its version
(``version`` only selects among a repository's charts), so the config check
reads the chart's ``Chart.yaml`` and refuses another chart or another version
before anything is registered. Pure Python: no Pulumi here.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from components.config_types import Problem

#: The project directory (where Pulumi.yaml is): relative mirrors are read from here, and the
#: Kubernetes provider, which Pulumi starts in this directory, resolves the same relative path.
PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_PREFIX = "file://"


class LocalChartError(ValueError):
    """The mirror does not hold the configured chart; the message says what is wrong."""


@dataclass(frozen=True)
class LocalChart:
    """A chart found in a local mirror."""

    release_path: str
    """The path the Helm release gets as ``chart``: ``./<relative>`` or absolute, as configured."""
    source: Path
    """Where it is on this machine (a folder or a ``.tgz``)."""


def is_local(repository: str) -> bool:
    return repository.startswith(LOCAL_PREFIX)


def _entries(repository: str, name: str, version: str) -> list[str]:
    mirror = repository.removeprefix(LOCAL_PREFIX)
    return [f"{mirror.rstrip('/')}/{entry}" for entry in (name, f"{name}-{version}.tgz")]


def _release_path(configured: str) -> str:
    """``charts/postgresql`` -> ``./charts/postgresql``; absolute paths stay absolute."""
    if PurePosixPath(configured).is_absolute():
        return os.path.normpath(configured)
    relative = os.path.normpath(configured)
    return relative if relative.startswith("../") else f"./{relative}"


def _chart_metadata(source: Path, name: str) -> Any:
    if source.is_dir():
        chart_yaml = source / "Chart.yaml"
        if not chart_yaml.is_file():
            raise LocalChartError(f"{source} has no Chart.yaml (expected the {name} chart unpacked there)")
        text = chart_yaml.read_text(encoding="utf-8")
    else:
        member = f"{name}/Chart.yaml"
        try:
            with tarfile.open(source, "r:gz") as archive:
                handle = archive.extractfile(member)
                if handle is None:
                    raise KeyError(member)
                text = handle.read().decode("utf-8")
        except (tarfile.TarError, OSError, KeyError):
            raise LocalChartError(f"{source} is not a packed {name} chart (no {member} in a .tgz)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LocalChartError(f"Chart.yaml of {source} is not valid YAML ({exc})") from None


def find_local_chart(repository: str, name: str, version: str, project_dir: Path = PROJECT_DIR) -> LocalChart:
    """The chart ``name`` at ``version`` in the mirror ``repository`` (``file://<dir>``), or ``LocalChartError``."""
    mirror = repository.removeprefix(LOCAL_PREFIX)
    folder = project_dir / mirror  # an absolute mirror replaces project_dir
    if not folder.is_dir():
        where = "" if Path(mirror).is_absolute() else " (relative paths are read from the project directory)"
        raise LocalChartError(f"local chart mirror {folder} is not a folder{where}")
    unpacked, packed = _entries(repository, name, version)
    for configured in (unpacked, packed):
        source = project_dir / configured
        if source.exists():
            break
    else:
        raise LocalChartError(f"{folder} holds neither {name}/Chart.yaml nor {name}-{version}.tgz")
    metadata = _chart_metadata(source, name)
    if not isinstance(metadata, dict):
        raise LocalChartError(f"Chart.yaml of {source} is not a mapping")
    found_name, found_version = metadata.get("name"), metadata.get("version")
    if found_name != name:
        raise LocalChartError(f"{source} holds chart {found_name!r}, expected {name!r}")
    if str(found_version) != version:
        # Helm would install it anyway: a local chart is taken whatever its version.
        raise LocalChartError(
            f"{source} holds {name} {found_version}, but chartVersion is {version} "
            "(Helm installs a local chart whatever its version: update the mirror or chartVersion)"
        )
    return LocalChart(release_path=_release_path(configured), source=source)


def local_chart_path(repository: str, name: str, version: str) -> str | None:
    """The ``chart`` of the Helm release for a local mirror; ``None`` for a remote repository."""
    return find_local_chart(repository, name, version).release_path if is_local(repository) else None


def local_chart_problems(repository: str, name: str, version: str) -> list[Problem]:
    """The config problem of a local mirror that does not hold the chart (named at ``chartRepository``)."""
    if not is_local(repository):
        return []
    try:
        find_local_chart(repository, name, version)
    except LocalChartError as exc:
        return [(("chartRepository",), str(exc), repository)]
    return []
