"""Node pools: ``hub.jupyter.org/node-purpose`` labels on chosen nodes.

One ``NodePatch`` (server-side apply) per configured node. Removing a node from
config deletes its patch, which removes only the label this program set. A
label first set by ``kubectl label`` belongs to another field manager, so the
patch takes it over (``pulumi.com/patchForce``) under a pinned manager name.

The manager's name carries the hub's namespace (``node_field_manager``): two stacks
of this program in one cluster that label the same node then both own the label,
and deleting one stack's patch leaves it for the other. Under one shared name the
second stack's destroy removed the labels the first one had set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pulumi_kubernetes.core.v1 import NodePatch
from pulumi_kubernetes.meta.v1 import ObjectMetaPatchArgs

from components.common import child

PURPOSE_LABEL = "hub.jupyter.org/node-purpose"
FIELD_MANAGER = "dossier-stack"
DEFAULT_NAMESPACE = "jhub"


def node_field_manager(namespace: str) -> str:
    """``dossier-stack-<namespace>``; for the default namespace the name stacks were deployed with."""
    return FIELD_MANAGER if namespace == DEFAULT_NAMESPACE else f"{FIELD_MANAGER}-{namespace}"


@dataclass(frozen=True, kw_only=True)
class NodePoolsArgs:
    user: list[str] = field(default_factory=list)
    core: list[str] = field(default_factory=list)
    field_manager: str = FIELD_MANAGER
    """The server-side apply manager of the labels (``node_field_manager``)."""


def match_node_purpose(args: NodePoolsArgs) -> Literal["require", "prefer"]:
    """``require`` only when both pools exist; otherwise pods could not schedule."""
    return "require" if args.user and args.core else "prefer"


class NodePools(pulumi.ComponentResource):
    """Labels on the nodes of the user and core pools."""

    patches: dict[str, NodePatch]

    def __init__(self, name: str, args: NodePoolsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:nodes:NodePools", name, None, opts)
        self.patches = {}
        for purpose, nodes in (("user", args.user), ("core", args.core)):
            for node in nodes:
                # Logical name keyed by the node alone: moving a node between pools updates it in place.
                self.patches[node] = NodePatch(
                    f"{name}-{node}",
                    metadata=ObjectMetaPatchArgs(
                        name=node,
                        labels={PURPOSE_LABEL: purpose},
                        annotations={
                            "pulumi.com/patchForce": "true",
                            "pulumi.com/patchFieldManager": args.field_manager,
                        },
                    ),
                    opts=child(self),
                )
        self.register_outputs({"nodes": sorted(self.patches)})
