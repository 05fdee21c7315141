"""The plan's files: ``build/<stack>/`` rendered from a run and written.

``render_files`` gives every file of ``build/<stack>/`` as text (relative path
-> text), from a run read through ``offline/registration.py``: one manifest per
Kubernetes object, each Helm release and its values, the Keycloak objects, every
resource's options, the stack outputs and the dependency graph; every secret
leaf written as ``[secret]`` and every value known only after apply as
``(known after apply)``. ``write_files`` replaces ``build/<stack>/`` by exactly
those files. YAML is written with sorted keys and block style so that two runs
are byte-identical and a pull request can diff them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from offline.engine import Registration, RunResult
from offline.graph import dot, mermaid
from offline.registration import NODE_PATCH_TYPE, SECRET_MARKER, UNKNOWN_MARKER, View, redact, short_type


def _plain_str(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _metadata(registration: Registration) -> Mapping[str, Any]:
    metadata = registration.inputs.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


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


def render_files(run: RunResult | View) -> dict[str, str]:
    """Every file of ``build/<stack>/`` (relative path -> text), with every secret redacted."""
    view = View.of(run)
    result = view.result
    files: dict[str, str] = {}
    resources: dict[str, Any] = {}
    for registration, kind in view.registrations:
        entry = _options(registration)
        if kind == "kubernetes":
            path = _unique(files, manifest_path(registration), registration)
            files[path] = to_yaml(redact(registration.inputs), _header(registration))
            entry["file"] = path
        elif kind == "release":
            inputs = registration.inputs
            folder = f"helm/{_safe(_plain_str(inputs.get('name'), registration.name))}"
            if f"{folder}/release.yaml" in files:
                folder = f"{folder}.{_safe(registration.name)}"
            release = {k: v for k, v in inputs.items() if k != "values"}
            files[f"{folder}/release.yaml"] = to_yaml(redact(release), _header(registration))
            files[f"{folder}/values.yaml"] = to_yaml(redact(inputs.get("values") or {}))
            entry["file"] = f"{folder}/"
        elif kind == "keycloak":
            path = _unique(files, f"keycloak/{short_type(registration.type).lower()}-{_safe(registration.name)}.yaml",
                           registration)
            files[path] = to_yaml(redact(registration.inputs), _header(registration))
            entry["file"] = path
        elif kind == "resource":
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
