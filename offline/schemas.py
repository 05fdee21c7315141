"""Where the pinned upstream files come from, each checked against its SHA-256 pin (``docs/schemas.md``).

The files the offline checks need (chart values schemas and defaults, CRD
schemas, Dossier's reference values) are pinned in ``pins.yaml`` (read by
``offline/pins.py``; ``PINS`` is its table of files) and looked for, file by
file, in:

1. ``DOSSIER_UPSTREAM``: a directory of copies, when that variable is set
   (CI and offline machines: ``../shared/upstream``);
2. the per-user cache, ``${XDG_CACHE_HOME:-~/.cache}/dossier/upstream``
   (``DOSSIER_SCHEMA_CACHE`` overrides);
3. a download of the upstream file at its pinned commit or chart version
   (``DOSSIER_SCHEMA_MIRROR`` fetches the same paths from a mirror), stored in
   the cache once it matches its pin.

The pin is the SHA-256 of the file's *canonical form*: parsed (JSON, or YAML
with PyYAML's safe loader) and written back as JSON with sorted keys, no
whitespace, UTF-8; so a chart archive that lays a schema out differently from
a copy still matches. Dossier's two reference files are pinned byte for byte
(one of them is not valid YAML). A file that does not match is refused, whatever
its source, and named. The cluster's own CRDs (``--schemas cluster``) are read
by ``offline/cluster.py``.

``python -m offline.schemas`` shows where each pinned file comes from (and
fetches what is missing); ``python -m offline.schemas pin FILE...`` prints the
canonical SHA-256 of files, to refresh a pin (of a ``.tar.gz``: its ``tree`` digest).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, Literal

import yaml

ENV_DIRECTORY = "DOSSIER_UPSTREAM"
ENV_CACHE = "DOSSIER_SCHEMA_CACHE"
ENV_MIRROR = "DOSSIER_SCHEMA_MIRROR"
DOWNLOAD_TIMEOUT = 20.0

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Pin:
    """One pinned upstream file: its name (as in ``../shared/upstream``), where it comes from, its hash."""

    name: str
    url: str
    #: ``file``: the download is the file; ``tgz:<member>``: a member of a chart archive;
    #: ``crd:<Kind>/<version>``: ``spec.versions[name=version].schema.openAPIV3Schema`` of that CRD;
    #: ``tree:<path>,...``: a source archive whose ``tree`` pin covers only the files under those paths.
    extract: str
    #: SHA-256 of the canonical form (``bytes``: of the file as it is; ``tree``: of a source archive's files).
    sha256: str
    form: Literal["json", "yaml", "bytes", "tree"]


class _PinnedFiles(Mapping[str, Pin]):
    """The pinned files of ``pins.yaml`` by name, read on first use (``offline/pins.py``).

    Not at import: a bad pins file is reported by the command that needs it, as a message.
    """

    def _files(self) -> Mapping[str, Pin]:
        from offline import pins  # it builds Pins from this module's Pin

        return pins.current().files

    def __getitem__(self, name: str) -> Pin:
        return self._files()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files())

    def __len__(self) -> int:
        return len(self._files())


PINS: Mapping[str, Pin] = _PinnedFiles()


class SchemaUnavailable(Exception):  # noqa: N818 - reads as what happened: the schema is unavailable
    """A pinned file that no source could provide; ``reasons`` says what each source answered."""

    def __init__(self, name: str, reasons: list[str], *, refused: bool = False) -> None:
        self.name, self.reasons, self.refused = name, reasons, refused
        super().__init__(f"{name}: {'; '.join(reasons)}")


# --- canonical form ------------------------------------------------------------------------


def canonical(value: Any) -> bytes:
    """The canonical form of a parsed document: JSON, sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def parse(data: bytes, form: str) -> Any:
    """The document in ``data`` (``bytes``: the text as it is; ``tree``: the archive's bytes)."""
    if form == "json":
        return json.loads(data)
    if form == "yaml":
        return yaml.load(data, Loader=_YAML_LOADER)
    if form == "tree":
        return data
    return data.decode()


def tree_digest(data: bytes, only: tuple[str, ...] = ()) -> str:
    """SHA-256 of the files of a gzipped tar of a source tree, whatever its top folder's name and its packing.

    A forge's archive of a commit (``<repo>-<commit>/``) and ``git archive --prefix=<repo>/`` of the same
    commit hold the same files under different names, compressed differently: the digest covers each
    file's path below the top folder, its executable bit and content (a symlink's target), in path order.
    ``only``: the files at or under these paths alone, so that ``git archive`` of a few paths of a commit
    and the forge's archive of the whole commit match.
    """
    entries: list[bytes] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive:
            path = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not path or member.isdir():
                continue
            if only and not any(path == kept.rstrip("/") or path.startswith(kept.rstrip("/") + "/")
                                for kept in only):
                continue
            if member.issym():
                entries.append(b"l " + path.encode() + b"\0" + member.linkname.encode())
            elif member.isfile():
                handle = archive.extractfile(member)
                content = handle.read() if handle is not None else b""
                kind = b"x " if member.mode & 0o111 else b"f "
                entries.append(kind + path.encode() + b"\0" + hashlib.sha256(content).hexdigest().encode())
            else:
                raise ValueError(f"{member.name}: neither a file, a folder nor a symlink")
    return hashlib.sha256(b"\n".join(sorted(entries))).hexdigest()


def digest(data: bytes, form: str, only: tuple[str, ...] = ()) -> str:
    """The SHA-256 a pin holds for ``data``: of its canonical form (``bytes``: of the bytes; ``tree``: of the files).

    ``only``: for ``tree``, the files at or under these paths alone.
    """
    if form == "tree":
        return tree_digest(data, only)
    return hashlib.sha256(data if form == "bytes" else canonical(parse(data, form))).hexdigest()


def tree_paths(pin: Pin) -> tuple[str, ...]:
    """The paths a ``tree`` pin covers (``extract`` ``tree:<path>,...``); empty: the whole archive."""
    kind, _, paths = pin.extract.partition(":")
    return tuple(paths.split(",")) if kind == "tree" and paths else ()


def _verified(pin: Pin, data: bytes, where: str) -> Any:
    """The parsed document, or a refusal naming ``where`` when it does not match the pin."""
    try:
        value = parse(data, pin.form)
        found = digest(data, pin.form, tree_paths(pin))
    except (ValueError, yaml.YAMLError, tarfile.TarError, EOFError, OSError) as exc:
        raise SchemaUnavailable(pin.name, [f"refused {where}: not {pin.form.upper()} ({exc})"], refused=True) from exc
    if found != pin.sha256:
        raise SchemaUnavailable(pin.name, [
            f"refused {where}: its content does not match the pin (sha256 {found}, pinned {pin.sha256})"
        ], refused=True)
    return value


def extract(pin: Pin, data: bytes) -> bytes:
    """The pinned file inside a download (the file itself, a chart archive's member, a CRD's schema)."""
    kind, _, arg = pin.extract.partition(":")
    if kind == "tgz":
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            member = archive.extractfile(arg)
            if member is None:
                raise ValueError(f"{arg} is not a file in the archive")
            return member.read()
    if kind == "crd":
        crd_kind, _, version = arg.partition("/")
        for document in yaml.load_all(data, Loader=_YAML_LOADER):
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document.get("spec") or {}
            if (spec.get("names") or {}).get("kind") != crd_kind:
                continue
            for served in spec.get("versions") or []:
                if served.get("name") == version:
                    return (json.dumps(served["schema"]["openAPIV3Schema"], indent=2) + "\n").encode()
        raise ValueError(f"no CustomResourceDefinition of kind {crd_kind} with version {version}")
    return data


# --- sources ----------------------------------------------------------------------------------


def default_cache(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dossier" / "upstream"


@dataclass(frozen=True)
class Sources:
    """Where pinned files are looked for, in this order: ``directory``, ``cache``, a download."""

    directory: Path | None
    cache: Path
    mirror: str | None = None
    timeout: float = DOWNLOAD_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Sources:
        """The sources the environment names (an empty variable counts as unset)."""
        directory = environ.get(ENV_DIRECTORY) or None
        return cls(
            directory=Path(directory).expanduser().resolve() if directory else None,
            cache=Path(environ.get(ENV_CACHE) or default_cache(environ)).expanduser(),
            mirror=environ.get(ENV_MIRROR) or None,
        )

    def url(self, pin: Pin) -> str:
        """Where a pinned file is downloaded from: upstream, or the same path under the mirror."""
        if not self.mirror:
            return pin.url
        return f"{self.mirror.rstrip('/')}/{pin.url.split('://', 1)[1]}"


_lock = threading.Lock()
_memo: dict[tuple[Sources, Pin], tuple[Path, str, Any] | SchemaUnavailable] = {}
_unreachable: dict[tuple[Sources, str], str] = {}  # (sources, host) -> why: one failed connection per host


def _download(sources: Sources, pin: Pin) -> bytes:
    url = sources.url(pin)
    host = urllib.parse.urlsplit(url).netloc
    if (sources, host) in _unreachable:
        raise OSError(_unreachable[(sources, host)])
    request = urllib.request.Request(url, headers={"User-Agent": "dossier-stack offline plan"})
    try:
        with urllib.request.urlopen(request, timeout=sources.timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError:
        raise
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        _unreachable[(sources, host)] = f"{host} unreachable ({reason})"
        raise OSError(_unreachable[(sources, host)]) from exc


def _read(pin: Pin, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SchemaUnavailable(pin.name, [f"cannot read {path}: {exc}"]) from exc


def _resolve(sources: Sources, pin: Pin) -> tuple[Path, str, Any]:
    """(path, source, parsed document) of a pinned file; raises ``SchemaUnavailable``."""
    reasons: list[str] = []
    if sources.directory is None:
        reasons.append(f"{ENV_DIRECTORY} is not set")
    else:
        path = sources.directory / pin.name
        if path.is_file():
            return path, ENV_DIRECTORY, _verified(pin, _read(pin, path), str(path))
        reasons.append(f"not in {ENV_DIRECTORY} ({sources.directory})")
    cached = sources.cache / pin.name
    if cached.is_file():
        try:
            return cached, "cache", _verified(pin, _read(pin, cached), str(cached))
        except SchemaUnavailable as exc:
            raise SchemaUnavailable(pin.name, [*exc.reasons, "remove it to download it again"], refused=True) from exc
    reasons.append(f"not in the cache ({sources.cache})")
    url = sources.url(pin)
    try:
        data = extract(pin, _download(sources, pin))
    except (OSError, HTTPException, tarfile.TarError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise SchemaUnavailable(pin.name, [*reasons, f"download of {url} failed: {exc}"]) from exc
    value = _verified(pin, data, f"the download of {url}")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, prefix=f".{cached.name}.", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, cached)
    except OSError as exc:
        raise SchemaUnavailable(pin.name, [*reasons, f"downloaded {url}, but cannot write it to the cache: {exc} "
                                                     f"({ENV_CACHE} names another directory)"]) from exc
    return cached, f"download ({url})", value


def resolve(name: str, sources: Sources | None = None) -> tuple[Path, str, Any]:
    """(local path, source, parsed document) of the pinned file ``name``, looked up once per process."""
    return resolve_pin(PINS[name], sources)


def resolve_pin(pin: Pin, sources: Sources | None = None) -> tuple[Path, str, Any]:
    """``resolve`` for a pin of another list than ``PINS`` (the end-to-end sources, ``e2e/upstream.py``)."""
    sources = sources or Sources.from_env()
    with _lock:
        found = _memo.get((sources, pin))
        if found is None:
            try:
                found = _resolve(sources, pin)
            except SchemaUnavailable as exc:
                found = exc
            _memo[(sources, pin)] = found
    if isinstance(found, SchemaUnavailable):
        raise found
    return found


def load(name: str, sources: Sources | None = None) -> Any:
    """The parsed pinned file (``bytes`` form: its text); do not modify it. Raises ``SchemaUnavailable``."""
    return resolve(name, sources)[2]


def path(name: str, sources: Sources | None = None) -> Path:
    """A local, verified copy of the pinned file ``name``. Raises ``SchemaUnavailable``."""
    return resolve(name, sources)[0]


def how_to_provide(sources: Sources | None = None, *, cluster: bool = True) -> list[str]:
    """The ways to provide the pinned files, for messages (``cluster``: include the plan's cluster option)."""
    sources = sources or Sources.from_env()
    ways = [
        f"a download: with network access, the pinned files are fetched once into {sources.cache} "
        f"({ENV_CACHE} moves it, {ENV_MIRROR}=<url> fetches the same paths from a mirror)",
        f"a directory: {ENV_DIRECTORY}=<dir> holding copies of the pinned files (such as ../shared/upstream)",
    ]
    if cluster:
        ways.insert(0, "from your cluster: `make plan SCHEMAS=cluster` (`--schemas cluster`) reads the CRDs installed "
                       "in the cluster of the stack's kubernetes:context (chart values schemas still come from 2 or 3)")
    return [*(f"{n}. {way}" for n, way in enumerate(ways, 1)), "details: docs/schemas.md"]


def main(argv: list[str] | None = None) -> int:
    from offline.pins import PinsError, current

    try:
        current()
    except PinsError as exc:  # the message names the pins file and every bad entry
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m offline.schemas", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["status", "pin"], default="status",
                        help="status: where each pinned file comes from (fetches what is missing); "
                             "pin: the canonical SHA-256 of FILEs")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pin":
        for file in args.files:
            form = (PINS[file.name].form if file.name in PINS else "json" if file.suffix == ".json"
                    else "tree" if file.name.endswith(".tar.gz") else "yaml")
            print(f"{digest(file.read_bytes(), form)}  {file}  ({form})")
        return 0
    missing = 0
    for name in PINS:
        try:
            where, source, _ = resolve(name)
            print(f"ok       {name}  from {source}: {where}")
        except SchemaUnavailable as exc:
            missing += 1
            print(f"missing  {name}: {'; '.join(exc.reasons)}")
    if missing:
        print("\n".join(["Provide them in one of these ways:", *(f"  {line}" for line in how_to_provide())]))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
