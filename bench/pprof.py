"""Where the engine's CPU goes, from the CLI's ``--profiling PREFIX`` CPU profile (``PREFIX.<pid>.cpu``).

``go tool pprof -traces FILE`` prints every sampled stack with its CPU time;
``phases`` puts each stack in the first phase (``PHASES``, in order) one of
whose frames matches, so a stack is counted once: snapshot persistence (the
snapshot manager serialising the whole state after each step, even where the
persister throws it away, as in a preview on CLI 3.274), the gRPC traffic with
the providers and the program, step generation and execution, the display, the
passphrase secrets provider's key derivation, Go's garbage collector, and the
rest; the gRPC debug log, where it is on, is counted apart (it is the
measurement, not the work).
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

#: (phase, pattern of a frame's function name); the first phase with a matching frame takes the sample.
PHASES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gRPC debug log (PULUMI_DEBUG_GRPC: the measurement itself)", re.compile(r"/rpcdebug\.")),
    ("snapshot persistence", re.compile(r"backend\.\(\*SnapshotManager\)|backend\.\(\*snapshot\w*\)|"
                                        r"\bsaveSnapshot\b|stack\.SerializeDeployment|backend\.\(\*Journal")),
    ("display", re.compile(r"/display\.|pkg/v3/display|backend/display")),
    ("gRPC with providers and the program", re.compile(r"google\.golang\.org/grpc|plugin\.\(\*provider\)|"
                                                      r"deploy\.\(\*resmon\)|MarshalProperties|UnmarshalProperties")),
    ("step generation and execution", re.compile(r"deploy\.\(\*step|deploy\.\(\*deploymentExecutor\)|"
                                                 r"deploy\.\(\*\w*Step\)")),
    ("passphrase key derivation (once per run)", re.compile(r"pbkdf2|secrets/passphrase")),
    ("garbage collection", re.compile(r"runtime\.gcBgMarkWorker|runtime\.gcAssist|runtime\.bgsweep|"
                                      r"runtime\.bgscavenge|runtime\.gcDrain")),
)
OTHER = "other"
_DIVIDER = re.compile(r"^-+\+-+$")
_FIRST = re.compile(r"^\s*([\d.]+)(ns|us|µs|ms|s|m|h)\s+(\S.*)$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def stacks(traces: str) -> Iterable[tuple[float, list[str]]]:
    """(CPU seconds, frames leaf first) of every stack in ``go tool pprof -traces`` output."""
    block: list[str] = []
    for line in [*traces.splitlines(), "-----------+-----"]:
        if _DIVIDER.match(line.strip()):
            if block:
                first = _FIRST.match(block[0])
                if first:
                    value, unit, leaf = first.groups()
                    yield float(value) * _UNITS[unit], [leaf.strip()] + [b.strip() for b in block[1:] if b.strip()]
            block = []
        elif block or _FIRST.match(line):
            block.append(line)


def phases(traces: str) -> dict[str, float]:
    """CPU seconds by phase."""
    found: defaultdict[str, float] = defaultdict(float)
    for seconds, frames in stacks(traces):
        for phase, pattern in PHASES:
            if any(pattern.search(frame) for frame in frames):
                found[phase] += seconds
                break
        else:
            found[OTHER] += seconds
    return dict(found)


def cpu_profile(prefix: Path) -> Path | None:
    """The CPU profile the CLI wrote for ``--profiling prefix`` (one process: ``prefix.<pid>.cpu``)."""
    found = sorted(prefix.parent.glob(prefix.name + ".*.cpu"))
    return found[-1] if found else None


def engine_phases(prefix: Path) -> dict[str, float]:
    """CPU seconds by phase of the CLI run profiled with ``--profiling prefix`` (empty if no profile)."""
    profile = cpu_profile(prefix)
    if profile is None:
        return {}
    traces = subprocess.run(["go", "tool", "pprof", "-traces", str(profile)], capture_output=True, text=True,
                            check=True, timeout=600).stdout
    return phases(traces)
