"""The recovery after an update that stopped half-way, as docs/operations.md says and run from that page.

An update can stop with objects it made that its state does not hold: a
Keycloak that finished a create after the provider had given up waiting (the
provider's client timeout), an API server that stored an object whose answer
never came back, a CLI killed between a create and its record. A re-run then
meets them:

- Keycloak refuses the create: ``409 Conflict ... Role with name <g> already
  exists``. The role is imported into the state under the URN the program
  gives it (``pulumi import keycloak:index/role:Role research-<g>-role ...``).
- The kubernetes provider creates with server-side apply under a field manager
  of its own per attempt, so the next attempt conflicts with the last one's
  (``Server-Side Apply field conflict ... conflict with "pulumi-kubernetes-…"``):
  one ``pulumi up`` with ``PULUMI_K8S_ENABLE_PATCH_FORCE=true`` takes the fields
  over; the object is the same.

``after_kill(rig)`` runs the section's first block (``find ... -size 0 -delete``:
the metadata sidecars a kill left empty, which fail every command with ``failed
to load checkpoint: EOF``; ``pulumi cancel``: the dead run's lock; ``pulumi
stack export``: what was in flight; ``pulumi refresh --clear-pending-creates``:
its pending creates; this CLI's
``--import-pending-creates`` drops them too, measured, so an object they made is
found by the re-run like any other). ``converge(rig)`` runs the re-run
(``pulumi up --continue-on-error``: every create that can succeed does, and each
conflict is named), the imports, and the last ``pulumi up`` (with the force
variable where a conflict needed it), and says what it took.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from e2e.faults.compare import pending_operations
from e2e.faults.docs import documented, pick, shell
from e2e.faults.rig import CaseFailedError, Rig, last_error
from e2e.state import CLIENT, REALM

SECTION = "An update that stopped half-way"
ROLE_EXISTS = re.compile(r"Role with name ([^\s\"\\]+) already exists")
SSA_CONFLICT = re.compile(r"Server-Side Apply field conflict.*?conflict with \"pulumi-kubernetes-[0-9a-f]+\"", re.S)
FORCE = {"PULUMI_K8S_ENABLE_PATCH_FORCE": "true"}
RERUN = "pulumi up --stack $STACK --continue-on-error"
FORCED = "PULUMI_K8S_ENABLE_PATCH_FORCE=true pulumi up --stack $STACK"
UP = "pulumi up --stack $STACK"
SIDECARS = 'find "$BACKEND_DIR/.pulumi"'


def import_role(rig: Rig, role: str) -> None:
    """The documented import of the research group's client role ``role`` (its id from Keycloak's admin API)."""
    if role not in rig.groups:
        raise CaseFailedError(f"Keycloak refused role {role!r}, which is no research group: the page covers groups")
    assert rig.servers.keycloak
    role_id = rig.servers.keycloak.admin().client_role(REALM, CLIENT, role)["id"]
    commands = documented(SECTION)
    shell(rig, [pick(commands, "PARENT=", SECTION), pick(commands, "pulumi import", SECTION)],
          fill={"<group>": role, "<realm>": REALM, "<role id>": role_id})


def converge(rig: Rig) -> list[str]:
    """The documented re-run (see the module doc); what it took, in the operator's words."""
    commands = documented(SECTION)
    first = shell(rig, [pick(commands, RERUN, SECTION)], check=False)
    if first.code == 0:
        return ["`pulumi up --continue-on-error` converged"]
    roles = sorted(set(ROLE_EXISTS.findall(first.output)))
    conflict = SSA_CONFLICT.search(first.output) is not None
    if not roles and not conflict:
        raise CaseFailedError(f"the re-run failed with no known cause: {last_error(first.output)} (log {first.log})")
    steps = [f"`pulumi up --continue-on-error`: {last_error(first.output)}"]
    for role in roles:
        import_role(rig, role)
        steps.append(f"imported role {role}")
    last = FORCED if conflict else UP
    shell(rig, [pick(commands, last, SECTION, exact=True)])
    steps.append(f"`{last.replace(' --stack $STACK', '')}` converged")
    return steps


def after_kill(rig: Rig) -> tuple[list[str], int]:
    """The section's first block after a killed CLI; what was done and how many operations were pending."""
    commands = documented(SECTION)
    # The first line is for file:// backends only, as the page says.
    starts = (SIDECARS,) * rig.file_backend + ("pulumi cancel", "pulumi stack export", "pulumi refresh")
    lines = [pick(commands, start, SECTION) for start in starts]
    had_lock = bool(rig.locks())
    done = shell(rig, lines)
    emptied = [Path(line).name for line in done.stdout.splitlines() if line.endswith(".attrs")]
    if rig.locks():
        raise CaseFailedError(f"`pulumi cancel` left the lock: {rig.locks()}")
    exported = rig.stack.project / "state.json"
    pending = pending_operations(json.loads(exported.read_text()))
    exported.unlink()
    if pending_operations(rig.deployment()):
        raise CaseFailedError("`pulumi refresh --clear-pending-creates` left pending operations")
    steps = [f"`find` removed the empty sidecar(s) {', '.join(emptied)}"] if emptied else []
    if had_lock:
        steps.append("`pulumi cancel` removed the dead run's lock")
    return [*steps, f"`pulumi stack export`: {len(pending)} pending", "`pulumi refresh --clear-pending-creates`"], \
        len(pending)
