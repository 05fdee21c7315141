"""The cluster's nodes: Node objects that kwok keeps Ready, laid out like a Dossier cluster's.

``NodeSpec(name, labels, taints)`` is one node; a plain name is a node with
only the labels a kubelet sets. ``dossier_nodes(core=, user=, research=)``
gives the layout of a real Dossier cluster: the core node is the control
plane (label ``node-role.kubernetes.io/control-plane``, taint
``node-role.kubernetes.io/control-plane:NoSchedule``, as kubeadm leaves it),
users' nodes are plain workers, and a research group's nodes carry
``RESEARCH_GROUP_LABEL`` (what a group's ``nodeSelector`` names). The stack
itself adds the ``hub.jupyter.org/node-purpose`` labels (``dossier:nodes``).

``create_nodes`` creates them with the labels a kubelet sets on itself
(hostname, os, arch) and the spec's; kwok (``--manage-all-nodes``) fills their
status (addresses, capacity, conditions) and renews their leases, and
``wait_ready`` returns when every one is ``Ready`` and the node lifecycle
controller has lifted its ``not-ready`` taint (the node is schedulable).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_TAINT = {"key": CONTROL_PLANE, "effect": "NoSchedule"}
RESEARCH_GROUP_LABEL = "e2e.dossier/research-group"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, str], ...] = ()


def dossier_nodes(*, core: Sequence[str], user: Sequence[str] = (),
                  research: Mapping[str, Sequence[str]] | None = None) -> tuple[NodeSpec, ...]:
    """The nodes of a Dossier cluster: tainted control-plane core nodes, workers, research groups' workers."""
    specs = [NodeSpec(name, {CONTROL_PLANE: ""}, (CONTROL_PLANE_TAINT,)) for name in core]
    specs += [NodeSpec(name) for name in user]
    specs += [NodeSpec(name, {RESEARCH_GROUP_LABEL: group})
              for group, names in (research or {}).items() for name in names]
    return tuple(specs)


def as_specs(nodes: Iterable[str | NodeSpec]) -> tuple[NodeSpec, ...]:
    return tuple(n if isinstance(n, NodeSpec) else NodeSpec(n) for n in nodes)


def create_nodes(api: client.ApiClient, nodes: Iterable[str | NodeSpec]) -> list[str]:
    """Node objects for ``nodes`` (see the module doc); their names."""
    core: Any = client.CoreV1Api(api)
    names = []
    for spec in as_specs(nodes):
        labels = {"kubernetes.io/hostname": spec.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  **spec.labels}
        taints = [client.V1Taint(key=t["key"], value=t.get("value"), effect=t["effect"]) for t in spec.taints]
        core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=spec.name, labels=labels),
                                       spec=client.V1NodeSpec(taints=taints or None)))
        names.append(spec.name)
    return names


#: Taints the node lifecycle controller sets until a node reports Ready (the scheduler avoids them).
CONDITION_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def not_ready(api: client.ApiClient, names: Iterable[str]) -> list[str]:
    """Which of ``names`` is not Ready yet, or still carries the lifecycle controller's not-ready taint."""
    core: Any = client.CoreV1Api(api)
    ready = {str(n.metadata.name) for n in core.list_node().items
             if any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
             and not any(t.key in CONDITION_TAINTS for t in (n.spec.taints or []))}
    return sorted(set(names) - ready)


def wait_ready(api: client.ApiClient, names: Sequence[str], limit: float, alive: Any = None) -> float:
    """Seconds until every node in ``names`` is Ready; ``TimeoutError`` naming those that are not."""
    started = time.monotonic()
    waiting = list(names)
    while waiting:
        if alive is not None and not alive():
            raise TimeoutError(f"nodes {', '.join(waiting)} not Ready: kwok exited")
        if time.monotonic() - started > limit:
            raise TimeoutError(f"nodes {', '.join(waiting)} not Ready within {limit:.0f} s")
        time.sleep(0.3)
        waiting = not_ready(api, names)
    return time.monotonic() - started
