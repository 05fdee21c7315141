"""The output contract of a Dossier stack (docs/outputs.md), as a reader checks it.

``OUTPUTS`` holds each output's type and whether it is secret; ``require(stack,
name)`` reads one output through the StackReference and fails this program's
update, naming the output and the type it expected, when the value has another
shape. So a change of the contract stops a consumer's ``pulumi up`` before it
changes anything, instead of writing a wrong value somewhere. A secret's value
never appears in the message, only its type.
"""

from __future__ import annotations

from typing import Any

import pulumi

#: A type: ``str``, ``int`` (a JSON number without a fraction), ``[type]`` (a list), ``{key: type}`` (an
#: object with those fields) or ``{str: type}`` (a map: any keys, each value of that type).
Spec = Any

OUTPUTS: dict[str, tuple[Spec, bool]] = {
    "hubUrl": (str, False),
    "namespace": (str, False),
    "tenant": (str, False),
    "tenants": ([str], False),
    "postgresql": ({"host": str, "port": int, "database": str, "username": str, "secretName": str,
                    "clientLabels": {str: str}}, False),
    "postgresqlPassword": (str, True),
    "keycloak": ({"clientId": str, "issuerUrl": str, "realm": str}, False),
    "keycloakClientSecret": (str, True),
    "hubServiceAccount": (str, False),
    "tlsSecret": ({"name": str, "namespace": str}, False),
    "chartVersions": ({"postgresql": str, "jupyterhub": str}, False),
}


def describe(spec: Spec) -> str:
    """The type as docs/outputs.md writes it: ``string``, ``integer``, ``list of string``, ``{key: type, ...}``."""
    if spec is str:
        return "string"
    if spec is int:
        return "integer"
    if isinstance(spec, list):
        return f"list of {describe(spec[0])}"
    if list(spec) == [str]:
        return f"map of {describe(spec[str])}"
    return "{" + ", ".join(f"{key}: {describe(item)}" for key, item in spec.items()) + "}"


def _problem(value: Any, spec: Spec, where: str) -> str | None:
    """What is wrong with ``value`` as a ``spec`` (``None``: nothing), naming the field."""
    if spec is str:
        ok = isinstance(value, str)
    elif spec is int:
        # Numbers cross the engine as JSON numbers: an integer may arrive as 5432.0.
        ok = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
    elif isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where}: expected {describe(spec)}, got {type(value).__name__}"
        return next((p for i, item in enumerate(value) if (p := _problem(item, spec[0], f"{where}[{i}]"))), None)
    elif list(spec) == [str]:
        if not isinstance(value, dict):
            return f"{where}: expected {describe(spec)}, got {type(value).__name__}"
        return next((p for key, item in value.items() if (p := _problem(item, spec[str], f"{where}.{key}"))), None)
    else:
        if not isinstance(value, dict):
            return f"{where}: expected {describe(spec)}, got {type(value).__name__}"
        missing = sorted(set(spec) - set(value))
        if missing:
            return f"{where}: expected {describe(spec)}, the field(s) {', '.join(missing)} are missing"
        return next((p for key, item in spec.items() if (p := _problem(value[key], item, f"{where}.{key}"))), None)
    return None if ok else f"{where}: expected {describe(spec)}, got {type(value).__name__}"


def check(name: str, value: Any) -> Any:
    """``value`` if it has the contract's type for ``name``; otherwise a ``TypeError`` naming what differs."""
    problem = _problem(value, OUTPUTS[name][0], name)
    if problem:
        raise TypeError(f"the Dossier stack's output {problem} (docs/outputs.md)")
    return value


def require(stack: pulumi.StackReference, name: str) -> pulumi.Output[Any]:
    """The output ``name`` of ``stack``, its type checked; a secret stays a secret."""
    return stack.require_output(name).apply(lambda value: check(name, value))
