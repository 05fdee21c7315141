"""What the servers hold against what the stack's state says, as a list of named differences.

``differences(found, expected)`` takes two inventories of the shape
``e2e.state.inventory`` (the servers) and ``e2e.state.state_inventory`` (the
state) build: ``{"keycloak": {...}, "cluster": {...}}``, each kind either a
count (``clients``) or a list of object names. It compares them as multisets
and returns one sentence per object that differs, naming it: an object on a
server that the state does not hold (made twice, or by an interrupted update),
one the state holds that no server has (lost), and an object held more often
on one side than the other (a duplicate). No differences: ``[]``.

``pending_operations(deployment)`` lists the operations an interrupted update
left in ``pulumi stack export`` (``creating <urn>``). Pure data: no servers,
no CLI, so ``make test`` checks it on made-up inventories.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

#: What each kind of the inventories is, for a sentence about one of them.
KINDS = {
    ("keycloak", "clients"): "Keycloak client",
    ("keycloak", "mappers"): "Keycloak protocol mapper",
    ("keycloak", "roles"): "Keycloak client role",
    ("cluster", "namespace"): "Namespace",
    ("cluster", "tenants"): "Tenant",
    ("cluster", "secrets"): "Secret",
    ("cluster", "releases"): "Helm release",
    ("cluster", "certificates"): "Certificate",
    ("cluster", "httpproxies"): "HTTPProxy",
    ("cluster", "clusterRoles"): "ClusterRole",
    ("cluster", "clusterRoleBindings"): "ClusterRoleBinding",
    ("cluster", "crds"): "CustomResourceDefinition",
    ("cluster", "nodeLabels"): "node label",
}


def _kind(section: str, key: str) -> str:
    return KINDS.get((section, key), f"{section} {key}")


def _counted(value: Any) -> Counter[str] | int:
    if isinstance(value, int):
        return value
    return Counter(str(v) for v in value or [])


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def differences(found: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """One sentence per object the servers (``found``) and the state (``expected``) disagree on."""
    problems: list[str] = []
    for section in sorted(set(found) | set(expected)):
        on_server, in_state = dict(found.get(section) or {}), dict(expected.get(section) or {})
        for key in sorted(set(on_server) | set(in_state)):
            what = _kind(section, key)
            server, state = _counted(on_server.get(key)), _counted(in_state.get(key))
            if isinstance(server, int) or isinstance(state, int):
                have = server if isinstance(server, int) else sum(server.values())
                want = state if isinstance(state, int) else sum(state.values())
                if have != want:
                    problems.append(f"{what}s: {have} on the server, {want} in the stack's state")
                continue
            for name in sorted(set(server) | set(state)):
                have, want = server[name], state[name]
                if have == want:
                    continue
                if want == 0:
                    problems.append(f"{what} {name!r} is on the server but not in the stack's state "
                                    "(made behind the stack's back or by an interrupted update)")
                elif have == 0:
                    problems.append(f"{what} {name!r} is in the stack's state but not on the server (lost)")
                else:
                    problems.append(f"{what} {name!r} is on the server {_times(have)} and in the stack's state "
                                    f"{_times(want)} (a duplicate)")
    return problems


def pending_operations(deployment: Mapping[str, Any]) -> list[str]:
    """``<type> <urn>`` of each operation an interrupted update left (``pulumi stack export``'s JSON)."""
    body = deployment.get("deployment", deployment)
    return [f"{op.get('type')} {op.get('resource', {}).get('urn')}" for op in body.get("pending_operations") or []]
