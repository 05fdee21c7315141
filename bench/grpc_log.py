"""The calls each provider received, counted from the CLI's ``PULUMI_DEBUG_GRPC=<file>`` log.

With ``PULUMI_DEBUG_GRPC`` set to a file, the CLI appends one JSON object per line
for every gRPC message it sends or serves: a unary call writes a line when it
starts (``"progress": "request_started"``) and one when it ends
(``"progress": "response_completed"``, with ``duration`` in nanoseconds). Calls to
a resource provider carry ``metadata: {"kind": "resource", "name": <provider>}``;
the resource monitor's (the program's registrations) carry ``metadata: {"mode":
"server"}``.

Each call is counted once, from its ``response_completed`` line. In a preview the
engine calls ``Create``/``Update``/``Delete`` with ``preview: true``: those are
counted as ``Create (preview)`` and so on, never as writes. A write is a
``Create``, ``Update`` or ``Delete`` without ``preview: true``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRITE_METHODS = ("Create", "Update", "Delete")
PROVIDER_SERVICE = "/pulumirpc.ResourceProvider/"
MONITOR_SERVICE = "/pulumirpc.ResourceMonitor/"
#: RegisterResource fields that say where in the program a resource was registered, not what it is.
SOURCE_FIELDS = ("sourcePosition", "stackTrace")


@dataclass
class ProviderCalls:
    """What one provider received: calls by method, and the time the engine waited on each method."""

    calls: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def writes(self) -> int:
        return sum(self.calls[method] for method in WRITE_METHODS)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


@dataclass
class GrpcLog:
    """One operation's log, counted."""

    providers: dict[str, ProviderCalls] = field(default_factory=dict)
    registrations: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    """RegisterResource requests by (type, name, parent URN), source positions left out."""
    program_seconds: float = 0.0
    """Duration of the language host's ``Run``: the program, start to end."""

    @property
    def writes(self) -> int:
        return sum(p.writes for p in self.providers.values())

    def calls(self, provider: str, method: str) -> int:
        found = self.providers.get(provider)
        return found.calls[method] if found else 0


def _method_name(method: str, request: Mapping[str, Any]) -> str:
    name = method.rsplit("/", 1)[1]
    if name in WRITE_METHODS and request.get("preview"):
        return f"{name} (preview)"
    return name


def count(lines: Iterable[str]) -> GrpcLog:
    """Count a ``PULUMI_DEBUG_GRPC`` log given as its lines."""
    log = GrpcLog()
    for line in lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        if entry.get("progress") != "response_completed":
            continue
        method = str(entry.get("method", ""))
        request = entry.get("request") or {}
        metadata = entry.get("metadata") or {}
        seconds = int(entry.get("duration") or 0) / 1e9
        if method.startswith(PROVIDER_SERVICE) and metadata.get("kind") == "resource":
            provider = log.providers.setdefault(str(metadata.get("name", "?")), ProviderCalls())
            name = _method_name(method, request)
            provider.calls[name] += 1
            provider.seconds[name] += seconds
        elif method == MONITOR_SERVICE + "RegisterResource":
            key = (str(request.get("type", "")), str(request.get("name", "")), str(request.get("parent", "")))
            log.registrations[key] = {k: v for k, v in request.items() if k not in SOURCE_FIELDS}
        elif method == "/pulumirpc.LanguageRuntime/Run":
            log.program_seconds += seconds
    return log


def read(path: Path) -> GrpcLog:
    """Count the log at ``path`` (an empty log when the file is missing: no call was made)."""
    if not path.is_file():
        return GrpcLog()
    with path.open() as lines:
        return count(lines)
