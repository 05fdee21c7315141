"""``make bench-real``: the program under the real CLI, providers and servers, against its floor, in one table.

On the e2e toolchain (``make e2e-tools``) and servers (a local kube-apiserver and
Keycloak, ``e2e/servers``), with the program copied unmodified (``e2e/stack.py``):

1. ``pulumi preview`` of a new stack at each ``--sizes`` research-group count,
   for the program and for its floor (``bench/real_floor.py``: the program's
   registrations replayed by a program with no logic), alternating, each with
   checkpoints on (the CLI's default) and with ``PULUMI_SKIP_CHECKPOINTS=true``
   (the lever the pull-request workflow and ``make preview`` set), for each CLI
   of ``--clis`` (the toolchain's, and a bench-only build of another version).
   Before the timed runs, one untimed preview of each with the CLI's gRPC log
   checks that the engine received the same registrations from both.
2. At each ``--up-sizes`` count: ``pulumi up`` from empty, a no-change ``up``
   (which must make no Create, Update or Delete call: the run fails if it
   does), previews of the deployed stack, no-change ``up`` variants
   (``--parallel``, ``PULUMI_PARALLEL_DIFF``), and at ``--destroy-sizes``
   ``destroy`` and ``up`` from empty again with ``--parallel``, and ``destroy``
   (elsewhere the stack goes with the servers); each with the gRPC log (the calls
   each provider received), the default ones with ``--profiling`` (the engine's
   CPU by phase). Checkpoints stay on for every ``up`` and ``destroy``.

Every run records its wall time and the CPU of each process (engine,
providers, language host, program). The machine (cores, load, versions) is
printed with the table. Exit status: 0, or 1 when a correctness check failed
(a write in a no-change ``up``, a floor that registered something else, a
missing cell); never because of a time.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import grpc_log, pprof, procs, real_floor
from bench.real_report import NO_CHANGE_UP, Machine, Measured, PreviewRow, Results, UpRow, failures, report
from e2e import checks, tools
from e2e.servers import Servers, Supervisor, start_servers
from e2e.stack import ROOT, E2EStack, Toolchain, toolchain

BENCH_TOOLCHAIN = Path(__file__).resolve().parent / "toolchain"
WORKFLOW = ROOT / ".github" / "workflows" / "preview.yml"
LEVER_ENV = "PULUMI_SKIP_CHECKPOINTS"
#: Environment a run must not inherit from the caller's shell (each run sets what it measures).
CLEARED = (LEVER_ENV, "PULUMI_DEBUG_GRPC", "PULUMI_PARALLEL", "PULUMI_PARALLEL_DIFF")


class BenchError(Exception):
    """A command of the benchmark failed; the message names it and where its output is."""


@dataclass(frozen=True)
class Cli:
    label: str
    home: Path
    version: str

    @property
    def binary(self) -> Path:
        return self.home / "bin" / "pulumi"


def _cli_label(version_line: str) -> str:
    found = re.search(r"v(\d+\.\d+\.\d+)", version_line)
    return found.group(1) if found else version_line


def clis(names: Sequence[str], tools_: Toolchain) -> list[Cli]:
    """``pulumi`` (the e2e toolchain's CLI) and bench-only CLI pieces of ``bench/toolchain/`` by folder name."""
    found = []
    for name in names:
        if name == "pulumi":
            built = tools_.built["pulumi"]
        else:
            folder = BENCH_TOOLCHAIN / name
            if not (folder / "build").is_file():
                raise BenchError(f"no CLI piece {name!r} (known: pulumi, "
                                 f"{', '.join(p.name for p in sorted(BENCH_TOOLCHAIN.iterdir()))})")
            print(f"building {name} if not cached (bench/toolchain/{name})", flush=True)
            built = tools.ensure_piece(tools.Piece(name, folder))
        found.append(Cli(_cli_label(built.version), built.home, built.version))
    return found


def users_settings(workflow: Path = WORKFLOW) -> tuple[str, bool]:
    """The CLI version the pull-request workflow pins and whether its preview step sets the lever."""
    document = yaml.safe_load(workflow.read_text())
    for job in (document.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith("pulumi/actions@") and step.get("with", {}).get(
                    "command") == "preview":
                env = {**(job.get("env") or {}), **(step.get("env") or {})}
                lever = str(env.get(LEVER_ENV, "")).lower() == "true"
                return str(step["with"].get("pulumi-version", "unpinned")), lever
    return "unpinned", False


class Bench:
    """The servers, the stacks and the runs of one benchmark."""

    def __init__(self, supervisor: Supervisor, servers: Servers, tools_: Toolchain, out: Path) -> None:
        self.supervisor = supervisor
        self.servers = servers
        self.tools = tools_
        self.out = out
        self.count = 0
        assert servers.cluster and servers.keycloak
        self.server_pids = {"kube-apiserver": servers.cluster.apiserver.pid, "etcd": servers.cluster.etcd.pid,
                            "keycloak": servers.keycloak.process.pid}

    def stack(self, name: str, groups: int) -> tuple[E2EStack, dict[str, object], dict[str, str]]:
        stack = E2EStack(self.supervisor.path("stacks", name), self.tools, name="bench", echo=False)
        config, secrets = checks.stack_config(self.servers, groups=[f"g{i:04d}" for i in range(groups)],
                                              protect=False)
        stack.configure(config, secrets)
        return stack, config, secrets

    def run(self, stack: E2EStack, cli: Cli, args: Sequence[str], *, lever: bool = False, log: bool = False,
            profile: bool = False, env: Mapping[str, str] | None = None) -> Measured:
        """One CLI command on ``stack``; raises ``BenchError`` if it fails."""
        self.count += 1
        label = f"{self.count:03d}-{args[0]}"
        environment = {k: v for k, v in {**os.environ, **stack.env}.items() if k not in CLEARED}
        environment["PATH"] = os.pathsep.join([str(cli.home / "bin"), stack.env["PATH"]])
        environment.update(env or {})
        if lever:
            environment[LEVER_ENV] = "true"
        argv = [str(cli.binary), *args, "--stack", stack.name, "--non-interactive", "--color", "never"]
        log_file, prefix = self.out / f"{label}.grpc.jsonl", self.out / f"{label}.prof"
        if log:
            environment["PULUMI_DEBUG_GRPC"] = str(log_file)
        if profile:
            argv += ["--profiling", str(prefix)]
        output = self.out / f"{label}.out"
        before = procs.tree_cpu(self.server_pids)
        sampled = procs.run_sampled(argv, cwd=stack.project, env=environment, stdout=output)
        after = procs.tree_cpu(self.server_pids)
        if sampled.returncode != 0:
            tail = "".join(output.read_text(errors="replace").splitlines(keepends=True)[-30:])
            raise BenchError(f"`pulumi {' '.join(args)}` exited {sampled.returncode} (output: {output}):\n{tail}")
        return Measured(sampled.seconds, dict(sampled.cpu), sampled.cpu_total,
                        calls=grpc_log.read(log_file) if log else None,
                        engine=dict(pprof.engine_phases(prefix)) if profile else None,
                        servers={name: after[name] - before[name] for name in after})


def _load(results: Results, when: str) -> None:
    results.machine.load.append((when, os.getloadavg()[0]))


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def skip_cell(text: str) -> tuple[str, int, bool]:
    """``CLI:GROUPS:on|skipped`` (checkpoints on, or skipped with the lever) as (CLI, groups, lever)."""
    try:
        cli, groups, checkpoints = text.split(":")
        if checkpoints not in ("on", "skipped"):
            raise ValueError(checkpoints)
        return cli, int(groups), checkpoints == "skipped"
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CLI:GROUPS:on|skipped, e.g. 3.274.1:1000:on (got {text!r})") \
            from None


def previews(bench: Bench, results: Results, clis_: Sequence[Cli], sizes: Sequence[int], repeats: int,
             check_at: int | None) -> dict[int, E2EStack]:
    """The preview table; returns the program stacks by size (for the ``up`` part)."""
    stacks = {}
    for groups in sizes:
        program, config, secrets = bench.stack(f"program-{groups}", groups)
        floor, _, _ = bench.stack(f"floor-{groups}", groups)
        resources = real_floor.install(floor.project, config, secrets, floor.name)
        stacks[groups] = program
        if groups == check_at:
            print(f"checking the floor at {groups} groups (gRPC logs, untimed)", flush=True)
            a = bench.run(program, clis_[0], ["preview"], lever=True, log=True)
            b = bench.run(floor, clis_[0], ["preview"], lever=True, log=True)
            results.floor_problems += real_floor.same_registrations(a.calls or grpc_log.GrpcLog(),
                                                                    b.calls or grpc_log.GrpcLog())
        for cli in clis_:
            best: dict[tuple[bool, str], Measured] = {}
            levers = [lever for lever in (False, True) if (cli.label, groups, lever) not in results.skipped]
            for _ in range(repeats):
                for lever in levers:
                    for who, stack in (("program", program), ("floor", floor)):
                        measured = bench.run(stack, cli, ["preview"], lever=lever)
                        if (lever, who) not in best or measured.seconds < best[lever, who].seconds:
                            best[lever, who] = measured
            for lever in levers:
                row = PreviewRow(cli.label, groups, resources, lever, best[lever, "program"], best[lever, "floor"])
                results.previews.append(row)
                print(f"  preview CLI {cli.label} {groups} groups, checkpoints {'skipped' if lever else 'on'}: "
                      f"program {row.program.seconds if row.program else 0:.1f} s, "
                      f"floor {row.floor.seconds if row.floor else 0:.1f} s", flush=True)
        _load(results, f"after {groups} groups")
    return stacks


def ups(bench: Bench, results: Results, cli: Cli, stacks: dict[int, E2EStack], sizes: Sequence[int],
        parallel: Sequence[int], destroy_sizes: Sequence[int]) -> None:
    for groups in sizes:
        stack = stacks.get(groups) or bench.stack(f"program-{groups}", groups)[0]
        up_and_destroy(bench, results, cli, stack, groups, parallel, destroy=groups in destroy_sizes)
        _load(results, f"after up {groups} groups")


def up_and_destroy(bench: Bench, results: Results, cli: Cli, stack: E2EStack, groups: int,
                   parallel: Sequence[int], *, destroy: bool) -> None:
    """Up from empty, no-change ups, previews of the deployed stack; with ``destroy``, destroys and up again.

    Checkpoints stay on throughout.
    """
    up = ["up", "--yes", "--skip-preview"]
    resources = next((r.resources for r in results.previews if r.groups == groups), 0)

    def row(operation: str, settings: str, measured: Measured) -> None:
        results.ups.append(UpRow(groups, resources, operation, settings, measured))
        print(f"  {operation} {groups} groups ({settings}): {measured.seconds:.1f} s", flush=True)

    first = bench.run(stack, cli, up, log=True, profile=True)
    if not resources and first.calls:
        resources = sum(1 for key in first.calls.registrations if key[0] != "pulumi:pulumi:Stack")
    row("up from empty", "defaults", first)
    row(NO_CHANGE_UP, "defaults", bench.run(stack, cli, up, log=True, profile=True))
    for lever in (False, True):
        measured = bench.run(stack, cli, ["preview"], lever=lever)
        results.previews.append(PreviewRow(cli.label, groups, resources, lever, measured, None, stack="deployed"))
    row(NO_CHANGE_UP, "PULUMI_PARALLEL_DIFF=true",
        bench.run(stack, cli, up, log=True, env={"PULUMI_PARALLEL_DIFF": "true"}))
    for count in parallel:
        row(NO_CHANGE_UP, f"--parallel {count}", bench.run(stack, cli, [*up, "--parallel", str(count)], log=True))
    if not destroy:
        return
    gone = ["destroy", "--yes", "--skip-preview"]
    for count in parallel:  # the same from empty and back, with more operations at once
        row("destroy", f"--parallel {count}", bench.run(stack, cli, [*gone, "--parallel", str(count)], log=True))
        row("up from empty", f"--parallel {count}", bench.run(stack, cli, [*up, "--parallel", str(count)], log=True))
    row("destroy", "defaults", bench.run(stack, cli, gone, log=True, profile=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.real", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,100,1000", help="research-group counts of the preview table")
    parser.add_argument("--up-sizes", default="100,1000", help="research-group counts of the up/destroy table")
    parser.add_argument("--clis", default="pulumi,pulumi-3.260",
                        help="CLIs of the preview table: pulumi (the e2e toolchain's) and bench/toolchain/ pieces")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the timed previews (best is kept)")
    parser.add_argument("--parallel", default="32", help="--parallel values tried on a no-change up (and, at "
                        "--destroy-sizes, on destroy and up from empty)")
    parser.add_argument("--destroy-sizes", default="100",
                        help="up sizes at which destroy is measured (and up from empty again with --parallel); "
                             "elsewhere the stack is left to the servers, which are thrown away")
    parser.add_argument("--skip", type=skip_cell, action="append", default=[], metavar="CLI:GROUPS:on|skipped",
                        help="leave a preview cell out (shown as not run), e.g. 3.274.1:1000:on; repeatable")
    parser.add_argument("--check-floor-at", type=int, default=100,
                        help="groups at which the floor is checked against the program (gRPC logs)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    up_sizes = [int(s) for s in args.up_sizes.split(",") if s]
    parallel = [int(s) for s in args.parallel.split(",") if s]
    destroy_sizes = [int(s) for s in args.destroy_sizes.split(",") if s]
    tools_ = toolchain()
    clis_ = clis(args.clis.split(","), tools_)
    versions = {**{f"CLI {c.label}": c.version for c in clis_},
                **{name: built.version for name, built in tools_.built.items()
                   if name in ("kubernetes", "keycloak", "random", "language-python", "kube-control-plane",
                               "keycloak-server")}}
    results = Results(Machine(os.cpu_count() or 0, _cpu_model(), [], versions), users=users_settings(),
                      sizes=sizes, clis=[c.label for c in clis_], skipped=list(args.skip))
    check_at = args.check_floor_at if args.check_floor_at in sizes else (sizes[0] if sizes else None)
    started = time.monotonic()
    with ExitStack() as context:
        supervisor = context.enter_context(Supervisor("dossier-bench"))
        _load(results, "at start")
        servers = start_servers(supervisor, which=("cluster", "keycloak"), nodes=checks.cluster_nodes())
        assert servers.cluster
        bench = Bench(supervisor, servers, tools_, supervisor.path("runs"))
        try:
            stacks = previews(bench, results, clis_, sizes, args.repeats, check_at)
            ups(bench, results, clis_[0], stacks, up_sizes, parallel, destroy_sizes)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        _load(results, "at end")
    print(f"\nmake bench-real: {time.monotonic() - started:.0f} s\n")
    for line in report(results):
        print(line)
    return 1 if failures(results) else 0


if __name__ == "__main__":
    sys.exit(main())
