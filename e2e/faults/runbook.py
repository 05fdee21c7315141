"""The day-2 runbook of docs/operations.md, run for real on a protected stack.

The commands are read from the pages themselves (the ``sh`` blocks of
docs/operations.md, "Rotating a password", and of docs/research-groups.md,
"Retire a group"; docs/research-groups.md, "Add a group" has steps in words,
followed here), so the pages and this run cannot
drift apart, and run as ``docs.py`` runs them (bash, ``STACK`` set, ``--yes``,
no policy pack). The ``kubectl`` lines need a pod (``kubectl exec`` into
PostgreSQL, ``rollout restart`` of the hub) or kubectl, which the toolchain does
not build: each is done the same way on the local servers instead (the Secret
read, ``ALTER USER`` as ``postgres`` on the local PostgreSQL, Dossier's hub
started again from the hub pod the chart's Deployment now has, the Tenant
patched and deleted through the API). Checked: the Secret and the hub's values change, PostgreSQL takes the
new password after ``ALTER USER`` and refuses the old one, the hub's new client
secret still logs a user in, and a group added and retired as the page says
leaves the servers equal to the state.
"""

from __future__ import annotations

import re
from typing import Any

from kubernetes import client

from e2e import state
from e2e.faults.docs import RESEARCH_GROUPS, documented, documented_blocks, pick, shell
from e2e.faults.recovery import FORCED, SECTION, SSA_CONFLICT
from e2e.faults.rig import BASE_GROUPS, CaseFailedError, Rig, last_error
from e2e.hub import start_hub
from e2e.login import login
from e2e.state import CLIENT, NAMESPACE, REALM

USER = "alice"
ADDED = "astro"
ROTATING = "Rotating a password"
RETIRING = "Retire a group"


def pulumi_lines(commands_: list[str]) -> list[str]:
    """The commands that only need the CLI: ``pulumi ...`` and ``NAME=$(pulumi ...)``."""
    return [c for c in commands_ if (c.startswith("pulumi ") or re.match(r"[A-Z_]+=\$\(pulumi ", c))
            and "kubectl" not in c]


def _api(rig: Rig) -> Any:
    assert rig.servers.cluster
    return rig.servers.cluster.api_client()


def protected_stack(rig: Rig) -> None:
    """The runbook is for production: ``protectData: true``, and the database made as the chart's image makes it."""
    if not rig.protect:
        rig.configure(protect=True)
        first = rig.run("up", "--yes", "--skip-preview")
        if first.popen.returncode != 0:
            # protectData also sets every Tenant's preventDeletion. A Tenant an interrupted run made (cli-sigkill)
            # keeps that run's field manager beside this one's after the forced recovery, so this update meets it
            # as a server-side apply conflict, which operations.md answers with the forced update.
            if SSA_CONFLICT.search(first.output) is None:
                raise CaseFailedError(f"`pulumi up` failed: {last_error(first.output)} (output in {first.log})")
            shell(rig, [pick(documented(SECTION), FORCED, SECTION, exact=True)])
    if not rig.database_ready:
        assert rig.servers.postgres
        rig.servers.postgres.create_chart_database(state.secret_data(_api(rig), NAMESPACE, "jhub-postgresql"))
        rig.database_ready = True


def _protected(rig: Rig, name: str) -> bool:
    return any(r["urn"].endswith(f"::{name}") and r.get("protect") for r in rig.stack.resources())


def test_rotate_the_postgresql_password(rig: Rig) -> str:
    protected_stack(rig)
    assert rig.servers.postgres
    postgres, api = rig.servers.postgres, _api(rig)
    old = state.secret_data(api, NAMESPACE, "jhub-postgresql")["password"]
    steps = documented_blocks(ROTATING)[0]
    shell(rig, [c for c in pulumi_lines(steps) if not c.startswith("NEW=")])
    new = shell(rig, [pick(steps, "NEW=", ROTATING)], echo='"$NEW"').stdout.strip()
    secret = state.secret_data(api, NAMESPACE, "jhub-postgresql")
    hub_db = state.received_values(api, NAMESPACE, "jhub")["hub"]["db"]["password"]
    problems = [what for what, bad in (
        ("the password did not change", new == old or not new),
        ("the Secret does not hold the new password", secret["password"] != new),
        ("the hub's values do not hold the new password", hub_db != new),
        ("postgresql-user-password is not protected again", not _protected(rig, "postgresql-user-password")),
        ("PostgreSQL took the new password before ALTER USER", postgres.can_login("jhub", new, "jhub")),
    ) if bad]
    if problems:
        raise CaseFailedError("; ".join(problems))
    # `ADMIN=$(kubectl ... get secret ...)` and `... | kubectl exec -i <primary> -- psql -U postgres`, here:
    if not any("ALTER USER jhub WITH PASSWORD" in c for c in steps):  # the block's kubectl exec
        raise CaseFailedError("the runbook lost its ALTER USER step")
    admin_password = secret["postgres-password"]
    postgres.superuser_password = admin_password
    postgres.set_password("jhub", new)
    if not postgres.can_login("jhub", new, "jhub") or postgres.can_login("jhub", old, "jhub"):
        raise CaseFailedError("after ALTER USER PostgreSQL does not take the new password and refuse the old one")
    rig.assert_converged()
    return ("unprotect both, `pulumi up --replace`: the new password in the Secret (replaced) and hub.db.password, "
            "refused by PostgreSQL -> ALTER USER: the new one logs in, the old one is refused")


def _hub_login(rig: Rig, expect_tenants: list[str]) -> str:
    """Dossier's hub (re)started from the chart's hub pod; ``USER`` logs in; the tenants it stored, read.

    The pod is the one the hub Deployment has now: after a rollout the new one (the runbook's rollout restart).
    """
    assert rig.servers.keycloak and rig.servers.realm and rig.servers.postgres and rig.servers.cluster
    if rig.hub is not None:
        rig.hub.stop()
    values = state.hub_chart_values(_api(rig), NAMESPACE)  # what z2jh stored for its hub, as test_deploy reads it
    rig.hubs += 1
    rig.hub = start_hub(rig.servers.cluster, rig.supervisor, values=values, database=rig.servers.postgres,
                        trust=rig.servers.ca.cert_path, namespace=NAMESPACE)
    result = login(rig.hub, USER, rig.servers.realm.users[USER], rig.hub.oauth_callback_url)
    if result.logged_in and result.session is not None and result.admin:
        rig.hub.authorize(result.session, USER)  # USER is an admin: their token reads their auth state
        tenants = sorted(rig.hub.api(f"users/{USER}")["auth_state"]["tenants"])
    else:
        tenants = []
    if not result.logged_in or tenants != sorted(expect_tenants):
        raise CaseFailedError(f"{USER} after the rotation: {result}, tenants in the auth state {tenants} "
                              f"(expected {sorted(expect_tenants)})")
    return f"{USER} logged in, tenants {tenants}"


def test_rotate_the_keycloak_client_secret(rig: Rig) -> str:
    protected_stack(rig)
    assert rig.servers.keycloak
    admin = rig.servers.keycloak.admin()
    roles = ["admin", BASE_GROUPS[0]]
    admin.assign_client_roles(REALM, CLIENT, USER, roles)
    before_client = admin.client(REALM, CLIENT)["id"]
    old = admin.client_secret(REALM, CLIENT)
    keycloak = [block for block in documented_blocks(ROTATING) if any("::keycloak-secret" in c for c in block)]
    if len(keycloak) != 1:
        raise CaseFailedError(f"{ROTATING!r}: expected one block for keycloak-secret, found {len(keycloak)}")
    shell(rig, pulumi_lines(keycloak[0]))
    new = str(rig.stack.outputs()["keycloakClientSecret"].value)
    oauth = state.received_values(_api(rig), NAMESPACE, "jhub")["hub"]["config"]["GenericOAuthenticator"]
    problems = [what for what, bad in (
        ("the secret did not change", new == old),
        ("Keycloak's client does not hold the new secret", admin.client_secret(REALM, CLIENT) != new),
        ("the hub's values do not hold the new secret", oauth["client_secret"] != new),
        ("the client was replaced (its roles and their members with it)", admin.client(REALM, CLIENT)["id"]
         != before_client),
        (f"{USER} lost client roles", sorted(admin.user_client_roles(REALM, CLIENT, USER)) != sorted(roles)),
        ("keycloak-secret is not protected again", not _protected(rig, "keycloak-secret")),
    ) if bad]
    if problems:
        raise CaseFailedError("; ".join(problems))
    logged = _hub_login(rig, roles)
    rig.assert_converged()
    return f"unprotect, `pulumi up --replace`: the new secret in Keycloak and the hub's values, same client -> {logged}"


def test_add_and_retire_a_research_group(rig: Rig) -> str:
    protected_stack(rig)
    assert rig.servers.keycloak
    admin = rig.servers.keycloak.admin()
    # Adding: the entry, a preview of exactly two creates, the update, the role assigned in Keycloak.
    rig.configure(groups=[*rig.groups, ADDED])
    preview = rig.run("preview", "--json")
    from e2e.faults.drift import planned_steps

    planned = {name: op for name, (op, _) in planned_steps(preview.output).items()}
    want = {f"research-{ADDED}-role": "create", f"research-{ADDED}-tenant": "create"}
    if planned != want:
        raise CaseFailedError(f"the preview of a new group plans {planned}, the runbook says {want}")
    rig.up()
    admin.assign_client_roles(REALM, CLIENT, USER, [ADDED])
    logged = _hub_login(rig, ["admin", BASE_GROUPS[0], ADDED])

    # Retiring: with protectData the update fails and deletes nothing, also without a preview (as deploy.yml's
    # pulumi/actions runs it): the Tenant goes before the role, and stops the update.
    rig.configure(groups=[g for g in rig.groups if g != ADDED])
    refused = rig.run("up", "--yes", "--skip-preview")
    if refused.popen.returncode == 0:
        raise CaseFailedError("removing a protected group's entry did not fail the update")
    roles = {r["name"] for r in admin.client_roles(REALM, CLIENT)}
    if ADDED not in roles or ADDED not in state.tenant_names(_api(rig)):
        raise CaseFailedError("the refused update deleted part of the group")
    saw = last_error(refused.output)
    # Then the section's commands: unprotect the Tenant, update, delete the retained Tenant.
    steps = documented(RETIRING, RESEARCH_GROUPS)
    shell(rig, pulumi_lines(steps), fill={"<name>": ADDED})
    if ADDED in {r["name"] for r in admin.client_roles(REALM, CLIENT)}:
        raise CaseFailedError(f"the update left the role {ADDED}")
    if ADDED not in state.tenant_names(_api(rig)):
        raise CaseFailedError(f"the Tenant {ADDED} was deleted: retainOnDelete should have kept it and its namespaces")
    retained = rig.differences()
    if retained != [f"Tenant {ADDED!r} is on the server but not in the stack's state "
                    "(made behind the stack's back or by an interrupted update)"]:
        raise CaseFailedError(f"after the update, expected only the retained Tenant apart from the state: {retained}")
    # `kubectl patch tenant <name> ... preventDeletion: false` and `kubectl delete tenant <name>`, here:
    if not any(c.startswith("kubectl delete tenant <name>") for c in steps):
        raise CaseFailedError("the runbook lost its kubectl delete step")
    custom: Any = client.CustomObjectsApi(_api(rig))
    custom.patch_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants", ADDED,
                                       {"spec": {"preventDeletion": False}})
    custom.delete_cluster_custom_object("capsule.clastix.io", "v1beta2", "tenants", ADDED)
    rig.wait_until(lambda: ADDED not in state.tenant_names(_api(rig)), 60, f"the Tenant {ADDED} deleted")
    rig.assert_converged()
    return (f"a new group: preview = its role + Tenant, {logged}; its entry removed: `pulumi up` refused ({saw}) -> "
            "unprotect + update: role deleted, Tenant kept (retainOnDelete) until deleted by hand")
