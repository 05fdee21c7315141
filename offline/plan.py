"""Offline plan: what ``pulumi up`` would create, shown, checked and written to ``build/<stack>/``.

``plan`` runs, in this order:

1. run: the real ``__main__.py`` against the engine stand-in (``offline/engine.py``),
   in preview mode by default;
2. view: the run read once through ``offline/registration.py`` (each
   registration's kind, in URN order; the run's secret values);
3. validate: every object against the Kubernetes and upstream schemas
   (``offline/checks.py``, ``offline/validate.py``; the pinned files through
   ``offline/schemas.py``, or the cluster's CRDs through ``offline/cluster.py``);
4. render: the files of ``build/<stack>/`` (``offline/render.py``, the graph by
   ``offline/graph.py``): one YAML manifest per Kubernetes object, each Helm
   release and its values, the Keycloak objects, every resource's options,
   ``outputs.json`` and the dependency graph, every secret leaf ``[secret]``;
5. write: ``build/<stack>/`` replaced by exactly those files (deterministic);
6. leak check: the files searched for every secret value the run saw
   (``offline/checks.py``).

The upstream files the checks need are pinned in ``pins.yaml`` (``offline/pins.py``).
``print_report`` then prints the program's version (its ``VERSION`` file), the
resource tree grouped by component, the stack outputs (secrets as ``[secret]``,
unknowns as ``(known after apply)``), the problems and a summary line. ``main``
exits 1 when a check found a problem, 2 on a config error, a bad pins file or a stack
file the CLI would refuse (a key given twice, bad YAML; its message only), and 3
when a check could not run (its schema missing: see ``offline/schemas.py`` and
``docs/schemas.md``), naming what is missing and the three ways to provide it;
``--allow-unchecked`` (or ``DOSSIER_ALLOW_UNCHECKED=1``) lowers that to a warning.

Usage: ``python -m offline.plan --stack dev [--out build] [--kubernetes-version 1.30.0]
[--root .] [--stacks .] [--schemas pinned|cluster] [--allow-unchecked]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pulumi
from kubernetes_validate import utils as kubernetes_validate_utils

from offline import cluster, pins, schemas, validate
from offline.checks import Validation, leaked, validate_resources
from offline.engine import ROOT, Registration, RunResult, read_stack_config, run, stack_file
from offline.registration import (
    NODE_PATCH_TYPE,
    SECRET_MARKER,
    UNKNOWN_MARKER,
    View,
    kind_of,
    redact,
    sealed_count,
    short_type,
)
from offline.render import render_files, write_files
from offline.stackfile import StackFileError

# --- the pipeline ---------------------------------------------------------------------


class UsageError(Exception):
    """A command-line mistake (exit 2, like a config error)."""


def supported_kubernetes_versions() -> list[str]:
    """The Kubernetes minor versions kubernetes-validate has schemas for (``1.30``, ...)."""
    return list(_supported_kubernetes_versions())


@cache
def _supported_kubernetes_versions() -> tuple[str, ...]:
    # Package data: listed once per process.
    versions = {kubernetes_validate_utils.major_minor(v) for v in kubernetes_validate_utils.all_versions()}
    return tuple(sorted(versions, key=lambda v: tuple(int(p) for p in v.split("."))))


def check_kubernetes_version(version: str) -> None:
    """Refuse a Kubernetes version the core objects cannot be checked against, saying which can (``UsageError``)."""
    supported = supported_kubernetes_versions()
    if kubernetes_validate_utils.major_minor(version.removeprefix("v")) not in supported:
        raise UsageError(
            f"--kubernetes-version {version} (KUBERNETES_VERSION): the core objects are checked against the schemas "
            f"kubernetes-validate {metadata.version('kubernetes-validate')} holds, for Kubernetes {supported[0]} to "
            f"{supported[-1]} (docs/operations.md#prerequisites)")


def program_version(root: Path = ROOT) -> str:
    """The version of the program in ``root``: its ``VERSION`` file (the release it is; ``CHANGELOG.md``)."""
    try:
        return (root / "VERSION").read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


@dataclass
class PlanReport:
    result: RunResult
    files: dict[str, str]
    validation: Validation
    out_dir: Path
    #: the version of the program planned (``program_version``)
    version: str = "unknown"

    @property
    def ok(self) -> bool:
        """No check found a problem."""
        return not self.validation.problems

    @property
    def complete(self) -> bool:
        """Every check ran."""
        return not self.validation.unchecked


def plan(
    stack: str = "dev",
    *,
    out: Path = Path("build"),
    kubernetes_version: str = validate.DEFAULT_KUBERNETES_VERSION,
    preview: bool = True,
    root: Path = ROOT,
    stacks: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    schemas_from: str = "pinned",
    sources: schemas.Sources | None = None,
) -> PlanReport:
    """Run, view, validate, render, write ``out/<stack>/`` and leak-check; raises the program's ``ConfigError``.

    ``schemas_from``: ``pinned`` (the pinned upstream files from ``sources``, the
    environment's by default) or ``cluster`` (CRD schemas as the cluster of the
    stack's ``kubernetes:context`` serves them; chart values still pinned). ``stacks``: the folder
    of ``Pulumi.<stack>.yaml`` (default ``root``; the tests plan their own stacks).
    """
    if schemas_from not in ("pinned", "cluster"):
        raise UsageError(f"--schemas {schemas_from}: expected pinned or cluster")
    check_kubernetes_version(kubernetes_version)
    stacks = stacks or root
    if not stack_file(stack, stacks).is_file():
        raise UsageError(f"no stack file Pulumi.{stack}.yaml in {stacks}")
    pins.current()  # a bad pins file stops the plan here, with its message (PinsError)
    config = read_stack_config(stack, stacks)
    config.update(overrides or {})
    result = run(config, stack=stack, preview=preview, program=root / "__main__.py")
    view = View.of(result)
    served = cluster.for_stack(config) if schemas_from == "cluster" else None
    report = validate_resources(view, kubernetes_version, sources=sources, cluster=served)
    files = render_files(view)
    out_dir = out / stack
    write_files(files, out_dir)  # also when a check failed: the files are there to look at
    report.problems += leaked(files, view.secrets)
    report.checks += 1
    return PlanReport(result, files, report, out_dir, program_version(root))


# --- the report ------------------------------------------------------------------------


def print_report(report: PlanReport, stream: Any = None, *, allow_unchecked: bool = False) -> None:
    stream = stream or sys.stdout
    print(f"dossier-stack {report.version}", file=stream)
    for line in [*tree_lines(report.result), "", *output_lines(report.result), ""]:
        print(line, file=stream)
    for note in report.validation.notes:
        print(f"note: {note}", file=stream)
    print(f"wrote {len(report.files)} files to {report.out_dir}/", file=stream)
    if report.validation.problems:
        print(f"plan failed: {len(report.validation.problems)} problem(s):", file=stream)
        for problem in report.validation.problems:
            print(f"  - {problem}", file=stream)
    for line in unchecked_lines(report.validation, allowed=allow_unchecked):
        print(line, file=stream)
    print(summary_line(report.result, report.validation), file=stream)


def settings_of(registration: Registration) -> str:
    """The settings that matter for a reviewer, on one line."""
    inputs = redact(registration.inputs)
    kind = kind_of(registration)
    parts: list[str] = []
    if kind == "release":
        repo = (inputs.get("repositoryOpts") or {}).get("repo")
        parts += [f"chart={inputs.get('chart')}", f"version={inputs.get('version')}"]
        parts += [f"repo={repo}"] if repo else []
        parts += [f"release={inputs.get('name')}", f"namespace={inputs.get('namespace')}"]
    elif kind == "kubernetes":
        metadata = inputs.get("metadata") or {}
        spec = inputs.get("spec") or {}
        name = metadata.get("name")
        parts.append(f"{metadata['namespace']}/{name}" if metadata.get("namespace") else str(name))
        if registration.type == NODE_PATCH_TYPE:
            parts += [f"{k}={v}" for k, v in sorted((metadata.get("labels") or {}).items())]
        hosts = [h for h in [(spec.get("virtualhost") or {}).get("fqdn"), *(spec.get("dnsNames") or [])] if h]
        parts += [f"hosts={','.join(sorted(set(map(str, hosts))))}"] if hosts else []
        quota = (spec.get("namespaceOptions") or {}).get("quota")
        parts += [f"namespaceQuota={quota}"] if quota is not None else []
    elif kind == "keycloak":
        for key in ("realmId", "clientId", "name", "rootUrl", "claimName"):
            if key in inputs:
                parts.append(f"{key}={inputs[key]}")
    elif "length" in inputs:
        parts.append(f"length={inputs['length']}")
    return " ".join([*parts, *option_flags(registration)])


def option_flags(registration: Registration) -> list[str]:
    """``[protect]`` and ``[retain]``, for a resource or a component (the destroy guard is a protected component)."""
    return [flag for flag, on in (("[protect]", registration.protect), ("[retain]", registration.retain_on_delete))
            if on]


def tree_lines(result: RunResult) -> list[str]:
    """The resource tree, grouped by component, children sorted by name."""
    children: dict[str, list[Registration]] = {}
    urns = {r.urn for r in result.resources}
    for registration in result.resources:
        parent = registration.parent if registration.parent in urns else ""
        children.setdefault(parent, []).append(registration)
    lines = [f"stack {result.stack}{' (preview)' if result.preview else ''}"]

    def walk(parent: str, indent: str) -> None:
        items = sorted(children.get(parent, []), key=lambda r: (r.custom, r.name))
        for index, registration in enumerate(items):
            last = index == len(items) - 1
            kind = short_type(registration.type)
            label = f"{kind} {registration.name}"
            detail = (settings_of(registration) if registration.custom
                      else " ".join([f"({registration.type})", *option_flags(registration)]))
            lines.append(f"{indent}{'└─ ' if last else '├─ '}{label}  {detail}".rstrip())
            walk(registration.urn, indent + ("   " if last else "│  "))

    walk("", "")
    return lines


def output_lines(result: RunResult) -> list[str]:
    lines = ["outputs:"]
    for name, out in sorted(result.outputs.items()):
        shown = SECRET_MARKER if out.secret else json.dumps(redact(out.value), sort_keys=True) if out.known else (
            UNKNOWN_MARKER)
        lines.append(f"  {name}: {shown}")
    return lines


def summary_line(result: RunResult, report: Validation) -> str:
    kinds = Counter(short_type(r.type) for r in result.resources if r.custom)
    components = sum(1 for r in result.resources if not r.custom)
    per_kind = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    return (
        f"{sum(kinds.values())} resources ({per_kind}) in {components} components; "
        f"{sealed_count(result)} secrets sealed; {report.checks} checks passed"
        if not report.problems
        else f"{sum(kinds.values())} resources; {len(report.problems)} problem(s) in {report.checks} checks"
    ) + (f", {report.unchecked_count} not run" if report.unchecked else "")


def unchecked_lines(report: Validation, *, allowed: bool, sources: schemas.Sources | None = None) -> list[str]:
    """What could not be checked and why; unless ``allowed``, how to provide it."""
    if not report.unchecked:
        return []
    count = report.unchecked_count
    lines = [f"warning: {count} check(s) did not run (--allow-unchecked):" if allowed
             else f"plan incomplete: {count} check(s) could not run:"]
    for missing in report.unchecked.values():
        what = ", ".join(f"{thing} ({n}x)" for thing, n in sorted(missing.what.items()))
        lines.append(f"  - {'refused' if missing.refused else 'missing'}: {missing.missing}; not checked: {what}")
        lines.append(f"      {'; '.join(missing.reasons)}")
    if not allowed:
        if any(not m.missing.startswith("a pinned values schema") for m in report.unchecked.values()):
            lines.append("Provide the schemas in one of three ways:")
            lines += [f"  {line}" for line in schemas.how_to_provide(sources)]
        lines.append("Or plan without these checks: make plan ALLOW_UNCHECKED=1 (--allow-unchecked).")
    return lines


# --- the command ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--out", type=Path, default=Path("build"), help="output root (writes <out>/<stack>/)")
    parser.add_argument("--kubernetes-version", default=validate.DEFAULT_KUBERNETES_VERSION)
    parser.add_argument("--no-preview", dest="preview", action="store_false",
                        help="let the stand-in generate values a provider would compute (still redacted)")
    parser.add_argument("--root", type=Path, default=ROOT, help="project tree to plan (another checkout)")
    parser.add_argument("--stacks", type=Path, default=Path("."),
                        help="folder of Pulumi.<stack>.yaml, relative to --root (default: the root)")
    parser.add_argument("--schemas", choices=["pinned", "cluster"], default="pinned",
                        help="CRD schemas: the pinned upstream files (default), or as the cluster of the stack's "
                             "kubernetes:context serves them (docs/schemas.md)")
    parser.add_argument("--allow-unchecked", action="store_true",
                        default=os.environ.get("DOSSIER_ALLOW_UNCHECKED", "") not in ("", "0"),
                        help="exit 0 with a warning when a check could not run (default: exit 3; "
                             "also DOSSIER_ALLOW_UNCHECKED=1)")
    args = parser.parse_args(argv)
    try:
        report = plan(args.stack, out=args.out, kubernetes_version=args.kubernetes_version, preview=args.preview,
                      root=args.root.resolve(), stacks=(args.root / args.stacks).resolve(), schemas_from=args.schemas)
    except (pulumi.RunError, UsageError, pins.PinsError, StackFileError) as exc:  # each lists every problem
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(report, allow_unchecked=args.allow_unchecked)
    if not report.ok:
        return 1
    return 0 if report.complete or args.allow_unchecked else 3


if __name__ == "__main__":
    sys.exit(main())
