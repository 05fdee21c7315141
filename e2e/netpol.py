"""NetworkPolicy semantics (networking.k8s.io/v1), evaluated: may one pod connect to another on a port.

Nothing enforces NetworkPolicies in the e2e cluster (no CNI runs, kwok's pods run
nothing): this module evaluates the policies the charts rendered over the real
pods' and namespaces' labels, as a CNI that implements the API would decide. It
is evaluation, not enforcement: it proves what the rendered policies say, not
what a given CNI does with them.

The rules, from the API reference:

- A policy selects the pods of its own namespace that its ``podSelector``
  matches (``{}``: all of them). ``policyTypes`` defaults to ``Ingress``, plus
  ``Egress`` when the policy has ``egress`` rules.
- A pod selected by no policy of a direction is not isolated in that direction.
  A selected pod admits a connection if any rule of any policy selecting it
  admits it (rules only add).
- A rule admits a peer if its ``from``/``to`` is absent or empty, or if one peer
  matches: ``podSelector`` alone (pods of the policy's namespace),
  ``namespaceSelector`` alone (every pod of the matching namespaces), both
  (those pods of those namespaces), ``ipBlock`` (the peer's IP in ``cidr`` and
  in none of ``except``; a pod's IP is its ``status.podIP``).
- And if its ``ports`` is absent or empty, or one entry matches the port and
  protocol (default TCP): a number (up to ``endPort`` when given), or a name
  looked up in the destination pod's container ports.
- A connection needs the source's egress and the destination's ingress to admit it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    ip: str | None = None
    ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    """Named container ports: name -> (port, protocol)."""

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector (``matchLabels`` and ``matchExpressions``) against ``labels``; ``{}`` matches all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator!r}")
    return True


def policy_types(policy: Mapping[str, Any]) -> set[str]:
    spec = policy.get("spec") or {}
    declared = spec.get("policyTypes")
    if declared:
        return set(declared)
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def selects(policy: Mapping[str, Any], pod: Pod) -> bool:
    return bool(policy["metadata"].get("namespace") == pod.namespace
                and matches((policy.get("spec") or {}).get("podSelector"), pod.labels))


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, other: Pod,
                  namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        if other.ip is None:
            return False
        address = ipaddress.ip_address(other.ip)
        if address not in ipaddress.ip_network(block["cidr"], strict=False):
            return False
        return not any(address in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    pod_selector, namespace_selector = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespace_selector is None:
        in_namespace = other.namespace == policy_namespace
    else:
        in_namespace = matches(namespace_selector, namespaces.get(other.namespace, {}))
    return in_namespace and (pod_selector is None or matches(pod_selector, other.labels))


def _port_matches(entries: list[Mapping[str, Any]] | None, port: int, protocol: str, destination: Pod) -> bool:
    if not entries:
        return True
    for entry in entries:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str) and not wanted.isdigit():
            named = destination.ports.get(wanted)
            if named is not None and named == (port, protocol):
                return True
            continue
        low = int(wanted)
        if low <= port <= int(entry.get("endPort", low)):
            return True
    return False


def _side(policies: Iterable[Mapping[str, Any]], direction: str, subject: Pod, other: Pod, port: int,
          protocol: str, destination: Pod, namespaces: Mapping[str, Mapping[str, str]]) -> Verdict:
    """Whether ``subject``'s policies of ``direction`` (Ingress/Egress) admit the connection with ``other``."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    isolating = [p for p in policies if direction in policy_types(p) and selects(p, subject)]
    if not isolating:
        return Verdict(True, f"no NetworkPolicy isolates {direction.lower()} of {subject}")
    for policy in isolating:
        for index, rule in enumerate((policy.get("spec") or {}).get(rules_key) or []):
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(p, subject.namespace, other, namespaces) for p in peers)) \
                    and _port_matches(rule.get("ports"), port, protocol, destination):
                return Verdict(True, f"NetworkPolicy {policy['metadata']['name']} {rules_key}[{index}] admits it")
    names = ", ".join(sorted(p["metadata"]["name"] for p in isolating))
    return Verdict(False, f"{direction.lower()} of {subject} is isolated by NetworkPolicy {names}, and no rule "
                          f"admits {other} on {port}/{protocol}")


def connection(policies: Iterable[Mapping[str, Any]], namespaces: Mapping[str, Mapping[str, str]], source: Pod,
               destination: Pod, port: int, protocol: str = "TCP") -> Verdict:
    """Whether ``source`` may connect to ``destination`` on ``port``/``protocol``; the reason either way."""
    policies = list(policies)
    egress = _side(policies, "Egress", source, destination, port, protocol, destination, namespaces)
    ingress = _side(policies, "Ingress", destination, source, port, protocol, destination, namespaces)
    if not egress:
        return egress
    if not ingress:
        return ingress
    return Verdict(True, f"{egress.reason}; {ingress.reason}")
