"""A team's day under the real CLI: one S3 backend, two environments in one cluster, readers of the outputs.

``make e2e-shared``. One server set (API server, Keycloak, PostgreSQL) and an
S3-compatible store (versitygw) on loopback; the state of every stack lives in
its bucket (``pulumi login s3://...``). The tests run in file order, each on
what the ones before left: a second, complete run of the e2e on this machine at
the same time (two runners); the second environment beside the first; a third
that would take over a cluster-wide object, refused; the consumer of
``examples/consumer`` against each environment and against a changed contract;
the pull-request workflow's preview during a deploy; the lock and recovery
cases of ``make e2e-faults`` on this backend; history, export and import;
destroying the second environment; what a reader's commands read and write in
the bucket (the gateway's access log). Every command runs as the gateway's one
root account: least privilege is not tested here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from kubernetes import client
from pulumi import automation as auto

from e2e import checks, policy, state
from e2e.faults import interrupted, restore
from e2e.faults.compare import differences
from e2e.faults.docs import PAGE as DOC_PAGE
from e2e.faults.docs import documented
from e2e.faults.rig import last_error
from e2e.faults.servers_down import created
from e2e.servers import ObjectStore, Servers, Supervisor, start_object_store, start_servers
from e2e.servers.s3 import REGION
from e2e.shared import holdings, runners, workflow
from e2e.shared.consumer import changed_producer, consumer_stack
from e2e.shared.environments import FIRST, SECOND, Environment
from e2e.shared.rig import S3Rig
from e2e.stack import PASSPHRASE, E2EStack, Phase, Toolchain, changes, copy_program, toolchain
from tests.test_outputs import CONTRACT

pytestmark = pytest.mark.e2e

#: docs/operations.md, "Sharing a backend": what test_06, test_09 and test_13 hold the page to.
SHARING = DOC_PAGE.read_text().split("\n## Sharing a backend\n", 1)[1].split("\n## ", 1)[0]
#: ``pulumi stack history`` page size, as the page tells an operator (this module's whole history of a stack).
HISTORY_PAGE = int(re.findall(r"`--page-size (\d+)`", SHARING)[0])
#: The lock object, as the page names it.
LOCK_OBJECT = re.findall(r"`(\.pulumi/locks/\S+)`", SHARING)[0]
CLASH = Environment("clash", "jhub-clash", "dossier.clash.e2e.test", "jupyter-clash", "jhub-clash", (),
                    spawner_crd=True, protect=False)


@dataclass
class Shared:
    supervisor: Supervisor
    servers: Servers
    store: ObjectStore
    tools: Toolchain
    stacks: dict[str, E2EStack] = field(default_factory=dict)
    other: tuple[Supervisor, Servers] | None = None
    """The second run's servers, until test_01 is done with them."""

    @property
    def api(self) -> client.ApiClient:
        assert self.servers.cluster
        return self.servers.cluster.api_client()

    def stack(self, env: Environment, runner: str = "runner-1", *, configure: bool = True) -> E2EStack:
        key = f"{runner}/{env.stack}"
        if key not in self.stacks:
            self.stacks[key] = env.stack_in(self.supervisor.path(runner, env.stack), self.tools, self.servers,
                                            self.store, configure=configure)
        return self.stacks[key]

    def rig(self, case: str) -> S3Rig:
        """The fault rig on the first environment's stack; the CLI's logs in ``logs/<case>/``."""
        stack = self.stack(FIRST)
        groups = [g["name"] for g in stack.config().get("dossier:tenants") or []]
        return S3Rig(self.supervisor, self.servers, self.tools, stack, self.supervisor.path("logs", case),
                     groups=groups, store=self.store)


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    with Phase("toolchain"):
        tools = toolchain()
    nodes = checks.cluster_nodes()
    with Supervisor("dossier-e2e-shared") as supervisor, Supervisor("dossier-e2e-shared-2") as other:
        with Phase("two server sets at once, and the S3 store"), ThreadPoolExecutor(2) as pool:
            ours, theirs = pool.submit(start_servers, supervisor, nodes=nodes), pool.submit(
                start_servers, other, nodes=nodes)
            servers = ours.result()
            store = start_object_store(supervisor, servers.ca)
            second = theirs.result()
        print(servers.summary(), f"\nS3 backend    {store.backend_url()}", flush=True)
        assert servers.cluster
        yield Shared(supervisor, servers, store, tools, other=(other, second))


def test_01_two_runs_at_once_on_one_machine(shared: Shared) -> None:
    """The first environment's up, and a whole second run's (its own servers, a file:// backend) at once."""
    assert shared.other
    other, theirs = shared.other
    assert theirs.cluster
    mine = shared.stack(FIRST)
    config, secrets = checks.stack_config(theirs, groups=list(FIRST.groups), protect=False)
    elsewhere = E2EStack(other.path("stack"), shared.tools, echo=False)
    elsewhere.configure(config, secrets)
    found = runners.problems(runners.listeners(shared.supervisor), runners.listeners(other))
    assert found == [], found
    with Phase("two ups at once"), ThreadPoolExecutor(2) as pool:
        ups = [pool.submit(stack.up) for stack in (mine, elsewhere)]
        results = [up.result() for up in ups]
    assert [r.summary.result for r in results] == ["succeeded", "succeeded"]
    assert FIRST.differences(shared.servers, mine) == []
    assert differences(state.inventory(theirs), state.state_inventory(elsewhere.resources())) == []
    other.close()
    shared.other = None


def test_02_the_second_environment_beside_the_first(shared: Shared) -> None:
    first, second = shared.stack(FIRST), shared.stack(SECOND)
    with Phase("up: the second environment"):
        assert second.up().summary.result == "succeeded"
    for env, stack in ((FIRST, first), (SECOND, second)):
        assert env.differences(shared.servers, stack) == [], env.stack
    with Phase("the first: refresh and preview find nothing changed"):
        refresh = first.refresh(expect_no_changes=True)
        assert set(changes(refresh.summary.resource_changes)) == {"same"}
        first.preview(expect_no_changes=True)
    admin = shared.servers.keycloak.admin() if shared.servers.keycloak else None
    assert admin and {c["clientId"] for c in admin.get(f"/{state.REALM}/clients")} >= {"jupyter", "jupyter-prod"}
    crd: Any = client.ApiextensionsV1Api(shared.api).read_custom_resource_definition(state.SPAWNER_CRD)
    assert crd.metadata.annotations[state.INSTALLED_BY] == FIRST.namespace


def test_03_a_stack_that_would_take_over_a_cluster_wide_object_is_refused(shared: Shared) -> None:
    clash = shared.stack(CLASH)
    with Phase("up: a third stack that installs the Spawner CRD too"), pytest.raises(auto.CommandError) as raised:
        clash.up()
    said = str(raised.value)
    assert "Server-Side Apply field conflict" in said and f".metadata.annotations.{state.INSTALLED_BY}" in said, \
        last_error(said)
    assert FIRST.differences(shared.servers, shared.stack(FIRST)) == []
    with Phase("destroy the refused stack"):
        clash.destroy()
    assert CLASH.inventory(shared.servers)["cluster"]["namespace"] == []
    assert FIRST.differences(shared.servers, shared.stack(FIRST)) == []


def _consumer(shared: Shared, env: Environment, dossier_stack: str | None = None, name: str = "",
              passphrase: str = PASSPHRASE) -> E2EStack:
    """The consumer's stack ``name`` (default: the environment's), in ``analytics-<name>``."""
    assert shared.servers.cluster
    name = name or env.stack
    key = f"consumer/{name}"  # made once: test_13 runs again the one test_04 made
    if key not in shared.stacks:
        producer = shared.stack(env)
        shared.stacks[key] = consumer_stack(
            shared.supervisor.path("consumer", name), shared.tools, name=name,
            dossier_stack=dossier_stack or env.fully_qualified, namespace=f"analytics-{name}",
            context=shared.servers.cluster.context,
            env={**{k: v for k, v in producer.env.items() if k not in ("PATH", "PULUMI_HOME")},
                 "PULUMI_CONFIG_PASSPHRASE": passphrase})
    return shared.stacks[key]


def test_04_the_consumer_reads_exactly_its_environment(shared: Shared) -> None:
    core: Any = client.CoreV1Api(shared.api)
    for env in (FIRST, SECOND):
        produced = {name: out.value for name, out in shared.stack(env).outputs().items()}
        consumer = _consumer(shared, env)
        with Phase(f"consumer up: {env.stack}"):
            consumer.up()
        db = produced["postgresql"]
        host = db["host"]
        assert host.endswith(f".{env.namespace}.svc"), host
        config_map = core.read_namespaced_config_map("dossier", f"analytics-{env.stack}").data
        assert config_map == {"HUB_URL": f"https://{env.fqdn}", "DB_HOST": host, "DB_PORT": "5432",
                              "DB_NAME": db["database"]}, config_map
        url = f"postgresql://{db['username']}:{produced['postgresqlPassword']}@{host}:5432/{db['database']}"
        secret = state.secret_data(shared.api, f"analytics-{env.stack}", "dossier-database")
        assert secret == {"DATABASE_URL": url}
        outputs = consumer.outputs()
        assert outputs["databaseUrl"].secret and outputs["databaseUrl"].value == url
        assert consumer.cli("stack", "output", "--json").json()["databaseUrl"] == "[secret]"
        # Every output of the contract read through the StackReference with its documented type.
        assert outputs["outputsChecked"].value == sorted(CONTRACT) and not outputs["outputsChecked"].secret
        # It reads every output (above), so every secret one of the contract passes through its state (the
        # StackReference's outputs): none in clear in its export or its outputs, each there with --show-secrets.
        hidden = {name: produced[name] for name, secret in CONTRACT.items() if secret} | {"databaseUrl": url}
        assert len(hidden) >= 3 and all(isinstance(v, str) and len(v) >= 16 for v in hidden.values()), list(hidden)
        sealed = consumer.cli("stack", "export").stdout
        shown = consumer.cli("stack", "output", "--json").stdout + consumer.cli("stack", "output").stdout
        assert [name for name, value in hidden.items() if value in sealed or value in shown] == []
        revealed = consumer.cli("stack", "export", "--show-secrets").stdout
        assert [name for name, value in hidden.items() if value not in revealed] == []


def test_05_the_consumer_refuses_a_changed_contract(shared: Shared) -> None:
    core: Any = client.CoreV1Api(shared.api)
    first = shared.stack(FIRST).outputs()
    outputs = {name: (out.value, out.secret) for name, out in first.items()}
    cases = {
        "dropped": ({k: v for k, v in outputs.items() if k != "tlsSecret"}, "KeyError: 'tlsSecret'"),
        "reshaped": ({**outputs, "postgresql": ({**outputs["postgresql"][0], "port": "5432"}, False)},
                     "the Dossier stack's output postgresql.port: expected integer, got str"),
    }
    for case, (exported, message) in cases.items():
        producer = E2EStack(shared.supervisor.path("changed", case), shared.tools, name=f"changed-{case}",
                            env=shared.stack(FIRST).env, echo=False, program=changed_producer(exported))
        producer.up()
        consumer = _consumer(shared, FIRST, f"organization/dossier/changed-{case}", name=f"changed-{case}")
        with Phase(f"consumer up against a {case} output"), pytest.raises(auto.CommandError) as raised:
            consumer.up()
        assert message in str(raised.value), last_error(str(raised.value))
        # Refused before anything was made: its namespace waits for every check.
        assert [r["type"] for r in consumer.resources() if r["type"].startswith("kubernetes:core")] == []
        assert f"analytics-changed-{case}" not in {n.metadata.name for n in core.list_namespace().items}


def _aws_secrets(store: ObjectStore) -> dict[str, str]:
    return {k: v for k, v in store.env().items() if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


def test_06_the_pull_request_preview_during_a_deploy(shared: Shared, tmp_path: Path) -> None:
    """preview.yml's preview step, as its workflow runs it, while a deploy of the same stack holds the lock."""
    assert shared.servers.cluster
    deploy = shared.stack(SECOND)
    pr = shared.stack(SECOND, "runner-2", configure=False)
    rig = S3Rig(shared.supervisor, shared.servers, shared.tools, deploy, shared.supervisor.path("logs", "deploy"),
                store=shared.store)
    added = [f"deploy-{i:02d}" for i in range(8)]
    deploy.configure({"dossier:tenants": [{"name": g} for g in (*SECOND.groups, *added)]})
    # The pull request's checkout is what the pull_request event checks out: its change merged into main,
    # so main's stack file (the groups being deployed) plus a research group of its own.
    pr.settings_file.write_text(deploy.settings_file.read_text())
    pr.configure({"dossier:tenants": [{"name": g} for g in (*SECOND.groups, *added, "pr-added")]})
    context = {"secrets": {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, **_aws_secrets(shared.store),
                           "KUBECONFIG_PROD": shared.servers.cluster.kubeconfig.read_text()},
               "vars": {"PULUMI_BACKEND_URL": shared.store.backend_url()}, "matrix": {"stack": SECOND.stack}}
    preview = workflow.plan(context, tmp_path)
    # The step passes --policy-pack policy: the checkout's pack, its virtualenv made as README "Deploy in five steps"
    # says (the
    # install step does the same, but over the checkout's .venv, which links to the e2e's).
    policy.add_pack(pr.project)
    made = subprocess.run(["bash", "-c", policy.setup_command()], cwd=pr.project, capture_output=True, text=True,
                          timeout=600, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"v{preview.pulumi_version}" in shared.tools.versions()["pulumi"], preview.pulumi_version
    assert preview.env.get("PULUMI_SKIP_CHECKPOINTS") == "true" and "KUBECONFIG" in preview.env
    # The runner's own environment: what the workflow provides (backend, passphrase, kubeconfig, bucket
    # credentials) comes from the workflow alone.
    runner_env = {k: v for k, v in pr.env.items() if k not in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE",
                                                                 "KUBECONFIG", *_aws_secrets(shared.store))}
    up = rig.pulumi("up", "--yes", "--skip-preview")
    rig.wait_for_state("the deploy's first group created", created("", prefix="research-deploy-"), up)
    # The deploy holds the lock and is half-way: it is paused (the CLI alone) while the preview runs, so the
    # two overlap however fast either is on this machine.
    up.send(signal.SIGSTOP)
    try:
        locked = rig.locks()
        lock_objects = shared.store.keys(".pulumi/locks/")
        with Phase("the workflow's preview while the deploy holds the lock"):
            workflow.run_preview(preview, pr.project, runner_env, shared.tools.cli_home / "bin" / "pulumi")
    finally:
        up.send(signal.SIGCONT)
    assert locked, "the deploy held no lock"
    # One lock object, where the page says, listed through the S3 API while the deploy held it.
    lock = re.escape(LOCK_OBJECT).replace("<stack>", re.escape(SECOND.stack)).replace("<id>", "[^/]+")
    assert len(lock_objects) == 1 and re.fullmatch(lock, lock_objects[0]), (LOCK_OBJECT, lock_objects)
    assert up.wait() == 0, last_error(up.output)
    print(f"    left out of the workflow run: {preview.left_out}", flush=True)
    assert preview.code == 0, preview.output[-3000:]
    assert "pr-added" in preview.output and "create" in preview.output, preview.output[-3000:]
    assert "✅ dossier@v0.1.0 (local: policy)" in preview.output, preview.output[-3000:]
    # The preview persisted nothing: the deploy's state is whole, the pull request's group made nowhere.
    assert SECOND.differences(shared.servers, deploy) == []
    assert "pr-added" not in state.tenant_names(shared.api)
    deploy.preview(expect_no_changes=True)


def test_07_a_second_up_at_the_same_time_is_refused_by_the_lock(shared: Shared) -> None:
    print("    " + interrupted.test_two_updates_at_once(shared.rig("two-updates")), flush=True)


def test_08_an_up_killed_midway_recovers_as_documented(shared: Shared) -> None:
    rig = shared.rig("cli-sigkill")
    print("    " + interrupted.test_cli_killed_mid_up(rig), flush=True)
    assert rig.lock_keys() == []


def test_09_history_export_and_import(shared: Shared) -> None:
    stack = shared.stack(FIRST)
    # Ten entries per page by default: the recovery's imports of test_08 alone can fill it.
    history = stack.cli("stack", "history", "--json", "--page-size", str(HISTORY_PAGE)).json()
    kinds = [entry["kind"] for entry in history]
    assert 6 <= len(history) < HISTORY_PAGE and {"update", "refresh"} <= set(kinds), kinds
    assert all(entry["result"] in ("succeeded", "failed") for entry in history), history[:3]
    assert not any(entry["result"] == "in-progress" for entry in history)
    print("    " + restore.test_restore_a_lost_stack_from_its_export(shared.rig("restore")), flush=True)
    assert len(stack.cli("stack", "history", "--json").json()) >= 1


#: What the charts render in an environment's namespace: the comparison of test_10 must cover each.
RENDERED = ("apps/v1 deployments", "apps/v1 statefulsets", "v1 services", "v1 configmaps", "v1 secrets",
            "networking.k8s.io/v1 networkpolicies", "v1 persistentvolumeclaims", "v1 serviceaccounts")


def test_10_destroying_the_second_leaves_the_first_whole(shared: Shared) -> None:
    first, second = shared.stack(FIRST), shared.stack(SECOND)
    second.configure({"dossier:protectData": False})
    with Phase("up: the second environment unprotected"):
        second.up()
    before = holdings.objects(shared.api)
    firsts, seconds = holdings.owned(FIRST, before), holdings.owned(SECOND, before)
    nodes = {key for key in firsts if key.startswith("v1 nodes ")}
    # Both label the same nodes: those are the first's too, and must keep its label.
    seconds -= nodes
    covered = {key.rsplit(" ", 1)[0] for key in firsts if f" {FIRST.namespace}/" in key}
    assert covered >= set(RENDERED), sorted(set(RENDERED) - covered)
    assert len(seconds) > len(RENDERED) and not firsts & seconds, sorted(firsts & seconds)
    clients = {FIRST.client_id: holdings.keycloak_client(shared.servers, FIRST.client_id),
               SECOND.client_id: holdings.keycloak_client(shared.servers, SECOND.client_id)}
    assert all(clients.values()), list(clients)
    with Phase("destroy the second environment"):
        assert second.destroy().summary.result == "succeeded"
    assert second.resources() == []
    # The second's namespace ends once its objects are gone (the garbage collector, the controllers' finalizers).
    deadline = time.monotonic() + 180
    while left := sorted(k for k in holdings.objects(shared.api).keys() & seconds
                         if not k.startswith("v1 persistentvolumes ")):
        assert time.monotonic() < deadline, f"left of the second environment after its destroy: {left}"
        time.sleep(2)
    after = holdings.objects(shared.api)
    changed = holdings.changes(before, after)
    # Nothing of the first changed or vanished, nothing appeared, and nothing but the second's changed; every
    # object of the second vanished (its persistent volumes may stay, Released, as their reclaim policy says).
    of_first = {k: v for k, v in changed.items() if k in firsts}
    assert of_first == {}, json.dumps(of_first, indent=1)
    elsewhere = {k: v for k, v in changed.items() if k not in seconds}
    assert elsewhere == {}, json.dumps(elsewhere, indent=1)
    vanished = {k for k, v in changed.items() if v == "vanished"}
    kept = sorted(k for k in seconds - vanished if not k.startswith("v1 persistentvolumes "))
    assert vanished <= seconds and kept == [], kept
    print(f"    the first environment: its {len(firsts)} objects on the API server unchanged; the second's "
          f"{len(vanished)} objects gone", flush=True)
    assert holdings.keycloak_client(shared.servers, SECOND.client_id) == {}
    assert holdings.keycloak_client(shared.servers, FIRST.client_id) == clients[FIRST.client_id]
    left_of = SECOND.inventory(shared.servers)
    assert left_of["cluster"]["namespace"] == [] and left_of["keycloak"] == {"clients": 0} and \
        left_of["cluster"]["tenants"] == [], json.dumps(left_of)
    assert FIRST.differences(shared.servers, first) == []
    refresh = first.refresh(expect_no_changes=True)
    assert set(changes(refresh.summary.resource_changes)) == {"same"}


def test_11_a_reader_without_the_passphrase_gets_no_secret(shared: Shared) -> None:
    """docs/operations.md, "Sharing a backend" (who may read what): without the passphrase no secret output."""
    # A team whose own stacks have a passphrase of their own.
    consumer = _consumer(shared, FIRST, name="no-passphrase", passphrase="another team's passphrase")
    with Phase("consumer preview without the producer's passphrase"), pytest.raises(auto.CommandError) as raised:
        consumer.preview()
    said = str(raised.value)
    print(f"    {last_error(said)}", flush=True)
    assert f"eliding undecryptable secrets for stack reference '{FIRST.fully_qualified}'" in said, last_error(said)
    # A secret it cannot decrypt arrives as an empty object: the consumer's type check names it.
    assert any(f"output {name}: expected string, got dict" in said for name, secret in CONTRACT.items() if secret), \
        last_error(said)
    assert not any(f"output {name}: expected" in said for name, secret in CONTRACT.items() if not secret)


def test_12_a_member_joins_as_documented(shared: Shared, tmp_path: Path) -> None:
    """The block of docs/operations.md "Sharing a backend", run as written on a new machine's checkout."""
    lines = documented("Sharing a backend")
    fill = {"<access key>": shared.store.access_key, "<secret key>": shared.store.secret_key,
            "<passphrase>": PASSPHRASE, "<bucket>": shared.store.bucket,
            "https://<host>:<port>": shared.store.endpoint, "<region>": REGION, "<stack>": "member"}
    script = ["set -euo pipefail"]
    for line in lines:
        for placeholder, value in fill.items():
            line = line.replace(placeholder, value)
        script.append(line)
    project = copy_program(tmp_path / "checkout")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "AWS_"))}
    env.update(PATH=shared.tools.path(), PULUMI_HOME=str(tmp_path / "home"), PULUMI_SKIP_UPDATE_CHECK="true",
               AWS_CA_BUNDLE=str(shared.store.ca_cert))  # the store's private CA, as the page says
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=project, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"{lines}\n{done.stdout}\n{done.stderr}"
    listed = done.stdout.split()
    assert {FIRST.stack, SECOND.stack} <= set(listed), done.stdout
    assert ".pulumi/stacks/dossier/member.json" in shared.store.keys(".pulumi/stacks/")


#: S3 operations that change the bucket.
WRITES = {"PutObject", "DeleteObject", "DeleteObjects", "CopyObject", "CreateMultipartUpload", "UploadPart",
          "CompleteMultipartUpload", "AbortMultipartUpload"}


def _requests(store: ObjectStore, since: int) -> list[str]:
    """``<operation> <key>`` of each request the store served since the mark (a listing: ``?<its query>``)."""
    said = []
    for access in store.accesses(since):
        query = sorted((k, v) for k, v in parse_qsl(urlsplit(access.uri).query, keep_blank_values=True)
                       if k not in ("list-type", "continuation-token", "x-id"))
        status = f" ({access.status})" if access.status >= 300 else ""  # a missing object: 404
        said.append(f"{access.operation} {access.key or '?' + '&'.join(f'{k}={v}' for k, v in query)}{status}")
    return said


def test_13_what_a_reader_reads_and_writes_in_the_bucket(shared: Shared) -> None:
    """docs/operations.md, "Sharing a backend" (who may read what): what a reader's commands ask of the bucket.

    Every request, from the gateway's access log, under the one root account: what a policy must allow, not a
    policy tested (the e2e runs no second account).
    """
    producer, state_key = shared.stack(FIRST), f".pulumi/stacks/dossier/{FIRST.stack}.json"
    mark = shared.store.mark()
    shown = producer.cli("stack", "output", "--json").json()
    output = _requests(shared.store, mark)
    print(f"    pulumi stack output: {sorted(set(output))}", flush=True)
    assert shown["hubUrl"] == f"https://{FIRST.fqdn}"
    # What `pulumi stack output` reads: the backend's metadata, the list of the bucket's stacks, the stack's
    # state object; it writes nothing.
    reads = {"GetObject .pulumi/meta.yaml", f"HeadObject {state_key}", f"GetObject {state_key}"}
    listings = {r for r in output if r.startswith("ListObjectsV2 ?")}
    assert set(output) == reads | listings, output
    assert {r.split("prefix=")[1].split("&")[0] for r in listings} == {".pulumi/stacks/", state_key}, listings
    # The consumer's update: its own stack's objects read and written; of the rest of the bucket only what
    # `pulumi stack output` reads.
    consumer = _consumer(shared, FIRST)
    mark = shared.store.mark()
    with Phase("the consumer's up, its requests to the bucket logged"):
        consumer.up()
    update = _requests(shared.store, mark)
    own = [r for r in update if "dossier-consumer/" in r]
    others = sorted(set(update) - set(own))
    print(f"    the consumer's pulumi up: {sorted(set(own))}; outside its own project: {others}", flush=True)
    assert [r for r in update if r.split()[0] in WRITES and r not in own] == [], update
    assert f"PutObject .pulumi/stacks/dossier-consumer/{FIRST.stack}.json" in own, own
    # Its own objects, under the four folders the page names.
    folders = tuple(f".pulumi/{kind}/dossier-consumer/" for kind in ("stacks", "history", "backups",
                                                                      "locks/organization"))
    assert [r for r in own if not r.split()[1].split("prefix=")[-1].startswith(folders)] == [], own
    assert f"GetObject {state_key}" in others and set(others) <= set(output), others
