"""Validation of what the program renders, against the real upstream schemas.

- core Kubernetes objects: kubernetes-validate (strict: unknown fields are errors);
- custom resources (Tenant, HTTPProxy, Certificate): their CRD's openAPIV3Schema
  (the pinned upstream file, ``offline/schemas.py``, or the cluster's own CRD),
  with every object closed (``additionalProperties: false`` unless the schema
  preserves unknown fields), because Kubernetes prunes fields a CRD does not
  declare: a misspelt field is a silent loss;
- Helm values: as the chart version's entry in ``pins.yaml`` says
  (``offline/pins.py``): ``schema``, against the values schema merged onto the
  chart's defaults (z2jh); ``keys``, key by key against the chart's
  ``values.yaml`` (bitnami/postgresql: Helm ignores unknown keys).

Every function returns a list of readable problems (empty when valid). The
pinned files are read through ``offline/schemas.py``: a function that needs one
that no source provides raises ``schemas.SchemaUnavailable``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from kubernetes_validate import utils as kubernetes_validate_utils

from components.config_jupyterhub import JupyterHubConfig
from components.config_postgresql import PostgresConfig
from offline import pins, schemas
from offline.engine import ROOT

DEFAULT_KUBERNETES_VERSION = "1.30.0"
#: A directory of copies of the pinned files: ``DOSSIER_UPSTREAM``, else ``../shared/upstream``. Kept for
#: ``e2e/servers/crds.py`` only: the checks read each pinned file through ``offline/schemas.py`` (any source,
#: verified against its pin), and so should new code (``schemas.path(name)``, ``schemas.load(name)``).
UPSTREAM = Path(os.environ.get(schemas.ENV_DIRECTORY) or ROOT.parent / "shared" / "upstream")

#: (apiVersion, kind) -> the pinned file of its CRD schema (``crds`` of ``pins.yaml``)
CRD_SCHEMAS: Mapping[tuple[str, str], str] = pins.Derived(lambda p: {key: c.schema for key, c in p.crds.items()})
#: chart -> the version the program deploys unless a stack sets ``chartVersion``
DEFAULT_CHART_VERSIONS: dict[str, str] = {
    model.CHART: model.model_fields["chartVersion"].default for model in (JupyterHubConfig, PostgresConfig)
}
#: The pinned files of the default chart versions, by the names the tests and the parity table use.
_DEFAULT_CHART_FILES = {
    "Z2JH_SCHEMA": ("jupyterhub", "schema"),
    "Z2JH_VALUES": ("jupyterhub", "values"),
    "POSTGRESQL_VALUES": ("postgresql", "values"),
}


def __getattr__(name: str) -> str:
    """``Z2JH_SCHEMA``, ``Z2JH_VALUES``, ``POSTGRESQL_VALUES``: read from ``pins.yaml`` on first use."""
    if name not in _DEFAULT_CHART_FILES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    chart, role = _DEFAULT_CHART_FILES[name]
    file = getattr(chart_pin(chart), role)
    if file is None:
        raise AttributeError(f"{name}: pins.yaml pins no {role} of {chart} {DEFAULT_CHART_VERSIONS[chart]}")
    return str(file)


def chart_pin(chart: str, version: str | None = None) -> pins.ChartPin:
    """The pin of ``chart`` at ``version`` (default: the version the program deploys); ``KeyError`` when none."""
    version = version or DEFAULT_CHART_VERSIONS[chart]
    found = pins.current().chart(chart, version)
    if found is None:
        raise KeyError(f"pins.yaml pins no {chart} {version}")
    return found


def _load(name: str, sources: schemas.Sources | None) -> Any:
    """A pinned upstream file, parsed (read once per process and sources; ``None``: the environment's)."""
    return schemas.load(name, sources)


def _format(prefix: str, error: jsonschema.ValidationError) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{prefix}{where or ''}: {error.message}"


# --- custom resources ---------------------------------------------------------


def _closed(schema: Any) -> Any:
    """A copy of a structural schema where every object without declared extras is closed."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    is_object = out.get("type") == "object" or "properties" in out
    if (
        is_object
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_validator(schema: Any) -> jsonschema.protocols.Validator:
    """A validator of custom resources for a CRD's ``openAPIV3Schema`` (unknown fields are errors)."""
    # _closed copies every map and list, so the schema passed in is never changed.
    closed = _closed(schema)
    # metadata is validated by the API server, not by the CRD schema.
    closed.setdefault("properties", {})["metadata"] = {"type": "object"}
    # OpenAPI v3.0 (Kubernetes structural) schemas: boolean exclusiveMaximum is draft-04.
    return jsonschema.Draft4Validator(closed)


@cache
def _upstream_crd_validator(name: str, sources: schemas.Sources) -> jsonschema.protocols.Validator:
    return crd_validator(_load(name, sources))


def has_crd_schema(api_version: str, kind: str) -> bool:
    return (api_version, kind) in CRD_SCHEMAS


def custom_resource_problems(obj: dict[str, Any], validator: jsonschema.protocols.Validator) -> list[str]:
    """Problems of a custom resource, each naming its kind, name and field."""
    name = f"{obj.get('kind', '')} {(obj.get('metadata') or {}).get('name', '?')}"
    return sorted(_format(name, e) for e in validator.iter_errors(obj))


def validate_custom_resource(obj: dict[str, Any], sources: schemas.Sources | None = None) -> list[str]:
    """Problems of a custom resource against its pinned upstream CRD schema (unknown fields are errors)."""
    name = CRD_SCHEMAS[(obj.get("apiVersion", ""), obj.get("kind", ""))]
    return custom_resource_problems(obj, _upstream_crd_validator(name, sources or schemas.Sources.from_env()))


# --- core Kubernetes objects ----------------------------------------------------


@cache
def _kubernetes_schema_dir(major_minor: str) -> str:
    """kubernetes-validate's strict schemas for a Kubernetes minor version (package data: looked up once).

    Chosen as ``kubernetes_validate.validate`` chooses them: the newest schema
    version not newer than the one asked for.
    """
    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in kubernetes_validate_utils.major_minor(version).split("."))

    versions = kubernetes_validate_utils.all_versions()
    wanted = key(major_minor)
    if wanted > key(versions[-1]):
        raise kubernetes_validate_utils.VersionNotSupportedError(version=major_minor)
    older = [v for v in versions if key(v) <= wanted]
    if not older:
        raise kubernetes_validate_utils.VersionNotSupportedError(version=major_minor)
    return f"v{older[-1]}-local-strict"


@cache
def _kubernetes_schema(name: str) -> Any:
    """One of kubernetes-validate's schema files (package data: read once)."""
    return kubernetes_validate_utils.schema_contents(f"kubernetes-json-schema/{name}", name.split("/")[0])


@cache
def _kubernetes_validator(schema_dir: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    """The validator ``kubernetes_validate.validate`` builds for one kind, built once per process.

    kubernetes-validate looks the version up, reads the schema and its 1-2 MB
    ``_definitions.json`` and builds the registry and the validator for every
    object; here the same files, registry and validator class serve them all.
    """
    schema = _kubernetes_schema(f"{schema_dir}/{kind}-{api_version}.json")
    definitions = _kubernetes_schema(f"{schema_dir}/_definitions.json")
    registry: referencing.Registry[Any] = referencing.Resource.from_contents(schema) @ referencing.Registry()
    registry = referencing.Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_kubernetes(obj: dict[str, Any], version: str = DEFAULT_KUBERNETES_VERSION) -> list[str]:
    """Problems of a core Kubernetes object (kubernetes-validate's strict schemas, its first error)."""
    name = f"{obj.get('kind', '?')} {(obj.get('metadata') or {}).get('name', '?')}"
    # The schema file as kubernetes-validate names it: rbac.authorization.k8s.io/v1 -> rbac-v1.
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj["apiVersion"])
    schema_dir = _kubernetes_schema_dir(kubernetes_validate_utils.major_minor(version.removeprefix("v")))
    try:
        validator = _kubernetes_validator(schema_dir, obj["kind"].lower(), api_version)
    except FileNotFoundError:
        return [f"{name}: no Kubernetes {version} schema for {obj['kind']} {obj['apiVersion']}"]
    error = next(validator.iter_errors(obj), None)
    if error is None:
        return []
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
    return [f"{name}{where}: {error.message}"]


# --- Helm values ------------------------------------------------------------------


def merge(base: Any, override: Any) -> Any:
    """Helm's value merge: maps merge recursively, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return override


def validate_chart_values(pin: pins.ChartPin, values: dict[str, Any],
                          sources: schemas.Sources | None = None) -> list[str]:
    """Problems of a release's values for the chart version ``pin`` pins, checked as its entry says."""
    sources = sources or schemas.Sources.from_env()
    defaults = _load(pin.values, sources)
    if pin.check == "schema" and pin.schema:
        merged = merge(defaults, values)
        validator = _values_validator(pin.schema, sources)
        return sorted(_format(f"{pin.chart} values", e) for e in validator.iter_errors(merged))
    return sorted(_unknown_keys(values, defaults, "", pin))


def validate_z2jh_values(values: dict[str, Any], sources: schemas.Sources | None = None,
                         version: str | None = None) -> list[str]:
    """Problems of jupyterhub/jupyterhub values (default: the version the program deploys)."""
    return validate_chart_values(chart_pin("jupyterhub", version), values, sources)


def validate_postgresql_values(values: dict[str, Any], sources: schemas.Sources | None = None,
                               version: str | None = None) -> list[str]:
    """Keys of bitnami/postgresql values that the chart does not have (default: the version the program deploys)."""
    return validate_chart_values(chart_pin("postgresql", version), values, sources)


@cache
def _values_validator(name: str, sources: schemas.Sources) -> jsonschema.protocols.Validator:
    """A chart's values schema, in the JSON Schema dialect it declares (draft-07 when it declares none)."""
    schema = _load(name, sources)
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)


def _unknown_keys(values: Any, defaults: Any, path: str, pin: pins.ChartPin) -> Iterator[str]:
    if not isinstance(values, dict) or not isinstance(defaults, dict):
        return
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if key not in defaults:
            yield f"{pin.chart} values.{where}: not a key of {pin.title} {pin.version} (Helm would drop it)"
        elif isinstance(defaults[key], dict) and defaults[key]:
            # An empty map in values.yaml ({}) takes free-form content (selectors, annotations).
            yield from _unknown_keys(value, defaults[key], where, pin)
