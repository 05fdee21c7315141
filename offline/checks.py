"""The plan's checks: every object of a run against its schema, and the written files against the run's secrets.

Objects are read through ``offline/registration.py`` (their kind, their inputs
as a validator sees them) and checked by ``offline/validate.py``:

- core objects (NodePatch as a Node): kubernetes-validate, strict, at a chosen
  Kubernetes version;
- custom resources: their CRD schema (closed: unknown fields are errors), pinned
  (``offline/schemas.py``) or as the cluster serves it (``offline/cluster.py``,
  on request), or the schema of a CRD the stack itself creates;
- Helm values: as ``pins.yaml`` pins the chart version (z2jh: its schema over its
  defaults; bitnami/postgresql: every key must exist in the chart's values).

Secrets are checked with their values (in memory only); values known only after
apply are left out and counted. A check that cannot run (a pinned file no source
provides, a CRD the cluster would not show, a chart version without a pinned
schema) is recorded in ``Validation.unchecked`` with the reason: the plan decides
whether that fails (strict, the default) or warns (``--allow-unchecked``).

The leak check (``leaked``) searches the rendered files for every known secret
value of the run, a second line of defence behind the redaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from offline import pins, schemas, validate
from offline.cluster import CRD_NAMES, ClusterSchemas
from offline.engine import RunResult
from offline.registration import RELEASE_TYPE, UnknownCount, View, chart_name, for_validation, short_type

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


@dataclass
class Unchecked:
    """Checks that could not run for want of one thing (a pinned file, a cluster's CRD, a chart's pin)."""

    missing: str
    reasons: list[str]
    #: a file was found but refused (its content does not match its pin)
    refused: bool = False
    #: what was not checked -> how many times
    what: Counter[str] = field(default_factory=Counter)


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    checks: int = 0
    notes: list[str] = field(default_factory=list)
    unchecked: dict[str, Unchecked] = field(default_factory=dict)

    def skip(self, missing: str, reasons: list[str], what: str, *, refused: bool = False) -> None:
        """Record a check that could not run."""
        self.unchecked.setdefault(missing, Unchecked(missing, reasons, refused)).what[what] += 1

    @property
    def unchecked_count(self) -> int:
        return sum(sum(u.what.values()) for u in self.unchecked.values())


def _stack_crds(result: RunResult) -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> openAPIV3Schema of every CRD the stack itself creates."""
    schemas: dict[tuple[str, str], Any] = {}
    for registration in result.by_type(CRD_TYPE):
        spec = for_validation(registration.inputs.get("spec") or {})
        kind = (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if kind and schema:
                schemas[(f"{spec.get('group')}/{version.get('name')}", kind)] = schema
    return schemas


def validate_resources(
    run: RunResult | View,
    kubernetes_version: str,
    *,
    sources: schemas.Sources | None = None,
    cluster: ClusterSchemas | None = None,
) -> Validation:
    """Check every rendered object; problems name the resource and the field.

    ``sources``: where the pinned files come from (``None``: the environment's);
    ``cluster``: CRD schemas read from a cluster, used instead of the pinned ones.
    """
    view = View.of(run)
    sources = sources or schemas.Sources.from_env()
    report = Validation()
    stack_crds = _stack_crds(view.result)
    cluster_validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
    unknown = UnknownCount()
    for registration, kind in view.registrations:
        where = f"{short_type(registration.type)} {registration.name}"
        problems: list[str] | None = None
        try:
            if kind == "kubernetes":
                obj = for_validation(registration.inputs, unknown)
                key = (obj["apiVersion"], obj["kind"])
                if validate.has_crd_schema(*key) and cluster is not None:
                    problems = _against_cluster(obj, key, cluster, cluster_validators, report)
                elif validate.has_crd_schema(*key):
                    problems = validate.validate_custom_resource(obj, sources)
                elif key in stack_crds:
                    problems = validate.custom_resource_problems(obj, validate.crd_validator(stack_crds[key]))
                else:
                    problems = validate.validate_kubernetes(obj, kubernetes_version)
            elif kind == "release":
                problems = _release_problems(registration.inputs, unknown, sources, report)
        except schemas.SchemaUnavailable as exc:
            report.skip(exc.name, exc.reasons, _what(registration), refused=exc.refused)
        if problems is not None:
            report.checks += 1
            report.problems += [f"{where}: {p}" for p in problems]
    if unknown.count:
        report.notes.append(f"{unknown.count} value(s) known only after apply were left out of the checks")
    return report


def _what(registration: Any) -> str:
    if registration.type == RELEASE_TYPE:
        return f"{chart_name(registration.inputs)} {registration.inputs.get('version')} values"
    inputs = registration.inputs
    return f"{inputs.get('kind')} ({inputs.get('apiVersion')}) against its CRD schema"


def _against_cluster(
    obj: dict[str, Any],
    key: tuple[str, str],
    cluster: ClusterSchemas,
    validators: dict[tuple[str, str], jsonschema.protocols.Validator],
    report: Validation,
) -> list[str] | None:
    if key in cluster.absent:
        return [f"{cluster.absent[key]}: applying it would fail"]
    if key not in cluster.schemas:
        reason = cluster.unreadable.get(key, "not read")
        report.skip(f"CRD {CRD_NAMES[key]} from cluster context {cluster.context}", [reason],
                    f"{key[1]} ({key[0]}) against its CRD schema")
        return None
    if key not in validators:
        validators[key] = validate.crd_validator(cluster.schemas[key])
    return validate.custom_resource_problems(obj, validators[key])


def _release_problems(
    inputs: dict[str, Any], unknown: UnknownCount, sources: schemas.Sources, report: Validation
) -> list[str] | None:
    values = for_validation(inputs.get("values") or {}, unknown)
    chart, version = chart_name(inputs), inputs.get("version")
    what = f"{chart} {version} values"
    pinned = pins.current()
    pin = pinned.chart(chart, version)
    if pin is None:
        listed = ", ".join(f"{c} {v}" for c, v in pinned.charts)
        report.skip(f"a pinned values schema for chart {chart} {version}",
                    [f"only {listed} are pinned; pin this version (docs/schemas.md, \"Refreshing a pin\")"], what)
        return None
    missing = []
    for name in pin.needs:  # every file the check needs, so that the message names them all
        try:
            schemas.resolve(name, sources)
        except schemas.SchemaUnavailable as exc:
            missing.append(exc)
    for unavailable in missing:
        report.skip(unavailable.name, unavailable.reasons, what, refused=unavailable.refused)
    if missing:
        return None
    return validate.validate_chart_values(pin, values, sources)


# --- the leak check ----------------------------------------------------------------


def leaked(files: Mapping[str, str], secrets: Iterable[str]) -> list[str]:
    """``path: contains a secret value`` for every file holding one of ``secrets`` (``View.secrets``)."""
    return [
        f"{path}: contains a secret value (redaction failed)"
        for path, text in files.items()
        if any(secret in text for secret in secrets)
    ]
