"""What the e2e hub takes from the Helm values, as z2jh 2.0.0 passes it to its hub container (no servers)."""

from __future__ import annotations

import copy
import secrets

import pytest

from components.common import Chart
from components.jupyterhub import CONFIG_PATH, Database, HubImage, HubSecrets, JupyterHubArgs, OAuth, hub_values
from components.keycloak_client import endpoints
from e2e.hub import ValuesError
from e2e.hub.chart import SERVICE, check, hub_flags, secret_data, with_service

pytestmark = pytest.mark.e2e


def stack_values(debug: bool = False) -> dict:
    args = JupyterHubArgs(
        namespace="jhub",
        chart=Chart(repository="https://hub.jupyter.org/helm-chart/", name="jupyterhub", version="2.0.0"),
        hub_url="https://dossier.example.org",
        image=HubImage(name="alphaunito/dossier", tag="0.0.1-alpha"),
        spawner_class="dossier.spawners.kubespawner.DossierKubeSpawner",
        database=Database(host="jhub-postgresql-primary", port=5432, database="jhub", username="jhub", password="pw"),
        oauth=OAuth(client_id="jupyter", client_secret="cs", endpoints=endpoints("https://kc.example.org", "dossier"),
                    claim_name="tenants", admin_roles=["admin"]),
        debug=debug,
    )
    return hub_values(args, HubSecrets(cookie_secret="c" * 64, proxy_token="p" * 64, crypt_key="k" * 64))


def test_the_stacks_args_replace_the_charts_flags_and_repeat_upgrade_db() -> None:
    values = stack_values()
    assert values["hub"]["args"][:3] == ["dossier", "--config", CONFIG_PATH]
    assert values["hub"]["db"]["upgrade"] is True
    # hub.args replaces the chart's command: the program repeats --upgrade-db (and --debug) itself.
    assert hub_flags(values) == ["--upgrade-db"]
    assert hub_flags(stack_values(debug=True)) == ["--debug", "--upgrade-db"]


def test_without_args_the_chart_adds_debug_and_upgrade_db() -> None:
    values = stack_values()
    del values["hub"]["args"]
    values["debug"] = {"enabled": True}
    assert hub_flags(values) == ["--debug", "--upgrade-db"]
    values["hub"]["db"]["upgrade"] = None
    values["hub"]["db"]["type"] = "sqlite-pvc"
    assert hub_flags(values) == ["--debug", "--upgrade-db"]
    values["hub"]["db"]["type"] = "postgres"
    assert hub_flags(values) == ["--debug"]


def test_config_flags_are_dropped_in_both_spellings() -> None:
    values = {"hub": {"args": ["dossier", "--config=/x.py", "-f", "/y.py", "--log-level=DEBUG"]}}
    assert hub_flags(values) == ["--log-level=DEBUG"]


def test_secret_holds_the_values_secrets_as_the_charts_secret_does() -> None:
    values = stack_values()
    values["hub"]["config"]["CryptKeeper"]["keys"] = ["a" * 64, "b" * 64]
    data = secret_data(with_service(values, "t" * 64))
    assert data == {
        "hub.db.password": "pw",
        f"hub.services.{SERVICE}.apiToken": "t" * 64,
        "hub.config.ConfigurableHTTPProxy.auth_token": "p" * 64,
        "hub.config.JupyterHub.cookie_secret": "c" * 64,
        "hub.config.CryptKeeper.keys": "a" * 64 + ";" + "b" * 64,
    }


def test_missing_seeded_secrets_are_generated_like_the_chart() -> None:
    data = secret_data({"hub": {"db": {"type": "postgres"}}, "proxy": {"secretToken": "legacy"}})
    assert data["hub.config.ConfigurableHTTPProxy.auth_token"] == "legacy"
    assert len(bytes.fromhex(data["hub.config.JupyterHub.cookie_secret"])) == 32
    assert len(bytes.fromhex(data["hub.config.CryptKeeper.keys"])) == 32
    assert "hub.db.password" not in data


def test_the_harness_service_is_added_to_a_copy() -> None:
    values = stack_values()
    before = copy.deepcopy(values)
    token = secrets.token_hex(32)
    added = with_service(values, token)
    assert values == before
    assert added["hub"]["services"] == {SERVICE: {"apiToken": token}}
    assert added["hub"]["loadRoles"][SERVICE]["services"] == [SERVICE]
    with pytest.raises(ValuesError, match=f"hub.services.{SERVICE} is already set"):
        with_service(added, token)


def test_values_the_hub_cannot_run_name_every_missing_key() -> None:
    check(stack_values())
    values = stack_values()
    values["hub"]["db"]["type"] = "sqlite-pvc"
    del values["hub"]["db"]["password"]
    del values["hub"]["config"]["GenericOAuthenticator"]["oauth_callback_url"]
    with pytest.raises(ValuesError) as error:
        check(values)
    assert str(error.value) == (
        "the hub values cannot run the e2e hub: hub.db.type is 'sqlite-pvc', expected 'postgres'; "
        "hub.db.password is missing; hub.config.GenericOAuthenticator.oauth_callback_url is missing"
    )
