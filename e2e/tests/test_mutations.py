"""Broken programs the suite must catch: each a copy of the program with one change, deployed as the real one is.

Each mutation edits one line of a copy of the program under test (``e2e/stack.py``'s
``PROGRAM_ROOT``: this checkout, or ``DOSSIER_E2E_PROGRAM``) and deploys it with the
real CLI and charts into a cluster of its own (API server, controllers, scheduler,
kwok's nodes laid out as in ``test_deploy.py``; one Keycloak for all). The five run
at once: two of them spend most of their time waiting for pods that never come.
The checks of ``test_deploy.py`` must fail on each, naming the cause:

- ``core-pods-untolerated``: the control-plane toleration is gone from the core
  pods' default (``components/config_placement.py``). The hub, proxy and
  user-scheduler pods stay Pending; ``pulumi up`` fails after
  ``dossier:releaseTimeout`` with the provider's timeout of release ``jhub/jhub``,
  and the e2e names the workloads and the scheduler's reason.
- ``replicas-untolerated``: the read replicas lose the tolerations the primary
  keeps (``components/postgresql.py``). Their pods stay Pending; ``pulumi up``
  fails on release ``jhub/jhub-postgresql``, naming StatefulSet ``jhub-postgresql-read``.

After each of these two, the recovery docs/operations.md gives must converge: the
unmodified program put back into the stack's project, ``pulumi up`` (Helm upgrades a
release whose only revision failed); where that times out again because a
StatefulSet keeps the pod it made from the broken template (Kubernetes' forced
rollback), those pods deleted and ``pulumi up`` once more.
- ``hub-not-a-db-client``: the hub pod loses the PostgreSQL client label
  (``components/jupyterhub.py``). ``pulumi up`` succeeds (nothing waits on a
  label); the NetworkPolicy check refuses hub -> PostgreSQL.
- ``hub-cannot-list-tenants``: the hub's ClusterRole loses ``list`` on Capsule's
  ``tenants`` (``components/jupyterhub.py``). ``pulumi up`` and the placement and
  policy checks pass; Dossier's hub, run from the chart's pods, fails a group
  member's login with the API server's 403 (its authenticator lists the Tenants),
  and an admin's spawn, where its spawner lists them.
- ``tenants-mapper-single-valued``: the ``tenants`` mapper loses ``multivalued``
  (``components/keycloak_client.py``). Everything deploys and Dossier's hub logs the
  member in (it takes a string claim as it comes); the login check of ``test_deploy.py``
  fails naming the claim: one role as a string where a list of the user's roles belongs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from e2e import chart_checks, checks, state
from e2e.hub import start_hub
from e2e.login import login
from e2e.servers import CertificateAuthority, Servers, Supervisor, start_cluster, start_postgres, start_servers
from e2e.stack import PROGRAM, PROGRAM_ROOT, E2EStack, Phase, Toolchain, copy_program, toolchain

pytestmark = pytest.mark.e2e

#: ``dossier:releaseTimeout`` of the mutated stacks: every healthy release here is ready well within it.
RELEASE_TIMEOUT = "90s"
#: The CLI's own limit: past it the update did not end by itself.
CLI_LIMIT = 900.0


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    expect: tuple[str, ...]
    """What the failure must say, each piece a substring of it."""
    recovers: bool = False
    """Whether the unmodified program is then deployed over it (and must converge)."""
    logs_in: bool = False
    """Whether the checks go on to Dossier's hub: a group member logs in through Keycloak."""


MUTATIONS = (
    Mutation("core-pods-untolerated", "components/config_placement.py",
             "return [*Z2JH_CORE_DEFAULTS, CONTROL_PLANE]", "return [*Z2JH_CORE_DEFAULTS]",
             ("Helm Release jhub/jhub: ", "failed to become available within allocated timeout",
              "Deployment hub: 0 of 1 pods ready; pod hub-", "Pending: 0/4 nodes are available",
              "1 node(s) had untolerated taint(s)"), recovers=True),
    Mutation("replicas-untolerated", "components/postgresql.py",
             '"replicaCount": args.read_replicas,\n            "persistence": {"size": args.size},\n'
             "            **copy.deepcopy(placement),",
             '"replicaCount": args.read_replicas,\n            "persistence": {"size": args.size},\n'
             '            **{k: v for k, v in copy.deepcopy(placement).items() if k != "tolerations"},',
             ("Helm Release jhub/jhub-postgresql: ", "failed to become available within allocated timeout",
              "StatefulSet jhub-postgresql-read: 0 of 2 pods ready; pod jhub-postgresql-read-0 Pending",
              "1 node(s) had untolerated taint(s)"), recovers=True),
    Mutation("hub-not-a-db-client", "components/jupyterhub.py",
             '"labels": dict(DB_CLIENT_LABELS),\n', "",
             ("hub -> PostgreSQL (jhub-postgresql-primary-0:5432): refused (ingress of jhub/jhub-postgresql-primary-0 "
              "is isolated by NetworkPolicy jhub-postgresql-primary-ingress", "expected admitted")),
    Mutation("hub-cannot-list-tenants", "components/jupyterhub.py",
             '"resources": ["tenants"], "verbs": ["get", "list"]}', '"resources": ["tenants"], "verbs": ["get"]}',
             ("login of bob (client role genomics) failed: bob not logged in, the hub failed: 500",
              "tenants.capsule.clastix.io is forbidden", "system:serviceaccount:jhub:hub",
              "cannot list resource",
              # The spawn's own 403, not the login's again.
              "alice (client roles admin, genomics) logged in, her spawn failed: 500; the hub logged: Reason: "
              'Forbidden | HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
              '"message":"tenants.capsule.clastix.io is forbidden: User \\"system:serviceaccount:jhub:hub\\" cannot '
              'list resource \\"tenants\\"'), logs_in=True),
    Mutation("tenants-mapper-single-valued", "components/keycloak_client.py",
             "multivalued=True,", "multivalued=False,",
             ("login of bob (client role genomics): claim 'tenants' is 'genomics' (str), expected a list of "
              "['genomics']: is the mapper multivalued?",), logs_in=True),
)


def mutated_program(mutation: Mutation, folder: Path) -> Path:
    """A copy of the program under test with the mutation's one change (which must apply exactly once)."""
    for name in PROGRAM:
        source = PROGRAM_ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    target = folder / mutation.path
    text = target.read_text()
    if text.count(mutation.old) != 1:
        raise AssertionError(f"mutation {mutation.name} no longer applies: {mutation.old!r} is in {mutation.path} "
                             f"{text.count(mutation.old)} times, expected once")
    target.write_text(text.replace(mutation.old, mutation.new))
    return folder


@dataclass
class Shared:
    supervisor: Supervisor
    servers: Servers
    tools: Toolchain


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    tools = toolchain()
    with Supervisor("dossier-e2e-mutations") as supervisor:
        with Phase("keycloak"):
            servers = start_servers(supervisor, which=("keycloak",))
        yield Shared(supervisor, servers, tools)


@dataclass(frozen=True)
class Outcome:
    said: str
    """What the suite's checks said of the mutated program ("" if all passed)."""
    recovered: str
    """What they said once the unmodified program was deployed over it ("" if all passed; not tried: "-")."""
    deleted: list[str] = field(default_factory=list)
    """The pods the recovery deleted (a StatefulSet's pods of the broken template)."""


def forbidden(log: str) -> str:
    """The hub's log lines that tell of a refusal by the API server."""
    return " | ".join(line.strip() for line in log.splitlines() if "forbidden" in line.lower())[:2000]


def hub_says(servers: Servers, supervisor: Supervisor, client_id: str, trust: Path) -> str:
    """Dossier's hub from the chart's pods, and the login check of ``test_deploy.py`` ("" if it passes).

    bob, given the group's client role, logs in and his ``tenants`` claim is the list of his roles. If he
    cannot log in, alice (roles ``admin`` and the group) does, whom Dossier admits without listing the
    Tenants, and asks for a notebook.
    """
    assert servers.cluster and servers.keycloak and servers.realm and servers.postgres
    api = servers.cluster.api_client()
    servers.postgres.create_chart_database(state.secret_data(api, state.NAMESPACE, "jhub-postgresql"))
    hub = start_hub(servers.cluster, supervisor, values=state.hub_chart_values(api, state.NAMESPACE),
                    database=servers.postgres, trust=trust, namespace=state.NAMESPACE)
    admin, realm, users = servers.keycloak.admin(), servers.realm.realm, servers.realm.users
    try:
        admin.assign_client_roles(realm, client_id, "bob", ["genomics"])
        bob = login(hub, "bob", users["bob"], hub.oauth_callback_url)
        if bob.logged_in:
            # The claim bob's login gave the hub: Keycloak's own evaluation of the client's mappers for him
            # (the hub keeps it in the auth state, which only an admin's token reads, and a wrong claim
            # makes no one an admin).
            userinfo = admin.example_userinfo(realm, client_id, "bob")
            try:
                checks.assert_tenants_claim(userinfo, ["genomics"])
            except AssertionError as failure:
                return f"login of bob (client role genomics): {failure}"
            return ""
        said = f"login of bob (client role genomics) failed: {bob}; the hub logged: {forbidden(bob.hub_log)}"
        admin.assign_client_roles(realm, client_id, "alice", ["admin", "genomics"])
        alice = login(hub, "alice", users["alice"], hub.oauth_callback_url)
        if not alice.logged_in or alice.session is None:
            return f"{said}; login of alice (client roles admin, genomics) failed too: {alice}"
        offset = hub.log_size()
        # The spawn page runs Dossier's auth-state hook first, which finds the user's Tenant among those listed.
        answer = alice.session.get(hub.url("hub/spawn"), allow_redirects=False, timeout=60)
        if answer.status_code < 400:
            return f"{said}; alice (client roles admin, genomics) logged in, her spawn was taken: {answer.status_code}"
        return (f"{said}; alice (client roles admin, genomics) logged in, her spawn failed: {answer.status_code}; "
                f"the hub logged: {forbidden(hub.log_since(offset))}")
    finally:
        hub.stop()


def checks_say(stack: E2EStack, api: Any, name: str, hub: Callable[[], str] | None = None) -> str:
    """``pulumi up``, the suite's placement and policy checks, then ``hub``'s; what failed ("" if nothing)."""
    started = time.monotonic()
    up = stack.cli("up", "--yes", "--skip-preview", check=False, timeout=CLI_LIMIT)
    print(f"\n{name}: `pulumi up` exited {up.returncode} after {time.monotonic() - started:.0f} s", flush=True)
    if up.returncode != 0:
        waiting = chart_checks.not_ready(api, state.NAMESPACE)
        return (f"`pulumi up` failed: {checks.provider_errors(up.stdout + up.stderr)}; not ready in "
                f"{state.NAMESPACE}: {'; '.join(waiting) or 'nothing'}")
    try:
        chart_checks.assert_placement(api, state.NAMESPACE, core_nodes=checks.CORE_NODES,
                                      user_nodes=checks.NODES["user"], read_replicas=checks.READ_REPLICAS)
        chart_checks.assert_network_policies(api, state.NAMESPACE)
    except AssertionError as failure:
        return str(failure)
    return hub() if hub else ""


def deploy(shared: Shared, mutation: Mutation) -> Outcome:
    """Deploy the mutated program and run the suite's checks on it; then, if asked, the unmodified one."""
    with Supervisor(f"dossier-e2e-{mutation.name}") as supervisor:
        cluster = start_cluster(supervisor, CertificateAuthority(supervisor.path("ca")), context=mutation.name,
                                nodes=checks.cluster_nodes())
        servers = Servers(supervisor, shared.servers.ca, cluster=cluster, keycloak=shared.servers.keycloak,
                          realm=shared.servers.realm,
                          postgres=start_postgres(supervisor) if mutation.logs_in else None)
        program = mutated_program(mutation, shared.supervisor.path("programs", mutation.name))
        stack = E2EStack(shared.supervisor.path("stacks", mutation.name), shared.tools, echo=False,
                         program=lambda dest: copy_program(dest, program))
        config, secrets = checks.stack_config(servers, groups=["genomics"], protect=False)
        config["dossier:keycloak"] = {**config["dossier:keycloak"], "clientId": f"jupyter-{mutation.name}"}
        config["dossier:releaseTimeout"] = RELEASE_TIMEOUT
        stack.configure(config, secrets)
        api = cluster.api_client()
        # The hub trusts the run's CA (Keycloak's certificate) and this cluster's (the API server's).
        trust = supervisor.path("trust") / "ca.crt"
        trust.write_text(shared.servers.ca.cert_path.read_text() + cluster.ca_cert.read_text())
        client_id = config["dossier:keycloak"]["clientId"]
        said = checks_say(stack, api, mutation.name,
                          (lambda: hub_says(servers, supervisor, client_id, trust)) if mutation.logs_in else None)
        if not mutation.recovers:
            return Outcome(said, "-")
        # The fix: the program as it should be, in the same project and stack.
        shutil.copy2(PROGRAM_ROOT / mutation.path, stack.project / mutation.path)
        recovered = checks_say(stack, api, f"{mutation.name}, the program fixed")
        stuck = chart_checks.stuck_pods(api, state.NAMESPACE)
        if recovered and stuck:
            core: Any = client.CoreV1Api(api)
            for pod in stuck:
                core.delete_namespaced_pod(pod, state.NAMESPACE)
            recovered = checks_say(stack, api, f"{mutation.name}, {', '.join(stuck)} deleted")
        return Outcome(said, recovered, stuck)


@pytest.fixture(scope="module")
def outcomes(shared: Shared) -> dict[str, Outcome]:
    with Phase(f"deploy {len(MUTATIONS)} mutated programs at once"), ThreadPoolExecutor(len(MUTATIONS)) as pool:
        found = dict(zip([m.name for m in MUTATIONS], pool.map(lambda m: deploy(shared, m), MUTATIONS), strict=True))
    for name, outcome in found.items():
        print(f"\n{name}: {outcome.said or 'NOTHING FAILED'}\n  fixed: {outcome.recovered or 'converged'}"
              f"{'; deleted ' + ', '.join(outcome.deleted) if outcome.deleted else ''}")
    return found


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_the_suite_catches_the_mutation_naming_its_cause(outcomes: dict[str, Outcome], mutation: Mutation) -> None:
    said = outcomes[mutation.name].said
    assert said, f"{mutation.name}: the mutated program passed the checks"
    missing = [piece for piece in mutation.expect if piece not in said]
    assert not missing, f"{mutation.name}: the failure does not say {missing}: {said}"


RECOVERING = [m for m in MUTATIONS if m.recovers]


@pytest.mark.parametrize("mutation", RECOVERING, ids=[m.name for m in RECOVERING])
def test_the_fixed_program_converges_over_the_failed_release(outcomes: dict[str, Outcome], mutation: Mutation) -> None:
    assert outcomes[mutation.name].recovered == "", outcomes[mutation.name].recovered
