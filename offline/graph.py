"""The dependency graph of a run: parent/child and depends-on edges, as Mermaid and DOT.

Node ids are built from the resource kind and name (stable across runs, readable
in a diff); edges are sorted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from offline.engine import RunResult
from offline.registration import STACK_TYPE, short_type


@dataclass(frozen=True)
class Graph:
    nodes: dict[str, tuple[str, str, bool]]
    """Node id -> (kind, name, is_component)."""
    parents: list[tuple[str, str]]
    depends: list[tuple[str, str]]
    """(resource, what it depends on)."""


def graph(result: RunResult) -> Graph:
    """Node ids (stable, readable) with parent/child and depends-on edges, sorted."""
    ids: dict[str, str] = {}
    nodes: dict[str, tuple[str, str, bool]] = {}
    for parent in sorted({r.parent for r in result.resources}):
        if f"::{STACK_TYPE}::" in parent:
            ids[parent] = "stack"
            nodes["stack"] = ("Stack", parent.rsplit("::", 1)[-1], True)
    for registration in sorted(result.resources, key=lambda r: r.urn):
        base = re.sub(r"[^A-Za-z0-9_]", "_", f"{short_type(registration.type)}_{registration.name}")
        node_id = base
        suffix = 2
        while node_id in nodes:
            node_id = f"{base}_{suffix}"
            suffix += 1
        ids[registration.urn] = node_id
        nodes[node_id] = (short_type(registration.type), registration.name, not registration.custom)
    parents = set()
    depends = set()
    for registration in result.resources:
        child = ids[registration.urn]
        if registration.parent in ids:
            parents.add((ids[registration.parent], child))
        for dependency in registration.dependencies:
            if dependency in ids and dependency != registration.parent:
                depends.add((child, ids[dependency]))
    return Graph(dict(sorted(nodes.items())), sorted(parents), sorted(depends))


def mermaid(result: RunResult) -> str:
    """The dependency graph as a Mermaid flowchart."""
    g = graph(result)
    lines = [
        "%% Stack " + result.stack + ": solid edges parent --> child, dotted edges resource -.-> what it depends on.",
        "graph LR",
    ]
    for node_id, (kind, name, component) in g.nodes.items():
        label = f"{kind}<br/>{name}".replace('"', "'")
        lines.append(f'  {node_id}(["{label}"])' if component else f'  {node_id}["{label}"]')
    lines += [f"  {a} --> {b}" for a, b in g.parents]
    lines += [f"  {a} -.-> {b}" for a, b in g.depends]
    return "\n".join(lines) + "\n"


def dot(result: RunResult) -> str:
    """The dependency graph in Graphviz DOT."""
    g = graph(result)
    lines = [
        f'digraph "{result.stack}" {{',
        "  // solid edges: parent -> child; dashed edges: resource -> what it depends on",
        "  rankdir=LR;",
        "  node [shape=box, fontname=Helvetica];",
    ]
    for node_id, (kind, name, component) in g.nodes.items():
        shape = ", shape=folder" if component else ""
        lines.append(f'  {node_id} [label="{kind}\\n{name}"{shape}];')
    lines += [f"  {a} -> {b};" for a, b in g.parents]
    lines += [f"  {a} -> {b} [style=dashed];" for a, b in g.depends]
    return "\n".join(lines) + "\n}\n"
