"""``make bench-real`` runs under the real CLI and servers, and prints a complete table (no time is asserted).

The full benchmark takes about 30 minutes (docs/benchmarks.md); here it runs
at one research group, with the CLI of the e2e toolchain, every part switched
on (the floor check, previews with and without checkpoints, ``up`` from empty,
no-change ``up`` with each setting, ``destroy`` and ``up`` again with
``--parallel``). It must exit 0, fill every cell of both tables, count the
provider calls of every ``up``/``destroy``, profile the engine, and find no
write in a no-change ``up``. Its numbers are not checked: they are the
benchmark's to report, not a test's to assert.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from e2e import checks
from e2e.stack import ROOT

pytestmark = pytest.mark.e2e
ARGS = ["--sizes", "1", "--up-sizes", "1", "--destroy-sizes", "1", "--check-floor-at", "1", "--clis", "pulumi"]
SECONDS = r"\d+\.\d s"
#: The program's resources at one group: one NodePatch per node of the e2e cluster (e2e/checks.py), the rest fixed.
RESOURCES = 31 + len(checks.NODES["core"] + checks.NODES["user"])


@pytest.fixture(scope="module")
def output() -> str:
    done = subprocess.run([sys.executable, "-m", "bench.real", *ARGS], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_preview_table_has_the_program_and_its_floor_with_and_without_checkpoints(output: str) -> None:
    for checkpoints in (r"on \(default\)", r"skipped \(PULUMI_SKIP_CHECKPOINTS=true\)"):
        assert re.search(rf"^  3\.274\.1 +new +1 +{RESOURCES} +{checkpoints} +{SECONDS} +{SECONDS} +\d+\.\d\dx$",
                         output, re.M), output
        assert re.search(rf"^  3\.274\.1 +deployed +1 +{RESOURCES} +{checkpoints} +{SECONDS} +—", output, re.M), output


def test_every_up_and_destroy_is_timed_and_its_calls_counted(output: str) -> None:
    rows = re.findall(rf"^ +1 +{RESOURCES}  (up from empty|up, no change|destroy) +(\S.*?) +{SECONDS} +(\d+)  (.*)$",
                      output, re.M)
    assert sorted((operation, settings.strip()) for operation, settings, _, _ in rows) == sorted([
        ("up from empty", "defaults"), ("up, no change", "defaults"),
        ("up, no change", "PULUMI_PARALLEL_DIFF=true"), ("up, no change", "--parallel 32"),
        ("destroy", "--parallel 32"), ("up from empty", "--parallel 32"), ("destroy", "defaults"),
    ]), output
    for operation, _, writes, calls in rows:
        assert {"keycloak:", "kubernetes:", "random:"} <= set(calls.split()), calls
        if operation == "up, no change":
            assert writes == "0" and "Create" not in calls and "Delete" not in calls, calls
        else:
            assert int(writes) > 0, calls


def test_where_the_time_goes_and_the_verdicts_are_there(output: str) -> None:
    assert re.search(r"engine \(profiled, \d+\.\d s CPU\): snapshot persistence", output), output
    assert "time the engine waited on each provider" in output
    assert "servers' CPU meanwhile: kube-apiserver" in output
    assert output.count("provider writes (goal 0: met)") == 3, output
    assert "machine: " in output and "load average" in output
