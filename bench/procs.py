"""CPU time of each process of one CLI run: the engine, each provider, the language host, the program.

``run_sampled(argv, ...)`` starts the CLI and, while it runs, samples the CPU
times (user + system, psutil) of it and of every process below it every
``interval`` seconds, keeping each process's latest figure. A process's CPU
after its last sample is missed (at most ``interval`` of it; providers and the
program are idle at the end). The whole tree's CPU is exact: it is the rusage
of the CLI, which waits for its plugins, from ``os.wait4``; what the samples
missed shows as ``unsampled``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ENGINE = "engine (CLI)"
PROGRAM = "program (Python)"
LANGUAGE_HOST = "language host"
UNSAMPLED = "unsampled"


def role(argv: Sequence[str], exe: str = "") -> str:
    """What a process is to a Pulumi run, from its command line (and executable)."""
    names = [Path(part).name for part in argv[:2]] or [Path(exe).name]
    first = names[0] if names else ""
    if first.startswith("pulumi-resource-"):
        return "provider " + first.removeprefix("pulumi-resource-")
    if first == "pulumi-language-python":
        return LANGUAGE_HOST
    if "pulumi-language-python-exec" in names:
        return PROGRAM
    if first.startswith("python"):
        return LANGUAGE_HOST  # the language host's own Python helpers (version and package checks)
    if first == "pulumi" or Path(exe).name == "pulumi":
        return ENGINE
    return "other " + first


@dataclass
class Sampled:
    """One CLI run: exit code, wall time, CPU seconds by role, and the tree's total CPU."""

    returncode: int
    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_total: float = 0.0


def _sample(root: psutil.Process, latest: dict[tuple[int, float], tuple[str, float]]) -> None:
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in processes:
        try:
            with process.oneshot():
                times = process.cpu_times()
                key = (process.pid, process.create_time())
                name = latest[key][0] if key in latest else role(process.cmdline(), process.exe())
        except psutil.Error:
            continue
        latest[key] = (name, times.user + times.system)


def stop(child: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """Stop the CLI we started and everything below it: SIGTERM (it cancels and stops its plugins), then SIGKILL."""
    try:
        below = psutil.Process(child.pid).children(recursive=True)
    except psutil.Error:
        below = []
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    for process in below:
        with contextlib.suppress(psutil.Error):
            process.kill()


def run_sampled(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdout: Path,
                interval: float = 0.2, timeout: float = 3600) -> Sampled:
    """Run ``argv`` (output to ``stdout``), sampling its process tree's CPU; the run's figures."""
    latest: dict[tuple[int, float], tuple[str, float]] = {}
    with stdout.open("w") as out:
        started = time.monotonic()
        child = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        root = psutil.Process(child.pid)
        done = threading.Event()

        def sampler() -> None:
            while not done.wait(interval):
                _sample(root, latest)

        _sample(root, latest)
        thread = threading.Thread(target=sampler, name="cpu-sampler", daemon=True)
        thread.start()
        try:
            deadline = started + timeout
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{argv[0]} ran longer than {timeout:.0f} s")
                time.sleep(0.02)
        except BaseException:  # a timeout, Ctrl-C or the supervisor's signal handler: stop what we started
            stop(child)
            raise
        finally:
            done.set()
            thread.join()
        seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu: defaultdict[str, float] = defaultdict(float)
    for name, used in latest.values():
        cpu[name] += used
    total = usage.ru_utime + usage.ru_stime
    cpu[UNSAMPLED] = max(0.0, total - sum(cpu.values()))
    return Sampled(child.returncode, seconds, dict(cpu), total)


def tree_cpu(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named server process and everything below it (0 for one that is gone)."""
    found = {}
    for name, pid in pids.items():
        total = 0.0
        try:
            root = psutil.Process(pid)
            for process in [root, *root.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                total += times.user + times.system
        except psutil.Error:
            pass
        found[name] = total
    return found

