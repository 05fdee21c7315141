"""``pulumi destroy`` of a protected stack, and of one whose deletes wait on finalizers.

``test_protected_destroy_deletes_nothing``: with ``protectData: true`` the
destroy is refused by the protected guard (``components/guard.py``) and
Keycloak and the API server hold afterwards exactly what they held before.

``test_destroy_waits_on_finalizers_within_the_bound``: with ``protectData:
false``, a research group's Tenant carries a finalizer nothing removes and the
controller manager runs without its namespace controller
(``--controllers=*,-namespace-controller``), so the hub's Namespace stays
Terminating. Each ``pulumi destroy`` must end by itself within
``dossier:deleteTimeout`` (15 s in the e2e stack) with the provider's timeout
naming what is still deleting: first the Tenant (and its finalizer), then, the
finalizer removed, the Namespace. With the namespace controller back, a third
destroy leaves nothing of the stack in Keycloak, on the API server or in the state.
Each ``pulumi destroy`` is the command of docs/operations.md#a-delete-that-does-not-finish,
run from the page (``docs.py``). The shell's own limit on it (15 minutes) is a
safety net, not the promise: the promise is the CLI stopping by itself with the
provider's timeout.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from e2e import state
from e2e.faults.docs import ShellRun, documented, pick, shell
from e2e.faults.rig import BASE_GROUPS, DELETE_TIMEOUT, CaseFailedError, Rig, diagnostics, last_error, squeeze

HELD = "e2e.dossier/held"
GROUP = BASE_GROUPS[0]
SECTION = "A delete that does not finish"


def test_protected_destroy_deletes_nothing(rig: Rig) -> str:
    if not rig.protect:
        rig.configure(protect=True)
        rig.up()
    before, resources = state.inventory(rig.servers), _live(rig)
    refused = _destroy(rig)
    output = refused.output
    if refused.code == 0 or "destroy-guard" not in output or "protected" not in output:
        raise CaseFailedError("`pulumi destroy` of a protected stack was not refused by the guard: "
                              f"{last_error(output)}")
    after = state.inventory(rig.servers)
    if after != before or _live(rig) != resources:
        raise CaseFailedError(f"the refused destroy deleted something: before {before}, after {after}")
    rig.assert_converged()
    return f"{last_error(output)}; nothing deleted ({resources} resources in the state, the servers unchanged)"


def _live(rig: Rig) -> int:
    """Resources in the state, without those a replacement left to delete (a destroy may delete those)."""
    return sum(1 for r in rig.stack.resources() if not r.get("delete"))


def _destroy(rig: Rig, check: bool = False) -> ShellRun:
    """``pulumi destroy`` as docs/operations.md#a-delete-that-does-not-finish runs it."""
    return shell(rig, [pick(documented(SECTION), "pulumi destroy", SECTION)], check=check)


def _timed_out(run: ShellRun, kind: str) -> str:
    """The diagnostic of ``kind`` that says the delete timed out; ``CaseFailedError`` unless the destroy ended so."""
    for header, error in diagnostics(run.output):
        if header.startswith(kind) and "timed out" in error:
            warning = next((line.strip() for line in run.output.splitlines()
                            if line.strip().startswith("warning: finalizers might be preventing deletion")), "")
            shown = f"{header}: {warning + '; ' if warning and kind.endswith('Tenant') else ''}{error}"
            return squeeze(shown, 200)
    raise CaseFailedError(f"`pulumi destroy` (exit {run.code}) did not end with a timeout of a {kind}: "
                          f"{last_error(run.output)} (log {run.log})")


def test_destroy_waits_on_finalizers_within_the_bound(rig: Rig) -> str:
    assert rig.servers.cluster
    custom: Any = client.CustomObjectsApi(rig.servers.cluster.api_client())
    if rig.protect:
        rig.configure(protect=False)
        rig.up()
    custom.patch_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants", GROUP,
                                       {"metadata": {"finalizers": [HELD]}})
    rig.controllers("gc")  # the controller manager without its namespace controller: a Namespace stays Terminating
    tenant = _timed_out(_destroy(rig), "kubernetes:capsule.clastix.io/v1beta2:Tenant")
    if HELD not in tenant:
        raise CaseFailedError(f"the Tenant's timeout does not name the finalizer holding it: {tenant}")
    # What holds it is found and removed (here: our finalizer), then the destroy goes on to the Namespace.
    custom.patch_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants", GROUP,
                                       {"metadata": {"finalizers": None}})
    namespace = _timed_out(_destroy(rig), "kubernetes:core/v1:Namespace")
    terminating = state.inventory(rig.servers)["cluster"]["namespace"]
    if terminating != [f"{state.NAMESPACE} (terminating)"]:
        raise CaseFailedError(f"after the timeout the Namespace should still be Terminating: {terminating}")
    rig.controllers("all")  # the namespace controller is back
    _destroy(rig, check=True)
    left = state.inventory(rig.servers)
    if left != state.EMPTY_INVENTORY or rig.stack.resources():
        raise CaseFailedError(f"the destroy left {left} on the servers and {len(rig.stack.resources())} resources")
    return (f"after {DELETE_TIMEOUT}: {tenant} -> finalizer removed, `pulumi destroy`: {namespace} -> "
            "namespace controller back, `pulumi destroy` left nothing")
