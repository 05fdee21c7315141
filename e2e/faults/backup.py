"""The runbook's "Backing up and restoring PostgreSQL" of docs/operations.md, run for real.

Users log into Dossier's hub (run from the chart's hub pod on the run's real PostgreSQL, as
``test_deploy``'s logins do), so the hub's database holds users, groups and encrypted auth state.
The page's commands then run as written (``docs.py``): the variables from the stack's outputs, the
dump through ``kubectl exec`` into the primary's pod, the state export and the Secrets beside it.
The database is lost (``DROP DATABASE ... WITH (FORCE)``, the hub still running), and the page's
three restore steps run: the hub scaled down, ``pg_restore`` through ``kubectl port-forward``, the hub
scaled up. Checked: the page finds the pod that exists, the dump and the files beside it hold what
the page says, and the restarted hub's REST API shows the same users, groups, creation times and
decrypted auth state as before the loss.

The chart's pods are kwok's and run nothing: kwok's ``Exec`` and ``PortForward`` objects for the
primary's pod (``e2e/servers/pod_exec.py``) make ``kubectl exec`` run the command on this machine
against the run's PostgreSQL and ``kubectl port-forward`` reach it. The hub's processes follow its
Deployment as a kubelet would: stopped once the page's scale-down has removed the pod, started from
the new pod (``e2e/hub/run.py``) once its scale-up has one. The admin's API token that reads the
users after the restore is the one made before the dump: the restored database holds it again.
"""

from __future__ import annotations

import base64
from typing import Any

import psycopg2
import yaml
from kubernetes import client

from e2e import state
from e2e.faults.docs import documented_blocks, shell
from e2e.faults.rig import BASE_GROUPS, CaseFailedError, Rig
from e2e.faults.runbook import protected_stack
from e2e.hub import Hub, start_hub
from e2e.login import login
from e2e.servers.pod_exec import postgres_env, reach_locally
from e2e.servers.supervisor import free_port
from e2e.state import CLIENT, NAMESPACE, REALM

SECTION = "Backing up and restoring PostgreSQL"
#: Who logs in before the dump, with the client roles Keycloak gives them (each a hub group).
LOGINS = {"alice": ["admin", BASE_GROUPS[0]], "bob": [BASE_GROUPS[0]]}
#: What of a user the restore must bring back, as the hub's REST API shows it.
KEPT = ("name", "admin", "groups", "created", "auth_state")
PRIMARY = {"app.kubernetes.io/component": "primary"}


def _api(rig: Rig) -> Any:
    assert rig.servers.cluster
    return rig.servers.cluster.api_client()


def _primary_pod(rig: Rig) -> str:
    """The PostgreSQL primary's pod, found by the chart's labels (not by the page's rule, which is under test)."""
    selector = ",".join(f"{k}={v}" for k, v in PRIMARY.items())
    names = [name for name in _pods(rig, selector) if name.startswith("jhub-postgresql")]
    if len(names) != 1:
        raise CaseFailedError(f"expected one PostgreSQL primary pod in {NAMESPACE}, found {names}")
    return names[0]


def _start_hub(rig: Rig, token: str | None = None) -> Hub:
    """Dossier's hub (re)started from the chart's hub pod, the one the Deployment has now.

    ``token``: an admin's API token the hub's database already holds (one made before the dump).
    """
    assert rig.servers.postgres and rig.servers.cluster
    if rig.hub is not None:
        rig.hub.stop()
    values = state.hub_chart_values(_api(rig), NAMESPACE)
    rig.hubs += 1
    rig.hub = start_hub(rig.servers.cluster, rig.supervisor, values=values, database=rig.servers.postgres,
                        trust=rig.servers.ca.cert_path, namespace=NAMESPACE)
    rig.hub.token = token
    return rig.hub


def hub_users(hub: Hub) -> dict[str, dict[str, Any]]:
    """Each user as the hub's REST API shows it (``KEPT`` fields; auth state decrypted by the hub)."""
    found = {}
    for listed in hub.api("users"):
        user = hub.api(f"users/{listed['name']}")
        found[user["name"]] = {key: user.get(key) for key in KEPT}
        found[user["name"]]["groups"] = sorted(user.get("groups") or [])
    return found


def differences(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """What the hub lost or changed, by user and field (auth state is named, never shown: it holds tokens)."""
    found = [f"user {name} is gone" for name in sorted(set(before) - set(after))]
    found += [f"user {name} appeared" for name in sorted(set(after) - set(before))]
    for name in sorted(set(before) & set(after)):
        for key in KEPT:
            if before[name][key] != after[name][key]:
                shown = "(differs)" if key == "auth_state" else f"{before[name][key]!r} -> {after[name][key]!r}"
                found.append(f"user {name}: {key} {shown}")
    return found


def _pods(rig: Rig, selector: str) -> list[str]:
    core: Any = client.CoreV1Api(_api(rig))
    return sorted(str(p.metadata.name) for p in core.list_namespaced_pod(NAMESPACE, label_selector=selector).items)


def _hub_pods(rig: Rig) -> list[str]:
    return _pods(rig, "component=hub")


def _logged_in(rig: Rig) -> dict[str, dict[str, Any]]:
    """``LOGINS`` log into a freshly started hub; its users as its API shows them."""
    assert rig.servers.keycloak and rig.servers.realm
    admin = rig.servers.keycloak.admin()
    hub = _start_hub(rig)
    callback = state.hub_chart_values(_api(rig), NAMESPACE)["hub"]["config"]["GenericOAuthenticator"][
        "oauth_callback_url"]
    for username, roles in LOGINS.items():
        admin.assign_client_roles(REALM, CLIENT, username, roles)
        result = login(hub, username, rig.servers.realm.users[username], callback)
        if not result.logged_in or result.session is None:
            raise CaseFailedError(f"{username} could not log in before the dump: {result}")
        if "admin" in roles and hub.token is None:
            hub.authorize(result.session, username)  # an admin's API token, in the database the dump holds
    users = hub_users(hub)
    empty = sorted(name for name in LOGINS if not (users.get(name) or {}).get("auth_state"))
    if empty:
        raise CaseFailedError(f"the hub holds no auth state for {empty}: nothing for the restore to prove")
    return users


def test_dump_lose_and_restore_the_database(rig: Rig) -> str:
    protected_stack(rig)
    assert rig.servers.postgres and rig.servers.cluster
    postgres, api = rig.servers.postgres, _api(rig)
    pod = _primary_pod(rig)
    reach_locally(api, rig.servers.cluster.kubeconfig, NAMESPACE, pod, postgres_env(postgres.host, postgres.port),
                  {5432: (postgres.host, postgres.port)})
    before = _logged_in(rig)
    assert rig.hub is not None
    token = rig.hub.token

    blocks = documented_blocks(SECTION)
    if len(blocks) != 5:
        raise CaseFailedError(f"{SECTION!r}: expected 5 blocks (variables, dump, stop, restore, start), "
                              f"found {len(blocks)}")
    variables, dump, stop, restore, start = blocks
    printed = shell(rig, [*variables, *dump], echo='"$POD" "$DUMP"').stdout.split()
    if printed[-2] != pod:
        raise CaseFailedError(f"the page's variables name the pod {printed[-2]!r}; the primary is {pod!r}")
    name = printed[-1]
    tables = int(printed[-3])  # the page's last dump line: `pg_restore --list ... | grep -c 'TABLE DATA'`
    files = rig.stack.project
    secret = state.secret_data(api, NAMESPACE, "jhub-postgresql")
    saved = {item["metadata"]["name"]: item["data"] for item in
             yaml.safe_load((files / f"{name}.secrets.yaml").read_text())["items"]}
    exported = (files / f"{name}.state.json").read_text()
    problems = [what for what, bad in (
        ("the dump is empty", (files / f"{name}.dump").stat().st_size == 0),
        ("the Secrets file lacks the release's Secret or the hub's", sorted(saved) != ["hub", "jhub-postgresql"]),
        ("the Secrets file's passwords are not the release's",
         state.secret_data(api, NAMESPACE, "jhub-postgresql") != secret
         or {k: base64.b64decode(v).decode() for k, v in saved["jhub-postgresql"].items()} != secret),
        ("the state export holds no resources", '"resources"' not in exported),
        ("the dump files are readable by others", any((files / f"{name}{suffix}").stat().st_mode & 0o077
                                                       for suffix in (".dump", ".state.json", ".secrets.yaml"))),
    ) if bad]
    if problems:
        raise CaseFailedError("; ".join(problems))

    # The loss: the database dropped under the running hub.
    connection = postgres.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE jhub WITH (FORCE)")
    finally:
        connection.close()
    try:
        postgres.connect(database="jhub").close()
        raise CaseFailedError("the database jhub is still there after DROP DATABASE")
    except psycopg2.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise

    shell(rig, [*variables, *stop])
    if _hub_pods(rig):
        raise CaseFailedError(f"the page's scale-down left hub pods: {_hub_pods(rig)}")
    assert rig.hub is not None
    rig.hub.stop()  # its pod is gone
    rig.hub = None
    shell(rig, [*variables, *restore], fill={"<file>": name, "<port>": str(free_port())})
    shell(rig, [*variables, *start])
    if len(_hub_pods(rig)) != 1:
        raise CaseFailedError(f"the page's scale-up did not bring one hub pod back: {_hub_pods(rig)}")
    # The new pod's hub, on the restored database; the admin's token made before the dump is in it again.
    after = hub_users(_start_hub(rig, token=token))
    if after != before:
        raise CaseFailedError(f"after the restore: {'; '.join(differences(before, after))}")
    rig.assert_converged()
    for suffix in (".dump", ".state.json", ".secrets.yaml"):
        (files / f"{name}{suffix}").unlink()
    return (f"{len(before)} users logged in ({', '.join(sorted(before))}), the dump ({tables} tables), the state "
            f"export and the Secrets kept; the database dropped -> hub scaled down, pg_restore --clean --create "
            f"through a port-forward, hub scaled up: the same users, groups, creation times and auth state")
