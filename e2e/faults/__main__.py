"""``python -m e2e.faults [--only CASE ...] [--list]``: every fault case on one server set (``make e2e-faults``)."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from e2e import checks
from e2e.faults import backup, destroy, drift, interrupted, recovery, restore, runbook, servers_down
from e2e.faults.rig import CaseFailedError, Rig
from e2e.servers import Supervisor, start_servers
from e2e.servers.supervisor import tail
from e2e.stack import Phase, toolchain


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Rig], str]


#: In order: each case starts from the stack the one before left (the first deploys it, the last destroys it).
CASES = (
    Case("api-server-down", servers_down.test_api_server_stopped_mid_up),
    Case("keycloak-down", servers_down.test_keycloak_stopped_mid_up),
    Case("drift", drift.test_drift_made_by_hand),
    Case("two-updates", interrupted.test_two_updates_at_once),
    Case("cli-sigkill", interrupted.test_cli_killed_mid_up),
    Case("cli-sigterm", interrupted.test_cli_terminated_mid_up),
    Case("empty-state-sidecar", interrupted.test_state_sidecar_left_empty),
    Case("runbook-postgresql-password", runbook.test_rotate_the_postgresql_password),
    Case("runbook-keycloak-secret", runbook.test_rotate_the_keycloak_client_secret),
    Case("runbook-research-group", runbook.test_add_and_retire_a_research_group),
    Case("runbook-postgresql-backup", backup.test_dump_lose_and_restore_the_database),
    Case("runbook-restore-lost-stack", restore.test_restore_a_lost_stack_from_its_export),
    Case("destroy-protected", destroy.test_protected_destroy_deletes_nothing),
    Case("destroy-finalizers", destroy.test_destroy_waits_on_finalizers_within_the_bound),
)


def _repair(rig: Rig) -> None:
    """After a failed case: the servers back, no lock or pending create, the stack deployed as configured."""
    rig.thaw_keycloak()
    rig.thaw_api_server()
    rig.restart_api_server()
    rig.controllers("all")
    try:
        recovery.after_kill(rig)
        recovery.converge(rig)
    except Exception as exc:  # the next case will say what is wrong
        print(f"    repair after the failure did not converge: {exc}", flush=True)


def _failure(rig: Rig, error: BaseException) -> str:
    logs = sorted(rig.logs.glob("*.log"), key=lambda p: p.stat().st_mtime)
    if logs:
        print(f"    last CLI log ({logs[-1].name}):\n" + "\n".join(
            f"      {line}" for line in tail(logs[-1], 40).splitlines()), flush=True)
    if not isinstance(error, CaseFailedError):
        traceback.print_exception(error, file=sys.stdout)
    return " ".join(str(error).split()) or type(error).__name__


def run(selected: list[Case]) -> int:
    started = time.monotonic()
    with Phase("toolchain"):
        tools = toolchain()
    with Supervisor("dossier-e2e-faults") as supervisor:
        with Phase("servers"):
            servers = start_servers(supervisor, nodes=checks.cluster_nodes())
        rig = Rig.create(supervisor, servers, tools)
        passed = failed = 0
        try:
            if selected and selected[0] is not CASES[0]:
                with Phase("deploy (the first case is not the one that deploys)"):
                    rig.up()
            print("\ncase | what the operator saw | result", flush=True)
            for case in selected:
                case_started = time.monotonic()
                try:
                    saw, ok = case.run(rig), True
                except Exception as error:  # every case runs; each failure is reported
                    saw, ok = _failure(rig, error), False
                    _repair(rig)
                passed, failed = passed + ok, failed + (not ok)
                # A case says "what the operator saw -> what recovered": the first part is the line's.
                saw, _, then = saw.partition(" -> ")
                print(f"{case.name} | {saw} | {'ok' if ok else 'FAIL'}", flush=True)
                print(f"    {'then: ' + then + ' ' if then else ''}({time.monotonic() - case_started:.1f} s)",
                      flush=True)
        finally:
            rig.close()
    print(f"\n{passed} passed, {failed} failed in {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.faults", description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="CASE", help="run these cases only (in the suite's order)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.list:
        for case in CASES:
            print(f"{case.name:30} {case.run.__module__}.{case.run.__name__}")
        return 0
    names = {case.name for case in CASES}
    unknown = sorted(set(args.only or []) - names)
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(c.name for c in CASES)}")
    return run([case for case in CASES if not args.only or case.name in args.only])


if __name__ == "__main__":
    sys.exit(main())
