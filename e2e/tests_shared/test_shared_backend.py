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
destroying the second environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from pulumi import automation as auto

from e2e import checks, policy, state
from e2e.faults import interrupted, restore
from e2e.faults.compare import differences
from e2e.faults.docs import documented
from e2e.faults.rig import last_error
from e2e.faults.servers_down import created
from e2e.servers import ObjectStore, Servers, Supervisor, start_object_store, start_servers
from e2e.servers.s3 import REGION
from e2e.shared import runners, workflow
from e2e.shared.consumer import changed_producer, consumer_stack
from e2e.shared.environments import FIRST, SECOND, Environment
from e2e.shared.rig import S3Rig
from e2e.stack import PASSPHRASE, E2EStack, Phase, Toolchain, changes, copy_program, toolchain
from tests.test_outputs import CONTRACT

pytestmark = pytest.mark.e2e

#: ``pulumi stack history`` page size large enough for this module's whole history of a stack.
HISTORY_PAGE = 500
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
    producer = shared.stack(env)
    return consumer_stack(shared.supervisor.path("consumer", name), shared.tools, name=name,
                          dossier_stack=dossier_stack or env.fully_qualified, namespace=f"analytics-{name}",
                          context=shared.servers.cluster.context,
                          env={**{k: v for k, v in producer.env.items() if k not in ("PATH", "PULUMI_HOME")},
                               "PULUMI_CONFIG_PASSPHRASE": passphrase})


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
        sealed = consumer.cli("stack", "export").stdout
        assert produced["postgresqlPassword"] not in sealed and url not in sealed
        assert produced["postgresqlPassword"] in consumer.cli("stack", "export", "--show-secrets").stdout


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
        with Phase("the workflow's preview while the deploy holds the lock"):
            workflow.run_preview(preview, pr.project, runner_env, shared.tools.cli_home / "bin" / "pulumi")
    finally:
        up.send(signal.SIGCONT)
    assert locked, "the deploy held no lock"
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


def test_10_destroying_the_second_leaves_the_first_whole(shared: Shared) -> None:
    first, second = shared.stack(FIRST), shared.stack(SECOND)
    second.configure({"dossier:protectData": False})
    with Phase("up: the second environment unprotected, then destroy"):
        second.up()
        assert second.destroy().summary.result == "succeeded"
    assert second.resources() == []
    left = SECOND.inventory(shared.servers)
    assert left["cluster"]["namespace"] in ([], [f"{SECOND.namespace} (terminating)"]) and \
        left["keycloak"] == {"clients": 0} and left["cluster"]["tenants"] == [], json.dumps(left)
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
