"""The NetworkPolicy evaluator of the e2e run (e2e/netpol.py), on policies of its own."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.netpol import Pod, connection, matches, policy_types

NAMESPACES = {"db": {"kubernetes.io/metadata.name": "db", "team": "data"},
              "web": {"kubernetes.io/metadata.name": "web", "team": "front"},
              "other": {"kubernetes.io/metadata.name": "other"}}
DB = Pod("postgres-0", "db", {"app": "postgresql"}, "10.0.0.5", {"tcp-postgresql": (5432, "TCP")})
CLIENT = Pod("hub-1", "db", {"app": "hub", "db-client": "true"}, "10.0.0.6")
STRANGER = Pod("proxy-1", "db", {"app": "proxy"}, "10.0.0.7")
WEB = Pod("web-1", "web", {"db-client": "true"}, "10.1.0.2")


def policy(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


ONLY_CLIENTS = policy("db", "db", {"podSelector": {"matchLabels": {"app": "postgresql"}}, "ingress": [
    {"from": [{"podSelector": {"matchLabels": {"db-client": "true"}}}], "ports": [{"port": 5432}]}]})


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ({}, {"a": "1"}, True),
    (None, {}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
    ({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]}, {"a": "1"}, False),
])
def test_label_selectors(selector: dict[str, Any] | None, labels: dict[str, str], expected: bool) -> None:
    assert matches(selector, labels) is expected


def test_an_unknown_operator_is_an_error() -> None:
    with pytest.raises(ValueError, match="Equals"):
        matches({"matchExpressions": [{"key": "a", "operator": "Equals"}]}, {"a": "1"})


def test_policy_types_default_to_ingress_plus_egress_when_there_are_egress_rules() -> None:
    assert policy_types(policy("p", "db", {"podSelector": {}})) == {"Ingress"}
    assert policy_types(policy("p", "db", {"podSelector": {}, "egress": [{}]})) == {"Ingress", "Egress"}
    assert policy_types(policy("p", "db", {"podSelector": {}, "policyTypes": ["Egress"]})) == {"Egress"}


def test_without_policies_everything_is_admitted() -> None:
    verdict = connection([], NAMESPACES, STRANGER, DB, 5432)
    assert verdict and "no NetworkPolicy isolates" in verdict.reason


def test_a_pod_selector_admits_labelled_pods_of_the_policys_namespace_only() -> None:
    assert connection([ONLY_CLIENTS], NAMESPACES, CLIENT, DB, 5432)
    refused = connection([ONLY_CLIENTS], NAMESPACES, STRANGER, DB, 5432)
    assert not refused
    assert refused.reason == ("ingress of db/postgres-0 is isolated by NetworkPolicy db, and no rule admits "
                              "db/proxy-1 on 5432/TCP")
    # The same labels in another namespace: a podSelector alone means this namespace.
    assert not connection([ONLY_CLIENTS], NAMESPACES, WEB, DB, 5432)


def test_ports_and_protocols_narrow_a_rule() -> None:
    assert not connection([ONLY_CLIENTS], NAMESPACES, CLIENT, DB, 5433)
    assert not connection([ONLY_CLIENTS], NAMESPACES, CLIENT, DB, 5432, "UDP")
    ranged = policy("r", "db", {"podSelector": {}, "ingress": [{"ports": [{"port": 5000, "endPort": 6000}]}]})
    assert connection([ranged], NAMESPACES, STRANGER, DB, 5999)
    assert not connection([ranged], NAMESPACES, STRANGER, DB, 6001)
    named = policy("n", "db", {"podSelector": {}, "ingress": [{"ports": [{"port": "tcp-postgresql"}]}]})
    assert connection([named], NAMESPACES, STRANGER, DB, 5432)
    assert not connection([named], NAMESPACES, STRANGER, DB, 5433)  # the name means its port only
    assert not connection([named], NAMESPACES, DB, STRANGER, 5432)  # the name is the destination's


def test_an_empty_rule_or_peer_list_admits_everyone() -> None:
    open_rule = policy("o", "db", {"podSelector": {}, "ingress": [{}]})
    assert connection([open_rule], NAMESPACES, WEB, DB, 1)
    deny_all = policy("d", "db", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert not connection([deny_all], NAMESPACES, CLIENT, DB, 5432)
    # Rules add up: another policy admitting the client opens it again.
    assert connection([deny_all, ONLY_CLIENTS], NAMESPACES, CLIENT, DB, 5432)


def test_namespace_selectors_alone_and_with_pod_selectors() -> None:
    by_namespace = policy("ns", "db", {"podSelector": {}, "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"team": "front"}}}]}]})
    assert connection([by_namespace], NAMESPACES, WEB, DB, 5432)
    assert not connection([by_namespace], NAMESPACES, CLIENT, DB, 5432)
    both = policy("both", "db", {"podSelector": {}, "ingress": [{"from": [{
        "namespaceSelector": {}, "podSelector": {"matchLabels": {"db-client": "true"}}}]}]})
    assert connection([both], NAMESPACES, WEB, DB, 5432)  # any namespace, labelled pod
    assert connection([both], NAMESPACES, CLIENT, DB, 5432)
    assert not connection([both], NAMESPACES, STRANGER, DB, 5432)


def test_ip_blocks_with_exceptions() -> None:
    block = policy("ip", "db", {"podSelector": {}, "ingress": [
        {"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.7/32"]}}]}]})
    assert connection([block], NAMESPACES, CLIENT, DB, 5432)
    assert not connection([block], NAMESPACES, STRANGER, DB, 5432)  # excepted
    assert not connection([block], NAMESPACES, WEB, DB, 5432)  # outside the block
    assert not connection([block], NAMESPACES, Pod("pending", "db", {}), DB, 5432)  # no IP yet


def test_the_sources_egress_must_admit_it_too() -> None:
    egress_dns_only = policy("e", "db", {"podSelector": {"matchLabels": {"app": "hub"}}, "egress": [
        {"ports": [{"port": 53, "protocol": "UDP"}]}]})
    refused = connection([ONLY_CLIENTS, egress_dns_only], NAMESPACES, CLIENT, DB, 5432)
    assert not refused
    assert refused.reason.startswith("egress of db/hub-1 is isolated by NetworkPolicy e")
    to_db = policy("e2", "db", {"podSelector": {"matchLabels": {"app": "hub"}}, "egress": [
        {"to": [{"podSelector": {"matchLabels": {"app": "postgresql"}}}], "ports": [{"port": 5432}]}]})
    admitted = connection([ONLY_CLIENTS, egress_dns_only, to_db], NAMESPACES, CLIENT, DB, 5432)
    assert admitted and "e2 egress[0]" in admitted.reason and "db ingress[0]" in admitted.reason
    # Egress selects by the source's namespace: a policy of another namespace does not isolate it.
    assert connection([policy("e3", "web", {"podSelector": {}, "policyTypes": ["Egress"]}), ONLY_CLIENTS],
                      NAMESPACES, CLIENT, DB, 5432)


def test_the_inter_namespace_rule_z2jh_renders_for_accept_is_required() -> None:
    from e2e.chart_checks import inter_namespace_problems

    def rendered(accept: bool) -> list[dict[str, Any]]:
        # The peers z2jh 2.0.0's templates render for interNamespaceAccessLabels (templates/*/netpol.yaml).
        peers: list[dict[str, Any]] = [{"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-hub": "true"}}}]
        if accept:
            peers[0]["namespaceSelector"] = {"matchLabels": {}}
            peers.append({"namespaceSelector": {"matchLabels": {"hub.jupyter.org/network-access-hub": "true"}}})
        return [policy(name, "jhub", {"podSelector": {}, "ingress": [{"from": peers}]})
                for name in ("hub", "proxy", "singleuser")]

    assert inter_namespace_problems(rendered(accept=True)) == []
    assert inter_namespace_problems(rendered(accept=False)) == [
        f"NetworkPolicy {name} admits no labelled namespace (interNamespaceAccessLabels)"
        for name in ("hub", "proxy", "singleuser")]
