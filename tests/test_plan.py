"""The offline plan (offline/plan.py): rendering, redaction, determinism, validation failures, graphs."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import components.ingress
from offline import checks, engine, graph, plan, plandiff, render, schemas
from offline.engine import ROOT, UNKNOWN, Registration, ResourceRef, RunResult, Secret, StackOutput
from offline.registration import (
    SECRET_MARKER,
    UNKNOWN_MARKER,
    UnknownCount,
    View,
    for_validation,
    redact,
    secret_values,
)
from tests import stacks


def registration(type_: str, name: str, inputs: dict[str, Any], *, parent: str = "", custom: bool = True,
                 dependencies: list[str] | None = None, protect: bool = False) -> Registration:
    given: dict[str, Any] = {
        "urn": f"urn:pulumi:t::dossier::{type_}::{name}", "type": type_, "name": name, "custom": custom,
        "parent": parent or "urn:pulumi:t::dossier::pulumi:pulumi:Stack::dossier-t", "inputs": inputs,
        "protect": protect, "retain_on_delete": protect, "dependencies": dependencies or [],
    }
    # Every other field empty, whatever fields the engine's Registration grows.
    empty = {"str": "", "bool": False, "list[str]": [], "dict[str, Any]": {}}
    for f in dataclasses.fields(Registration):
        given.setdefault(f.name, copy.copy(empty[str(f.type)]))
    return Registration(**given)


def synthetic() -> RunResult:
    """A small hand-made run: a component, a namespace, a secret, a release, a Keycloak client."""
    component = registration("dossier:x:Thing", "thing", {}, custom=False)
    namespace = registration("kubernetes:core/v1:Namespace", "ns",
                             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jhub"}}, protect=True)
    secret = registration(
        "kubernetes:core/v1:Secret", "db",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "jhub"},
         "stringData": Secret({"password": "hunter2-hunter2"})},
        parent=component.urn, dependencies=[namespace.urn],
    )
    release = registration(
        "kubernetes:helm.sh/v3:Release", "rel",
        {"chart": "oci://example.org/charts/postgresql", "version": "12.2.1", "name": "jhub-postgresql",
         "namespace": "jhub", "values": {"auth": {"password": Secret(UNKNOWN)}, "multi": "a\nb\n"}},
        parent=component.urn, dependencies=[secret.urn],
    )
    client = registration("keycloak:openid/client:Client", "client",
                          {"clientId": "jupyter", "clientSecret": Secret("s3cr3t-value-x"), "ref": ResourceRef("u")})
    outputs = {
        "password": StackOutput("hunter2-hunter2", secret=True, known=True),
        "later": StackOutput(UNKNOWN, secret=False, known=False),
        "url": StackOutput({"host": "h", "port": UNKNOWN}, secret=False, known=True),
    }
    return RunResult("t", True, [component, namespace, secret, release, client], outputs, ["hunter2-hunter2"])


# --- pure functions ---------------------------------------------------------------


def test_redact_replaces_secrets_and_unknowns_keeping_secret_map_keys() -> None:
    value = {"a": Secret("x"), "b": UNKNOWN, "c": [Secret({"k": "v"}), 1], "d": Secret(UNKNOWN)}
    assert redact(value) == {
        "a": SECRET_MARKER, "b": UNKNOWN_MARKER, "c": [{"k": SECRET_MARKER}, 1],
        "d": SECRET_MARKER,
    }


def test_for_validation_reveals_secrets_and_drops_unknowns() -> None:
    dropped = UnknownCount()
    value = {"a": Secret("x"), "b": UNKNOWN, "c": [UNKNOWN, 2], "d": Secret(UNKNOWN)}
    assert for_validation(value, dropped) == {"a": "x", "c": [2]}
    assert dropped.count == 3


def test_view_gives_each_registration_its_kind_in_urn_order() -> None:
    result = synthetic()
    result.resources += [
        registration("random:index/randomPassword:RandomPassword", "pw", {"length": 40}),
        registration("kubernetes:yaml:ConfigFile", "cf", {"file": "x.yaml"}),  # a kubernetes type, no object
    ]
    view = View.of(result)
    assert [(r.name, kind) for r, kind in view.registrations] == [
        ("thing", "component"), ("client", "keycloak"), ("ns", "kubernetes"), ("db", "kubernetes"),
        ("rel", "release"), ("cf", "resource"), ("pw", "resource"),
    ]
    assert view.secrets == secret_values(result) and "s3cr3t-value-x" in view.secrets
    assert View.of(view) is view


def test_render_files_layout_and_redaction() -> None:
    files = render.render_files(synthetic())
    assert set(files) == {
        "graph.dot", "graph.mmd", "outputs.json", "resources.yaml",
        "helm/jhub-postgresql/release.yaml", "helm/jhub-postgresql/values.yaml",
        "keycloak/client-client.yaml",
        "kubernetes/_cluster/namespace-jhub.yaml", "kubernetes/jhub/secret-db.yaml",
    }
    manifest = yaml.safe_load(files["kubernetes/jhub/secret-db.yaml"])
    assert manifest["stringData"] == {"password": "[secret]"}
    values = yaml.safe_load(files["helm/jhub-postgresql/values.yaml"])
    assert values == {"auth": {"password": "[secret]"}, "multi": "a\nb\n"}
    assert "multi: |" in files["helm/jhub-postgresql/values.yaml"]
    assert yaml.safe_load(files["helm/jhub-postgresql/release.yaml"])["version"] == "12.2.1"
    assert json.loads(files["outputs.json"]) == {
        "password": "[secret]", "later": "(known after apply)", "url": {"host": "h", "port": "(known after apply)"},
    }
    options = yaml.safe_load(files["resources.yaml"])
    assert options[synthetic().resources[1].urn]["protect"] is True
    everything = "".join(files.values())
    assert "hunter2" not in everything and "s3cr3t" not in everything


def test_leak_scan_names_the_file() -> None:
    result = synthetic()
    assert secret_values(result) >= {"hunter2-hunter2", "s3cr3t-value-x"}
    assert checks.leaked({"a.yaml": "x: hunter2-hunter2\n", "b.yaml": "ok"}, secret_values(result)) == [
        "a.yaml: contains a secret value (redaction failed)"
    ]


def test_graph_edges() -> None:
    result = synthetic()
    mmd, dot = graph.mermaid(result), graph.dot(result)
    assert "  stack --> Thing_thing" in mmd
    assert "  Thing_thing --> Secret_db" in mmd
    assert "  Secret_db -.-> Namespace_ns" in mmd
    assert "  Release_rel -.-> Secret_db" in mmd
    assert 'Thing_thing(["Thing<br/>thing"])' in mmd
    assert dot.startswith('digraph "t" {') and dot.endswith("}\n")
    assert "  Thing_thing -> Secret_db;" in dot
    assert "  Secret_db -> Namespace_ns [style=dashed];" in dot


def test_tree_and_outputs_lines() -> None:
    result = synthetic()
    tree = "\n".join(plan.tree_lines(result))
    assert "Thing thing  (dossier:x:Thing)" in tree
    assert "Release rel  chart=oci://example.org/charts/postgresql version=12.2.1" in tree
    assert "Namespace ns  jhub [protect] [retain]" in tree
    outputs = "\n".join(plan.output_lines(result))
    assert "password: [secret]" in outputs and "later: (known after apply)" in outputs


# --- the real program ----------------------------------------------------------------


def test_plan_of_dev_writes_and_validates(tmp_path: Path, upstream: None) -> None:
    report = plan.plan("dev", stacks=stacks.STACKS, out=tmp_path)
    assert report.ok, report.validation.problems
    written = {str(p.relative_to(tmp_path / "dev")) for p in (tmp_path / "dev").rglob("*") if p.is_file()}
    assert written == set(report.files)
    assert "helm/jhub/values.yaml" in written and "helm/jhub-postgresql/values.yaml" in written
    assert "kubernetes/jhub/httpproxy-notebooks.lab-staging.test.yaml" in written
    assert any(p.startswith("kubernetes/_patches/node-") for p in written)
    assert any(p.startswith("keycloak/") for p in written)
    outputs = json.loads((tmp_path / "dev" / "outputs.json").read_text())
    assert outputs["postgresqlPassword"] == "[secret]" and outputs["keycloakClientSecret"] == "[secret]"
    # Custom resources (Tenant, HTTPProxy, Certificate), core objects and both charts' values were checked.
    assert report.validation.checks >= 10
    assert report.complete, report.validation.unchecked


def test_the_tree_and_resources_yaml_show_every_option(prod: RunResult, dev: RunResult, tmp_path: Path) -> None:
    # The destroy guard is a protected component: the tree flags it as it flags protected resources.
    guard = "DestroyGuard destroy-guard  (dossier:safety:DestroyGuard)"
    assert f"─ {guard} [protect]\n" in "\n".join(plan.tree_lines(prod)) + "\n"
    assert f"─ {guard}\n" in "\n".join(plan.tree_lines(dev)) + "\n"
    # Each alias is the URN it stands for (the kubernetes SDK aliases some kinds to their older API versions).
    report = plan.plan("dev", stacks=stacks.STACKS, out=tmp_path)
    aliases = [a for entry in yaml.safe_load(report.files["resources.yaml"]).values() for a in entry.get("aliases", [])]
    assert aliases and all(a.startswith("urn:pulumi:dev::dossier::") for a in aliases), aliases


def test_no_generated_secret_reaches_build(tmp_path: Path) -> None:
    report = plan.plan("dev", stacks=stacks.STACKS, out=tmp_path, preview=False)
    secrets = report.result.generated_secrets
    assert len(secrets) >= 6
    text = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    found = [s for s in secrets if s in text]
    assert not found, "generated secret values in build/"
    assert report.ok, report.validation.problems


def test_two_runs_are_byte_identical(tmp_path: Path) -> None:
    plan.plan("dev", stacks=stacks.STACKS, out=tmp_path / "a")
    plan.plan("dev", stacks=stacks.STACKS, out=tmp_path / "b")
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert a == b


def test_output_dir_is_cleared(tmp_path: Path) -> None:
    stale = tmp_path / "dev" / "kubernetes" / "stale.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    plan.plan("dev", stacks=stacks.STACKS, out=tmp_path)
    assert not stale.exists()


def test_misspelt_httpproxy_field_fails_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], upstream: None
) -> None:
    original = components.ingress.httpproxy_spec

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        spec = original(*args, **kwargs)
        spec["routes"][0]["enableWebsocket"] = spec["routes"][0].pop("enableWebsockets")
        return spec

    monkeypatch.setattr(components.ingress, "httpproxy_spec", broken)
    assert plan.main([*stacks.plan_args(), "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1, out
    assert "HTTPProxy ingress-httpproxy" in problems[0]
    assert "spec.routes[0]" in problems[0] and "enableWebsocket" in problems[0]


def test_config_error_exits_2_without_traceback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "components", project / "components", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": {
        "dossier:fqdn": "https://not a host", "dossier:fqdnn": "typo.example.org",
        "dossier:keycloak": {"url": "https://keycloak.example.org"},
    }}))
    done = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--root", str(project), "--out", str(tmp_path / "build")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "invalid stack configuration" in done.stderr
    assert "fqdn" in done.stderr and "fqdnn" in done.stderr
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(("fixture", "says"), [
    ("error.file-tab.yaml", "/Pulumi.dev.yaml: cannot be read (1 problem(s)):\n  - line 9, column 1: "),
    ("error.file-duplicate-key.yaml", "  - dossier:tenants: given twice, on lines 11 and 15;"),
    ("error.provider-kubernetes-typo.yaml", "  - kubernetes:contxt: unknown key of the kubernetes provider; "
                                            "did you mean 'context'?"),
])
def test_a_stack_file_the_cli_would_refuse_exits_2_without_traceback(tmp_path: Path, fixture: str, says: str) -> None:
    # The error fixtures as a user's Pulumi.dev.yaml, planned from the shell as `make plan` does.
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "config" / fixture, stacks / "Pulumi.dev.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--stacks", str(stacks), "--out", str(tmp_path / "build")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.startswith("error: ") and says in done.stderr, done.stderr
    assert not (tmp_path / "build").exists()


# --- plan-diff ---------------------------------------------------------------------------


def test_diff_trees_reports_changed_added_and_removed_files(tmp_path: Path) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    for tree, files in ((base, {"same.yaml": "a\n", "changed.yaml": "x: 1\n", "gone.yaml": "old\n"}),
                        (head, {"same.yaml": "a\n", "changed.yaml": "x: 2\n", "new/added.yaml": "new\n"})):
        for name, text in files.items():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_text(text)
    diff = "".join(plandiff.diff_trees(base, head, "main", "head"))
    assert "--- main/changed.yaml\n+++ head/changed.yaml\n" in diff and "-x: 1\n+x: 2\n" in diff
    assert "--- main/gone.yaml\n+++ /dev/null\n" in diff
    assert "--- /dev/null\n+++ head/new/added.yaml\n" in diff
    assert "same.yaml" not in diff
    assert list(plandiff.diff_trees(head, head)) == []


def test_export_ref_reads_the_repository_only(tmp_path: Path) -> None:
    plandiff.export_ref("HEAD", tmp_path)
    assert (tmp_path / "__main__.py").is_file() and (tmp_path / stacks.STACKS_ARG / "Pulumi.dev.yaml").is_file()
    with pytest.raises(RuntimeError, match="cannot export"):
        plandiff.export_ref("no-such-ref-anywhere", tmp_path / "x")


# --- validation -----------------------------------------------------------------------------


def test_without_upstream_the_plan_says_what_it_did_not_check(no_schemas: schemas.Sources) -> None:
    report = checks.validate_resources(synthetic(), "1.30.0", sources=no_schemas)
    assert report.problems == []
    assert list(report.unchecked) == ["bitnami-postgresql-12.2.1.values.yaml"]
    missing = report.unchecked["bitnami-postgresql-12.2.1.values.yaml"]
    assert missing.what == {"postgresql 12.2.1 values": 1} and not missing.refused
    assert missing.reasons[0] == "DOSSIER_UPSTREAM is not set" and "unreachable" in missing.reasons[-1]
    assert any("known only after apply" in note for note in report.notes)
    assert report.checks == 2  # the Namespace and the Secret, against the Kubernetes schemas


def test_core_object_problem_names_the_resource_and_field(no_schemas: schemas.Sources) -> None:
    result = synthetic()
    result.resources[1].inputs["metadata"]["lables"] = {"a": "b"}
    problems = checks.validate_resources(result, "1.30.0", sources=no_schemas).problems
    assert len(problems) == 1 and problems[0].startswith("Namespace ns: Namespace jhub.metadata")
    assert "lables" in problems[0]


def test_custom_resources_of_a_crd_in_the_stack_are_checked_against_it(
    tmp_path: Path, no_schemas: schemas.Sources
) -> None:
    spawner = {"name": "hpc", "class": "dossier.spawners.Remote", "tenants": ["jhub"]}
    report = plan.plan("dev", stacks=stacks.STACKS, out=tmp_path, overrides={"dossier:spawners": [spawner]})
    assert report.ok, report.validation.problems
    result = report.result
    crs = [r for r in result.resources if r.inputs.get("kind") == "Spawner"]
    assert len(crs) == 1
    crs[0].inputs["spec"]["clas"] = crs[0].inputs["spec"].pop("class")
    problems = checks.validate_resources(result, "1.30.0", sources=no_schemas).problems
    assert any("Spawner" in p and "clas" in p for p in problems), problems


def test_another_trees_program_runs_with_its_own_components(tmp_path: Path) -> None:
    """make plan-diff's base runs its own components/, not the ones this process has loaded, which stay."""
    for name in ("__main__.py", "Pulumi.yaml", "VERSION"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "components", tmp_path / "components", ignore=shutil.ignore_patterns("__pycache__"))
    hub = tmp_path / "components" / "jupyterhub.py"
    hub.write_text(hub.read_text().replace('name=f"{args.release_name}-hub"', 'name=f"{args.release_name}-base"'))

    def role_names(result: engine.RunResult) -> set[str]:
        kind = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
        return {engine.reveal(r.inputs)["metadata"]["name"] for r in result.by_type(kind)}

    stacks.run_stack()  # this tree's components, loaded as any plan loads them
    loaded = sys.modules["components.jupyterhub"]
    assert role_names(engine.run(stacks.config(), stack="dev", program=tmp_path / "__main__.py")) == {"jhub-base"}
    assert sys.modules["components.jupyterhub"] is loaded
    assert role_names(stacks.run_stack()) == {"jhub-hub"}


def test_plan_diff_against_head_exits_0_and_writes_both_trees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plandiff.main(["--base", "HEAD", "--stacks", stacks.STACKS_ARG, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "base" / "dev" / "outputs.json").is_file()
    assert (tmp_path / "dev" / "outputs.json").is_file()
    assert "plan of dev:" in capsys.readouterr().err
    assert plandiff.main(["--base", "no-such-ref-anywhere", "--out", str(tmp_path)]) == 2
