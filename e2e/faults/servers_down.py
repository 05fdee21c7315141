"""The API server, then Keycloak, stopped in the middle of ``pulumi up``.

``test_api_server_stopped_mid_up`` runs first, on an empty stack: the stack's
first ``pulumi up`` and two re-runs, each stopped once the state file shows a
given resource created (the Namespace; the PostgreSQL Secret; the PostgreSQL
release). Then kube-apiserver is frozen (SIGSTOP) until the state shows a
Kubernetes operation in flight, which it will never answer (or the update fails
first, in a provider's checks), and killed (SIGKILL): Namespaces, Secrets,
Tenants and both Helm releases are met half-made.
Each time the update must fail naming the API server's URL, with no Python
traceback; with the API server back, the documented re-run converges.

``test_keycloak_stopped_mid_up`` adds research groups and freezes Keycloak
(SIGSTOP) as soon as the state shows the first new client role created; the
update must fail naming a Keycloak resource and Keycloak's URL, with no
traceback; thawed, the documented re-run converges, importing each role Keycloak
made after the provider had given up on it (``leftovers.late_role`` makes one
when Keycloak finished none, so that the import runs every time).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from e2e.faults import leftovers, recovery
from e2e.faults.rig import BASE_GROUPS, CaseFailedError, CliRun, Rig, diagnostics, squeeze

GROUPS_ADDED = 20
#: The request in a provider's error: method, URL without its query, and what went wrong.
REQUEST = re.compile(r'\b(Get|Post|Put|Patch|Delete) "(https?://[^"?]+)[^"]*": (.+?)(?: - error from a previous|$)')
Test = Callable[[dict[str, Any]], bool]


def created(suffix: str, prefix: str = "") -> Test:
    """The state holds a resource whose name starts with ``prefix`` and whose URN ends in ``suffix``."""
    def test(snapshot: dict[str, Any]) -> bool:
        names = (r.get("urn", "").rsplit("::", 1)[-1] for r in snapshot.get("resources") or [])
        return any(name.startswith(prefix) and name.endswith(suffix) for name in names)
    return test


def _failed_naming(run: CliRun, url: str, what: str) -> str:
    """The diagnostic that names ``url``; ``CaseFailedError`` unless the run failed that way, without a traceback."""
    code = run.wait()
    output = run.output
    if code == 0:
        raise CaseFailedError(f"`pulumi up` succeeded although {what} was stopped during it (injected too late?)")
    if "Traceback" in output or "KeyboardInterrupt" in output:
        raise CaseFailedError(f"the operator got a Python traceback (output in {run.log})")
    for header, error in diagnostics(output):
        if url in error:
            call = REQUEST.search(error)
            return squeeze(f"{header}: {call[1]} \"{call[2]}\": {call[3]}" if call else f"{header}: {error}", 200)
    raise CaseFailedError(f"no error names {what} ({url}): {[h for h, _ in diagnostics(output)]} (output in {run.log})")


def recorded(name: str, not_yet: str | None = None) -> Test:
    """The state holds the resource ``name`` (logical name) and, if given, not yet ``not_yet``."""
    def test(snapshot: dict[str, Any]) -> bool:
        names = {r.get("urn", "").rsplit("::", 1)[-1] for r in snapshot.get("resources") or []}
        return name in names and (not_yet is None or not_yet not in names)
    return test


def _until_in_flight(rig: Rig, run: CliRun, limit: float = 120.0) -> list[str]:
    """While the API server is frozen: the Kubernetes operations in flight once there are some.

    Also returns (with none) when the update fails first: a provider may give up during its checks,
    before any operation starts (the kubernetes provider's OpenAPI fetch: a TLS handshake timeout).
    """
    started = time.monotonic()
    while run.alive() and time.monotonic() - started < limit:
        snapshot = rig.checkpoint()
        flying = _in_flight(snapshot) if snapshot else []
        if flying:
            return flying
        time.sleep(0.05)
    if run.alive():
        raise CaseFailedError(f"no Kubernetes operation in flight {limit:.0f} s after the API server was frozen")
    return []


def _in_flight(snapshot: dict[str, Any]) -> list[str]:
    """``Kind name`` of each Kubernetes operation in flight."""
    found = []
    for op in snapshot.get("pending_operations") or []:
        resource = op.get("resource") or {}
        if str(resource.get("type", "")).startswith("kubernetes:"):
            found.append(f"{resource['type'].rsplit(':', 1)[-1]} {resource.get('urn', '').rsplit('::', 1)[-1]}")
    return found


#: When to stop the API server in each round: once the state holds the first resource (and not yet the
#: second); then it is frozen until a Kubernetes operation is in flight (so that one surely is), and killed.
ROUNDS = (("namespace", "postgresql-secret"), ("postgresql-secret", "postgresql-release"),
          ("postgresql-release", "jupyterhub-release"))


def test_api_server_stopped_mid_up(rig: Rig) -> str:
    assert rig.servers.cluster
    url = rig.servers.cluster.url.removeprefix("https://")
    seen, flying = [], []
    for number, (after, before) in enumerate(ROUNDS):
        # The first round is the stack's first `pulumi up`; the next ones re-run it, forcing over what a
        # killed round's create left (recovery.py), so that each gets as far as its round.
        extra, env = (("--continue-on-error",), recovery.FORCE) if number else ((), None)
        run = rig.pulumi("up", "--yes", "--skip-preview", *extra, env=env)
        rig.wait_for_state(f"{after} created", recorded(after, before), run)
        rig.freeze_api_server()
        try:
            flying += _until_in_flight(rig, run)
        finally:
            rig.kill_api_server()
        try:
            seen.append(_failed_naming(run, url, "the API server"))
        finally:
            rig.restart_api_server()
    steps = recovery.converge(rig)
    rig.assert_converged()
    kinds = sorted({f.split()[0] for f in flying})
    return (f"{seen[0]} (3 kills; in flight: {', '.join(kinds) or 'nothing yet'}) -> API server back: "
            f"{'; '.join(steps)}")


def test_keycloak_stopped_mid_up(rig: Rig) -> str:
    assert rig.servers.keycloak
    added = [f"kc-{i:03d}" for i in range(GROUPS_ADDED)]
    rig.configure(groups=[*BASE_GROUPS, *added])
    run = rig.pulumi("up", "--yes", "--skip-preview")
    rig.wait_for_state("the first new client role created", created("-role", prefix="research-kc-"), run)
    with rig.keycloak_frozen():
        saw = _failed_naming(run, rig.servers.keycloak.url, "Keycloak")
    if not saw.startswith("keycloak:"):
        raise CaseFailedError(f"the error that names Keycloak's URL is not about a Keycloak resource: {saw}")
    made = leftovers.late_role(rig, added)
    steps = recovery.converge(rig)
    if made:
        steps.insert(0, f"(no role finished late this time: {made} made so)")
    rig.assert_converged()
    return f"{saw} -> Keycloak back: {'; '.join(steps)}"
