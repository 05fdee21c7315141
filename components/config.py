"""The stack's configuration: one typed, validated model of the ``dossier:`` namespace.

This module is the only reader of ``pulumi.Config``. ``load()`` reads every
``dossier:`` key once (unknown ones included), validates the whole of it and
either returns a frozen ``StackConfig`` or raises one ``ConfigError`` that lists
every problem (key path, offending value, expected form) before any resource is
registered. The model is in ``config_model.py`` (with its sections
``config_postgresql.py`` and ``config_jupyterhub.py``), its value types in
``config_types.py``, tolerations in ``config_placement.py`` and the check of
local chart mirrors in ``config_charts.py``.

The keys of the providers' namespaces (``kubernetes:``, ``keycloak:``, ``random:``) are
checked too, against the settings each provider's SDK declares (``config_providers.py``);
their values are left to the providers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ValidationError

from components.config_model import (
    ResearchTenant,
    SpawnerConfig,
    StackConfig,
)
from components.config_placement import Toleration, core_pod_tolerations
from components.config_providers import did_you_mean, provider_problems
from components.config_types import FieldProblemsError, Kind

__all__ = [
    "NAMESPACE",
    "ConfigError",
    "Kind",
    "ResearchTenant",
    "SpawnerConfig",
    "StackConfig",
    "Toleration",
    "core_pod_tolerations",
    "key_path",
    "known_keys",
    "load",
    "parse",
]

NAMESPACE = "dossier"

#: Keys whose value is a plain string in the stack file (everything else is JSON).
_STRING_KEYS = {"fqdn", "namespace"}

#: Expected forms for pydantic's own error types, in the operator's words.
_EXPECTED = {
    "bool_type": "expected true or false (a YAML boolean, not a string)",
    "int_type": "expected an integer",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping of keys (set one nested value with `pulumi config set --path`)",
    "model_attributes_type": "expected a mapping of keys (set one nested value with `pulumi config set --path`)",
    "greater_than_equal": "expected an integer ≥ {ge}",
}


class ConfigError(pulumi.RunError):
    """Invalid stack configuration; the message lists every problem.

    A ``pulumi.RunError`` so that ``pulumi up`` prints the message without a traceback.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


def key_path(loc: tuple[int | str, ...]) -> str:
    """``("keycloak", "realm")`` -> ``dossier:keycloak.realm``; list indices as ``[i]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "class_":
            path += ".class"
        else:
            path += f".{part}" if path else str(part)
    return f"{NAMESPACE}:{path}" if path else NAMESPACE


def _show(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _describe(errors: list[Any]) -> list[str]:
    problems = []
    for err in errors:
        # Validator frames (function-after[...]) and union members are not config keys; "[key]"
        # marks a bad map key, named by the part before it.
        loc = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]"))
        )
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblemsError):
            problems += [
                f"{key_path(loc + sub)}: {msg}" + ("" if value is None else f" (got {_show(value)})")
                for sub, msg, value in cause.problems
            ]
            continue
        if err["type"] == "missing":
            problems.append(f"{key_path(loc)}: required, not set")
            continue
        if err["type"] == "extra_forbidden":
            problems.append(f"{key_path(loc)}: unknown key{_suggest(loc)}")
            continue
        expected = _EXPECTED.get(err["type"])
        msg = expected.format(**(err.get("ctx") or {})) if expected else err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_type" and isinstance(err.get("input"), bool | int | float):
            msg += _quote_hint(loc, err["input"])
        problems.append(f"{key_path(loc)}: {msg} (got {_show(err.get('input'))})")
    return problems


def _quote_hint(loc: tuple[int | str, ...], value: bool | int | float) -> str:
    """How to write a string YAML read as a number or a boolean (a quantity such as cpu: 64)."""
    if isinstance(value, bool):
        return "; YAML reads true/false, yes/no and on/off as booleans: write the value quoted"
    key = next((str(part) for part in reversed(loc) if isinstance(part, str)), "key")
    return f'; YAML reads {_show(value)} as a number: write it quoted, {key}: "{_show(value)}"'


def _suggest(loc: tuple[int | str, ...]) -> str:
    known = known_keys(loc[:-1])
    typo = str(loc[-1])
    head = typo.split(".", 1)[0]
    if len(loc) == 1 and "." in typo and head in known:
        return f"; did you mean {head!r}? Set a nested value with `pulumi config set --path '{NAMESPACE}:{typo}'`"
    return did_you_mean(typo, known)


def known_keys(loc: tuple[int | str, ...] = ()) -> list[str]:
    """The keys the model accepts at ``loc`` (``()`` for the top level)."""
    model: Any = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``annotation`` (``X``, ``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse(raw: Mapping[str, str]) -> StackConfig:
    """Validate ``dossier:`` config values as Pulumi hands them over (strings; objects as JSON)."""
    data: dict[str, Any] = {}
    for key, text in raw.items():
        if key in _STRING_KEYS:
            data[key] = text
            continue
        try:
            data[key] = json.loads(text)
        except (TypeError, ValueError):
            data[key] = text
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors())) from None


def _engine_keys() -> set[str]:
    """Every config key the engine passed to this program, of every namespace, unknown ones included."""
    # pulumi.Config can only get keys it is asked for; an unknown key (a typo) must be
    # an error too, so list what the engine sent. Ref: pulumi/runtime/config.py.
    from pulumi.runtime import config as runtime_config

    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def _raw_namespace(keys: set[str]) -> dict[str, str]:
    """Every ``dossier:*`` key of ``keys`` with its value as the engine passed it."""
    prefix = f"{NAMESPACE}:"
    cfg = pulumi.Config(NAMESPACE)
    raw: dict[str, str] = {}
    for full in sorted(keys):
        if full.startswith(prefix):
            value = cfg.get(full[len(prefix):])
            if value is not None:
                raw[full[len(prefix):]] = value
    return raw


def load() -> StackConfig:
    """Read and validate the stack's config; raise ``ConfigError`` listing every problem.

    The ``dossier:`` keys against the model, the providers' keys against their SDKs' settings.
    """
    keys = _engine_keys()
    problems = provider_problems(keys)
    try:
        config = parse(_raw_namespace(keys))
    except ConfigError as exc:
        raise ConfigError(exc.problems + problems) from None
    if problems:
        raise ConfigError(problems)
    return config
