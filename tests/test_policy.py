"""The policy pack (policy/), tested offline both ways.

Every policy runs over the resources the real program registers with the engine
stand-in (dev and a prod-like stack) and must pass; then over a mutated copy of
one of them and must fail with a message naming that resource. The policies are
driven through pulumi-policy's own objects: ``ResourceValidationPolicy.validate``
with ``ResourceValidationArgs`` whose props went through the SDK's
deserializer and unknown-checking proxy, and once end to end through the
analyzer service the Pulumi CLI talks to.
"""

from __future__ import annotations

import copy
import select
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy

from offline.engine import (
    UNKNOWN,
    Registration,
    RunResult,
    encode,
    leaves,
    run,
)
from tests import stacks

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
sys.path.insert(0, str(POLICY_DIR))  # as the Pulumi CLI runs the pack: its folder on sys.path
import dossier_rules  # noqa: E402

POLICIES = {p.name: p for p in dossier_rules.POLICIES}


# --- driving pulumi-policy ---------------------------------------------------------


def policy_props(inputs: dict[str, Any]) -> Any:
    """Inputs as a policy sees them: wire form, deserialized by the SDK, behind its unknown-checking proxy."""
    return unknown_checking_proxy(deserialize_properties(encode(inputs)))


def validation_args(r: Registration) -> ResourceValidationArgs:
    options = PolicyResourceOptions(
        protect=r.protect,
        ignore_changes=list(r.ignore_changes),
        delete_before_replace=r.delete_before_replace,
        aliases=list(r.aliases),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(r.additional_secret_outputs),
        parent=r.parent or None,
    )
    return ResourceValidationArgs(r.type, policy_props(r.inputs), r.urn, r.name, options, None)


def violations(policy: ResourceValidationPolicy, resources: list[Registration]) -> list[tuple[str, str | None]]:
    """(message, urn) of every violation ``policy`` reports over ``resources``."""
    found: list[tuple[str, str | None]] = []
    for r in resources:
        result = policy.validate(validation_args(r), lambda message, urn=None: found.append((message, urn)))
        assert result is None  # the rules are synchronous
    return found


def analyze_request(r: Registration) -> Any:
    properties = struct_pb2.Struct()
    json_format.ParseDict(encode(r.inputs), properties)
    return proto.AnalyzeRequest(
        type=r.type, properties=properties, urn=r.urn, name=r.name,
        options=proto.AnalyzerResourceOptions(protect=r.protect),
    )


def analyze(resources: list[Registration]) -> list[Any]:
    """The pack's analyzer service, in process: one AnalyzeRequest per resource, the diagnostics back."""
    servicer = _PolicyAnalyzerServicer("dossier", "0.1.0", list(dossier_rules.POLICIES), EnforcementLevel.MANDATORY)
    diagnostics = []
    for r in resources:
        diagnostics += list(servicer.Analyze(analyze_request(r), None).diagnostics)
    return diagnostics


# --- the real program's resources ------------------------------------------------------


@pytest.fixture(scope="module")
def preview_dev() -> RunResult:
    return stacks.run_stack("dev", preview=True)


def test_the_pack_has_every_rule_of_the_issue() -> None:
    assert set(POLICIES) == {
        "no-public-services", "httpproxy-tls", "helm-chart-pinned", "keycloak-client-confidential",
        "keycloak-mappers-multivalued", "data-protected", "capsule-tenant-prevent-deletion",
        "clusterrole-no-wildcards",
    }
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in POLICIES.values())


@pytest.mark.parametrize("name", sorted(POLICIES))
@pytest.mark.parametrize("which", ["dev", "prod"])
def test_policy_passes_on_the_program(name: str, which: str, request: pytest.FixtureRequest) -> None:
    result: RunResult = request.getfixturevalue(which)
    assert violations(POLICIES[name], result.resources) == []


def test_the_pack_passes_a_preview_through_the_analyzer_service(preview_dev: RunResult) -> None:
    # Not even an advisory "can't run during preview": every rule judges the preview.
    assert [d.message for d in analyze(preview_dev.resources)] == []


def test_a_preview_still_catches_a_public_hub_despite_unknown_secrets(preview_dev: RunResult) -> None:
    hub = copy.deepcopy(preview_dev.one(dossier_rules.HELM_RELEASE, "jupyterhub-release"))
    assert any(leaf is UNKNOWN for _, leaf, _ in leaves(hub.inputs)), "the preview should leave the hub secrets unknown"
    hub.inputs["values"]["proxy"]["service"]["type"] = "NodePort"
    (diagnostic,) = analyze([hub])
    assert (diagnostic.policyName, diagnostic.enforcementLevel) == ("no-public-services", proto.MANDATORY)


def test_the_analyzer_service_reports_a_violation_with_its_urn(prod: RunResult) -> None:
    client = copy.deepcopy(prod.one("keycloak:openid/client:Client"))
    client.inputs["accessType"] = "PUBLIC"
    (diagnostic,) = analyze([client])
    assert diagnostic.policyName == "keycloak-client-confidential"
    assert diagnostic.enforcementLevel == proto.MANDATORY
    assert diagnostic.urn == client.urn and "keycloak-client" in diagnostic.message


def test_the_pack_serves_its_policies_as_the_cli_starts_it(prod: RunResult) -> None:
    # The CLI runs policy/__main__.py unbuffered (python -u), reads the port it prints and
    # talks gRPC to it (localhost only).
    pack = subprocess.Popen([sys.executable, "-u", str(POLICY_DIR)], stdout=subprocess.PIPE, text=True)
    try:
        assert pack.stdout is not None
        ready, _, _ = select.select([pack.stdout], [], [], 60)
        assert ready, "the policy pack printed no port within 60 s"
        port = int(pack.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "dossier"
            assert {p.name for p in info.policies} == set(POLICIES)
            tenant = copy.deepcopy(prod.one("kubernetes:capsule.clastix.io/v1beta2:Tenant", "tenant-tenant"))
            assert list(analyzer.Analyze(analyze_request(tenant), timeout=30).diagnostics) == []
            tenant.inputs["spec"]["preventDeletion"] = False
            (diagnostic,) = analyzer.Analyze(analyze_request(tenant), timeout=30).diagnostics
            assert diagnostic.policyName == "capsule-tenant-prevent-deletion"
            assert "'tenant-tenant'" in diagnostic.message
    finally:
        pack.kill()
        pack.wait(timeout=30)


# --- mutations: each must fail, naming the resource -------------------------------------------

Mutation = Callable[[RunResult], Registration]


def _one(result: RunResult, type_: str, name: str | None = None) -> Registration:
    return copy.deepcopy(result.one(type_, name))


def _values(r: Registration) -> dict[str, Any]:
    values: dict[str, Any] = r.inputs["values"]
    return values


def _hub(result: RunResult) -> Registration:
    return _one(result, dossier_rules.HELM_RELEASE, "jupyterhub-release")


def _pg(result: RunResult) -> Registration:
    return _one(result, dossier_rules.HELM_RELEASE, "postgresql-release")


def hub_proxy_load_balancer(result: RunResult) -> Registration:
    hub = _hub(result)
    _values(hub)["proxy"]["service"]["type"] = "LoadBalancer"
    return hub


def hub_proxy_type_unset(result: RunResult) -> Registration:
    hub = _hub(result)
    del _values(hub)["proxy"]["service"]["type"]  # z2jh's default is LoadBalancer
    return hub


def pg_primary_node_port(result: RunResult) -> Registration:
    pg = _pg(result)
    _values(pg)["primary"]["service"] = {"type": "NodePort"}
    return pg


def node_port_service(result: RunResult) -> Registration:
    namespace = result.one("kubernetes:core/v1:Namespace")
    return replace(
        copy.deepcopy(namespace),
        urn=namespace.urn.replace("kubernetes:core/v1:Namespace::namespace", "kubernetes:core/v1:Service::debug-svc"),
        type=dossier_rules.SERVICE, name="debug-svc",
        inputs={"apiVersion": "v1", "kind": "Service", "spec": {"type": "NodePort", "ports": [{"port": 80}]}},
    )


def httpproxy_without_tls(result: RunResult) -> Registration:
    proxy = _one(result, dossier_rules.HTTPPROXY)
    del proxy.inputs["spec"]["virtualhost"]["tls"]
    return proxy


def hub_chart_range(result: RunResult) -> Registration:
    hub = _hub(result)
    hub.inputs["version"] = "^2.0.0"
    return hub


def pg_chart_from_http_index(result: RunResult) -> Registration:
    pg = _pg(result)
    pg.inputs["chart"] = "postgresql"
    pg.inputs["repositoryOpts"] = {"repo": "http://charts.example.org"}
    return pg


def client_public(result: RunResult) -> Registration:
    client = _one(result, dossier_rules.KEYCLOAK_CLIENT)
    client.inputs["accessType"] = "PUBLIC"
    return client


def client_without_standard_flow(result: RunResult) -> Registration:
    client = _one(result, dossier_rules.KEYCLOAK_CLIENT)
    del client.inputs["standardFlowEnabled"]  # the provider's default is false
    return client


def client_wildcard_redirect(result: RunResult) -> Registration:
    client = _one(result, dossier_rules.KEYCLOAK_CLIENT)
    client.inputs["validRedirectUris"] = ["https://hub.example.org/*"]
    return client


def mapper_single_valued(result: RunResult) -> Registration:
    mapper = _one(result, next(iter(sorted(t for t in dossier_rules.ROLE_MAPPERS if result.by_type(t)))))
    del mapper.inputs["multivalued"]  # the provider's default is false
    return mapper


def pg_release_unprotected(result: RunResult) -> Registration:
    return replace(_pg(result), protect=False)


def namespace_unprotected(result: RunResult) -> Registration:
    return replace(_one(result, "kubernetes:core/v1:Namespace"), protect=False)


def research_tenant_unprotected(result: RunResult) -> Registration:
    return replace(_one(result, "kubernetes:capsule.clastix.io/v1beta2:Tenant", "research-astro-tenant"),
                   protect=False)


def password_unprotected(result: RunResult) -> Registration:
    return replace(_one(result, "random:index/randomPassword:RandomPassword", "postgresql-user-password"),
                   protect=False)


def client_unprotected(result: RunResult) -> Registration:
    return replace(_one(result, dossier_rules.KEYCLOAK_CLIENT), protect=False)


def tenant_deletable(result: RunResult) -> Registration:
    tenant = _one(result, "kubernetes:capsule.clastix.io/v1beta2:Tenant", "tenant-tenant")
    tenant.inputs["spec"]["preventDeletion"] = False
    return tenant


def research_tenant_without_prevent_deletion(result: RunResult) -> Registration:
    tenant = _one(result, "kubernetes:capsule.clastix.io/v1beta2:Tenant", "research-astro-tenant")
    del tenant.inputs["spec"]["preventDeletion"]
    return tenant


def cluster_role_wildcard_verbs(result: RunResult) -> Registration:
    role = _one(result, dossier_rules.CLUSTER_ROLE)
    role.inputs["rules"][0]["verbs"] = ["*"]
    return role


def cluster_role_wildcard_resources(result: RunResult) -> Registration:
    role = _one(result, dossier_rules.CLUSTER_ROLE)
    role.inputs["rules"][-1]["resources"] = ["*"]
    return role


MUTATIONS: list[tuple[str, Mutation]] = [
    ("no-public-services", hub_proxy_load_balancer),
    ("no-public-services", hub_proxy_type_unset),
    ("no-public-services", pg_primary_node_port),
    ("no-public-services", node_port_service),
    ("httpproxy-tls", httpproxy_without_tls),
    ("helm-chart-pinned", hub_chart_range),
    ("helm-chart-pinned", pg_chart_from_http_index),
    ("keycloak-client-confidential", client_public),
    ("keycloak-client-confidential", client_without_standard_flow),
    ("keycloak-client-confidential", client_wildcard_redirect),
    ("keycloak-mappers-multivalued", mapper_single_valued),
    ("data-protected", pg_release_unprotected),
    ("data-protected", namespace_unprotected),
    ("data-protected", research_tenant_unprotected),
    ("data-protected", password_unprotected),
    ("data-protected", client_unprotected),
    ("capsule-tenant-prevent-deletion", tenant_deletable),
    ("capsule-tenant-prevent-deletion", research_tenant_without_prevent_deletion),
    ("clusterrole-no-wildcards", cluster_role_wildcard_verbs),
    ("clusterrole-no-wildcards", cluster_role_wildcard_resources),
]


@pytest.mark.parametrize(("name", "mutate"), MUTATIONS, ids=[m.__name__ for _, m in MUTATIONS])
def test_policy_fails_on_a_mutated_resource(name: str, mutate: Mutation, prod: RunResult) -> None:
    mutated = mutate(prod)
    found = violations(POLICIES[name], [mutated])
    assert found, f"{name} accepted {mutate.__name__}"
    for message, urn in found:
        assert urn == mutated.urn
        assert f"'{mutated.name}'" in message, message
    # Only the rule about it fires: the other policies still accept the resource.
    others = {n for n, p in POLICIES.items() if n != name and violations(p, [mutated])}
    assert others == set(), others


def test_every_policy_has_a_failing_mutation() -> None:
    assert {name for name, _ in MUTATIONS} == set(POLICIES)


def test_data_protection_is_waived_only_in_the_dev_stack(dev: RunResult) -> None:
    # dev runs with protectData false and passes; the same config in any other stack fails.
    assert violations(POLICIES["data-protected"], dev.resources) == []
    config = stacks.config("dev")
    staging = run(config, stack="staging")
    flagged = {urn.rsplit("::", 1)[-1] for _, urn in violations(POLICIES["data-protected"], staging.resources)
               if urn}
    assert {"namespace", "postgresql-release", "tenant-tenant", "keycloak-client", "postgresql-user-password"} \
        <= flagged


def test_a_local_chart_mirror_passes_every_policy(run_program) -> None:
    # The air-gapped setup of docs/operations.md: both charts from a relative local mirror, in a protected stack.
    mirror = "file://" + (Path(__file__).parent / "fixtures" / "config" / "charts" / "mirror").relative_to(
        POLICY_DIR.parent).as_posix()
    result = run_program(postgresql={"chartRepository": mirror}, jupyterhub={"chartRepository": mirror},
                         protectData=True)
    releases = [r for r in result.resources if r.type == dossier_rules.HELM_RELEASE]
    assert sorted(str(r.inputs["chart"]).rsplit("/", 1)[-1] for r in releases) == ["jupyterhub", "postgresql"]
    assert {name: violations(policy, result.resources) for name, policy in POLICIES.items()} == \
        {name: [] for name in POLICIES}


@pytest.mark.parametrize(
    ("chart", "repo", "passes"),
    [("./charts/postgresql", None, True), ("../mirror/postgresql-12.2.1.tgz", None, True),
     ("/srv/charts/postgresql", None, True),
     # A bare name goes through Helm repositories configured on the deploying machine: not pinned here.
     ("postgresql", None, False), ("bitnami/postgresql", None, False),
     ("./charts/postgresql", "http://charts.example.org", False), ("file://charts/postgresql", None, False)],
)
def test_charts_come_from_https_oci_or_a_local_path(chart: str, repo: str | None, passes: bool) -> None:
    props: dict[str, Any] = {"chart": chart, "version": "12.2.1"}
    if repo is not None:
        props["repositoryOpts"] = {"repo": repo}
    urn = "urn:pulumi:prod::dossier::kubernetes:helm.sh/v3:Release::app"
    assert (dossier_rules.check_helm_pinned(dossier_rules.HELM_RELEASE, props, urn, True) == []) is passes


# --- the pack's files -----------------------------------------------------------------------


def test_pack_files_are_those_the_cli_expects() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["version"]
    main = (POLICY_DIR / "__main__.py").read_text()
    assert "PolicyPack(" in main and "POLICIES" in main


def test_pack_pins_match_the_program() -> None:
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return dict(line.split("==", 1) for line in lines if "==" in line)

    pack, program = pins(POLICY_DIR / "requirements.txt"), pins(POLICY_DIR.parent / "requirements.txt")
    assert set(pack) == {"pulumi", "pulumi-policy"}
    assert all(program[name] == version for name, version in pack.items())


# --- the pure helpers ------------------------------------------------------------------------


def test_stack_and_name_come_from_the_urn() -> None:
    urn = "urn:pulumi:prod::dossier::dossier:postgresql:PostgreSQL$kubernetes:helm.sh/v3:Release::postgresql-release"
    assert (dossier_rules.stack_name(urn), dossier_rules.resource_name(urn)) == ("prod", "postgresql-release")


@pytest.mark.parametrize(
    ("version", "exact"),
    [("2.0.0", True), ("12.2.1", True), ("v1.2.3", True), ("1.2.3-rc.1", True), ("2.0", False), ("~2.0.0", False),
     ("^2.0.0", False), (">=1.0.0", False), ("2.x", False), ("", False), (None, False)],
)
def test_only_exact_chart_versions_pass(version: str | None, exact: bool) -> None:
    props = {"chart": "oci://registry.example.org/charts/app", "version": version}
    urn = "urn:pulumi:prod::dossier::kubernetes:helm.sh/v3:Release::app"
    assert (dossier_rules.check_helm_pinned(dossier_rules.HELM_RELEASE, props, urn, True) == []) is exact
