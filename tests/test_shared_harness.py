"""The shared-backend e2e's own logic, offline: the workflow read as a runner runs it, and the two-runner check.

``make e2e-shared`` runs the preview step of ``.github/workflows/preview.yml``
from what ``e2e/shared/workflow.py`` reads out of the file; these tests pin that
reading on the real workflow (and on a changed copy), so the e2e cannot pass by
running something the workflow does not say.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from e2e.shared import runners, workflow

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


def _changed_workflow(tmp_path: Path, change: str) -> Path:
    document = yaml.safe_load(workflow.WORKFLOW.read_text())
    job, index = workflow.preview_job()
    name = next(n for n, j in document["jobs"].items() if j == job)
    step = document["jobs"][name]["steps"][index]
    if change == "input":
        step["with"]["refresh"] = True
    else:
        step["env"]["PULUMI_SKIP_CHECKPOINTS"] = "false"
    path = tmp_path / "preview.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_an_input_the_runner_does_not_know_fails(tmp_path: Path) -> None:
    with pytest.raises(workflow.WorkflowError, match="inputs this runner does not know: refresh"):
        workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, "input"))


def test_the_steps_env_comes_from_the_file(tmp_path: Path) -> None:
    changed = workflow.plan(CONTEXT, tmp_path, _changed_workflow(tmp_path, "env"))
    assert changed.env["PULUMI_SKIP_CHECKPOINTS"] == "false"


def test_a_run_on_a_default_port_off_loopback_or_on_the_others_port_is_named() -> None:
    first = [("keycloak", "127.0.0.1", 9000), ("etcd", "::ffff:127.0.0.1", 40001)]
    second = [("etcd", "0.0.0.0", 40001), ("versitygw", "127.0.0.1", 41000)]
    assert runners.problems(first, second) == [
        "run 1's keycloak listens on 9000, the default port of Keycloak management",
        "run 2's etcd listens on 0.0.0.0:40001, not on loopback",
        "port 40001 is held by run 1's etcd and run 2's etcd",
    ]
    assert runners.problems([("etcd", "127.0.0.1", 40001)], [("etcd", "127.0.0.1", 40002)]) == []
