"""What a registration of the run is, for the plan: its kind, its inputs as a validator sees them, its secrets.

A ``Registration`` (``offline/engine.py``) is one resource the program sent to
the engine stand-in. The plan's steps read it through this module:

- which kind of object it is (``kind_of``: a Kubernetes object, a Helm release,
  a Keycloak object, another custom resource, a component), with the chart of a
  release (``chart_name``) and the short name of a type (``short_type``);
- its inputs as a validator sees them (``for_validation``: secrets revealed, in
  memory only, values known only after apply left out and counted) and as a file
  or the console shows them (``redact``: every secret leaf ``[secret]``, every
  unknown ``(known after apply)``);
- which of its values are secret (``secret_leaves``), how many the plan seals
  (``sealed_count``) and every known secret value of the run, as text
  (``secret_values``), for the leak check of the written files.

``View`` is a run read that way once, for the steps after it (the checks, the
files, the leak check). Nothing here writes or checks anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from offline.engine import UNKNOWN, Registration, ResourceRef, RunResult, Secret

SECRET_MARKER = "[secret]"
UNKNOWN_MARKER = "(known after apply)"
STACK_TYPE = "pulumi:pulumi:Stack"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
NODE_PATCH_TYPE = "kubernetes:core/v1:NodePatch"
#: Secret values shorter than this are not searched for in the files (too many false hits).
MIN_SCANNED_SECRET = 8

#: ``kubernetes``: an object with apiVersion and kind (custom resources included), written as a manifest;
#: ``release``: a Helm release; ``keycloak``: an object of the Keycloak provider; ``resource``: any other
#: custom resource (the random generators); ``component``: a ComponentResource (no provider object).
Kind = Literal["kubernetes", "release", "keycloak", "resource", "component"]


# --- which kind of object -------------------------------------------------------


def short_type(type_: str) -> str:
    """``kubernetes:core/v1:Namespace`` -> ``Namespace``."""
    return type_.rsplit(":", 1)[-1]


def is_kubernetes_object(registration: Registration) -> bool:
    inputs = registration.inputs
    return (
        registration.custom
        and registration.type.startswith("kubernetes:")
        and registration.type != RELEASE_TYPE
        and isinstance(inputs.get("apiVersion"), str)
        and isinstance(inputs.get("kind"), str)
    )


def is_keycloak(registration: Registration) -> bool:
    return registration.custom and registration.type.startswith("keycloak:")


def kind_of(registration: Registration) -> Kind:
    """The kind of object a registration is (see ``Kind``)."""
    if registration.type == RELEASE_TYPE:
        return "release"
    if is_kubernetes_object(registration):
        return "kubernetes"
    if is_keycloak(registration):
        return "keycloak"
    return "resource" if registration.custom else "component"


def chart_name(inputs: Mapping[str, Any]) -> str:
    """The chart's own name: ``oci://host/org/postgresql`` -> ``postgresql``."""
    chart = inputs.get("chart")
    return chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else "?"


# --- its inputs as a validator sees them --------------------------------------------


class UnknownCount:
    """Counts the unknown leaves ``for_validation`` leaves out."""

    def __init__(self) -> None:
        self.count = 0


def for_validation(value: Any, dropped: UnknownCount | None = None) -> Any:
    """``value`` with secrets revealed and unknown leaves left out (checked in memory, never written)."""
    dropped = dropped if dropped is not None else UnknownCount()
    if isinstance(value, Secret):
        return for_validation(value.value, dropped)
    if isinstance(value, ResourceRef):
        return value.urn
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if _is_unknown(item):
                dropped.count += 1
            else:
                out[key] = for_validation(item, dropped)
        return out
    if isinstance(value, list | tuple):
        kept = [v for v in value if not _is_unknown(v)]
        dropped.count += len(value) - len(kept)
        return [for_validation(v, dropped) for v in kept]
    return value


def _is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, Secret) and _is_unknown(value.value))


# --- which values are secret ----------------------------------------------------------


def redact(value: Any) -> Any:
    """``value`` fit for a file: secrets become ``[secret]``, unknowns ``(known after apply)``."""
    if isinstance(value, Secret):
        return _seal(value.value)
    if value is UNKNOWN:
        return UNKNOWN_MARKER
    if isinstance(value, ResourceRef):
        return value.urn
    if isinstance(value, Mapping):
        return {str(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _seal(value: Any) -> Any:
    """A secret's shape without its values: map keys stay (they name what is there), leaves go."""
    if isinstance(value, Secret):
        return _seal(value.value)
    if isinstance(value, Mapping):
        return {str(k): _seal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_seal(v) for v in value]
    return SECRET_MARKER


def secret_leaves(value: Any, inside: bool = False) -> Iterator[Any]:
    """Every leaf under a ``Secret`` in ``value`` (unknown ones included)."""
    if isinstance(value, Secret):
        yield from secret_leaves(value.value, True)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secret_leaves(item, inside)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_leaves(item, inside)
    elif inside:
        yield value


def sealed_count(result: RunResult) -> int:
    """How many secret values the plan hides: secret input leaves plus secret stack outputs."""
    count = sum(1 for r in result.resources for _ in secret_leaves(r.inputs))
    return count + sum(1 for o in result.outputs.values() if o.secret)


def secret_values(result: RunResult) -> set[str]:
    """Every known secret value of the run, as text, for the leak scan of the written files."""
    values = set(result.generated_secrets)
    for registration in result.resources:
        for tree in (registration.inputs, registration.outputs):
            values.update(str(v) for v in secret_leaves(tree) if v is not UNKNOWN and v is not None)
    for output in result.outputs.values():
        if output.secret and output.known:
            values.add(output.value if isinstance(output.value, str) else json.dumps(output.value, sort_keys=True))
    return {v for v in values if len(v) >= MIN_SCANNED_SECRET}


# --- a run, read once -------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """A run as the plan's checks, files and leak check read it, worked out once."""

    result: RunResult
    #: every registration in URN order (the order of the files and of the checks), with its kind
    registrations: tuple[tuple[Registration, Kind], ...]
    #: every known secret value of the run (``secret_values``)
    secrets: frozenset[str]

    @classmethod
    def of(cls, run: RunResult | View) -> View:
        """The view of a run (a view is returned as it is)."""
        if isinstance(run, View):
            return run
        ordered = sorted(run.resources, key=lambda r: r.urn)
        return cls(run, tuple((r, kind_of(r)) for r in ordered), frozenset(secret_values(run)))
