"""Where each shell command shown in ``README.md``, ``docs/*.md`` and ``CHANGELOG.md`` is exercised.

``tests/test_docs.py`` reads every command of the docs' fenced ``sh``/``bash``/
``shell``/``console`` blocks (continued lines joined, comments dropped, spaces
collapsed) and fails on one that is in none of the lists below, on an entry no page
shows any more, and on an entry naming a test function that does not exist.

- ``OFFLINE``: safe commands that need nothing but Python, ``make`` and git.
  ``tests/test_docs.py`` runs each one as written, in a copy of the project.
- ``CI_COMMANDS``: what CI runs on a clean clone (``.ci/run``): ``make test`` itself, the
  command running these tests, and the end-to-end suites (``make e2e`` and
  ``make e2e-faults`` build the toolchain through ``make e2e-tools`` first).
- ``E2E_COMMANDS``: commands that need the real Pulumi CLI, a cluster or Keycloak.
  Each entry names the end-to-end test that runs them (``e2e/<file>.py::<test>``;
  the end-to-end suite is not part of ``make test``). Until that test exists,
  ``test`` is ``None`` and ``pending`` says what will exercise the commands.

To show a new command in the docs, add it here. The end-to-end work extends
``E2E_COMMANDS``: fill in ``test`` as each test lands, or add an entry for a
command its own docs show (``make e2e``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Offline:
    """A command ``tests/test_docs.py`` runs, as written, in a copy of the project."""

    command: str
    #: Text its output (stdout and stderr) must contain.
    output: tuple[str, ...] = ()
    #: Files it must write, relative to the project.
    writes: tuple[str, ...] = ()
    #: Files it rewrites that must come out byte-identical: a drift check.
    unchanged: tuple[str, ...] = ()
    #: It reads the pinned upstream schema files (``tests/conftest.py``'s ``upstream`` fixture).
    needs_schemas: bool = False
    #: A git ref it reads from the repository.
    needs_ref: str | None = None
    #: Too slow for ``make test``: run the recipe ``make -n`` prints for it, with these arguments appended.
    quick_args: tuple[str, ...] | None = None


@dataclass(frozen=True)
class E2E:
    """Commands that need the real Pulumi CLI, a cluster or Keycloak, and the end-to-end test that runs them."""

    commands: tuple[str, ...]
    #: ``e2e/<file>.py::<test function>`` (or ``::<Class>::<test>``); ``None`` until the test exists.
    test: str | None
    #: With ``test=None``: what will exercise these commands, and why nothing does yet.
    pending: str = ""


MAKE_TEST = "make test"
CI_COMMANDS: tuple[str, ...] = (MAKE_TEST, "make e2e-tools", "make e2e", "make e2e-faults", "make e2e-shared")

OFFLINE: tuple[Offline, ...] = (
    Offline("make plan", output=("resources (",), writes=("build/dev/resources.yaml", "build/dev/outputs.json"),
            needs_schemas=True),
    Offline("make plan STACK=prod", output=("resources (",), writes=("build/prod/resources.yaml",),
            needs_schemas=True),
    Offline("make plan KUBERNETES_VERSION=1.29.0", output=("resources (",), writes=("build/dev/resources.yaml",),
            needs_schemas=True),
    Offline("make plan-diff BASE=main", output=("plan of dev:",),
            writes=("build/base/dev/resources.yaml", "build/dev/resources.yaml"), needs_schemas=True,
            needs_ref="main"),
    Offline("make bench", output=("program / floor",),
            quick_args=("--repeats", "1", "--cold-repeats", "0", "--scale-repeats", "1", "--sizes", "1,2")),
    Offline(".venv/bin/python -m offline.config_doc", output=("| `dossier:fqdn` |",)),
    Offline(".venv/bin/python -m offline.config_doc --update-docs", unchanged=("docs/configuration.md",)),
    Offline(".venv/bin/python -m offline.config_doc --pulumi-yaml", output=("config:\n  dossier:fqdn:\n",)),
    Offline("UPDATE_URN_PIN=1 .venv/bin/python -m pytest tests/test_urns.py", output=(" passed",),
            unchanged=("tests/fixtures/urns.dev.txt",)),
    Offline(".venv/bin/python -m tests.test_urns", output=("wrote ",), unchanged=("tests/fixtures/urns.dev.txt",)),
)

#: What the end-to-end deploy (e2e/tests/test_deploy.py, `make e2e`) runs instead of a documented command.
_AUTOMATION = ("e2e/tests/test_deploy.py drives the real CLI through pulumi.automation on its own stack `e2e`, "
               "a file:// backend set in the environment and config written to its stack file")
_RUNBOOK = "make e2e-faults runs the day-2 runbook against the real CLI and servers"

E2E_COMMANDS: tuple[E2E, ...] = (
    # The first day (README "Deploy in five steps"; configuration.md, "Setting values with the CLI"), read from
    # the pages and run as written in a copy of the project, then `make plan STACK=prod` on the file the CLI
    # wrote. `pulumi login` (Pulumi Cloud) runs as the self-managed `pulumi login file://<folder>` its comment
    # offers.
    E2E(("pulumi login",
         "pulumi stack init prod",
         "pulumi config set keycloak:url https://auth.example.org",
         "pulumi config set keycloak:clientId pulumi",
         "pulumi config set kubernetes:context my-cluster",
         "pulumi config set dossier:fqdn hub.example.org",
         "pulumi config set --path dossier:keycloak.url https://auth.example.org",
         "pulumi config set --secret keycloak:clientSecret '<secret>'"),
        "e2e/tests/test_first_day.py::test_first_day_as_documented_with_the_real_cli"),
    # The policy pack (README "Deploy in five steps": review, apply; operations.md), read from the pages and run as
    # written on a stack
    # `prod` of the e2e servers; then refused on the same stack with protectData false.
    E2E(("python3 -m venv policy/.venv && policy/.venv/bin/pip install -r policy/requirements.txt",),
        "e2e/tests/test_policy_pack.py::test_01_the_policy_packs_environment_as_documented"),
    E2E(("pulumi preview --diff --policy-pack policy",
         "pulumi up --policy-pack policy"),
        "e2e/tests/test_policy_pack.py::test_03_preview_and_up_as_documented_pass_every_policy"),
    E2E(("pulumi preview --stack prod --policy-pack policy",),
        "e2e/tests/test_policy_pack.py::test_04_the_other_documented_previews"),
    # A member joining a team's S3 backend (operations.md, "Sharing a backend"), read from the page and run as
    # written with the run's bucket, in a new checkout with a PULUMI_HOME of its own.
    E2E(("export AWS_ACCESS_KEY_ID='<access key>' AWS_SECRET_ACCESS_KEY='<secret key>'",
         "export PULUMI_CONFIG_PASSPHRASE='<passphrase>'",
         "pulumi login 's3://<bucket>?endpoint=https://<host>:<port>&use_path_style=true&region=<region>'",
         "pulumi stack ls"),
        "e2e/tests_shared/test_shared_backend.py::test_12_a_member_joins_as_documented"),
    E2E(("pulumi stack output hubUrl",),
        "e2e/tests/test_deploy.py::test_09_stack_output_is_the_contract_with_secrets_hidden"),
    # The real-engine benchmark (benchmarks.md); it starts its own servers and takes about 30 minutes. The e2e
    # test runs its recipe (`python -m bench.real`, tests/test_bench_real.py checks it) at one group.
    E2E(("make bench-real", 'make bench-real BENCH_ARGS="--sizes 1,100 --up-sizes 100"'),
        "e2e/tests/test_bench_run.py::test_every_up_and_destroy_is_timed_and_its_calls_counted"),
    # Previews with checkpoints skipped (operations.md, "Previews of large stacks").
    E2E(("make preview STACK=prod", 'make preview STACK=prod PREVIEW_ARGS="--diff --policy-pack policy"'),
        "e2e/tests/test_policy_pack.py::test_04_the_other_documented_previews"),
    E2E((".venv/bin/python -m e2e.servers up --keep",),
        "e2e/tests/test_servers.py::test_the_cli_prints_how_to_reach_the_servers_and_stops_them_on_ctrl_c"),
    # Rotating the hub user's database password (operations.md, "Rotating a password"): the case reads the
    # block from the page and runs the pulumi lines in bash (e2e/faults/docs.py: no --policy-pack, --yes).
    E2E(("STACK=prod NS=jhub",
         "URN=$(pulumi stack --stack $STACK --show-urns | grep -o 'urn:pulumi:[^ ]*::postgresql-user-password')",
         "SECRET=$(pulumi stack --stack $STACK --show-urns | grep -o 'urn:pulumi:[^ ]*::postgresql-secret')",
         'pulumi state unprotect --stack $STACK "$URN"',
         'pulumi state unprotect --stack $STACK "$SECRET"',
         'pulumi up --stack $STACK --policy-pack policy --replace "$URN"',
         "NEW=$(pulumi stack output --stack $STACK postgresqlPassword --show-secrets)",
         "unset ADMIN NEW"),
        "e2e/faults/runbook.py::test_rotate_the_postgresql_password"),
    E2E(("ADMIN=$(kubectl -n $NS get secret jhub-postgresql -o jsonpath='{.data.postgres-password}' | base64 -d)",
         """{ printf '%s\\n' "$ADMIN"; printf "ALTER USER jhub WITH PASSWORD '%s';\\n" "$NEW"; } | """
         "kubectl -n $NS exec -i jhub-postgresql-primary-0 -- "
         "sh -c 'read -r PGPASSWORD; export PGPASSWORD; exec psql -U postgres -d jhub'",
         "kubectl -n $NS rollout restart deployment/hub"),
        None, _RUNBOOK + "; kwok's pods run no PostgreSQL and the toolchain has no kubectl: the case reads the "
                         "Secret, runs the same ALTER USER on the local PostgreSQL and starts the hub's pod again"),
    E2E(("URN=$(pulumi stack --stack $STACK --show-urns | grep -o 'urn:pulumi:[^ ]*::keycloak-secret')",),
        "e2e/faults/runbook.py::test_rotate_the_keycloak_client_secret"),
    # Retiring a research group (research-groups.md, "Retire a group"), the same way.
    E2E(("URN=$(pulumi stack --stack $STACK --show-urns | grep -o 'urn:pulumi:[^ ]*::research-<name>-tenant')",
         "pulumi up --stack $STACK --policy-pack policy"),
        "e2e/faults/runbook.py::test_add_and_retire_a_research_group"),
    E2E(("kubectl patch tenant <name> --type=merge -p '{\"spec\":{\"preventDeletion\":false}}'",
         "kubectl delete tenant <name>"),
        None, _RUNBOOK + "; the toolchain has no kubectl: the case makes the same patch and delete through the API"),
    # Faults (operations.md#faults, its sections on an update that stopped half-way, changes made by hand and a
    # delete that does not finish): each case reads the commands from the page and runs them (e2e/faults/docs.py).
    # Run after every kill (it deletes nothing unless a kill cut a sidecar short); made exact by its own case.
    E2E(("find \"$BACKEND_DIR/.pulumi\" -name '*.attrs' -size 0 -print -delete",),
        "e2e/faults/interrupted.py::test_state_sidecar_left_empty"),
    E2E(("pulumi cancel --stack $STACK",
         "pulumi stack export --stack $STACK --file state.json",
         "pulumi refresh --stack $STACK --clear-pending-creates",
         # Run when the re-run meets a Kubernetes object the killed run made (some measured runs).
         "PULUMI_K8S_ENABLE_PATCH_FORCE=true pulumi up --stack $STACK"),
        "e2e/faults/interrupted.py::test_cli_killed_mid_up"),
    E2E(("pulumi up --stack $STACK --continue-on-error",
         "pulumi up --stack $STACK",
         # Run for each role Keycloak made after the provider gave up (0 to 7 in the measured runs; the
         # killed CLI of interrupted.py::test_cli_killed_mid_up left such roles too).
         "PARENT=$(pulumi stack --stack $STACK --show-urns | grep -o 'urn:pulumi:[^ ]*ResearchTenants::research')",
         'pulumi import --stack $STACK keycloak:index/role:Role research-<group>-role <realm>/<role id> '
         '--parent "research=$PARENT" --protect=false --generate-code=false'),
        "e2e/faults/servers_down.py::test_keycloak_stopped_mid_up"),
    # The case runs the preview with --json instead of --diff, to read its steps.
    E2E(("pulumi preview --stack $STACK --refresh --diff",
         "pulumi up --stack $STACK --refresh"),
        "e2e/faults/drift.py::test_drift_made_by_hand"),
    E2E(("pulumi destroy --stack $STACK",),
        "e2e/faults/destroy.py::test_destroy_waits_on_finalizers_within_the_bound"),
    E2E(("kubectl get namespace jhub -o jsonpath='{.status.conditions}'",
         "kubectl get tenant <name> -o jsonpath='{.metadata.finalizers}'"),
        None, "the toolchain has no kubectl, and no namespace controller here writes conditions: "
              "e2e/faults/destroy.py sets and removes the finalizer through the API"),
    # Upgrading a stack deployed with RandomBytes hub secrets (CHANGELOG.md, 0.1.0, "Upgrading").
    E2E(("pulumi state unprotect 'urn:pulumi:<stack>::dossier::dossier:jupyterhub:JupyterHub"
         "$random:index/randomBytes:RandomBytes::jupyterhub-cookie-secret'",),
        None, "an upgrade from a state written by the earlier program is not replayed by the e2e"),
    # The PostgreSQL runbook (operations.md, "Backing up and restoring PostgreSQL"): variables, dump, restore.
    E2E((
         'PG=$(pulumi stack output --stack $STACK postgresql --json)',
         'NS=$(echo "$PG" | jq -r \'.host | split(".")[1]\')',
         'POD=$(echo "$PG" | jq -r \'.host | split(".")[0]\')-0',
         'SECRET=$(echo "$PG" | jq -r .secretName)',
         'DB=$(echo "$PG" | jq -r .database)',
         'umask 077',
         'DUMP=$DB-$(date -u +%Y%m%dT%H%M%SZ)',
         "{ kubectl -n $NS get secret $SECRET -o jsonpath='{.data.postgres-password}' | base64 -d; echo; } | "
         "kubectl -n $NS exec -i $POD -c postgresql -- "
         "sh -c 'read -r PGPASSWORD; export PGPASSWORD; exec pg_dump -U postgres --format=custom \"$1\"' "
         "sh $DB > $DUMP.dump",
         'pulumi stack export --stack $STACK --file $DUMP.state.json',
         'kubectl -n $NS get secret $SECRET hub -o yaml > $DUMP.secrets.yaml',
         "kubectl -n $NS exec -i $POD -c postgresql -- pg_restore --list < $DUMP.dump | grep -c 'TABLE DATA'",
         'kubectl -n $NS scale deployment/hub --replicas=0',
         'kubectl -n $NS wait --for=delete pod -l app=jupyterhub,component=hub --timeout=5m',
         'DUMP=<file>',
         'kubectl -n $NS port-forward pod/$POD <port>:5432 > /dev/null & FORWARD=$!',
         'until pg_isready -q -h 127.0.0.1 -p <port>; do sleep 1; done',
         "PGPASSWORD=$(kubectl -n $NS get secret $SECRET -o jsonpath='{.data.postgres-password}' | base64 -d) "
         "pg_restore -h 127.0.0.1 -p <port> -U postgres --clean --if-exists --create --exit-on-error -d postgres "
         "$DUMP.dump",
         'kill $FORWARD',
         'kubectl -n $NS scale deployment/hub --replicas=1',
         'kubectl -n $NS rollout status deployment/hub --timeout=5m'),
        "e2e/faults/backup.py::test_dump_lose_and_restore_the_database"),
    # Restoring a lost stack from a state export (operations.md, "Restoring after a lost stack").
    E2E(("pulumi stack init <stack>",
         "pulumi stack import --file <stack>.json",
         "pulumi refresh",
         "pulumi preview --policy-pack policy"),
        "e2e/faults/restore.py::test_restore_a_lost_stack_from_its_export"),
)
