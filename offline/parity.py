"""Parity with Dossier's reference deployment, key by key: the data of ``docs/parity.md`` and its check.

Dossier's guide installs its charts with two values files (alpha-unito/dossier,
``kubernetes/jupyter/jupyterhub-config.yaml`` and ``postgresql-config.yaml``),
pinned in ``pins.yaml``. Every leaf key of them (a list is one leaf) is
compared with the values the program renders for the tests' dev stack, which places
the hub and PostgreSQL as Dossier's guide does (``STACKS``; engine stand-in):

- ``same``: rendered with Dossier's value (``parity_data.WHERE`` says where it is set);
- ``set``: rendered with another value, for the reason in ``parity_data.DIFFERENCES``;
- ``not set``: not rendered, for the reason in ``parity_data.DIFFERENCES``.

``problems`` lists what the data cannot account for: a reference key neither
rendered nor given a reason, another value without a reason, a reason that no
longer holds, a ``chart-default``/``not-in-chart`` claim the pinned chart
contradicts. ``python -m offline.parity`` prints ``docs/parity.md`` from the same
rows (``--write`` writes it); ``tests/test_parity.py`` fails when either drifts.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from offline import pins, schemas, validate
from offline.engine import ROOT, RunResult, reveal
from offline.parity_data import DIFFERENCES, WHERE, Difference
from offline.registration import RELEASE_TYPE, SECRET_MARKER, chart_name, redact

PAGE = ROOT / "docs" / "parity.md"
#: The folder of the stack the page renders: the tests' own, not a user's ``Pulumi.dev.yaml``.
STACKS = ROOT / "tests" / "fixtures" / "stacks"
#: chart -> the pinned file of Dossier's reference values; chart -> the pinned defaults of its default version
REFERENCES: Mapping[str, str] = pins.Derived(lambda p: p.references)
CHART_VALUES: Mapping[str, str] = pins.Derived(lambda p: {c: validate.chart_pin(c).values for c in p.references})

Key = tuple[str, ...]
_MISSING = object()
# The reference masks a password as `password: ******`, which YAML reads as an alias.
_MASKED = re.compile(r"^(\s*[\w-]+:\s*)(\*+)\s*$", re.M)


def parse_reference(text: str) -> dict[str, Any]:
    """A reference values file, its masked values read as strings."""
    return dict(yaml.safe_load(_MASKED.sub(r"\1'\2'", text)) or {})


def reference(chart: str) -> dict[str, Any]:
    """Dossier's reference values for ``chart`` (pinned; raises ``schemas.SchemaUnavailable``)."""
    return parse_reference(schemas.load(REFERENCES[chart]))


def rendered(result: RunResult) -> dict[str, Any]:
    """Chart name -> the values the program gave its release (secrets still marked)."""
    return {chart_name(r.inputs): r.inputs.get("values") or {} for r in result.by_type(RELEASE_TYPE)}


def show_key(key: Key) -> str:
    return "".join(f"[{p}]" if ("." in p or "/" in p) else (f".{p}" if i else p) for i, p in enumerate(key))


def parse_key(text: str) -> Key:
    return tuple(a or b for a, b in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", text))


def leaves(tree: Any, prefix: Key = ()) -> dict[Key, Any]:
    """Every leaf of a values tree by its key; lists and empty maps are leaves."""
    if isinstance(tree, Mapping) and tree:
        found: dict[Key, Any] = {}
        for name, value in tree.items():
            found.update(leaves(value, (*prefix, str(name))))
        return found
    return {prefix: tree}


def lookup(tree: Any, key: Key) -> Any:
    for part in key:
        if not isinstance(tree, Mapping) or part not in tree:
            return _MISSING
        tree = tree[part]
    return tree


def where(chart: str, key: Key) -> str:
    """The longest ``WHERE`` prefix of ``key``, or ``""``."""
    prefixes = {parse_key(p): text for p, text in WHERE[chart].items()}
    matches = [p for p in prefixes if key[: len(p)] == p]
    return prefixes[max(matches, key=len)] if matches else ""


@dataclass(frozen=True)
class Row:
    chart: str
    key: Key
    dossier: Any
    program: Any
    """The rendered value (secrets marked), or ``None`` with ``status`` "not set"."""
    status: str
    note: str


def rows(
    references: Mapping[str, Any],
    values: Mapping[str, Any],
    differences: Mapping[str, Mapping[str, Difference]] = DIFFERENCES,
) -> tuple[list[Row], list[str]]:
    """One row per reference key, and the problems that keep the table from being true."""
    table: list[Row] = []
    problems: list[str] = []
    for chart, tree in references.items():
        reasons = {parse_key(k): d for k, d in differences.get(chart, {}).items()}
        keys = leaves(tree)
        for key, dossier in keys.items():
            name = f"{chart} {show_key(key)}"
            value = lookup(values.get(chart, {}), key)
            difference = reasons.get(key)
            if value is not _MISSING and reveal(value) == dossier:
                status, note = "same", where(chart, key)
                if difference is not None:
                    problems.append(f"{name}: the program renders Dossier's value, but DIFFERENCES lists a reason")
                if not note:
                    problems.append(f"{name}: set by the program, but WHERE does not say where")
            elif difference is None:
                state = "neither set by the program" if value is _MISSING else "set to another value"
                problems.append(f"{name}: {state} nor listed as a deliberate difference (parity_data.DIFFERENCES)")
                continue
            elif value is not _MISSING:
                status, note = "set", f"{where(chart, key) or '?'}: {difference.reason}"
                if difference.kind != "value":
                    problems.append(f"{name}: rendered, but DIFFERENCES says it is not ({difference.kind})")
            else:
                status, note = "not set", difference.reason
                if difference.kind == "value":
                    problems.append(f"{name}: not set, but DIFFERENCES says it is set to another value")
                problems += _check(chart, key, difference.kind)
            table.append(Row(chart, key, dossier, None if value is _MISSING else value, status, note))
        problems += [f"{chart} {show_key(k)}: in DIFFERENCES but not a key of Dossier's file"
                     for k in reasons if k not in keys]
        problems += [f"{chart} {p}: in WHERE but no key of Dossier's file is under it"
                     for p in WHERE[chart] if not any(k[: len(parse_key(p))] == parse_key(p) for k in keys)]
    return table, problems


def _check(chart: str, key: Key, kind: str) -> list[str]:
    """A ``chart-default``/``not-in-chart`` claim against the pinned chart's values."""
    if kind not in ("chart-default", "not-in-chart"):
        return []
    found = lookup(schemas.load(CHART_VALUES[chart]), key)
    if kind == "chart-default" and found != lookup(reference(chart), key):
        shown = "absent" if found is _MISSING else repr(found)
        return [f"{chart} {show_key(key)}: the chart's default is {shown}, not Dossier's value"]
    if kind == "not-in-chart" and found is not _MISSING:
        return [f"{chart} {show_key(key)}: the pinned chart has this key"]
    return []


# --- the page -------------------------------------------------------------------------


def _reads_as_itself(text: str) -> bool:
    """Whether YAML reads ``text`` as that string (not ``true``, ``600``, ``""`` or an alias)."""
    try:
        return bool(text) and "\n" not in text and yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def _cell(value: Any, limit: int = 70) -> str:
    plain = isinstance(value, str) and (_reads_as_itself(value) or value == SECRET_MARKER)
    text = value if plain else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = text if len(text) <= limit else f"{text[: limit - 1]}…"
    return f"`{text}`".replace("|", "\\|")


def markdown(table: list[Row]) -> str:
    counts = {s: sum(1 for r in table if r.status == s) for s in ("same", "set", "not set")}
    lines = [
        "# Parity with Dossier's reference deployment",
        "",
        "<!-- Generated by `python -m offline.parity --write` from offline/parity_data.py, Dossier's pinned",
        "     reference values and the tests' dev stack's rendered values; tests/test_parity.py fails when",
        "     it drifts. -->",
        "",
        "Dossier's guide installs its charts with two values files (alpha-unito/dossier,",
        "`kubernetes/jupyter/jupyterhub-config.yaml` and `postgresql-config.yaml`, pinned as",
        "`dossier-jupyterhub-config.yaml` and `dossier-postgresql-config.yaml`: [schemas.md](schemas.md)).",
        "Every key of both is below, next to the value this program renders for the tests' dev stack",
        "(`tests/fixtures/stacks/Pulumi.dev.yaml`: Dossier's placement, the tests' own names):",
        "**same** (where the program sets it), **set** to another value, or **not set**, each with",
        "the reason. A list counts as one key. Secrets show as `[secret]`.",
        "",
        f"Of {len(table)} keys: {counts['same']} same, {counts['set']} set to another value on purpose, "
        f"{counts['not set']} not set on purpose.",
    ]
    for chart in REFERENCES:
        lines += ["", f"## {chart}", "", "| key | Dossier | dev stack | where set / why different |"]
        lines.append("|---|---|---|---|")
        for row in (r for r in table if r.chart == chart):
            program = {"same": "same", "not set": "not set"}.get(row.status) or _cell(redact(row.program))
            note = row.note.replace("|", "\\|")
            lines.append(f"| `{show_key(row.key)}` | {_cell(row.dossier)} | {program} | {note} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    from offline.engine import read_stack_config, run

    if argv[1:] not in ([], ["--write"]):
        sys.stderr.write("usage: python -m offline.parity [--write]\n")
        return 2
    try:
        references = {chart: reference(chart) for chart in REFERENCES}
        table, problems = rows(references, rendered(run(read_stack_config("dev", STACKS))))
    except schemas.SchemaUnavailable as exc:
        sys.stderr.write(f"{exc}\nProvide the pinned files in one of three ways:\n")
        sys.stderr.write("".join(f"  {line}\n" for line in schemas.how_to_provide()))
        return 1
    if problems:
        sys.stderr.write("parity table is not true:\n" + "".join(f"  - {p}\n" for p in problems))
        return 1
    text = markdown(table)
    if argv[1:] == ["--write"]:
        PAGE.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
