"""Validation of a rendered run against the Kubernetes and upstream schemas (``offline/validate.py``).

- core objects (NodePatch as a Node): kubernetes-validate, strict, at a chosen
  Kubernetes version;
- custom resources: their CRD schema from ``../shared/upstream`` (closed: unknown
  fields are errors), or the schema of a CRD the stack itself creates;
- Helm values: z2jh 2.0.0 (schema over defaults) and bitnami/postgresql 12.2.1
  (every key must exist in the chart's values).

Secrets are checked with their values (in memory only); values known only after
apply are left out and counted. What cannot be checked (``../shared/upstream``
absent, a chart without a pinned schema) is reported as a note.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from offline import validate
from offline.engine import RunResult
from offline.graph import short_type
from offline.render import RELEASE_TYPE, UnknownCount, chart_name, for_validation, is_kubernetes_object

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    checks: int = 0
    notes: list[str] = field(default_factory=list)


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


def validate_resources(result: RunResult, kubernetes_version: str, upstream: bool | None = None) -> Validation:
    """Check every rendered object; problems name the resource and the field."""
    upstream = validate.upstream_available() if upstream is None else upstream
    report = Validation()
    stack_crds = _stack_crds(result)
    unknown = UnknownCount()
    skipped: Counter[str] = Counter()
    for registration in sorted(result.resources, key=lambda r: r.urn):
        where = f"{short_type(registration.type)} {registration.name}"
        problems: list[str] | None = None
        if is_kubernetes_object(registration):
            obj = for_validation(registration.inputs, unknown)
            key = (obj["apiVersion"], obj["kind"])
            if validate.has_crd_schema(*key):
                if upstream:
                    problems = validate.validate_custom_resource(obj)
                else:
                    skipped[f"{key[1]} ({key[0]}) against its CRD schema"] += 1
            elif key in stack_crds:
                problems = validate.custom_resource_problems(obj, validate.crd_validator(stack_crds[key]))
            else:
                problems = validate.validate_kubernetes(obj, kubernetes_version)
        elif registration.type == RELEASE_TYPE:
            inputs = registration.inputs
            values = for_validation(inputs.get("values") or {}, unknown)
            chart, version = chart_name(inputs), inputs.get("version")
            pinned = {"jupyterhub": ("2.0.0", validate.validate_z2jh_values),
                      "postgresql": ("12.2.1", validate.validate_postgresql_values)}
            if chart not in pinned or version != pinned[chart][0]:
                report.notes.append(f"{where}: no upstream schema for chart {chart} {version}; values not checked")
            elif not upstream:
                skipped[f"{chart} {version} values"] += 1
            else:
                problems = pinned[chart][1](values)
        if problems is not None:
            report.checks += 1
            report.problems += [f"{where}: {p}" for p in problems]
    for what, count in sorted(skipped.items()):
        report.notes.append(f"not checked ({count}x): {what}, ../shared/upstream is absent")
    if unknown.count:
        report.notes.append(f"{unknown.count} value(s) known only after apply were left out of the checks")
    return report
