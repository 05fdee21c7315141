"""How config errors reach the operator: every problem at once, named keys, suggestions, no traceback."""

from __future__ import annotations

import importlib
import json
import traceback

import pulumi
import pytest
from pulumi.runtime import config as runtime_config

from components import config, config_namespaces, config_providers
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


# --- the providers' settings ----------------------------------------------------------


def test_provider_keys_are_the_ones_the_installed_sdks_declare() -> None:
    import pulumi_kubernetes.provider
    import pulumi_random.provider

    kubernetes = config_providers.provider_keys("kubernetes")
    assert {"context", "kubeconfig", "cluster", "namespace", "enableServerSideApply"} <= set(kubernetes)
    # Read from the SDK (its ProviderArgs, by the names the engine uses), not from a list of ours.
    args = pulumi_kubernetes.provider.ProviderArgs
    assert len(kubernetes) == len([n for n, v in vars(args).items() if isinstance(v, property)])
    assert {"url", "clientId", "clientSecret", "realm"} <= set(config_providers.provider_keys("keycloak"))
    assert config_providers.provider_keys("random") == ()
    assert not [n for n, v in vars(pulumi_random.provider.ProviderArgs).items() if isinstance(v, property)]


def test_the_keycloak_sdks_config_module_declares_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    # pulumi_keycloak.config reads the same settings from the stack (the kubernetes and random SDKs ship no such
    # module): record each key its properties read.
    keycloak_vars = importlib.import_module("pulumi_keycloak.config.vars")
    read: list[str] = []

    class Recording:
        def __getattr__(self, method: str):
            return lambda key, *args: read.append(key)

    # A property per setting on the config module's class, each reading `__config__` of config/vars.py.
    monkeypatch.setattr(keycloak_vars, "__config__", Recording())
    for value in vars(keycloak_vars._ExportableConfig).values():
        if isinstance(value, property):
            value.fget(None)
    assert len(read) >= 20
    assert set(read) <= set(config_providers.provider_keys("keycloak")), set(read) - set(
        config_providers.provider_keys("keycloak"))


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("kubernetes:contxt", "kubernetes:contxt: unknown key of the kubernetes provider; did you mean 'context'?"),
        ("kubernetes:kubeConfig", "kubernetes:kubeConfig: unknown key of the kubernetes provider; "
                                  "did you mean 'kubeconfig'?"),
        ("keycloak:client_secret", "keycloak:client_secret: unknown key of the keycloak provider; "
                                   "did you mean 'clientSecret'?"),
        ("random:seed", "random:seed: unknown key; the random provider takes no settings"),
    ],
)
def test_a_provider_key_its_provider_does_not_take_is_refused(key: str, problem: str) -> None:
    assert config_providers.provider_problems({key, "kubernetes:context", "keycloak:url"}) == [problem]


def test_other_namespaces_are_not_ours_to_check() -> None:
    assert config_providers.provider_problems({"pulumi:disable-default-providers", "aws:region", "team:owner"}) == []


def test_load_refuses_a_provider_typo_with_the_dossier_problems(engine_config) -> None:
    engine_config({"dossier:fqdn": "Hub", "dossier:keycloak": json.dumps({"url": "https://auth.example.org"}),
                   "kubernetes:contxt": "prod", "keycloak:url": "https://auth.example.org"})
    with pytest.raises(ConfigError) as raised:
        config.load()
    problems = raised.value.problems
    assert len(problems) == 2 and problems[0].startswith("dossier:fqdn: ")
    assert problems[1] == "kubernetes:contxt: unknown key of the kubernetes provider; did you mean 'context'?"


def test_a_number_where_a_string_is_expected_says_how_to_quote_it() -> None:
    tenant = {"name": "genomics", "resourceQuota": {"cpu": 64, "storage": True},
              "limits": {"cpu": {"default": "1", "defaultRequest": "500m", "min": "100m", "max": "8"}}}
    with pytest.raises(ConfigError) as raised:
        parse({**VALID, "tenants": json.dumps([tenant])})
    assert raised.value.problems == [
        'dossier:tenants[0].resourceQuota.cpu: expected a string; YAML reads 64 as a number: write it quoted, '
        'cpu: "64" (got 64)',
        "dossier:tenants[0].resourceQuota.storage: expected a string; YAML reads true/false, yes/no and on/off as "
        "booleans: write the value quoted (got true)",
    ]


@pytest.mark.parametrize(("namespace", "longest"), [("jhub", 56), ("notebooks", 51), ("default", 56)])
def test_the_longest_tenant_name_leaves_one_character_for_a_user(namespace: str, longest: int) -> None:
    ok = {**VALID, "namespace": namespace, "tenants": json.dumps([{"name": "g" * longest}])}
    assert parse(ok).tenants[0].name == "g" * longest
    assert config_namespaces.user_name_room("g" * longest, namespace) == 1
    with pytest.raises(ConfigError) as raised:
        parse({**ok, "tenants": json.dumps([{"name": "g" * (longest + 1)}])})
    (problem,) = raised.value.problems
    assert problem.startswith(f"dossier:tenants[0].name: too long: Dossier puts each notebook in the namespace "
                              f"<tenant>-{'user' if namespace == 'default' else namespace}-<user>, at most 63")
    assert f"a tenant name has at most {longest} characters" in problem


def test_a_tenant_whose_name_starts_the_hub_namespace_gets_no_second_prefix() -> None:
    # Dossier prefixes `<tenant>-` only when the namespace does not start with it already.
    assert config_namespaces.user_name_room("lab", "lab-notebooks") == 63 - len("lab-notebooks-")
    assert config_namespaces.user_name_room("lab", "notebooks") == 63 - len("lab-notebooks-")
