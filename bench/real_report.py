"""The tables ``make bench-real`` prints, and their verdicts, from measured numbers (no I/O here).

``report(results)`` gives every line: the machine, the preview table (program
and floor, each CLI, with and without ``PULUMI_SKIP_CHECKPOINTS``), the
``up``/``destroy`` table with the calls each provider received, where the time
goes, and the verdict lines. ``failures(results)`` lists what makes the
benchmark exit non-zero: correctness, not time (a no-change ``up`` that wrote,
a floor that registered something else than the program, a missing cell).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.grpc_log import GrpcLog
from bench.procs import ENGINE, LANGUAGE_HOST, PROGRAM, UNSAMPLED

PREVIEW_GOAL_SECONDS = 40.0
PREVIEW_GOAL_GROUPS = 1000
GROWTH_GOAL = 10.0
GROWTH_FROM = 100
LEVER = "PULUMI_SKIP_CHECKPOINTS=true"
NO_CHANGE_UP = "up, no change"
MISSING = "—"


@dataclass
class Measured:
    """One CLI run: wall seconds, CPU seconds by process role, and (when logged/profiled) calls and engine phases."""

    seconds: float
    cpu: Mapping[str, float] = field(default_factory=dict)
    cpu_total: float = 0.0
    calls: GrpcLog | None = None
    engine: Mapping[str, float] | None = None
    servers: Mapping[str, float] = field(default_factory=dict)
    """CPU seconds each server (API server, etcd, Keycloak) spent while the run lasted."""


@dataclass
class PreviewRow:
    cli: str
    groups: int
    resources: int
    lever: bool
    program: Measured | None = None
    floor: Measured | None = None
    stack: str = "new"
    """``new``: a preview of a stack with nothing deployed; ``deployed``: of the same config, deployed."""


@dataclass
class UpRow:
    groups: int
    resources: int
    operation: str
    settings: str
    run: Measured


@dataclass
class Machine:
    cores: int
    cpu_model: str
    load: list[tuple[str, float]]
    """(when, 1-minute load average)."""
    versions: Mapping[str, str]


@dataclass
class Results:
    machine: Machine
    previews: list[PreviewRow] = field(default_factory=list)
    ups: list[UpRow] = field(default_factory=list)
    users: tuple[str, bool] = ("", False)
    """How users run previews (the pull-request workflow's CLI version and whether it sets the lever)."""
    floor_problems: list[str] = field(default_factory=list)
    sizes: Sequence[int] = ()
    clis: Sequence[str] = ()
    skipped: Sequence[tuple[str, int, bool]] = ()
    """Preview cells left out on purpose (``--skip CLI:GROUPS:on|skipped``): (CLI, groups, lever)."""


def _s(measured: Measured | None) -> str:
    return f"{measured.seconds:7.1f} s" if measured else f"{MISSING:>9}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _lever(lever: bool) -> str:
    return "skipped (" + LEVER + ")" if lever else "on (default)"


def report_machine(machine: Machine) -> list[str]:
    lines = [f"machine: {machine.cores} cores ({machine.cpu_model}); load average (1 min): "
             + ", ".join(f"{load:.2f} {when}" for when, load in machine.load)]
    lines += [f"  {name:<16} {version}" for name, version in machine.versions.items()]
    return lines


def find(rows: Sequence[PreviewRow], cli: str, groups: int, lever: bool, stack: str = "new") -> PreviewRow | None:
    for row in rows:
        if (row.cli, row.groups, row.lever, row.stack) == (cli, groups, lever, stack):
            return row
    return None


def report_previews(results: Results) -> list[str]:
    lines = [
        "pulumi preview (wall time, best of the repeats; program and floor alternating, same CLI, providers,",
        "servers and settings; floor = the program's registrations replayed by a program with no logic)",
        f"  {'CLI':<8} {'stack':<8} {'groups':>6} {'resources':>9}  {'checkpoints':<38} {'program':>9} "
        f"{'floor':>9} {'program/floor':>13}",
    ]
    for row in results.previews:
        ratio = f"{row.program.seconds / row.floor.seconds:12.2f}x" if row.program and row.floor else f"{MISSING:>13}"
        lines.append(f"  {row.cli:<8} {row.stack:<8} {row.groups:>6} {row.resources:>9}  {_lever(row.lever):<38} "
                     f"{_s(row.program)} {_s(row.floor)} {ratio}")
    for cli, groups, lever in results.skipped:
        lines.append(f"  {cli:<8} {'new':<8} {groups:>6} {'':>9}  {_lever(lever):<38} not run (--skip)")
    for cli in results.clis:
        for lever in (False, True):
            small, large = find(results.previews, cli, GROWTH_FROM, lever), find(
                results.previews, cli, PREVIEW_GOAL_GROUPS, lever)
            if small and large and small.program and large.program and small.floor and large.floor:
                lines.append(f"  CLI {cli}, checkpoints {_lever(lever)}: {GROWTH_FROM} -> {PREVIEW_GOAL_GROUPS} "
                             f"groups: program x{large.program.seconds / small.program.seconds:.1f}, "
                             f"floor x{large.floor.seconds / small.floor.seconds:.1f}")
    return lines


def verdicts(results: Results) -> list[str]:
    """The acceptance lines: the preview as users run it (goal and growth) and the no-change up's writes."""
    cli, lever = results.users
    how = f"CLI {cli}, " + (LEVER if lever else "checkpoints on")
    lines = []
    large = find(results.previews, cli, PREVIEW_GOAL_GROUPS, lever)
    small = find(results.previews, cli, GROWTH_FROM, lever)
    if large and large.program:
        seconds = large.program.seconds
        lines.append(f"preview of {PREVIEW_GOAL_GROUPS} groups as users run it ({how}): {seconds:.1f} s "
                     f"(goal < {PREVIEW_GOAL_SECONDS:.0f} s: {_verdict(seconds < PREVIEW_GOAL_SECONDS)})")
        if small and small.program:
            growth = seconds / small.program.seconds
            lines.append(f"growth {GROWTH_FROM} -> {PREVIEW_GOAL_GROUPS} groups as users run it: x{growth:.1f} "
                         f"(goal <= {GROWTH_GOAL:.0f}x: {_verdict(growth <= GROWTH_GOAL)})")
    else:
        lines.append(f"preview of {PREVIEW_GOAL_GROUPS} groups as users run it ({how}): not measured")
    for row in results.ups:
        if row.operation == NO_CHANGE_UP and row.run.calls is not None:
            writes = row.run.calls.writes
            lines.append(f"no-change up at {row.groups} groups ({row.settings}): {writes} provider writes "
                         f"(goal 0: {_verdict(writes == 0)})")
    return lines


def _calls(log: GrpcLog | None) -> str:
    if log is None:
        return "(not logged)"
    parts = []
    for provider in sorted(log.providers):
        calls = log.providers[provider].calls
        shown = ", ".join(f"{method} {count}" for method, count in sorted(calls.items())
                          if method not in ("GetPluginInfo", "Handshake", "Cancel", "CheckConfig", "Configure"))
        parts.append(f"{provider}: {shown or 'none'}")
    return "; ".join(parts)


def report_ups(results: Results) -> list[str]:
    lines = [
        "pulumi up / destroy (checkpoints on; wall time; calls each provider received, counted from the",
        "PULUMI_DEBUG_GRPC log; writes = Create, Update and Delete calls outside a preview)",
        f"  {'groups':>6} {'resources':>9}  {'operation':<16} {'settings':<34} {'wall':>9} {'writes':>6}  calls",
    ]
    for row in results.ups:
        writes = str(row.run.calls.writes) if row.run.calls is not None else MISSING
        lines.append(f"  {row.groups:>6} {row.resources:>9}  {row.operation:<16} {row.settings:<34} "
                     f"{_s(row.run)} {writes:>6}  {_calls(row.run.calls)}")
    return lines


def _roles(cpu: Mapping[str, float]) -> list[str]:
    fixed = [ENGINE, *sorted(r for r in cpu if r.startswith("provider ")), LANGUAGE_HOST, PROGRAM, UNSAMPLED]
    return fixed + sorted(r for r in cpu if r not in fixed)


def report_time(results: Results) -> list[str]:
    """CPU seconds by process for each run, and the engine's phases where the CLI was profiled."""
    runs: list[tuple[str, Measured]] = []
    for row in results.previews:
        where = f"preview {row.cli} {row.stack} {row.groups:>4} groups, checkpoints {'skipped' if row.lever else 'on'}"
        runs += [(f"{where}: program", row.program)] if row.program else []
        runs += [(f"{where}: floor", row.floor)] if row.floor else []
    runs += [(f"{row.operation} {row.groups} groups ({row.settings})", row.run) for row in results.ups]
    lines = ["where the time goes: CPU seconds by process (sampled from /proc; the tree's total from the CLI's "
             "rusage), the servers' CPU over the same time (the API server's includes the e2e controllers' "
             "polling), and, where the CLI ran with --profiling, the engine's CPU by phase (go tool pprof)"]
    for label, run in runs:
        cpu = ", ".join(f"{role} {run.cpu[role]:.1f}" for role in _roles(run.cpu) if run.cpu.get(role, 0) >= 0.05)
        lines.append(f"  {label}: wall {run.seconds:.1f} s, CPU {run.cpu_total:.1f} s: {cpu}")
        if run.servers:
            lines.append("    servers' CPU meanwhile: " + ", ".join(f"{name} {seconds:.1f} s"
                                                                 for name, seconds in run.servers.items()))
        if run.engine:
            total = sum(run.engine.values())
            phases = ", ".join(f"{phase} {seconds:.1f} s ({seconds / total:.0%})"
                               for phase, seconds in sorted(run.engine.items(), key=lambda kv: -kv[1]))
            lines.append(f"    engine (profiled, {total:.1f} s CPU): {phases}")
        if run.calls is not None and run.calls.providers:
            waited = ", ".join(f"{name} {p.total_seconds:.1f} s" for name, p in sorted(run.calls.providers.items()))
            lines.append(f"    time the engine waited on each provider (sum over calls, which overlap): {waited}; "
                         f"program run {run.calls.program_seconds:.1f} s")
    return lines


def missing(results: Results) -> list[str]:
    """Cells of the preview table that were asked for and not measured."""
    gaps = []
    for cli in results.clis:
        for groups in results.sizes:
            for lever in (False, True):
                if (cli, groups, lever) in results.skipped:
                    continue
                row = find(results.previews, cli, groups, lever)
                for who in ("program", "floor"):
                    if row is None or getattr(row, who) is None:
                        gaps.append(f"preview CLI {cli} {groups} groups checkpoints {_lever(lever)}: no {who} time")
    return gaps


def failures(results: Results) -> list[str]:
    """What makes the benchmark fail: correctness and completeness, never time."""
    found = [f"floor: {problem}" for problem in results.floor_problems]
    for row in results.ups:
        if row.operation == NO_CHANGE_UP:
            if row.run.calls is None:
                found.append(f"no-change up at {row.groups} groups ({row.settings}): calls not logged")
            elif row.run.calls.writes:
                found.append(f"no-change up at {row.groups} groups ({row.settings}) made {row.run.calls.writes} "
                             f"provider writes: {_calls(row.run.calls)}")
    return found + missing(results)


def report(results: Results) -> list[str]:
    lines = report_machine(results.machine)
    for part in (report_previews(results), report_ups(results), report_time(results), verdicts(results)):
        lines += ["", *part]
    problems = failures(results)
    if problems:
        lines += ["", "FAILED:", *(f"  {p}" for p in problems)]
    return lines
