"""The pins file, ``pins.yaml``: which upstream files the plan checks against, read and validated.

Three lists (``docs/upgrades.md`` describes every field):

- ``charts``: per chart and version, how its values are checked (``schema``: the
  values over the chart's defaults against its values schema; ``keys``: every key
  must be a key of the chart's ``values.yaml``) and the pinned files that check reads;
  optionally the published chart itself (``archive``: its URL and SHA-256), which
  ``make e2e`` installs from a local chart mirror (``e2e/charts.py``);
- ``crds``: per apiVersion and kind, the pinned CRD schema its objects are checked
  against, and the CRD a cluster serves them from (``make plan SCHEMAS=cluster``);
- ``references``: Dossier's reference values per chart (``docs/parity.md``).

Every file entry becomes a ``schemas.Pin`` (name, URL, extraction, SHA-256, form);
``offline/schemas.py`` finds and verifies the files. A pins file that is not valid
raises ``PinsError``, whose message lists every problem at once, each naming its
entry (``charts[2] (jupyterhub 2.1.0): schema.sha256: ...``). The project's file is
read once per process, on first use (``current``), so that a bad file is reported
by the command that needs it, as a message, and not as a traceback at import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from offline.engine import ROOT
from offline.schemas import Pin

PINS_FILE = ROOT / "pins.yaml"

Form = Literal["json", "yaml", "bytes"]
Check = Literal["schema", "keys"]


class PinsError(ValueError):
    """A pins file that cannot be used; the message names the file and lists every problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path.name}: {len(problems)} problem(s) (docs/upgrades.md describes the file):\n{lines}")


# --- the file as written ---------------------------------------------------------------


def _matching(pattern: str, expected: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value

    return AfterValidator(check)


_SEMVER = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
FileName = Annotated[str, _matching(r"[A-Za-z0-9][A-Za-z0-9._-]*", "a file name (no folder), such as "
                                                                   "z2jh-2.1.0.values.schema.json")]
Url = Annotated[str, _matching(r"https?://[^\s/]+/\S*", "an http(s) URL of one upstream file or chart archive")]
Extract = Annotated[str, _matching(r"file|tgz:\S+|crd:[A-Za-z][A-Za-z0-9]*/[a-z0-9]+",
                                   "file, tgz:<member of the archive> or crd:<Kind>/<version>")]
Sha256 = Annotated[str, _matching(r"[0-9a-f]{64}", "64 lower-case hexadecimal digits (the SHA-256 "
                                                   "`python -m offline.schemas pin <file>` prints)")]
Version = Annotated[str, _matching(_SEMVER, "an exact chart version such as 2.1.0 (quote it if YAML reads a number)")]
Name = Annotated[str, _matching(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", "a chart name such as jupyterhub")]
ApiVersion = Annotated[str, _matching(r"[a-z0-9.-]+/[a-z0-9]+", "<group>/<version>, such as projectcontour.io/v1")]
Kind = Annotated[str, _matching(r"[A-Z][A-Za-z0-9]*", "a kind such as HTTPProxy")]
CrdName = Annotated[str, _matching(r"[a-z0-9]+\.[a-z0-9.-]+",
                                   "<plural>.<group>, such as httpproxies.projectcontour.io")]
Release = Annotated[str, _matching(r"\S(.*\S)? " + _SEMVER,
                                   "<project> <version>, such as Contour 1.24.0 (the release the CRD is of)")]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FileEntry(_Entry):
    file: FileName
    url: Url
    extract: Extract = "file"
    sha256: Sha256
    form: Form | None = Field(None, description="json, yaml or bytes; from the file name when it ends in one")

    @model_validator(mode="after")
    def _form_known(self) -> FileEntry:
        if self.form is None and _form_of(self.file) is None:
            raise ValueError(f"form: required for {self.file} (json, yaml or bytes: its name does not say)")
        return self

    def pin(self) -> Pin:
        form = self.form or _form_of(self.file)
        assert form is not None  # _form_known
        return Pin(self.file, self.url, self.extract, self.sha256, form)


def _form_of(file: str) -> Form | None:
    return "json" if file.endswith(".json") else "yaml" if file.endswith((".yaml", ".yml")) else None


class ArchiveEntry(_Entry):
    """The published chart: the ``.tgz`` its repository serves, kept packed or unpacked in a chart mirror."""

    url: Url
    sha256: Sha256
    unpacked: bool = Field(False, description="kept as `helm pull --untar` leaves it; sha256 is then of what "
                                              "Helm renders from it (e2e/charts.py: rendered_digest)")


class ChartEntry(_Entry):
    chart: Name
    version: Version
    title: str | None = Field(None, description="how messages name the chart (default: chart)")
    check: Check
    values: FileEntry
    schema_: FileEntry | None = Field(None, alias="schema")
    archive: ArchiveEntry | None = None

    @model_validator(mode="after")
    def _schema_for_a_schema_check(self) -> ChartEntry:
        if self.check == "schema" and self.schema_ is None:
            raise ValueError("schema: required with check: schema (the chart's values schema)")
        return self


class CrdEntry(_Entry):
    apiVersion: ApiVersion  # noqa: N815 - written as in Kubernetes
    kind: Kind
    crd: CrdName
    release: Release | None = Field(None, description="the prerequisite's release the schema is of, for the docs")
    schema_: FileEntry = Field(alias="schema")

    @model_validator(mode="after")
    def _extracts_this_kind(self) -> CrdEntry:
        kind, _, arg = self.schema_.extract.partition(":")
        version = self.apiVersion.rsplit("/", 1)[-1]
        if kind == "crd" and arg != f"{self.kind}/{version}":
            raise ValueError(f"schema.extract: {self.schema_.extract} does not take the schema of {self.kind} "
                             f"{version} (expected crd:{self.kind}/{version})")
        return self


class ReferenceEntry(_Entry):
    chart: Name
    values: FileEntry


class PinsDocument(_Entry):
    charts: list[ChartEntry]
    crds: list[CrdEntry]
    references: list[ReferenceEntry] = []


# --- the file as the plan uses it ------------------------------------------------------------


@dataclass(frozen=True)
class ArchivePin:
    """A published chart as a local chart mirror holds it (``helm pull``), where it is published, its digest."""

    #: The name in a mirror and under ``charts/`` of ``DOSSIER_UPSTREAM``: ``<chart>-<version>.tgz``, or the
    #: folder ``<chart>`` (``helm pull --untar``), the two layouts a mirror is read in (components/config_charts.py).
    entry: str
    url: str
    #: ``.tgz`` entries: of the file; folders: of what Helm renders from it (``e2e/charts.py: rendered_digest``).
    sha256: str

    @property
    def packed(self) -> bool:
        return self.entry.endswith(".tgz")


@dataclass(frozen=True)
class ChartPin:
    """How the values of one chart version are checked, against which pinned files, and its published archive."""

    chart: str
    version: str
    title: str
    check: Check
    values: str
    schema: str | None
    archive: ArchivePin | None = None

    @property
    def needs(self) -> tuple[str, ...]:
        """The pinned files the check reads."""
        return (self.schema, self.values) if self.check == "schema" and self.schema else (self.values,)


@dataclass(frozen=True)
class CrdPin:
    api_version: str
    kind: str
    crd: str
    schema: str
    #: ``<project> <version>``: the prerequisite's release the schema is of (the versions table of the docs)
    release: str | None = None


@dataclass(frozen=True)
class Pins:
    #: file name -> its pin, for ``offline/schemas.py``
    files: dict[str, Pin]
    charts: dict[tuple[str, str], ChartPin]
    crds: dict[tuple[str, str], CrdPin]
    #: chart -> the file of Dossier's reference values
    references: dict[str, str]

    def chart(self, chart: str, version: Any) -> ChartPin | None:
        """The pin of ``chart`` at ``version``, if there is one."""
        return self.charts.get((chart, version)) if isinstance(version, str) else None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML keeps the last of two equal keys; a pins file that has two is refused instead."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int | float | bool | None):
                continue  # not a key this file has: the model refuses the mapping
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (lines {seen[key]} and {line})", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep)


def _label(raw: Any, section: str, index: int) -> str:
    """``charts[2] (jupyterhub 2.1.0)``: an entry, named by what it pins when it says so."""
    entry = raw.get(section)[index] if isinstance(raw.get(section), list) else None
    if not isinstance(entry, Mapping):
        return f"{section}[{index}]"
    fields = {"charts": ("chart", "version"), "crds": ("kind", "apiVersion"), "references": ("chart",)}[section]
    named = " ".join(str(entry[f]) for f in fields if f in entry)
    return f"{section}[{index}] ({named})" if named else f"{section}[{index}]"


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    parts = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    if len(parts) >= 2 and isinstance(parts[1], int) and parts[0] in ("charts", "crds", "references"):
        head, rest = _label(raw, str(parts[0]), parts[1]), parts[2:]
    else:
        head, rest = "", parts
    tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return f"{head}: {tail}" if head and tail else head or tail or "the file"


def _describe(raw: Any, error: Any) -> str:
    where = _where(raw, tuple(error["loc"]))
    if error["type"] == "missing":
        return f"{where}: required, not set"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_type":
        return f"{where}: expected a string (quote it: YAML read {error.get('input')!r})"
    if error["type"] in ("list_type", "model_type", "model_attributes_type", "literal_error"):
        return f"{where}: {message} (got {error.get('input')!r})"
    return f"{where}: {message}" + (f" (got {error['input']!r})" if isinstance(error.get("input"), str) else "")


def _duplicates(document: PinsDocument) -> list[str]:
    problems: list[str] = []
    files: dict[str, str] = {}

    def once(seen: dict[Any, str], key: Any, where: str, what: str) -> None:
        if key in seen:
            problems.append(f"{where}: {what} is pinned already by {seen[key]}")
        else:
            seen[key] = where

    for index, chart in enumerate(document.charts):
        label = f"charts[{index}] ({chart.chart} {chart.version})"
        for role, entry in (("values", chart.values), ("schema", chart.schema_)):
            if entry is not None:
                once(files, entry.file, f"{label}: {role}", f"file {entry.file}")
    for index, crd in enumerate(document.crds):
        once(files, crd.schema_.file, f"crds[{index}] ({crd.kind} {crd.apiVersion}): schema",
             f"file {crd.schema_.file}")
    for index, reference in enumerate(document.references):
        once(files, reference.values.file, f"references[{index}] ({reference.chart}): values",
             f"file {reference.values.file}")
    archives: dict[Any, str] = {}
    for index, chart in enumerate(document.charts):
        if chart.archive is not None:  # a copied entry whose URL was not changed
            once(archives, chart.archive.url, f"charts[{index}] ({chart.chart} {chart.version}): archive",
                 f"archive {chart.archive.url}")
    charts: dict[Any, str] = {}
    for index, chart in enumerate(document.charts):
        once(charts, (chart.chart, chart.version), f"charts[{index}] ({chart.chart} {chart.version})",
             f"chart {chart.chart} {chart.version}")
    crds: dict[Any, str] = {}
    for index, crd in enumerate(document.crds):
        once(crds, (crd.apiVersion, crd.kind), f"crds[{index}] ({crd.kind} {crd.apiVersion})",
             f"{crd.kind} {crd.apiVersion}")
    references: dict[Any, str] = {}
    for index, reference in enumerate(document.references):
        once(references, reference.chart, f"references[{index}] ({reference.chart})", f"chart {reference.chart}")
    return problems


def _archive(chart: ChartEntry) -> ArchivePin | None:
    if chart.archive is None:
        return None
    entry = chart.chart if chart.archive.unpacked else f"{chart.chart}-{chart.version}.tgz"
    return ArchivePin(entry, chart.archive.url, chart.archive.sha256)


def load(path: Path = PINS_FILE) -> Pins:
    """The pins of ``path``; raises ``PinsError`` naming every problem (and, for YAML, its line and column)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise PinsError(path, [f"cannot read it: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PinsError(path, [f"{where}not valid YAML: {problem}"]) from None
    try:
        document = PinsDocument.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise PinsError(path, [_describe(raw if isinstance(raw, Mapping) else {}, e) for e in exc.errors()]) from None
    problems = _duplicates(document)
    if problems:
        raise PinsError(path, problems)
    files: dict[str, Pin] = {}
    for chart in document.charts:
        files.update((e.file, e.pin()) for e in (chart.values, chart.schema_) if e is not None)
    files.update((c.schema_.file, c.schema_.pin()) for c in document.crds)
    files.update((r.values.file, r.values.pin()) for r in document.references)
    return Pins(
        files=files,
        charts={(c.chart, c.version): ChartPin(c.chart, c.version, c.title or c.chart, c.check, c.values.file,
                                               c.schema_.file if c.schema_ else None, _archive(c))
                for c in document.charts},
        crds={(c.apiVersion, c.kind): CrdPin(c.apiVersion, c.kind, c.crd, c.schema_.file, c.release)
              for c in document.crds},
        references={r.chart: r.values.file for r in document.references},
    )


@cache
def current() -> Pins:
    """The project's pins (``pins.yaml``), read once per process; raises ``PinsError``."""
    return load(PINS_FILE)


# --- derived tables, read on first use ---------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


class Derived(Mapping[K, V]):
    """A table derived from the project's pins, computed when first read (not at import)."""

    def __init__(self, derive: Callable[[Pins], Mapping[K, V]]) -> None:
        self._derive = derive
        self._derived: Mapping[K, V] | None = None

    def _table(self) -> Mapping[K, V]:
        if self._derived is None:
            self._derived = self._derive(current())
        return self._derived

    def __getitem__(self, key: K) -> V:
        return self._table()[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())
