"""The output contract other teams read through StackReference."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from offline.engine import ROOT, RunResult, reveal
from tests.doc_pages import blocks

CONTRACT = {
    "hubUrl": False,
    "namespace": False,
    "tenant": False,
    "tenants": False,
    "postgresql": False,
    "postgresqlPassword": True,
    "keycloak": False,
    "keycloakClientSecret": True,
    "hubServiceAccount": False,
    "tlsSecret": False,
    "chartVersions": False,
}


def test_outputs_are_exactly_the_contract_with_secrets_sealed(dev: RunResult) -> None:
    assert {name: out.secret for name, out in dev.outputs.items()} == CONTRACT


def test_output_values(dev: RunResult) -> None:
    values = {name: out.value for name, out in dev.outputs.items()}
    user_password = dev.one("random:index/randomPassword:RandomPassword", "postgresql-user-password")
    assert values["hubUrl"] == "https://notebooks.lab-staging.test"
    assert values["namespace"] == "jhub"
    assert values["tenant"] == "jhub"
    assert values["postgresql"] == {
        "host": "jhub-postgresql-primary.jhub.svc",
        "port": 5432,
        "database": "jhub",
        "username": "jhub",
        "secretName": "jhub-postgresql",
        "clientLabels": {"jhub-postgresql-client": "true"},
    }
    assert values["postgresqlPassword"] == reveal(user_password.outputs["result"])
    assert values["keycloak"] == {
        "clientId": "jupyter",
        "issuerUrl": "https://sso.lab-staging.test/realms/science",
        "realm": "science",
    }
    assert values["hubServiceAccount"] == "system:serviceaccount:jhub:hub"
    assert values["tlsSecret"] == {"name": "notebooks.lab-staging.test-tls", "namespace": "jhub"}
    assert values["chartVersions"] == {"postgresql": "12.2.1", "jupyterhub": "2.0.0"}


def test_outputs_are_known_at_preview_except_generated_secrets(run_program) -> None:
    result = run_program(preview=True)
    unknown = {name for name, out in result.outputs.items() if not out.known}
    assert unknown <= {"postgresqlPassword", "keycloakClientSecret"}
    assert result.outputs["postgresql"].known and result.outputs["hubServiceAccount"].known
    assert result.outputs["tlsSecret"].known


def test_names_other_namespaces_can_use(run_program) -> None:
    # Another namespace: the outputs follow it, and the hub keeps its own short name.
    result = run_program(namespace="notebooks")
    values = {name: out.value for name, out in result.outputs.items()}
    assert values["postgresql"]["host"] == "jhub-postgresql-primary.notebooks.svc"
    assert values["tlsSecret"] == {"name": "notebooks.lab-staging.test-tls", "namespace": "notebooks"}
    hub = result.one("kubernetes:helm.sh/v3:Release", "jupyterhub-release").inputs["values"]["hub"]
    assert hub["db"]["url"] == "postgresql+psycopg2://jhub@jhub-postgresql-primary:5432/jhub"
    certificate = result.one("kubernetes:cert-manager.io/v1:Certificate", "ingress-certificate").inputs
    assert (certificate["metadata"]["namespace"], certificate["spec"]["secretName"]) == (
        values["tlsSecret"]["namespace"], values["tlsSecret"]["name"])


# --- the contract as docs/outputs.md states it and the consumer (examples/consumer) reads it ---

CONSUMER = ROOT / "examples" / "consumer"
BLOCK_START, BLOCK_END = "# --- reading the Dossier stack", "# --- end of the block ---"


def _consumer_contract() -> Any:
    spec = importlib.util.spec_from_file_location("consumer_contract", CONSUMER / "contract.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documented_table() -> dict[str, tuple[str, bool]]:
    """output -> (type, secret) from the table of docs/outputs.md."""
    rows = {}
    for line in (ROOT / "docs" / "outputs.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0] != "`output`":
            rows[cells[0].strip("`")] = (cells[2].strip("`"), cells[3] == "**yes**")
    return rows


def test_the_documented_table_is_the_contract_and_the_consumers() -> None:
    contract = _consumer_contract()
    table = _documented_table()
    assert {name: secret for name, (_, secret) in table.items()} == CONTRACT
    assert table == {name: (contract.describe(spec), secret) for name, (spec, secret) in contract.OUTPUTS.items()}


def test_every_output_has_its_documented_type(dev: RunResult) -> None:
    contract = _consumer_contract()
    for name, output in dev.outputs.items():
        contract.check(name, output.value)  # raises naming the output and the field


def test_a_reshaped_output_is_named_by_the_consumers_check(dev: RunResult) -> None:
    contract = _consumer_contract()
    postgresql = {**dev.outputs["postgresql"].value, "port": "5432"}
    with pytest.raises(TypeError, match=r"output postgresql\.clientLabels\.jhub-postgresql-client: expected string"):
        contract.check("postgresql", {**dev.outputs["postgresql"].value,
                                      "clientLabels": {"jhub-postgresql-client": True}})
    with pytest.raises(TypeError, match=r"output postgresql\.port: expected integer, got str"):
        contract.check("postgresql", postgresql)
    with pytest.raises(TypeError, match=r"output tenants: expected list of string, got str"):
        contract.check("tenants", "jhub")
    with pytest.raises(TypeError, match=r"postgresql: expected \{host: string.*the field\(s\) secretName are missing"):
        contract.check("postgresql", {k: v for k, v in dev.outputs["postgresql"].value.items() if k != "secretName"})
    assert contract.check("postgresql", {**dev.outputs["postgresql"].value, "port": 5432.0})  # a JSON number


def test_the_page_shows_the_consumers_own_reading_block() -> None:
    source = (CONSUMER / "__main__.py").read_text()
    assert source.count(BLOCK_START) == 1 and source.count(BLOCK_END) == 1
    block = source.split(BLOCK_START, 1)[1].split("\n", 1)[1].split(BLOCK_END, 1)[0].strip("\n")
    shown = [b for b in blocks((ROOT / "docs" / "outputs.md").read_text()) if b.info == "python"]
    assert len(shown) == 1, "docs/outputs.md shows one python block: the consumer's reading block"
    assert "\n".join(text for _, text in shown[0].lines) == block


def test_the_consumer_pins_the_programs_sdk_versions() -> None:
    def pins(path: Any) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return dict(line.split("==", 1) for line in lines if "==" in line)

    consumer, program = pins(CONSUMER / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert consumer and all(program.get(name) == version for name, version in consumer.items()), consumer
