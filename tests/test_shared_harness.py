"""The shared-backend e2e's own logic, offline: the workflow read as a runner runs it, and the two-runner check.

``make e2e-shared`` runs the preview step of ``.github/workflows/preview.yml``
from what ``e2e/shared/workflow.py`` reads out of the file; these tests pin that
reading on the real workflow (and on a changed copy), so the e2e cannot pass by
running something the workflow does not say. ``e2e/shared/holdings.py`` (what
the API server holds of each environment, compared before and after a destroy) is
pinned on objects of the shapes the API server gives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.shared import environments, holdings, runners, workflow

CONTEXT = {"secrets": {"PULUMI_CONFIG_PASSPHRASE": "pass", "KUBECONFIG_PROD": "prod-config",
                       "KUBECONFIG_DEV": "dev-config", "AWS_ACCESS_KEY_ID": "key"},
           "vars": {"PULUMI_BACKEND_URL": "s3://bucket?endpoint=https://127.0.0.1:1"}, "matrix": {"stack": "prod"}}


def test_expressions_evaluate_as_github_does() -> None:
    choice = "${{ matrix.stack == 'prod' && secrets.KUBECONFIG_PROD || secrets.KUBECONFIG_DEV }}"
    assert workflow.evaluate(choice, CONTEXT) == "prod-config"
    assert workflow.evaluate(choice, {**CONTEXT, "matrix": {"stack": "dev"}}) == "dev-config"
    assert workflow.evaluate("${{ secrets.MISSING }}", CONTEXT) == ""
    url = CONTEXT["vars"]["PULUMI_BACKEND_URL"]
    assert workflow.evaluate("a ${{ vars.PULUMI_BACKEND_URL }} b", CONTEXT) == f"a {url} b"
    with pytest.raises(workflow.WorkflowError, match="cannot evaluate"):
        workflow.evaluate("${{ fromJSON(secrets.X) }}", CONTEXT)


def test_the_preview_step_is_read_from_the_workflow(tmp_path: Path) -> None:
    preview = workflow.plan(CONTEXT, tmp_path)
    assert preview.login == ["pulumi", "login", CONTEXT["vars"]["PULUMI_BACKEND_URL"]]
    assert preview.argv == ["pulumi", "preview", "--stack", "prod", "--non-interactive", "--policy-pack", "policy"]
    # The step's env, evaluated; the kubeconfig step run, its GITHUB_ENV line kept.
    assert preview.env["PULUMI_SKIP_CHECKPOINTS"] == "true"
    assert preview.env["PULUMI_CONFIG_PASSPHRASE"] == "pass" and preview.env["AWS_ACCESS_KEY_ID"] == "key"
    assert Path(preview.env["KUBECONFIG"]).read_text() == "prod-config"
    assert preview.left_out == ["step 'Install the program and the policy pack': the e2e's .venv holds the same "
                                "requirements", "comment-on-pr: GitHub only", "github-token: GitHub only"]
    assert preview.pulumi_version


def test_given_the_checkout_the_install_step_runs_there(tmp_path: Path) -> None:
    # A checkout whose requirements files name nothing: the step's two virtualenvs, made where it says.
    checkout = tmp_path / "checkout"
    (checkout / "policy").mkdir(parents=True)
    for requirements in (checkout / "requirements.txt", checkout / "policy" / "requirements.txt"):
        requirements.write_text("# nothing\n")
    preview = workflow.plan(CONTEXT, tmp_path, checkout=checkout)
    assert preview.left_out == ["comment-on-pr: GitHub only", "github-token: GitHub only"]
    assert (checkout / ".venv" / "bin" / "python").is_file()
    assert (checkout / "policy" / ".venv" / "bin" / "pip").is_file()


def _changed_workflow(tmp_path: Path, change: Callable[[dict[Any, Any], dict[str, Any], int], None]) -> Path:
    """A copy of preview.yml with ``change(workflow, job, index of the preview step)`` made to it."""
    document = yaml.safe_load(workflow.WORKFLOW.read_text())
    job, index = workflow.preview_job()
    name = next(n for n, j in document["jobs"].items() if j == job)
    change(document, document["jobs"][name], index)
    path = tmp_path / "preview.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_an_input_the_runner_does_not_know_fails(tmp_path: Path) -> None:
    def refresh(document: dict[Any, Any], job: dict[str, Any], index: int) -> None:
        job["steps"][index]["with"]["refresh"] = True

    with pytest.raises(workflow.WorkflowError, match="inputs this runner does not know: refresh"):
        workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, refresh))


def test_the_steps_env_comes_from_the_file(tmp_path: Path) -> None:
    def checkpoints(document: dict[Any, Any], job: dict[str, Any], index: int) -> None:
        job["steps"][index]["env"]["PULUMI_SKIP_CHECKPOINTS"] = "false"

    changed = workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, checkpoints))
    assert changed.env["PULUMI_SKIP_CHECKPOINTS"] == "false"


def test_the_workflows_env_reaches_every_step_under_the_jobs_and_the_steps(tmp_path: Path) -> None:
    def envs(document: dict[Any, Any], job: dict[str, Any], index: int) -> None:
        document["env"] = {"FROM_WORKFLOW": "${{ vars.PULUMI_BACKEND_URL }}", "LEVEL": "workflow",
                           "PULUMI_SKIP_CHECKPOINTS": "workflow"}
        job["env"] = {"LEVEL": "job"}
        # A run step before the preview sees the workflow's env: what it appends reaches the preview.
        job["steps"].insert(index, {"name": "seen", "run": 'echo "SEEN=$FROM_WORKFLOW/$LEVEL" >> "$GITHUB_ENV"'})

    preview = workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, envs))
    url = CONTEXT["vars"]["PULUMI_BACKEND_URL"]
    assert preview.env["FROM_WORKFLOW"] == url and preview.env["SEEN"] == f"{url}/job"
    assert preview.env["LEVEL"] == "job" and preview.env["PULUMI_SKIP_CHECKPOINTS"] == "true"


def _set(*path: Any, value: Any) -> Callable[[dict[Any, Any], dict[str, Any], int], None]:
    """A change setting ``value`` at ``path``: from the workflow (``"workflow"``), the job (``"job"``) or a step
    (``"step", i``: the i-th step before the preview, -1 the preview step itself)."""
    def change(document: dict[Any, Any], job: dict[str, Any], index: int) -> None:
        where: Any = {"workflow": document, "job": job}.get(path[0])
        rest = path[1:]
        if path[0] == "step":
            where, rest = job["steps"][index + 1 + path[1] if path[1] < 0 else path[1]], path[2:]
        for key in rest[:-1]:
            where = where.setdefault(key, {})
        where[rest[-1]] = value
    return change


@pytest.mark.parametrize(("change", "named"), [
    (_set("workflow", "defaults", "run", "working-directory", value="sub"),
     "the workflow's defaults.run.working-directory: sub"),
    (_set("workflow", "defaults", "run", "shell", value="sh"), "the workflow's defaults.run.shell: sh"),
    (_set("job", "defaults", "run", "working-directory", value="sub"),
     "job 'preview': defaults.run.working-directory: sub"),
    (_set("job", "defaults", "run", "shell", value="pwsh"), "job 'preview': defaults.run.shell: pwsh"),
    (_set("step", 3, "working-directory", value="sub"), "step 'Write the kubeconfig': working-directory"),
    (_set("step", 3, "shell", value="sh"), "step 'Write the kubeconfig': shell: sh"),
    (_set("step", 3, "if", value="false"), "step 'Write the kubeconfig': if"),
    (_set("step", -1, "continue-on-error", value=True), "step 'pulumi preview --policy-pack policy': "
                                                        "continue-on-error"),
    (_set("step", 0, "uses", value="some/action@v1"), "uses some/action@v1"),
    (_set("job", "container", value="ubuntu"), "job 'preview': container"),
    (_set("workflow", "run-name", value="x"), "the workflow's run-name"),
])
def test_what_the_runner_does_not_interpret_fails_naming_it(tmp_path: Path, change: Any, named: str) -> None:
    with pytest.raises(workflow.WorkflowError, match="does not interpret") as raised:
        workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, change))
    assert named in str(raised.value)


def test_the_real_workflow_holds_nothing_uninterpreted() -> None:
    document = yaml.safe_load(workflow.WORKFLOW.read_text())
    job, index = workflow.preview_job()
    name = next(n for n, j in document["jobs"].items() if j == job)
    assert workflow.not_interpreted(document, name, job, index) == []
    # Its defaults say shell: bash, which this runner honours (pipefail: a failing pipe fails the step).
    assert document["defaults"] == {"run": {"shell": "bash"}}


def test_a_step_without_a_named_shell_runs_as_githubs_default(tmp_path: Path) -> None:
    # No defaults anywhere: GitHub's bash -e, without pipefail, so a failing pipe's head does not fail the step.
    def unnamed(document: dict[Any, Any], job: dict[str, Any], index: int) -> None:
        del document["defaults"]
        job["steps"].insert(index, {"name": "pipe", "run": 'false | true; echo "PIPED=yes" >> "$GITHUB_ENV"'})

    assert workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, unnamed)).env["PIPED"] == "yes"

    def named(document: dict[Any, Any], job: dict[str, Any], index: int) -> None:
        job["steps"].insert(index, {"name": "pipe", "run": 'false | true; echo "PIPED=yes" >> "$GITHUB_ENV"'})

    with pytest.raises(workflow.WorkflowError, match="step 'pipe' failed"):
        workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, named))


def test_a_run_on_a_default_port_off_loopback_or_on_the_others_port_is_named() -> None:
    first = [("keycloak", "127.0.0.1", 9000), ("etcd", "::ffff:127.0.0.1", 40001)]
    second = [("etcd", "0.0.0.0", 40001), ("versitygw", "127.0.0.1", 41000)]
    assert runners.problems(first, second) == [
        "run 1's keycloak listens on 9000, the default port of Keycloak management",
        "run 2's etcd listens on 0.0.0.0:40001, not on loopback",
        "port 40001 is held by run 1's etcd and run 2's etcd",
    ]
    assert runners.problems([("etcd", "127.0.0.1", 40001)], [("etcd", "127.0.0.1", 40002)]) == []


def _object(uid: str, **fields: Any) -> dict[str, Any]:
    metadata = {"uid": uid, **fields.pop("metadata", {})}
    return {"metadata": metadata, **fields}


def test_what_an_environment_owns_on_the_api_server() -> None:
    """The second environment of make e2e-shared: its namespace, Tenants and theirs, cluster-wide objects."""
    prod = environments.SECOND
    held = {
        "v1 namespaces jhub-prod": _object("1"),
        "apps/v1 deployments jhub-prod/hub": _object("2", spec={"replicas": 1}),
        "capsule.clastix.io/v1beta2 tenants genomics-prod": _object("3", spec={"owners": [
            {"kind": "ServiceAccount", "name": "system:serviceaccount:jhub-prod:hub"}]}),
        "v1 namespaces genomics-prod-jhub-prod-alice": _object(
            "4", metadata={"labels": {holdings.TENANT_LABEL: "genomics-prod"}}),
        "v1 persistentvolumeclaims genomics-prod-jhub-prod-alice/claim-alice": _object("5"),
        "rbac.authorization.k8s.io/v1 clusterroles jhub-prod-hub": _object("6"),
        "rbac.authorization.k8s.io/v1 clusterroles jhub-prod-user-scheduler": _object(
            "16", metadata={"annotations": {holdings.HELM_NAMESPACE: "jhub-prod"}}),
        "networking.k8s.io/v1 ipaddresses 10.96.0.7": _object("7", spec={"parentRef": {"namespace": "jhub-prod"}}),
        "v1 persistentvolumes local-1": _object("8", spec={"claimRef": {"namespace": "jhub-prod"}}),
        "v1 nodes node-1": _object("9", metadata={"labels": {"hub.jupyter.org/node-purpose": "user"}}),
        # The first environment's, and the cluster's own.
        "v1 namespaces jhub": _object("10"),
        "apps/v1 deployments jhub/hub": _object("11"),
        "rbac.authorization.k8s.io/v1 clusterroles jhub-hub": _object("12"),
        "networking.k8s.io/v1 ipaddresses 10.96.0.8": _object("13", spec={"parentRef": {"namespace": "jhub"}}),
        "apiextensions.k8s.io/v1 customresourcedefinitions spawners.dossier.unito.it": _object(
            "14", metadata={"annotations": {"dossier.unito.it/installed-by": "jhub"}}),
        "v1 configmaps kube-system/other": _object("15"),
    }
    assert holdings.owned(prod, held) == {
        "v1 namespaces jhub-prod", "apps/v1 deployments jhub-prod/hub", "capsule.clastix.io/v1beta2 tenants "
        "genomics-prod", "v1 namespaces genomics-prod-jhub-prod-alice",
        "v1 persistentvolumeclaims genomics-prod-jhub-prod-alice/claim-alice",
        "rbac.authorization.k8s.io/v1 clusterroles jhub-prod-hub", "networking.k8s.io/v1 ipaddresses 10.96.0.7",
        "rbac.authorization.k8s.io/v1 clusterroles jhub-prod-user-scheduler",
        "v1 persistentvolumes local-1", "v1 nodes node-1"}
    assert holdings.owned(environments.FIRST, held) == {
        "v1 namespaces jhub", "apps/v1 deployments jhub/hub", "rbac.authorization.k8s.io/v1 clusterroles jhub-hub",
        "networking.k8s.io/v1 ipaddresses 10.96.0.8",
        "apiextensions.k8s.io/v1 customresourcedefinitions spawners.dossier.unito.it", "v1 nodes node-1"}


def test_a_change_of_any_object_is_named() -> None:
    before = {"apps/v1 deployments jhub/hub": _object("1", spec={"replicas": 1, "template": {"a": [1, 2]}}),
              "v1 configmaps jhub/c": _object("2", data={"k": "v"}), "v1 services jhub/s": _object("3")}
    assert holdings.changes(before, before) == {}
    after = {"apps/v1 deployments jhub/hub": _object("1", spec={"replicas": 1, "template": {"a": [1, 3]}}),
             "v1 configmaps jhub/c": _object("9", data={"k": "v"}), "v1 secrets jhub/new": _object("4")}
    assert holdings.changes(before, after) == {
        "apps/v1 deployments jhub/hub": "changed .spec.template.a[1]: 2 -> 3",
        "v1 configmaps jhub/c": "changed .metadata.uid: 2 -> 9",  # deleted and made again
        "v1 secrets jhub/new": "appeared",
        "v1 services jhub/s": "vanished",
    }
