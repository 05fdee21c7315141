"""The config reference, generated from ``components.config.StackConfig``.

``python -m offline.config_doc`` prints the configuration reference table of
``docs/configuration.md`` (one row per key, nested keys dotted, list entries as
``[]``); ``--update-docs`` rewrites it between that page's config-table markers
(nothing else); ``--pulumi-yaml`` prints the ``config:`` declarations ``Pulumi.yaml``
holds. Tests compare both with the files, so the model is the single source of the
config contract.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.config import NAMESPACE, Kind, StackConfig

ROOT = Path(__file__).resolve().parent.parent
#: The page that holds the generated table.
REFERENCE = ROOT / "docs" / "configuration.md"
START = "<!-- config-table:start -->"
END = "<!-- config-table:end -->"

#: The minimum Pulumi CLI: object-typed config declarations (pulumi/pulumi#20129, #20132).
MIN_PULUMI_CLI = "3.187.0"


def _kind(metadata: list[Any]) -> str | None:
    kinds = [m.name for m in metadata if isinstance(m, Kind)]
    return kinds[-1] if kinds else None


def _strip_none(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (annotation, False)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def type_label(annotation: Any, metadata: list[Any] | None = None) -> str:
    """A short, human name of a field's type: ``DNS-1123 label``, ``list of CIDR``, ``object``."""
    kind = _kind(metadata or [])
    if kind:
        return kind
    annotation, _ = _strip_none(annotation)
    origin = get_origin(annotation)
    if origin is not None and getattr(annotation, "__metadata__", None) is not None:
        return type_label(get_args(annotation)[0], list(annotation.__metadata__))
    if origin is Literal:
        return " \\| ".join(f"`{choice}`" for choice in get_args(annotation))
    if origin is list:
        return f"list of {type_label(get_args(annotation)[0])}"
    if origin is dict:
        key, value = get_args(annotation)
        return "mapping" if value is Any else f"map of {type_label(key)} to {type_label(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {str: "string", bool: "boolean", int: "integer"}.get(annotation, "any")


def _model(annotation: Any) -> type[BaseModel] | None:
    annotation, _ = _strip_none(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _list_model(annotation: Any) -> type[BaseModel] | None:
    annotation, _ = _strip_none(annotation)
    if get_origin(annotation) is list:
        return _model(get_args(annotation)[0])
    return None


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


def default_value(field: FieldInfo) -> Any:
    """The field's default as it would be written in YAML (``PydanticUndefined`` when required)."""
    if field.is_required():
        return PydanticUndefined
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return _dump(value)
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def _show_default(field: FieldInfo, nested: bool) -> str:
    value = default_value(field)
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "unset"
    if nested:
        return "see below"
    return f"`{json.dumps(value)}`" if not isinstance(value, str) else f"`{value}`"


def rows(model: type[BaseModel] = StackConfig, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(key, type, default, description) for every key, parents before their children."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        child = _model(field.annotation)
        entries = _list_model(field.annotation)
        nested = child is not None and default_value(field) not in (None, PydanticUndefined)
        label = "list of objects" if entries is not None else type_label(field.annotation, field.metadata)
        yield key, label, _show_default(field, nested), field.description or ""
        if child is not None:
            yield from rows(child, f"{key}.")
        elif entries is not None:
            yield from rows(entries, f"{key}[].")


def markdown_table() -> str:
    """The configuration reference table of ``docs/configuration.md`` (between the config-table markers)."""
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, label, default, description in rows():
        cell = description.replace("|", "\\|")
        lines.append(f"| `{NAMESPACE}:{key}` | {label} | {default} | {cell} |")
    return "\n".join(lines)


def pulumi_type(annotation: Any) -> dict[str, Any]:
    """The ``Pulumi.yaml`` type declaration of a top-level key (``type``, and ``items`` for lists)."""
    annotation, _ = _strip_none(annotation)
    if _model(annotation) is not None or get_origin(annotation) is dict:
        return {"type": "object"}
    if get_origin(annotation) is list:
        return {"type": "array", "items": pulumi_type(get_args(annotation)[0])}
    if getattr(annotation, "__metadata__", None) is not None:
        return pulumi_type(get_args(annotation)[0])
    return {"type": {str: "string", bool: "boolean", int: "integer"}[annotation]}


def pulumi_declarations() -> dict[str, dict[str, Any]]:
    """The ``config:`` declarations of ``Pulumi.yaml``: every top-level key, its type, description, default."""
    declarations: dict[str, dict[str, Any]] = {}
    for name, field in StackConfig.model_fields.items():
        declaration = pulumi_type(field.annotation)
        description = field.description or ""
        child = _model(field.annotation) or _list_model(field.annotation)
        if child is not None:
            keys = ", ".join(f.alias or n for n, f in child.model_fields.items())
            description += f" Keys: {keys}."
        declaration["description"] = description + (" Required." if field.is_required() else "")
        default = default_value(field)
        if default is not PydanticUndefined:
            declaration["default"] = default
        declarations[f"{NAMESPACE}:{field.alias or name}"] = declaration
    return declarations


def update_table(text: str) -> str:
    """``text`` (a Markdown page) with the table between the config-table markers regenerated."""
    start, end = text.index(START) + len(START), text.index(END)
    return f"{text[:start]}\n{markdown_table()}\n{text[end:]}"


def main(argv: list[str]) -> int:
    if argv[1:] == ["--update-docs"]:
        REFERENCE.write_text(update_table(REFERENCE.read_text()))
        return 0
    if argv[1:] == ["--pulumi-yaml"]:
        document = {"config": pulumi_declarations()}
        sys.stdout.write(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000))
        return 0
    if argv[1:]:
        sys.stderr.write("usage: python -m offline.config_doc [--pulumi-yaml | --update-docs]\n")
        return 2
    print(markdown_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
