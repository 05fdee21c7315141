"""How config errors reach the operator: every problem at once, named keys, suggestions, no traceback."""

from __future__ import annotations

import json
import traceback

import pulumi
import pytest
from pulumi.runtime import config as runtime_config

from components import config
from components.config import ConfigError, parse

VALID = {"fqdn": "hub.example.org", "keycloak": json.dumps({"url": "https://auth.example.org"})}


@pytest.mark.parametrize(
    ("typo", "closest"),
    [
        ("fqnd", "fqdn"),
        ("FQDN", "fqdn"),
        ("namesapce", "namespace"),
        ("keycloack", "keycloak"),
        ("postgres", "postgresql"),
        ("jupyterHub", "jupyterhub"),
        ("tenats", "tenants"),
        ("spawner", "spawners"),
        ("protect_data", "protectData"),
        ("node", "nodes"),
    ],
)
def test_unknown_top_level_key_suggests_the_closest(typo: str, closest: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse({**VALID, typo: "[]"})
    assert raised.value.problems == [f"dossier:{typo}: unknown key; did you mean {closest!r}?"]


def test_unknown_key_with_nothing_close_lists_the_known_keys() -> None:
    with pytest.raises(ConfigError, match=r"dossier:zzz: unknown key; known keys: fqdn, namespace, keycloak"):
        parse({**VALID, "zzz": "1"})


def test_problems_name_key_value_and_expected_form() -> None:
    with pytest.raises(ConfigError) as raised:
        parse({**VALID, "keycloak": json.dumps({"url": "https://auth.example.org", "realm": "a b"})})
    (problem,) = raised.value.problems
    assert problem.startswith("dossier:keycloak.realm: expected ")
    assert problem.endswith('(got "a b")')


def test_keycloak_url_trailing_slash_is_normalised() -> None:
    for url in ("https://auth.example.org/", "https://auth.example.org//", "https://auth.example.org"):
        cfg = parse({**VALID, "keycloak": json.dumps({"url": url})})
        assert cfg.keycloak.url == "https://auth.example.org"
    cfg = parse({**VALID, "keycloak": json.dumps({"url": "https://sso.example.org/auth/"})})
    assert cfg.keycloak.url == "https://sso.example.org/auth"


def test_top_level_booleans_follow_the_cli() -> None:
    # The CLI hands every top-level value over as a string: `true`/`false` are booleans there.
    assert parse({**VALID, "protectData": "false"}).protectData is False
    for text in ("maybe", "True", "yes", "1", '"false"'):
        with pytest.raises(ConfigError, match="dossier:protectData: expected true or false"):
            parse({**VALID, "protectData": text})


def test_config_error_is_a_run_error_without_traceback() -> None:
    # The Python language host prints a RunError's message alone, without a traceback.
    with pytest.raises(ConfigError) as raised:
        parse({"fqdn": "Hub"})
    error = raised.value
    assert isinstance(error, pulumi.RunError)
    assert error.__cause__ is None and error.__suppress_context__
    text = str(error)
    assert "Traceback" not in text and "pydantic" not in text and "errors.pydantic.dev" not in text
    assert "".join(traceback.format_exception_only(error)).startswith("components.config.ConfigError: invalid")


@pytest.fixture
def engine_config(monkeypatch: pytest.MonkeyPatch):
    """Config as the CLI passes it to a program: the PULUMI_CONFIG environment variable."""

    def set_config(values: dict[str, str]) -> None:
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))

    previous = runtime_config.CONFIG.get()
    runtime_config.set_all_config({})
    yield set_config
    runtime_config.set_all_config(dict(previous))


def test_load_reads_every_dossier_key_including_unknown_ones(engine_config) -> None:
    engine_config(
        {
            "dossier:fqdn": "hub.example.org",
            "dossier:keycloak": json.dumps({"url": "https://auth.example.org"}),
            "dossier:protectdata": "false",
            "kubernetes:context": "dev",
        }
    )
    with pytest.raises(ConfigError) as raised:
        config.load()
    assert raised.value.problems == ["dossier:protectdata: unknown key; did you mean 'protectData'?"]


def test_load_returns_the_model(engine_config) -> None:
    engine_config({"dossier:fqdn": "hub.example.org", "dossier:keycloak": json.dumps({"url": "https://a.example.org"})})
    cfg = config.load()
    assert cfg.fqdn == "hub.example.org" and cfg.namespace == "jhub" and cfg.protectData is True
