"""The runner of e2e/workflow.py, which runs the pull-request workflow's preview job under the real CLI (make e2e).

Offline: GitHub's expression semantics it needs, ``GITHUB_ENV``, and that every step of
the preview job is one it carries out, so a change to the workflow that it could not
follow fails here first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e import workflow

CONTEXT = {"matrix": {"stack": "prod"}, "secrets": {"KUBECONFIG_PROD": "p", "KUBECONFIG_DEV": "d"},
           "vars": {"PULUMI_BACKEND_URL": "s3://bucket"}}


@pytest.mark.parametrize(("expression", "value"), [
    ("matrix.stack == 'prod' && secrets.KUBECONFIG_PROD || secrets.KUBECONFIG_DEV", "p"),
    ("matrix.stack == 'dev' && secrets.KUBECONFIG_PROD || secrets.KUBECONFIG_DEV", "d"),
    ("vars.PULUMI_BACKEND_URL", "s3://bucket"),
    ("vars.UNSET", ""),  # GitHub: an unset variable or secret is an empty string
    ("secrets.UNSET || 'fallback'", "fallback"),
    ("!(matrix.stack != 'prod')", True),
    ("'it''s'", "it's"),
])
def test_expressions_evaluate_as_github_does(expression: str, value: object) -> None:
    assert workflow.evaluate(expression, CONTEXT) == value


@pytest.mark.parametrize("expression", ["github.event.number", "fromJSON(vars.X)", "matrix.stack ==", "1 + 1"])
def test_an_expression_it_does_not_know_is_refused(expression: str) -> None:
    with pytest.raises(workflow.WorkflowError, match="expression"):
        workflow.evaluate(expression, {**CONTEXT, "unused": {}})


def test_values_are_substituted_as_github_writes_them() -> None:
    assert workflow.substitute("preview ${{ matrix.stack }}", CONTEXT) == "preview prod"
    assert workflow.substitute(True, CONTEXT) == "true"


def test_github_env_lines_and_blocks(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text("KUBECONFIG=/tmp/k=1\nMULTI<<EOF\na\nb\nEOF\nLAST=x\n")
    assert workflow._github_env(path) == {"KUBECONFIG": "/tmp/k=1", "MULTI": "a\nb", "LAST": "x"}


def test_every_step_of_the_preview_job_is_one_the_runner_carries_out() -> None:
    _, job = workflow.load_job("preview.yml", "preview")
    kinds = []
    for step in job["steps"]:
        uses = str(step.get("uses", ""))
        if uses.startswith(workflow.PULUMI_ACTION):
            assert set(step["with"]) <= workflow.ACTION_INPUTS, set(step["with"]) - workflow.ACTION_INPUTS
            assert step["with"]["command"] == "preview"
            kinds.append("pulumi")
        elif uses.startswith(("actions/checkout@", "actions/setup-python@")):
            kinds.append(uses.split("@")[0])
        else:
            assert "run" in step, step
            kinds.append("run")
        for value in [*(step.get("env") or {}).values(), *(step.get("with") or {}).values()]:
            workflow.substitute(value, {"matrix": {"stack": "prod"}, "secrets": {}, "vars": {}})
    assert kinds[-1] == "pulumi" and kinds.count("pulumi") == 1, kinds
