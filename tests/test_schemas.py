"""Sources of the pinned upstream files (offline/schemas.py) and the strict plan (`make plan`, docs/schemas.md).

The download is tested against a local server that serves the pinned files laid out as upstream publishes
them (a chart archive, a multi-document CRD file), built from the copies the other sources provide.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline import checks, plan, schemas, validate
from offline.engine import ROOT, RunResult
from offline.schemas import PINS, SchemaUnavailable, Sources
from tests import stacks

TENANT = "capsule-tenant-v1beta2.schema.json"
Z2JH_VALUES = "z2jh-2.0.0.values.yaml"
SOURCE_VARIABLES = (schemas.ENV_DIRECTORY, schemas.ENV_CACHE, schemas.ENV_MIRROR, "DOSSIER_ALLOW_UNCHECKED")


def route(pin: schemas.Pin) -> str:
    return "/" + pin.url.split("://", 1)[1]


def published(pin: schemas.Pin, document: Any = None) -> bytes:
    """The download that holds ``pin``'s file (or ``document``), laid out unlike the copy (as upstream may)."""
    kind, _, arg = pin.extract.partition(":")
    if kind == "file":
        return schemas.path(pin.name).read_bytes()
    document = schemas.load(pin.name) if document is None else document
    if kind == "tgz":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for member, data in (("jupyterhub/Chart.yaml", b"name: jupyterhub\nversion: 2.0.0\n"),
                                 (arg, json.dumps(document, indent=4, sort_keys=True).encode())):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()
    crd_kind, _, version = arg.partition("/")
    decoy = {"kind": "CustomResourceDefinition", "spec": {"names": {"kind": "Other"}, "versions": []}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "spec": {"names": {"kind": crd_kind}, "versions": [
               {"name": "v0", "schema": {"openAPIV3Schema": {"type": "object"}}},
               {"name": version, "schema": {"openAPIV3Schema": document}}]}}
    return yaml.safe_dump_all([decoy, crd], sort_keys=False).encode()


@pytest.fixture
def upstream_files(upstream: None) -> dict[str, tuple[int, bytes]]:
    """Routes of a server that serves every pinned file as upstream publishes it."""
    return {route(pin): (200, published(pin)) for pin in PINS.values()}


def test_canonical_form_ignores_layout_not_content() -> None:
    compact, pretty = b'{"b": 1, "a": [1, 2]}', b'{\n    "a": [\n        1,\n        2\n    ],\n    "b": 1\n}\n'
    assert schemas.digest(compact, "json") == schemas.digest(pretty, "json") == schemas.digest(b"a: [1, 2]\nb: 1\n",
                                                                                               "yaml")
    assert schemas.digest(b'{"a": [2, 1], "b": 1}', "json") != schemas.digest(compact, "json")
    assert schemas.digest(compact, "bytes") != schemas.digest(pretty, "bytes")
    assert schemas.canonical({"b": "é", "a": None}) == '{"a":null,"b":"é"}'.encode()


@pytest.mark.usefixtures("upstream")
def test_pins_are_the_canonical_sha256_of_the_pinned_copies(capsys: pytest.CaptureFixture[str]) -> None:
    assert schemas.main(["pin", *(str(schemas.path(name)) for name in PINS)]) == 0
    printed = {Path(line.split()[1]).name: line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert printed == {name: pin.sha256 for name, pin in PINS.items()}


def test_status_names_every_pinned_file_and_its_source(
    upstream_files: dict[str, tuple[int, bytes]], no_schemas: Sources, local_server,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    assert schemas.main([]) == 1
    out = capsys.readouterr().out
    assert [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("missing  ")] == list(PINS)
    assert "a directory: DOSSIER_UPSTREAM=<dir>" in out
    # With a server to download from, it fetches them all into the cache.
    monkeypatch.setenv(schemas.ENV_MIRROR, local_server(upstream_files).url)
    assert schemas.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["ok", name] for name in PINS]
    assert {p.name for p in Sources.from_env().cache.iterdir()} == set(PINS)


def test_download_fills_the_cache_once(tmp_path: Path, local_server, upstream_files, unreachable_url: str) -> None:
    server = local_server(upstream_files)
    sources = Sources(None, tmp_path / "cache", server.url)
    for name, pin in PINS.items():
        where, source, document = schemas.resolve(name, sources)
        assert (where, source) == (tmp_path / "cache" / name, f"download ({server.url}{route(pin)})")
        assert document == schemas.load(name)
    assert sorted(path for path, _ in server.requests) == sorted(upstream_files)
    # The archive's schema is laid out unlike the copy; the canonical pin matched all the same.
    schema = PINS["z2jh-2.0.0.values.schema.json"]
    assert schemas.path(schema.name).read_bytes() != schemas.extract(schema, upstream_files[route(schema)][1])
    # Next time (a new process: new sources, the server gone) the cache answers.
    offline = Sources(None, tmp_path / "cache", unreachable_url)
    assert {schemas.resolve(name, offline)[1] for name in PINS} == {"cache"}


def test_a_cache_that_cannot_be_written_is_a_clear_reason(tmp_path: Path, local_server, upstream_files) -> None:
    not_a_directory = tmp_path / "cache"
    not_a_directory.write_text("")
    sources = Sources(None, not_a_directory, local_server(upstream_files).url)
    with pytest.raises(SchemaUnavailable, match=r"downloaded http://127\.0\.0\.1:\d+/\S+, but cannot write it to "
                                                 r"the cache: .*\(DOSSIER_SCHEMA_CACHE names another directory\)"):
        schemas.resolve(TENANT, sources)


def test_a_tampered_download_is_refused_and_named(
    tmp_path: Path, local_server, upstream_files, dev: RunResult
) -> None:
    tenant = PINS[TENANT]
    document = schemas.load(TENANT)
    tampered = {**document, "properties": {**document["properties"], "spec": {"type": "object"}}}
    routes = {**upstream_files, route(tenant): (200, published(tenant, tampered))}
    del routes[route(PINS["contour-httpproxy-v1.schema.json"])]
    server = local_server(routes)
    sources = Sources(None, tmp_path / "cache", server.url)
    with pytest.raises(SchemaUnavailable) as refused:
        schemas.resolve(TENANT, sources)
    assert refused.value.refused
    assert str(refused.value).startswith(f"{TENANT}: refused the download of {server.url}{route(tenant)}: "
                                         "its content does not match the pin (sha256 ")
    assert not (tmp_path / "cache" / TENANT).exists()
    # The plan names it, and the file the server does not have, and checks the rest.
    report = checks.validate_resources(dev, "1.30.0", sources=sources)
    assert report.unchecked[TENANT].refused and report.unchecked[TENANT].reasons == refused.value.reasons
    assert "HTTP Error 404" in report.unchecked["contour-httpproxy-v1.schema.json"].reasons[-1]
    assert set(report.unchecked) == {TENANT, "contour-httpproxy-v1.schema.json"}
    lines = plan.unchecked_lines(report, allowed=False, sources=sources)
    what = "Tenant (capsule.clastix.io/v1beta2) against its CRD schema (1x)"
    assert f"  - refused: {TENANT}; not checked: {what}" in lines


def test_an_unreachable_server_is_a_clear_reason(no_schemas: Sources) -> None:
    with pytest.raises(SchemaUnavailable) as missing:
        schemas.resolve(TENANT, no_schemas)
    assert not missing.value.refused
    host = no_schemas.mirror.split("://")[1] if no_schemas.mirror else ""
    assert missing.value.reasons[:2] == ["DOSSIER_UPSTREAM is not set", f"not in the cache ({no_schemas.cache})"]
    download = f"download of {no_schemas.url(PINS[TENANT])} failed: {host} unreachable ("
    assert missing.value.reasons[2].startswith(download)
    assert "Connection refused" in missing.value.reasons[2]
    assert not no_schemas.cache.exists()


@pytest.mark.usefixtures("upstream")
def test_dossier_upstream_comes_first_and_every_source_is_checked(tmp_path: Path, unreachable_url: str) -> None:
    directory, cache = tmp_path / "upstream", tmp_path / "cache"
    directory.mkdir()
    cache.mkdir()
    shutil.copy(schemas.path(Z2JH_VALUES), directory)
    shutil.copy(schemas.path(TENANT), cache)
    (cache / Z2JH_VALUES).write_text("hub: {}\n")  # never read: the directory has this file
    sources = Sources(directory, cache, unreachable_url)
    assert schemas.resolve(Z2JH_VALUES, sources)[:2] == (directory / Z2JH_VALUES, "DOSSIER_UPSTREAM")
    assert schemas.resolve(TENANT, sources)[:2] == (cache / TENANT, "cache")
    with pytest.raises(SchemaUnavailable, match=rf"not in DOSSIER_UPSTREAM \({directory}\); not in the cache"):
        schemas.resolve("contour-httpproxy-v1.schema.json", sources)
    # A changed copy is refused and named, wherever it is; the next source is not tried.
    directory, cache = tmp_path / "changed-upstream", tmp_path / "changed-cache"
    directory.mkdir()
    cache.mkdir()
    defaults = yaml.safe_load(schemas.path(Z2JH_VALUES).read_text())
    defaults["hub"]["baseUrl"] = "/elsewhere/"
    (directory / Z2JH_VALUES).write_text(yaml.safe_dump(defaults))
    shutil.copy(schemas.path(Z2JH_VALUES), cache)
    (cache / TENANT).write_text(schemas.path(TENANT).read_text().replace('"string"', '"integer"', 1))
    sources = Sources(directory, cache, unreachable_url)
    with pytest.raises(SchemaUnavailable, match=rf"refused {directory / Z2JH_VALUES}: its content does not match"):
        schemas.resolve(Z2JH_VALUES, sources)
    with pytest.raises(SchemaUnavailable, match=rf"refused {cache / TENANT}: .*; remove it to download it again"):
        schemas.resolve(TENANT, sources)


def test_plan_downloads_what_it_needs(
    tmp_path: Path, local_server, upstream_files, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = local_server(upstream_files)
    monkeypatch.delenv(schemas.ENV_DIRECTORY, raising=False)
    monkeypatch.setenv(schemas.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv(schemas.ENV_MIRROR, server.url)
    assert plan.main([*stacks.plan_args(), "--out", str(tmp_path / "build")]) == 0, capsys.readouterr().out
    needed = {*validate.CRD_SCHEMAS.values(), validate.Z2JH_SCHEMA, validate.Z2JH_VALUES, validate.POSTGRESQL_VALUES}
    assert {p.name for p in (tmp_path / "cache").iterdir()} == needed
    assert "not run" not in capsys.readouterr().out


def test_plan_in_a_clone_with_no_schemas_is_lowered_to_a_warning_only_when_asked(
    tmp_path: Path, no_schemas: Sources, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv(schemas.ENV_DIRECTORY, str(elsewhere))
    out = str(tmp_path / "build")
    assert plan.main([*stacks.plan_args(), "--out", out]) == 3
    strict = capsys.readouterr().out
    assert f"not in DOSSIER_UPSTREAM ({elsewhere})" in strict and "plan incomplete:" in strict
    assert plan.main([*stacks.plan_args(), "--out", out, "--allow-unchecked"]) == 0
    allowed = capsys.readouterr().out
    assert "check(s) did not run (--allow-unchecked):" in allowed and f"missing: {TENANT}" in allowed
    assert "Provide the schemas" not in allowed
    monkeypatch.setenv("DOSSIER_ALLOW_UNCHECKED", "1")
    assert plan.main([*stacks.plan_args(), "--out", out]) == 0


def run_plan(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """``python -m offline.plan`` in its own process, with only the given schema sources."""
    env = {k: v for k, v in os.environ.items() if k not in SOURCE_VARIABLES} | environment
    return subprocess.run([sys.executable, "-m", "offline.plan", *stacks.plan_args(), "--out", str(tmp_path / "build")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_make_plan_without_schemas_exits_3_and_says_how_to_provide_them(tmp_path: Path, unreachable_url: str) -> None:
    cache = tmp_path / "empty-cache"
    done = run_plan(tmp_path, DOSSIER_SCHEMA_CACHE=str(cache), DOSSIER_SCHEMA_MIRROR=unreachable_url)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    out = done.stdout
    assert "plan incomplete: 6 check(s) could not run:" in out
    for name in (*validate.CRD_SCHEMAS.values(), validate.Z2JH_SCHEMA, validate.Z2JH_VALUES,
                 validate.POSTGRESQL_VALUES):
        assert f"  - missing: {name}; not checked: " in out
    assert "DOSSIER_UPSTREAM is not set; not in the cache" in out and " unreachable (" in out
    assert out.count("Provide the schemas in one of three ways:") == 1
    for way in ("1. from your cluster: `make plan SCHEMAS=cluster`", f"2. a download: with network access, "
                f"the pinned files are fetched once into {cache}", "3. a directory: DOSSIER_UPSTREAM=<dir>",
                "Or plan without these checks: make plan ALLOW_UNCHECKED=1 (--allow-unchecked)."):
        assert way in out
    assert out.splitlines()[-1].endswith("checks passed, 6 not run")


@pytest.mark.usefixtures("upstream")
def test_plan_with_a_copy_of_the_pinned_files_checks_everything(
    tmp_path: Path, unreachable_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in PINS:
        shutil.copy(schemas.path(name), copy)
    monkeypatch.setenv(schemas.ENV_DIRECTORY, str(copy))
    monkeypatch.setenv(schemas.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv(schemas.ENV_MIRROR, unreachable_url)
    assert plan.main([*stacks.plan_args(), "--out", str(tmp_path / "build")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(" checks passed")
    assert not (tmp_path / "cache").exists()


@pytest.mark.usefixtures("upstream")
def test_a_chart_version_without_a_pinned_schema_is_not_passed_quietly(dev: RunResult) -> None:
    result = copy.deepcopy(dev)
    release = next(r for r in result.resources if r.inputs.get("name") == "jhub-postgresql")
    release.inputs["version"] = "12.3.0"
    report = checks.validate_resources(result, "1.30.0")
    missing = report.unchecked["a pinned values schema for chart postgresql 12.3.0"]
    assert missing.what == {"postgresql 12.3.0 values": 1}
    assert missing.reasons == ['only jupyterhub 2.0.0, postgresql 12.2.1 are pinned; pin this version '
                               '(docs/schemas.md, "Refreshing a pin")']
    assert list(report.unchecked) == ["a pinned values schema for chart postgresql 12.3.0"]
    lines = plan.unchecked_lines(report, allowed=False)
    assert lines[0] == "plan incomplete: 1 check(s) could not run:"
    assert lines[-1] == "Or plan without these checks: make plan ALLOW_UNCHECKED=1 (--allow-unchecked)."
    assert "Provide the schemas in one of three ways:" not in lines  # no source can provide an unpinned schema
