"""Rendering a run of the program as files: redaction, manifests, Helm values, Keycloak objects.

Pure functions of a ``RunResult`` (``offline/engine.py``): ``render_files`` gives
every file of ``build/<stack>/`` as text, with every secret leaf replaced by
``[secret]`` and every value known only after apply by ``(known after apply)``;
``leaked`` scans rendered text for secret values as a second line of defence.
YAML is written with sorted keys and block style so that two runs are
byte-identical and a pull request can diff them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from offline.engine import UNKNOWN, Registration, ResourceRef, RunResult, Secret
from offline.graph import dot, mermaid, short_type

SECRET_MARKER = "[secret]"
UNKNOWN_MARKER = "(known after apply)"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
NODE_PATCH_TYPE = "kubernetes:core/v1:NodePatch"
#: Secret values shorter than this are not searched for in the files (too many false hits).
MIN_SCANNED_SECRET = 8


# --- values -------------------------------------------------------------------


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


# --- classification -------------------------------------------------------------


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


def chart_name(inputs: Mapping[str, Any]) -> str:
    """The chart's own name: ``oci://host/org/postgresql`` -> ``postgresql``."""
    chart = inputs.get("chart")
    return chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else "?"


def _plain_str(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _metadata(registration: Registration) -> Mapping[str, Any]:
    metadata = registration.inputs.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


# --- files ----------------------------------------------------------------------


# libyaml's emitter when PyYAML has it (several times faster than the pure-Python one).
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Block style, multi-line strings as ``|`` literals."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(value: Any, header: str = "") -> str:
    body = yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=100)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


def manifest_path(registration: Registration) -> str:
    """Where a Kubernetes object's manifest goes: by namespace, kind and object name."""
    metadata = _metadata(registration)
    kind = str(registration.inputs["kind"]).lower()
    name = _safe(_plain_str(metadata.get("name"), registration.name))
    if registration.type == NODE_PATCH_TYPE:
        return f"kubernetes/_patches/{kind}-{name}.yaml"
    namespace = metadata.get("namespace")
    folder = _safe(namespace) if isinstance(namespace, str) else ("_unknown" if namespace is not None else "_cluster")
    return f"kubernetes/{folder}/{kind}-{name}.yaml"


def _header(registration: Registration) -> str:
    lines = [f"{registration.type} {registration.name} (urn {registration.urn})"]
    if registration.type == NODE_PATCH_TYPE:
        lines.append("A patch of an existing Node (server-side apply); deleting it removes only these fields.")
    options = (("protect", registration.protect), ("retainOnDelete", registration.retain_on_delete))
    flags = [flag for flag, on in options if on]
    if flags:
        lines.append("options: " + ", ".join(flags))
    return "\n".join(lines)


def _options(registration: Registration) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": registration.type,
        "name": registration.name,
        "parent": registration.parent,
        "protect": registration.protect,
        "retainOnDelete": registration.retain_on_delete,
    }
    optional = {
        "dependsOn": sorted(set(registration.dependencies)),
        "additionalSecretOutputs": sorted(registration.additional_secret_outputs),
        "deleteBeforeReplace": registration.delete_before_replace,
        "ignoreChanges": sorted(registration.ignore_changes),
        "replaceOnChanges": sorted(registration.replace_on_changes),
        "aliases": sorted(registration.aliases),
        "provider": registration.provider,
    }
    out.update({k: v for k, v in optional.items() if v})
    return out


def _unique(files: dict[str, str], path: str, registration: Registration) -> str:
    if path not in files:
        return path
    stem, dot, ext = path.rpartition(".")
    return f"{stem}.{_safe(registration.name)}{dot}{ext}"


def render_files(result: RunResult) -> dict[str, str]:
    """Every file of ``build/<stack>/`` (relative path -> text), with every secret redacted."""
    files: dict[str, str] = {}
    resources: dict[str, Any] = {}
    for registration in sorted(result.resources, key=lambda r: r.urn):
        entry = _options(registration)
        if is_kubernetes_object(registration):
            path = _unique(files, manifest_path(registration), registration)
            files[path] = to_yaml(redact(registration.inputs), _header(registration))
            entry["file"] = path
        elif registration.type == RELEASE_TYPE:
            inputs = registration.inputs
            folder = f"helm/{_safe(_plain_str(inputs.get('name'), registration.name))}"
            if f"{folder}/release.yaml" in files:
                folder = f"{folder}.{_safe(registration.name)}"
            release = {k: v for k, v in inputs.items() if k != "values"}
            files[f"{folder}/release.yaml"] = to_yaml(redact(release), _header(registration))
            files[f"{folder}/values.yaml"] = to_yaml(redact(inputs.get("values") or {}))
            entry["file"] = f"{folder}/"
        elif is_keycloak(registration):
            path = _unique(files, f"keycloak/{short_type(registration.type).lower()}-{_safe(registration.name)}.yaml",
                           registration)
            files[path] = to_yaml(redact(registration.inputs), _header(registration))
            entry["file"] = path
        elif registration.custom:
            entry["inputs"] = redact(registration.inputs)
        resources[registration.urn] = entry
    files["resources.yaml"] = to_yaml(redact(resources), f"Every resource of stack {result.stack} and its options.")
    outputs = {
        name: SECRET_MARKER if out.secret else redact(out.value) if out.known else UNKNOWN_MARKER
        for name, out in result.outputs.items()
    }
    files["outputs.json"] = json.dumps(outputs, indent=2, sort_keys=True) + "\n"
    files["graph.mmd"] = mermaid(result)
    files["graph.dot"] = dot(result)
    return dict(sorted(files.items()))


def leaked(files: Mapping[str, str], secrets: Iterable[str]) -> list[str]:
    """``path: contains a secret value`` for every file holding one of ``secrets``."""
    return [
        f"{path}: contains a secret value (redaction failed)"
        for path, text in files.items()
        if any(secret in text for secret in secrets)
    ]


def write_files(files: Mapping[str, str], out_dir: Path) -> None:
    """Replace ``out_dir`` by exactly ``files``.

    Every file already there is removed; the folders the new files go in are kept
    (removing and making them again is a third of the cost), every other entry goes.
    """
    folders = {out_dir}
    for relative in files:
        folders.update((out_dir / relative).parents)
    if out_dir.is_dir() and not out_dir.is_symlink():
        _empty(out_dir, folders)
    elif out_dir.exists() or out_dir.is_symlink():
        out_dir.unlink()
    made: set[Path] = set()
    for relative, text in files.items():
        path = out_dir / relative
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_text(text, encoding="utf-8")


def _empty(folder: Path, keep: set[Path]) -> None:
    """Remove every file under ``folder`` and every folder not in ``keep``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            path = folder / entry.name
            if not entry.is_dir(follow_symlinks=False):
                path.unlink()
            elif path in keep:
                _empty(path, keep)
            else:
                shutil.rmtree(path)
