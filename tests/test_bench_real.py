"""``make bench-real``'s parts that need no CLI: the gRPC-log counter, the floor, the report and its verdicts.

The benchmark itself needs the real toolchain and servers; here its report is
fed given numbers and its counters fabricated logs. No timing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bench import grpc_log, pprof, procs, real_floor
from bench import offline as offline_bench
from bench.real import users_settings
from bench.real_report import NO_CHANGE_UP, Machine, Measured, PreviewRow, Results, UpRow, failures, report
from offline.engine import ROOT, run
from tests import stacks


def _line(method: str, progress: str, metadata: dict[str, str] | None = None, request: dict[str, object] | None = None,
          duration_ns: int = 0) -> str:
    entry: dict[str, object] = {"method": method, "progress": progress, "timestamp": "2026-01-01T00:00:00Z"}
    if metadata is not None:
        entry["metadata"] = metadata
    if request is not None:
        entry["request"] = request
    if duration_ns:
        entry["duration"] = duration_ns
    return json.dumps(entry)


def _provider_call(provider: str, method: str, preview: bool | None = None, ms: int = 10) -> list[str]:
    request: dict[str, object] = {"urn": "urn:pulumi:s::p::t::n"}
    if preview is not None:
        request["preview"] = preview
    metadata = {"mode": "client", "kind": "resource", "name": provider}
    name = f"/pulumirpc.ResourceProvider/{method}"
    return [_line(name, "request_started", metadata, request),
            _line(name, "response_completed", metadata, request, duration_ns=ms * 1_000_000)]


def fabricated_log() -> list[str]:
    lines = [
        *_provider_call("kubernetes", "Check"), *_provider_call("kubernetes", "Check"),
        *_provider_call("kubernetes", "Create", preview=True), *_provider_call("kubernetes", "Create", ms=250),
        *_provider_call("keycloak", "Update", preview=False), *_provider_call("keycloak", "Delete"),
        *_provider_call("keycloak", "Diff"), *_provider_call("random", "Delete", preview=True),
        # A language-host call and a registration, and a stray line without progress (a stream message).
        _line("/pulumirpc.LanguageRuntime/Run", "response_completed", {"mode": "client", "kind": "language"},
              {}, duration_ns=3_500_000_000),
        _line("/pulumirpc.ResourceMonitor/RegisterResource", "response_completed", {"mode": "server"},
              {"type": "random:index/randomPassword:RandomPassword", "name": "pw", "parent": "urn:stack",
               "object": {"length": 32}, "sourcePosition": {"line": 3}, "stackTrace": {"frames": []}}),
        _line("/pulumirpc.ResourceProvider/Create", "", {"kind": "resource", "name": "kubernetes"}, {}),
        "",
    ]
    return lines


def test_grpc_counter_counts_each_call_once_and_tells_writes_from_preview_calls() -> None:
    log = grpc_log.count(fabricated_log())
    assert dict(log.providers["kubernetes"].calls) == {"Check": 2, "Create (preview)": 1, "Create": 1}
    assert dict(log.providers["keycloak"].calls) == {"Update": 1, "Delete": 1, "Diff": 1}
    assert dict(log.providers["random"].calls) == {"Delete (preview)": 1}
    assert (log.providers["kubernetes"].writes, log.providers["keycloak"].writes, log.providers["random"].writes) \
        == (1, 2, 0)
    assert log.writes == 3
    assert log.calls("kubernetes", "Check") == 2 and log.calls("helm", "Check") == 0
    assert log.providers["kubernetes"].seconds["Create"] == pytest.approx(0.25)
    assert log.program_seconds == pytest.approx(3.5)
    (key,) = log.registrations
    assert key == ("random:index/randomPassword:RandomPassword", "pw", "urn:stack")
    assert log.registrations[key] == {"type": key[0], "name": "pw", "parent": "urn:stack", "object": {"length": 32}}


def test_grpc_counter_reads_a_file_and_a_missing_file_is_no_calls(tmp_path: Path) -> None:
    path = tmp_path / "grpc.jsonl"
    path.write_text("\n".join(fabricated_log()))
    assert grpc_log.read(path).writes == 3
    assert grpc_log.read(tmp_path / "none.jsonl").providers == {}


def test_same_registrations_names_what_differs() -> None:
    program = grpc_log.count(fabricated_log())
    floor = grpc_log.count(fabricated_log())
    assert real_floor.same_registrations(program, floor) == []
    key = next(iter(floor.registrations))
    floor.registrations[key] = {**floor.registrations[key], "object": {"length": 16}, "dependencies": ["a"]}
    problems = real_floor.same_registrations(program, floor)
    assert any("object differs" in p and "16" in p for p in problems)
    assert any("dependencies differs" in p for p in problems)
    del floor.registrations[key]
    assert real_floor.same_registrations(program, floor) == [
        "random:index/randomPassword:RandomPassword pw: registered by the program only"]


def test_the_real_floor_program_registers_what_the_program_registered(tmp_path: Path) -> None:
    """The floor program (run here on the offline engine) replays the recording exactly."""
    config = stacks.config("dev")
    config["dossier:tenants"] = offline_bench.groups(3)
    recorded = run(config, stack="dev", preview=True)
    recording = real_floor.recording(config, "dev", ROOT / "__main__.py")
    assert len(recording["resources"]) == len(recorded.resources) > 30
    assert "pulumi_kubernetes" in recording["modules"] and "pulumi.runtime.mocks" not in recording["modules"]
    (tmp_path / real_floor.RECORDING).write_text(json.dumps(recording))
    shutil.copy2(real_floor.PROGRAM, tmp_path / "__main__.py")
    replayed = run(config, stack="dev", preview=True, program=tmp_path / "__main__.py")
    assert offline_bench.same_registrations(recorded, replayed)
    assert not replayed.outputs


def test_encode_tags_secrets_unknowns_and_references() -> None:
    from offline.engine import UNKNOWN, ResourceRef, Secret

    value = {"a": [Secret("s"), UNKNOWN, ResourceRef("urn:x")], "b": Secret(UNKNOWN), "c": 1}
    assert real_floor.encode(value) == {
        "a": [{"__floor__": "secret", "value": "s"}, {"__floor__": "unknown"}, {"__floor__": "ref", "urn": "urn:x"}],
        "b": {"__floor__": "secret", "value": {"__floor__": "unknown"}},
        "c": 1,
    }


TRACES = """File: pulumi
Type: cpu
Duration: 10s, Total samples = 6s (60.00%)
-----------+-------------------------------------------------------
     3.50s   encoding/json.(*encodeState).marshal
             github.com/pulumi/pulumi/pkg/v3/resource/stack.SerializeDeployment
             github.com/pulumi/pulumi/pkg/v3/backend.(*SnapshotManager).saveSnapshot
-----------+-------------------------------------------------------
     1.20s   runtime.scanobject
             runtime.gcDrain
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
     500ms   google.golang.org/grpc.(*ClientConn).Invoke
             github.com/pulumi/pulumi/pkg/v3/resource/plugin.(*provider).Check
-----------+-------------------------------------------------------
     300ms   syscall.Syscall
-----------+-------------------------------------------------------
"""


def test_engine_phases_put_each_sampled_stack_in_one_phase() -> None:
    found = pprof.phases(TRACES)
    assert found == pytest.approx({"snapshot persistence": 3.5, "garbage collection": 1.2,
                                   "gRPC with providers and the program": 0.5, "other": 0.3})


def test_process_roles() -> None:
    assert procs.role(["/x/bin/pulumi", "preview"]) == procs.ENGINE
    assert procs.role(["/c/pulumi-resource-kubernetes", "127.0.0.1:1"]) == "provider kubernetes"
    assert procs.role(["/c/pulumi-language-python", "-root", "."]) == procs.LANGUAGE_HOST
    assert procs.role(["python3", "/c/pulumi-language-python-exec", "--monitor"]) == procs.PROGRAM
    assert procs.role(["/v/bin/python3", "-c", "import sys"]) == procs.LANGUAGE_HOST


def _measured(seconds: float, writes: int = 0) -> Measured:
    log = grpc_log.GrpcLog()
    if writes:
        log.providers["keycloak"] = grpc_log.ProviderCalls()
        log.providers["keycloak"].calls["Update"] = writes
    return Measured(seconds, {procs.ENGINE: seconds / 2}, seconds, calls=log)


def results(seconds_at_1000: float = 25.0, writes: int = 0) -> Results:
    rows = []
    for cli in ("3.274.1", "3.260.0"):
        for groups, resources in ((1, 35), (100, 233), (1000, 2033)):
            for lever in (False, True):
                program = {1: 3.0, 100: 5.0, 1000: seconds_at_1000 if lever else 290.0}[groups]
                rows.append(PreviewRow(cli, groups, resources, lever, Measured(program), Measured(program * 0.9)))
    ups = [UpRow(100, 233, "up from empty", "defaults", _measured(16.0, writes=233)),
           UpRow(100, 233, NO_CHANGE_UP, "defaults", _measured(4.0, writes=writes))]
    machine = Machine(2, "test CPU", [("at start", 0.8)], {"CLI 3.274.1": "pulumi CLI v3.274.1"})
    return Results(machine, rows, ups, users=("3.274.1", True), sizes=[1, 100, 1000], clis=["3.274.1", "3.260.0"])


def test_report_has_every_cell_and_the_verdicts_met() -> None:
    given = results()
    text = "\n".join(report(given))
    assert failures(given) == []
    for cli in ("3.274.1", "3.260.0"):
        for groups in (1, 100, 1000):
            assert f"  {cli:<8} new      {groups:>6}" in text
    assert text.count("skipped (PULUMI_SKIP_CHECKPOINTS=true)") >= 6
    assert "preview of 1000 groups as users run it (CLI 3.274.1, PULUMI_SKIP_CHECKPOINTS=true): 25.0 s " \
           "(goal < 40 s: met)" in text
    assert "growth 100 -> 1000 groups as users run it: x5.0 (goal <= 10x: met)" in text
    assert "no-change up at 100 groups (defaults): 0 provider writes (goal 0: met)" in text
    assert "machine: 2 cores (test CPU); load average (1 min): 0.80 at start" in text
    assert "FAILED" not in text


def test_report_verdicts_missed_and_a_write_in_a_no_change_up_fails() -> None:
    given = results(seconds_at_1000=55.0, writes=2)
    text = "\n".join(report(given))
    assert "(goal < 40 s: MISSED)" in text
    assert "x11.0 (goal <= 10x: MISSED)" in text
    assert "no-change up at 100 groups (defaults): 2 provider writes (goal 0: MISSED)" in text
    # Time never fails the benchmark; the write does.
    assert failures(given) == ["no-change up at 100 groups (defaults) made 2 provider writes: keycloak: Update 2"]


def test_a_missing_cell_fails_the_benchmark() -> None:
    given = results()
    given.previews = [r for r in given.previews if not (r.cli == "3.260.0" and r.groups == 100 and r.lever)]
    assert failures(given) == [
        "preview CLI 3.260.0 100 groups checkpoints skipped (PULUMI_SKIP_CHECKPOINTS=true): no program time",
        "preview CLI 3.260.0 100 groups checkpoints skipped (PULUMI_SKIP_CHECKPOINTS=true): no floor time",
    ]
    assert "FAILED:" in report(given)


def test_users_settings_are_read_from_the_pull_request_workflow(tmp_path: Path) -> None:
    assert users_settings() == ("3.274.1", True)
    workflow = tmp_path / "preview.yml"
    workflow.write_text("jobs:\n  p:\n    steps:\n      - uses: pulumi/actions@abc\n        with:\n"
                        "          command: preview\n")
    assert users_settings(workflow) == ("unpinned", False)


def _make_n(*args: str) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    done = subprocess.run([make, "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout


def test_make_preview_skips_checkpoints_and_make_bench_real_runs_the_benchmark() -> None:
    preview = _make_n("preview", "STACK=prod", "PULUMI=pulumi")
    assert "PULUMI_SKIP_CHECKPOINTS=true pulumi preview --stack prod" in preview
    assert "-m bench.real" in _make_n("bench-real", "BENCH_ARGS=--sizes 1")
    assert "-m bench.offline --stack dev" in _make_n("bench")


def test_a_cell_skipped_on_purpose_is_shown_and_not_a_failure() -> None:
    from bench.real import skip_cell

    given = results()
    given.skipped = [skip_cell("3.274.1:1000:on")]
    given.previews = [r for r in given.previews if not (r.cli == "3.274.1" and r.groups == 1000 and not r.lever)]
    assert failures(given) == []
    assert "  3.274.1  new        1000            on (default)                           not run (--skip)" \
        in report(given)
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected CLI:GROUPS:on\|skipped.*got '3.274.1:1000:off'"):
        skip_cell("3.274.1:1000:off")
