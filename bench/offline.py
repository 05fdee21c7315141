"""``make bench``: the offline plan's cost against the Pulumi SDK floor, measured in one run.

The floor (``bench/floor.py``) registers the same resources with the same
inputs and options as the program, recorded from a run of the program, with
plain ``pulumi.CustomResource`` / ``ComponentResource`` through the same engine
stand-in: what the SDK itself costs. Everything here is preview mode.

1. Dev stack: the whole offline plan (run + render + validate + write), the
   program run alone (config loading, value building, registration) and the
   floor. Goal: plan / floor <= 1.3.
2. Research groups (``dossier:tenants``) at 1, 100 and 1000 generated groups:
   program and floor per group. Goals: at 1000 groups program / floor <= 1.25,
   and the program grows no faster from 100 to 1000 groups than the floor.

Each figure is the best of ``--repeats`` runs, program and floor interleaved,
with a garbage collection before each; both are warmed up first (imports,
schema caches), so the figures are steady-state costs. ``--profile N`` prints
where the program's time goes at N groups (cProfile). Nothing here asserts on
time: the printed ratios are for people.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pickle
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from bench.floor import run_floor
from offline import plan
from offline.engine import ROOT, RunResult, read_stack_config, run

PLAN_GOAL = 1.3
SCALE_GOAL = 1.25


def groups(count: int) -> list[dict[str, Any]]:
    """``count`` generated research groups for ``dossier:tenants``."""
    return [{"name": f"g{index:04d}", "namespaceQuota": 5} for index in range(count)]


def config_for(stack: str, group_count: int | None = None) -> dict[str, Any]:
    config = read_stack_config(stack)
    if group_count is not None:
        config["dossier:tenants"] = groups(group_count)
    return config


class Sample(NamedTuple):
    seconds: float
    gc_seconds: float
    """Of which in garbage collection (this process only)."""


class _GcClock:
    """Sums the pauses of the garbage collector while it is a ``gc.callbacks`` entry."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start


def timed(action: Callable[[], object]) -> Sample:
    gc.collect()
    clock = _GcClock()
    gc.callbacks.append(clock)
    try:
        start = time.perf_counter()
        action()
        return Sample(time.perf_counter() - start, clock.total)
    finally:
        gc.callbacks.remove(clock)


def interleaved(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, Sample]:
    """Best time of each action over ``repeats`` rounds, the actions alternating within a round."""
    samples: dict[str, list[Sample]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            samples[name].append(timed(action))
    return {name: min(values) for name, values in samples.items()}


def same_registrations(a: RunResult, b: RunResult) -> bool:
    """Whether two runs registered the same resources with the same inputs and options."""

    def key(result: RunResult) -> dict[str, Any]:
        return {
            r.urn: (r.type, r.custom, r.parent, r.inputs, r.protect, r.retain_on_delete,
                    sorted(set(r.dependencies)), sorted(r.additional_secret_outputs))
            for r in result.resources
        }

    return key(a) == key(b)


@dataclass
class DevBench:
    resources: int
    plan: float
    program: float
    floor: float


def bench_dev(stack: str, repeats: int, out: Path) -> DevBench:
    config = config_for(stack)
    recorded = run(config, stack=stack, preview=True)
    replayed = run_floor(recorded.resources, config, stack=stack)
    if not same_registrations(recorded, replayed):
        raise AssertionError("the floor did not register what the program registered")
    plan.plan(stack, out=out)  # warm the validators' schema caches
    best = interleaved(
        {
            "plan": lambda: plan.plan(stack, out=out),
            "program": lambda: run(config, stack=stack, preview=True),
            "floor": lambda: run_floor(recorded.resources, config, stack=stack),
        },
        repeats,
    )
    return DevBench(len(recorded.resources), best["plan"].seconds, best["program"].seconds, best["floor"].seconds)


SDK_PACKAGES = ("pulumi", "pulumi_kubernetes", "pulumi_keycloak", "pulumi_random")


def sdk_modules() -> list[str]:
    """The Pulumi SDK modules loaded in this process, in import order (after a run: the ones it uses).

    Import order matters: the SDK packages load their submodules lazily, and importing
    a submodule before its package has set up its lazy attributes breaks the lookups.
    """
    return [m for m in sys.modules if m.split(".")[0] in SDK_PACKAGES]


@dataclass
class ColdBench:
    plan: float
    floor: float


def bench_cold(stack: str, repeats: int, tmp: Path) -> ColdBench:
    """``python -m offline.plan`` against a floor process that imports the same SDK modules, each from cold."""
    config = config_for(stack)
    recorded = run(config, stack=stack, preview=True)
    recording = tmp / "recording.pickle"
    recording.write_bytes(pickle.dumps(
        {"registrations": recorded.resources, "config": config, "stack": stack, "modules": sdk_modules()}
    ))
    commands = {
        "plan": [sys.executable, "-m", "offline.plan", "--stack", stack, "--out", str(tmp / "build")],
        "floor": [sys.executable, "-m", "bench.floor", "--replay", str(recording)],
    }

    def launcher(command: list[str]) -> Callable[[], object]:
        return lambda: subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)

    best = interleaved({name: launcher(command) for name, command in commands.items()}, repeats)
    return ColdBench(best["plan"].seconds, best["floor"].seconds)


def report_cold(cold: ColdBench) -> list[str]:
    ratio = cold.plan / cold.floor
    return [
        "cold start (a fresh process each, as `make plan` runs), best of the repeats:",
        f"  python -m offline.plan --stack dev                   {cold.plan * 1000:8.1f} ms",
        f"  floor process (same SDK imports and registrations)  {cold.floor * 1000:8.1f} ms",
        f"  plan / floor    = {ratio:.2f}x  (goal <= {PLAN_GOAL}x: {_verdict(ratio <= PLAN_GOAL)})",
    ]


@dataclass
class ScaleRow:
    groups: int
    resources: int
    program: float
    floor: float
    program_gc: float = 0.0
    floor_gc: float = 0.0


def _program_and_floor(stack: str, config: dict[str, Any], recorded: RunResult) -> dict[str, Callable[[], object]]:
    return {
        "program": lambda: run(config, stack=stack, preview=True),
        "floor": lambda: run_floor(recorded.resources, config, stack=stack),
    }


def bench_scale(stack: str, sizes: Sequence[int], repeats: int) -> list[ScaleRow]:
    rows = []
    for size in sizes:
        config = config_for(stack, size)
        recorded = run(config, stack=stack, preview=True)
        run_floor(recorded.resources, config, stack=stack)
        best = interleaved(_program_and_floor(stack, config, recorded), repeats)
        program, floor = best["program"], best["floor"]
        rows.append(ScaleRow(size, len(recorded.resources), program.seconds, floor.seconds, program.gc_seconds,
                             floor.gc_seconds))
    return rows


def profile(stack: str, size: int, limit: int = 30) -> str:
    config = config_for(stack, size)
    run(config, stack=stack, preview=True)
    profiler = cProfile.Profile()
    profiler.enable()
    run(config, stack=stack, preview=True)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(limit)
    return text.getvalue()


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report_dev(dev: DevBench) -> list[str]:
    ratio = dev.plan / dev.floor
    return [
        f"dev stack ({dev.resources} resources), best of the repeats:",
        f"  whole offline plan (run + render + validate + write)  {dev.plan * 1000:8.1f} ms",
        f"  program run alone (config, values, registration)      {dev.program * 1000:8.1f} ms",
        f"  SDK floor (same registrations, no logic)              {dev.floor * 1000:8.1f} ms",
        f"  plan / floor    = {ratio:.2f}x  (goal <= {PLAN_GOAL}x: {_verdict(ratio <= PLAN_GOAL)})",
        f"  program / floor = {dev.program / dev.floor:.2f}x",
    ]


def report_scale(rows: Sequence[ScaleRow]) -> list[str]:
    lines = [
        "research groups (dossier:tenants), best of the repeats:",
        f"  {'groups':>6} {'resources':>9} {'program':>10} {'per group':>10} {'floor':>10} {'per group':>10} "
        f"{'program/floor':>13}  time in garbage collection (program, floor)",
    ]
    for row in rows:
        program, floor = row.program * 1000, row.floor * 1000
        lines.append(
            f"  {row.groups:>6} {row.resources:>9} {program:>8.1f}ms {program / row.groups:>8.2f}ms"
            f" {floor:>8.1f}ms {floor / row.groups:>8.2f}ms {program / floor:>12.2f}x"
            f"  {row.program_gc / row.program:.0%}, {row.floor_gc / row.floor:.0%}"
        )
    by_size = {row.groups: row for row in rows}
    if 100 in by_size and 1000 in by_size:
        small, large = by_size[100], by_size[1000]
        program_growth, floor_growth = large.program / small.program, large.floor / small.floor
        marginal = (large.program - small.program) / 900 * 1000
        floor_marginal = (large.floor - small.floor) / 900 * 1000
        ratio = large.program / large.floor
        lines += [
            f"  100 -> 1000 groups: program x{program_growth:.2f}, floor x{floor_growth:.2f}; "
            f"marginal cost per group: program {marginal:.2f} ms, floor {floor_marginal:.2f} ms",
            f"  at 1000 groups program / floor = {ratio:.2f}x (goal <= {SCALE_GOAL}x: {_verdict(ratio <= SCALE_GOAL)});"
            f" growth no worse than the floor's: {_verdict(program_growth <= floor_growth)}",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.offline", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--repeats", type=int, default=10, help="rounds per measurement (best is kept)")
    parser.add_argument("--cold-repeats", type=int, default=5, help="fresh-process rounds (0: skip)")
    parser.add_argument("--scale-repeats", type=int, default=3)
    parser.add_argument("--sizes", default="1,100,1000", help="research-group counts, comma-separated")
    parser.add_argument("--profile", type=int, metavar="GROUPS", help="also profile the program at GROUPS groups")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        dev = bench_dev(args.stack, args.repeats, Path(tmp))
        for line in report_dev(dev):
            print(line, flush=True)
        if args.cold_repeats:
            print(flush=True)
            for line in report_cold(bench_cold(args.stack, args.cold_repeats, Path(tmp))):
                print(line, flush=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:
        print(flush=True)
        for line in report_scale(bench_scale(args.stack, sizes, args.scale_repeats)):
            print(line, flush=True)
    if args.profile:
        print(f"\nprofile of the program at {args.profile} groups (cumulative):")
        print(profile(args.stack, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
