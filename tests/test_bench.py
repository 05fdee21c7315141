"""The benchmark's SDK floor (bench/floor.py) and its report; no timing is asserted."""

from __future__ import annotations

from bench import offline as bench
from bench.floor import run_floor
from offline.engine import RunResult, run
from tests import stacks


def test_floor_registers_what_the_program_registered() -> None:
    config = stacks.config("dev")
    config["dossier:tenants"] = bench.groups(2)
    recorded = run(config, stack="dev", preview=True)
    replayed = run_floor(recorded.resources, config, stack="dev")
    assert len(replayed.resources) == len(recorded.resources) > 20
    assert bench.same_registrations(recorded, replayed)
    assert not replayed.outputs  # no logic: no exports


def test_floor_keeps_secrets_and_unknowns() -> None:
    config = stacks.config("dev")
    recorded = run(config, stack="dev", preview=True)
    replayed = run_floor(recorded.resources, config, stack="dev")
    release = replayed.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release")
    assert release.inputs == recorded.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs


def test_same_registrations_notices_a_difference() -> None:
    config = stacks.config("dev")
    a = run(config, stack="dev", preview=True)
    b = run(config, stack="dev", preview=True)
    assert bench.same_registrations(a, b)
    b.resources[0].inputs = {**b.resources[0].inputs, "extra": 1}
    assert not bench.same_registrations(a, b)
    assert not bench.same_registrations(a, RunResult("dev", True, b.resources[1:], {}))


def test_reports_print_ratios_and_verdicts() -> None:
    dev = "\n".join(bench.report_dev(bench.DevBench(resources=31, plan=0.05, program=0.04, floor=0.035)))
    assert "plan / floor    = 1.43x" in dev and "MISSED" in dev
    rows = [
        bench.ScaleRow(1, 33, 0.04, 0.03), bench.ScaleRow(100, 231, 0.3, 0.25), bench.ScaleRow(1000, 2031, 2.5, 2.4)
    ]
    scale = "\n".join(bench.report_scale(rows))
    assert "program / floor = 1.04x (goal <= 1.25x: met)" in scale
    assert "floor x9.60" in scale
    cold = "\n".join(bench.report_cold(bench.ColdBench(plan=1.0, floor=0.9)))
    assert "1.11x" in cold and "met" in cold
