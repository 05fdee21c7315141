"""The runbook's "Restoring after a lost stack" of docs/operations.md, run for real.

The stack's state is kept as the page tells a self-managed backend's operator
to keep it (``pulumi stack export --file <stack>.json``), then lost: ``pulumi
stack rm --force --preserve-config`` deletes the state while Keycloak, the API
server and the stack's config file (with its passphrase salt) stay. The page's
block (``pulumi stack init``, ``pulumi stack import``, ``pulumi refresh``,
``pulumi preview``) is then run as ``docs.py`` runs it. Checked: the stack comes
back with every resource, the servers equal its state, a preview plans nothing
(no generated password is made again), and the passwords in the cluster's
Secret and the stack's outputs are the ones from before.
"""

from __future__ import annotations

from e2e import state
from e2e.faults.docs import PAGE, documented, shell
from e2e.faults.rig import CaseFailedError, Rig, last_error
from e2e.state import NAMESPACE

SECTION = "Restoring after a lost stack"
BACKUP = "pulumi stack export --file <stack>.json"


def test_restore_a_lost_stack_from_its_export(rig: Rig) -> str:
    assert rig.servers.cluster
    api = rig.servers.cluster.api_client()
    section = PAGE.read_text().split(f"### {SECTION}", 1)[-1].split("\n### ", 1)[0]
    if BACKUP not in section:
        raise CaseFailedError(f"docs/operations.md, {SECTION!r}: the backup command {BACKUP!r} is gone")
    fill = {"<stack>": rig.stack.name}
    shell(rig, [BACKUP], fill=fill)
    kept = len(rig.stack.resources())
    secret = state.secret_data(api, NAMESPACE, "jhub-postgresql")

    removed = rig.run("stack", "rm", "--force", "--yes", "--preserve-config")
    if removed.popen.returncode != 0:
        raise CaseFailedError(f"`pulumi stack rm --force` failed: {last_error(removed.output)}")
    listed = rig.run("stack", "ls")
    if f"\n{rig.stack.name} " in f"\n{listed.output}" or f"\n{rig.stack.name}*" in f"\n{listed.output}":
        raise CaseFailedError(f"the stack {rig.stack.name} is still listed after `pulumi stack rm`")
    if state.secret_data(api, NAMESPACE, "jhub-postgresql") != secret:
        raise CaseFailedError("losing the stack's state changed the cluster")

    restored = shell(rig, documented(SECTION), fill=fill)
    problems = [what for what, bad in (
        (f"the restored stack holds {len(rig.stack.resources())} resources, the lost one {kept}",
         len(rig.stack.resources()) != kept),
        ("the Secret's passwords changed", state.secret_data(api, NAMESPACE, "jhub-postgresql") != secret),
        ("the stack's postgresqlPassword output is not the Secret's password",
         str(rig.stack.outputs()["postgresqlPassword"].value) != secret["password"]),
    ) if bad]
    if problems:
        raise CaseFailedError("; ".join(problems) + f" (log {restored.log})")
    rig.assert_converged()
    return (f"the state deleted (`pulumi stack rm --force`), {kept} resources left on the servers -> "
            "`pulumi stack init`, `stack import` of the export, `refresh`: every resource back, "
            "the same passwords, a preview with nothing to do")
