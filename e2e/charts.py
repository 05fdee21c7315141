"""The published charts the e2e stack installs (z2jh 2.0.0, bitnami/postgresql 12.2.1), checked against pins.

Which charts: the versions the program deploys unless a stack sets ``chartVersion``
(``offline/validate.py: DEFAULT_CHART_VERSIONS``), which the e2e stack does not set.
Their pins are the ``archive`` of their entries in ``pins.yaml`` (read by
``offline/pins.py``, described in docs/upgrades.md, "The pins file"): the URL of
the archive the chart repository serves and its SHA-256, so that pinning another
chart version is an edit of that one file. A chart version ``pins.yaml`` does not
pin, or pins without its archive, is refused naming the entry to add (``archives``).

They are found as ``make plan`` finds its pinned files (``offline/schemas.py``,
docs/schemas.md): in ``DOSSIER_UPSTREAM/charts/``, in the per-user cache
(``<cache>/charts/``), or downloaded from the public chart repository and
stored in the cache once they match their pin. A chart that does not match is
refused, whatever its source, and named.

- ``jupyterhub-2.0.0.tgz`` is pinned byte for byte: its SHA-256 is the
  ``digest`` of its entry in the chart repository's ``index.yaml``.
- ``postgresql`` (12.2.1, with ``common`` 2.2.3 in its ``charts/``; ``unpacked: true``
  in its pin) is an unpacked chart folder, pinned by a digest of what Helm renders from it
  (``rendered_digest``): ``Chart.yaml`` (parsed), ``values.yaml``,
  ``values.schema.json`` and ``templates/``, and the same of each dependency
  under ``charts/``, unpacked or packed. The archive the chart repository
  serves and the tagged sources then give one digest; READMEs, ``Chart.lock``
  and ``.helmignore`` are not part of it.

``mirror(folder)`` writes both into ``folder`` as ``helm pull`` leaves them
(the archive; the folder, as ``helm pull --untar``), the layout of a local chart
mirror (``chartRepository: file://<folder>``, docs/configuration.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

import yaml

from offline import pins, schemas, validate
from offline.pins import ArchivePin as ChartPin


class ChartUnavailable(Exception):  # noqa: N818 - reads as what happened
    """No source gave a chart that matches its pin (the message says what each source answered), or no pin."""


def archive(chart: str, version: str, pinned: pins.Pins | None = None) -> ChartPin:
    """The pinned archive of ``chart`` at ``version`` (``pinned``: default, the project's ``pins.yaml``)."""
    pinned = pinned or pins.current()
    entry = pinned.chart(chart, version)
    if entry is None:
        raise ChartUnavailable(f"pins.yaml pins no {chart} {version}: add its entry to `charts` "
                               "(docs/upgrades.md, \"The procedure\")")
    if entry.archive is None:
        raise ChartUnavailable(f"pins.yaml pins {chart} {version} without its archive, which make e2e installs: "
                               "add `archive` (url, sha256) to its entry (docs/upgrades.md, \"The pins file\")")
    return entry.archive


def archives(versions: Mapping[str, str] | None = None, pinned: pins.Pins | None = None) -> tuple[ChartPin, ...]:
    """The pinned archives of ``versions`` (chart -> version; default: what the program deploys), in that order."""
    versions = validate.DEFAULT_CHART_VERSIONS if versions is None else versions
    return tuple(archive(chart, version, pinned) for chart, version in versions.items())


# --- what Helm renders from a chart ----------------------------------------------------------


def _rendered_files(files: dict[str, bytes], prefix: str = "") -> Iterator[tuple[str, bytes]]:
    """(path, content) of what Helm renders from a chart's files (paths relative to the chart)."""
    for path in sorted(files):
        content = files[path]
        parts = PurePosixPath(path).parts
        if parts == ("Chart.yaml",):
            yield prefix + path, schemas.canonical(yaml.safe_load(content))
        elif parts in (("values.yaml",), ("values.schema.json",)) or (len(parts) > 1 and parts[0] == "templates"):
            yield prefix + path, content
        elif len(parts) == 3 and parts[0] == "charts" and path.endswith("/Chart.yaml"):
            dependency = parts[1]
            inner = {p.split("/", 2)[2]: c for p, c in files.items() if p.startswith(f"charts/{dependency}/")}
            yield from _rendered_files(inner, f"{prefix}charts/{dependency}/")
        elif len(parts) == 2 and parts[0] == "charts" and path.endswith(".tgz"):
            unpacked = _archive_files(content)
            (name,) = {p.split("/", 1)[0] for p in unpacked}
            yield from _rendered_files({p.split("/", 1)[1]: c for p, c in unpacked.items()},
                                       f"{prefix}charts/{name}/")


def _archive_files(data: bytes) -> dict[str, bytes]:
    """The regular files of a ``.tgz``, by path."""
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is not None:
                found[member.name.lstrip("./")] = handle.read()
    return found


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def rendered_digest(files: dict[str, bytes]) -> str:
    """The SHA-256 of what Helm renders from a chart, over ``files`` (paths relative to the chart folder)."""
    listing = [{"path": path, "sha256": hashlib.sha256(content).hexdigest()}
               for path, content in _rendered_files(files)]
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()


def folder_digest(folder: Path) -> str:
    return rendered_digest(_folder_files(folder))


# --- sources ---------------------------------------------------------------------------------


def _matches(pin: ChartPin, path: Path) -> str | None:
    """None if ``path`` holds the pinned chart, else why not."""
    try:
        found = hashlib.sha256(path.read_bytes()).hexdigest() if pin.packed else folder_digest(path)
    except (OSError, tarfile.TarError, yaml.YAMLError, ValueError) as exc:
        return f"refused {path}: {exc}"
    return None if found == pin.sha256 else f"refused {path}: it does not match the pin (sha256 {found}, " \
                                             f"pinned {pin.sha256})"


def _store(pin: ChartPin, data: bytes, cache: Path) -> Path:
    """The download in the cache, as the pin's entry (an archive, or the chart unpacked): only if it matches."""
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pin.entry}.", dir=cache))
    try:
        if pin.packed:
            target = staging / pin.entry
            target.write_bytes(data)
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                archive.extractall(staging, filter="data")
            target = staging / pin.entry
        why = _matches(pin, target)
        if why is not None:
            raise ChartUnavailable(why.replace(str(target), f"the download of {pin.url}"))
        final = cache / pin.entry
        if final.is_dir():
            shutil.rmtree(final)
        os.replace(target, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def find(pin: ChartPin, sources: schemas.Sources | None = None) -> Path:
    """A local copy of the pinned chart that matches its pin; ``ChartUnavailable`` naming every source tried."""
    sources = sources or schemas.Sources.from_env()
    reasons: list[str] = []
    if sources.directory is None:
        reasons.append(f"{schemas.ENV_DIRECTORY} is not set")
    else:
        candidate = sources.directory / "charts" / pin.entry
        if candidate.exists():
            why = _matches(pin, candidate)
            if why is None:
                return candidate
            raise ChartUnavailable(why)
        reasons.append(f"not in {schemas.ENV_DIRECTORY} ({candidate.parent})")
    cache = sources.cache / "charts"
    if (cache / pin.entry).exists():
        why = _matches(pin, cache / pin.entry)
        if why is None:
            return cache / pin.entry
        raise ChartUnavailable(f"{why}; remove it to download it again")
    reasons.append(f"not in the cache ({cache})")
    download = schemas.Pin(pin.entry, pin.url, "file", pin.sha256, "bytes")
    url = sources.url(download)
    try:
        data = schemas._download(sources, download)
    except OSError as exc:
        raise ChartUnavailable(f"{pin.entry}: {'; '.join(reasons)}; download of {url} failed: {exc}") from exc
    return _store(pin, data, cache)


def mirror(folder: Path, sources: schemas.Sources | None = None, versions: Mapping[str, str] | None = None,
           pinned: pins.Pins | None = None) -> Path:
    """The charts of ``versions`` in ``folder`` (created), checked: a local chart mirror as ``helm pull`` fills one.

    ``versions`` defaults to both charts at the versions the program deploys; ``pinned``, to ``pins.yaml``.
    """
    wanted = archives(versions, pinned)  # every pin, before anything is copied
    folder.mkdir(parents=True, exist_ok=True)
    for pin in wanted:
        source = find(pin, sources)
        if source.is_dir():
            shutil.copytree(source, folder / pin.entry, dirs_exist_ok=True)
        else:
            shutil.copy2(source, folder / pin.entry)
    return folder
