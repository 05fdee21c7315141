"""The config contract is one thing: the model, Pulumi.yaml, the docs' reference table and the stack files agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from components.config import NAMESPACE, StackConfig, parse
from components.config_providers import provider_problems
from offline import config_doc
from offline.engine import ROOT, read_stack_config
from tests import stacks

REQUIRED = {"dossier:fqdn": "hub.example.org", "dossier:keycloak": {"url": "https://auth.example.org"}}


def _declarations() -> dict[str, Any]:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    return dict(project.get("config") or {})


def _raw(config: dict[str, Any]) -> dict[str, str]:
    """A stack file's ``config:`` map as the engine hands it to the program."""
    prefix = f"{NAMESPACE}:"
    return {
        k[len(prefix):]: v if isinstance(v, str) else json.dumps(v) for k, v in config.items() if k.startswith(prefix)
    }


def test_pulumi_yaml_declares_every_key_and_nothing_else() -> None:
    declared = {k for k in _declarations() if k.startswith(f"{NAMESPACE}:")}
    model = {f"{NAMESPACE}:{f.alias or n}" for n, f in StackConfig.model_fields.items()}
    assert declared == model


@pytest.mark.parametrize("name", list(StackConfig.model_fields))
def test_declaration_matches_the_model(name: str) -> None:
    field = StackConfig.model_fields[name]
    declaration = _declarations()[f"{NAMESPACE}:{name}"]
    expected_type = config_doc.pulumi_type(field.annotation)
    assert {k: declaration.get(k) for k in expected_type} == expected_type
    assert declaration.get("description"), "every key is described"
    if field.is_required():
        # No default: the Pulumi CLI refuses a stack that does not set the key.
        assert "default" not in declaration
        return
    assert "default" in declaration, "an optional key declares its default (else the CLI requires it)"
    # The declared default, handed over as the CLI would, validates to the model's own default.
    declared = parse(_raw({**REQUIRED, f"{NAMESPACE}:{name}": declaration["default"]}))
    modelled = parse(_raw(REQUIRED))
    assert getattr(declared, name) == getattr(modelled, name)
    assert declaration["default"] == config_doc.default_value(field)


def test_pulumi_yaml_is_the_generated_one() -> None:
    # `python -m offline.config_doc --pulumi-yaml` regenerates the declarations.
    assert _declarations() == config_doc.pulumi_declarations()


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        for annotation in [field.annotation, *getattr(field.annotation, "__args__", ())]:
            inner = [annotation, *getattr(annotation, "__args__", ())]
            for candidate in inner:
                if isinstance(candidate, type) and issubclass(candidate, BaseModel) and candidate not in found:
                    found += [m for m in _models(candidate) if m not in found]
    return found


def test_every_key_at_every_level_is_described_and_closed() -> None:
    for model in _models(StackConfig):
        assert model.model_config.get("extra") == "forbid", model.__name__
        assert model.model_config.get("frozen") is True, model.__name__
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_reference_table_is_the_generated_one() -> None:
    page = config_doc.REFERENCE.read_text()
    assert page.count(config_doc.START) == page.count(config_doc.END) == 1, (
        "docs/configuration.md needs exactly one pair of config-table markers"
    )
    match = re.search(re.escape(config_doc.START) + r"\n(.*?)\n?" + re.escape(config_doc.END), page, re.S)
    assert match, "docs/configuration.md: the config-table end marker comes before the start marker"
    assert match.group(1).strip() == config_doc.markdown_table(), (
        "regenerate the table: .venv/bin/python -m offline.config_doc --update-docs"
    )


def test_the_readme_holds_no_copy_of_the_table() -> None:
    # One generated copy: the README links to the reference instead of repeating it.
    readme = (ROOT / "README.md").read_text()
    assert config_doc.START not in readme and "| `dossier:fqdn` |" not in readme


def test_the_table_has_a_row_for_every_nested_key() -> None:
    keys = {row[0] for row in config_doc.rows()}
    assert {"keycloak.url", "postgresql.image.tag", "tenants[].limits.cpu.max", "spawners[].class"} <= keys


@pytest.mark.parametrize("stack_file", sorted(ROOT.glob("Pulumi.*.yaml")) + sorted(stacks.STACKS.glob("Pulumi.*.yaml")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_stack_files_are_valid(stack_file: Path) -> None:
    # The user's stack files (whatever their values) and the tests' own: readable as the CLI reads them (no key
    # given twice), every dossier: key valid, every provider key one its provider takes.
    stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config = read_stack_config(stack, stack_file.parent)
    parse(_raw(config))
    assert provider_problems(config) == []


def test_the_tests_prod_stack_is_production_shaped() -> None:
    # The tests' own stack (tests/fixtures/stacks): the user's Pulumi.prod.yaml is only checked for validity.
    config = stacks.config("prod")
    cfg = parse(_raw(config))
    assert cfg.protectData is True
    assert cfg.postgresql.architecture == "replication" and cfg.postgresql.readReplicas == 1
    assert cfg.fqdn == "jupyter.campus-prod.test" and cfg.keycloak.url == "https://login.campus-prod.test"
    assert [t.name for t in cfg.tenants] == ["astro"]
    # The provider credential as `pulumi config set --secret` stores it.
    assert set(config["keycloak:clientSecret"]) == {"secure"} and config["keycloak:clientId"] == "stack-deployer"


def test_generator_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert config_doc.main(["config_doc"]) == 0
    assert capsys.readouterr().out.strip() == config_doc.markdown_table()
    assert config_doc.main(["config_doc", "--pulumi-yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == {"config": config_doc.pulumi_declarations()}


def test_update_table_touches_only_the_table() -> None:
    text = f"before\n{config_doc.START}\nstale\n{config_doc.END}\nafter\n"
    assert config_doc.update_table(text) == (
        f"before\n{config_doc.START}\n{config_doc.markdown_table()}\n{config_doc.END}\nafter\n"
    )
