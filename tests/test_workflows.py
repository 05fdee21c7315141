"""The GitHub workflows users copy: linted, and shaped as docs/operations.md ("Workflows") describes.

Pull requests run ``make test`` and then ``pulumi preview`` of dev and prod with
the policy pack, commenting on the pull request; pushes to main run ``pulumi up``
of dev, then of prod behind the ``production`` environment's approval.

The linter is jactionlint (a PyPI wheel that ships its binary, so it installs
with ``requirements.txt`` and runs offline): its ``correctness`` checks are
actionlint's, and its default profile adds the security rules (actions pinned to
commits, least-privilege tokens, no credentials left in the checkout).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PULUMI_ACTION = "pulumi/actions@"


def linter() -> str:
    found = shutil.which("jactionlint", path=str(Path(sys.executable).parent)) or shutil.which("jactionlint")
    if not found:
        pytest.fail("jactionlint is not installed: it comes with requirements.txt (make test installs it)")
    return found


def lint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [linter(), "--no-online", "--no-color", *map(str, files)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in steps(job) if str(s.get("uses", "")).startswith(PULUMI_ACTION)]
    return step


def runs(job: dict[str, Any], command: str) -> bool:
    return any(command in str(s.get("run", "")) for s in steps(job))


def test_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["deploy.yml", "preview.yml"]


def test_workflows_pass_the_linter() -> None:
    result = lint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ github.no_such_context }}\n"
        "    needs: missing-job\n"
    )
    result = lint(broken)
    assert result.returncode != 0
    assert "missing-job" in result.stdout


def test_pull_requests_run_the_tests_then_preview_each_stack_with_the_policy_pack() -> None:
    workflow = load("preview.yml")
    assert "pull_request" in workflow["on"]
    jobs = workflow["jobs"]
    (test_job,) = [name for name, job in jobs.items() if runs(job, "make test")]
    preview = jobs["preview"]
    assert test_job in ([preview["needs"]] if isinstance(preview["needs"], str) else preview["needs"])
    assert sorted(preview["strategy"]["matrix"]["stack"]) == ["dev", "prod"]
    step = pulumi_step(preview)["with"]
    assert step["command"] == "preview"
    assert step["stack-name"] == "${{ matrix.stack }}"
    assert step["policyPacks"] == "policy"
    assert step["comment-on-pr"] is True
    assert preview["permissions"]["pull-requests"] == "write"


def test_pushes_to_main_deploy_dev_then_prod_behind_an_approval() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert runs(jobs["test"], "make test")
    dev, prod = jobs["dev"], jobs["prod"]
    assert dev["needs"] == "test" and prod["needs"] == "dev"
    assert prod["environment"] == "production"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        step = pulumi_step(job)["with"]
        assert (step["command"], step["stack-name"], step["policyPacks"]) == ("up", stack, "policy")
    # A deployment is never cancelled half-way by the next push.
    assert workflow["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_actions_are_pinned_to_commits_and_tokens_are_least_privilege(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        for step in steps(job):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_workflows_install_the_policy_pack_they_run(name: str) -> None:
    for job in load(name)["jobs"].values():
        if any(str(s.get("uses", "")).startswith(PULUMI_ACTION) for s in steps(job)):
            assert runs(job, "policy/requirements.txt")


def _toolchain_cli_version() -> str:
    """The CLI version the end-to-end tests and the benchmarks run (e2e/toolchain/pulumi/go.mod)."""
    go_mod = (ROOT / "e2e" / "toolchain" / "pulumi" / "go.mod").read_text()
    (version,) = re.findall(r"^require github\.com/pulumi/pulumi/pkg/v3 v(\S+)$", go_mod, flags=re.MULTILINE)
    return version


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_workflows_pin_the_cli_version_the_e2e_tests_prove(name: str) -> None:
    for job in load(name)["jobs"].values():
        if any(str(s.get("uses", "")).startswith(PULUMI_ACTION) for s in steps(job)):
            assert str(pulumi_step(job)["with"]["pulumi-version"]) == _toolchain_cli_version()


def test_previews_skip_checkpoints_and_updates_never_do() -> None:
    """A preview persists nothing (docs/operations.md); an update's checkpoints are its crash safety."""
    preview = load("preview.yml")
    assert pulumi_step(preview["jobs"]["preview"])["env"]["PULUMI_SKIP_CHECKPOINTS"] == "true"
    # Set on the preview step only: nowhere a later step of the job, or another job, would inherit it.
    assert "PULUMI_SKIP_CHECKPOINTS" not in str({k: v for k, v in preview.items() if k != "jobs"})
    for job in preview["jobs"].values():
        assert "PULUMI_SKIP_CHECKPOINTS" not in str(job.get("env", {}))
    assert "PULUMI_SKIP_CHECKPOINTS" not in (WORKFLOWS / "deploy.yml").read_text()
