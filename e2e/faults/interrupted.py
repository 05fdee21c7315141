"""The CLI killed or cancelled during an update, and two updates at once.

``test_cli_killed_mid_up``: research groups are added and, as soon as the
state shows the first new one created, the CLI and every process it started
are SIGKILLed (a CI job killed: its plugins die with it). The next ``pulumi up``
is refused by the dead run's lock; the documented recovery (``pulumi cancel``,
``pulumi refresh --clear-pending-creates``, the re-run of ``recovery.converge``)
must end with nothing created twice and nothing lost (``leftovers.late_tenant``
adds a Tenant made by another field manager when the kill left none, so that
the forced update runs every time).

``test_cli_terminated_mid_up``: the same with one SIGTERM to the CLI alone (a
CI job cancelled): the CLI cancels, and must leave no lock, no pending
operation and nothing the state does not hold; a plain ``pulumi up`` converges.

``test_state_sidecar_left_empty``: what a kill inside the ``file://`` backend's
metadata write leaves, made exact (met once in CI, among many kills): the
state's sidecar ``<stack>.json.attrs``, which the backend truncates and rewrites
in place, empty. Every command then fails with ``failed to load checkpoint:
EOF``; the documented recovery (its first line deletes empty sidecars) must
bring the stack back with nothing changed.

``test_two_updates_at_once``: a second ``pulumi up`` started while the first
holds the stack's lock is refused with the backend's message; the first
completes and created each new group once.
"""

from __future__ import annotations

import signal

from e2e.faults import leftovers, recovery
from e2e.faults.rig import CaseFailedError, Rig, last_error, squeeze
from e2e.faults.servers_down import created

GROUPS_ADDED = 12
LOCKED = "the stack is currently locked by 1 lock(s)"
EMPTY_SIDECAR = "failed to load checkpoint: EOF"


def test_cli_killed_mid_up(rig: Rig) -> str:
    added = [f"kill-{i:03d}" for i in range(GROUPS_ADDED)]
    rig.configure(groups=[*rig.groups, *added])
    run = rig.pulumi("up", "--yes", "--skip-preview")
    rig.wait_for_state("the first new group created", created("", prefix="research-kill-"), run)
    killed = run.kill_tree()
    again = rig.run("up", "--yes", "--skip-preview")
    # The lock's message, or (a kill inside the backend's sidecar write) the empty sidecar's.
    refused = [line for line in again.output.splitlines() if LOCKED in line or EMPTY_SIDECAR in line]
    if again.popen.returncode == 0 or not refused:
        raise CaseFailedError("`pulumi up` after the kill was not refused by the dead run's lock: "
                              f"{last_error(again.output)}")
    saw = squeeze(refused[0])
    steps, pending = recovery.after_kill(rig)
    if not pending:
        raise CaseFailedError("the killed update left no pending operation: the kill came too late to test anything")
    made = leftovers.late_tenant(rig, added)
    steps += recovery.converge(rig)
    if made:
        steps.append(f"(no Tenant was left this time: {made} made so)")
    rig.assert_converged()
    return f"SIGKILL to the CLI and its {len(killed) - 1} plugins; next `pulumi up`: {saw} -> " + "; ".join(steps)


def test_cli_terminated_mid_up(rig: Rig) -> str:
    added = [f"term-{i:03d}" for i in range(GROUPS_ADDED)]
    rig.configure(groups=[*rig.groups, *added])
    run = rig.pulumi("up", "--yes", "--skip-preview")
    rig.wait_for_state("the first new group created", created("", prefix="research-term-"), run)
    run.send(signal.SIGTERM)
    code = run.wait(120)
    output = run.output
    said = [line.strip() for line in output.splitlines() if "SIGTERM received" in line]
    if code == 0 or not said:
        raise CaseFailedError(f"SIGTERM: exit {code}, no cancel message (output in {run.log})")
    if "Traceback" in output:
        raise CaseFailedError(f"the cancelled update printed a Python traceback (output in {run.log})")
    if rig.locks():
        raise CaseFailedError(f"the cancelled update left its lock: {rig.locks()}")
    left = rig.differences()
    if left:
        raise CaseFailedError("the cancelled update left the state and the servers apart: " + "; ".join(left))
    rig.up()
    rig.assert_converged()
    return f"{squeeze(said[0])} (exit {code}); no lock, nothing pending, state = servers -> `pulumi up` converged"


def test_state_sidecar_left_empty(rig: Rig) -> str:
    sidecar = rig.state_file.with_name(rig.state_file.name + ".attrs")
    if not sidecar.is_file() or sidecar.stat().st_size == 0:
        raise CaseFailedError(f"the backend keeps no metadata sidecar {sidecar.name} beside the state: nothing to cut")
    sidecar.write_bytes(b"")  # truncated, as the backend's rewrite does before it writes
    seen = rig.run("preview")
    said = [line for line in seen.output.splitlines() if EMPTY_SIDECAR in line]
    if seen.popen.returncode == 0 or not said:
        raise CaseFailedError(f"`pulumi preview` with the state's sidecar empty: exit {seen.popen.returncode}, "
                              f"{last_error(seen.output)} (output in {seen.log})")
    steps, _ = recovery.after_kill(rig)
    if not steps[0].startswith("`find` removed") or sidecar.name not in steps[0]:
        raise CaseFailedError(f"the documented recovery did not remove the empty {sidecar.name}: {steps}")
    rig.assert_converged()
    return f"`pulumi preview`: {squeeze(said[0])} -> " + "; ".join(steps) + "; nothing to change"


def test_two_updates_at_once(rig: Rig) -> str:
    added = [f"lock-{i:02d}" for i in range(5)]
    rig.configure(groups=[*rig.groups, *added])
    first = rig.pulumi("up", "--yes", "--skip-preview")
    rig.wait_for_lock(first)
    second = rig.run("up", "--yes", "--skip-preview")
    first_code = first.wait()
    if second.popen.returncode == 0 or LOCKED not in second.output:
        raise CaseFailedError(f"the second `pulumi up` was not refused by the lock: {last_error(second.output)}")
    if first_code != 0:
        raise CaseFailedError(f"the first `pulumi up` failed: {last_error(first.output)}")
    rig.assert_converged()
    refused = next(line for line in second.output.splitlines() if LOCKED in line)
    return f"second `pulumi up`: {squeeze(refused)}; the first completed, each new group created once"

