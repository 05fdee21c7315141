"""Node pools: ``hub.jupyter.org/node-purpose`` labels on chosen nodes.

One ``NodePatch`` (server-side apply) per configured node. Removing a node from
config deletes its patch, which removes only the label this program set. A
label first set by ``kubectl label`` belongs to another field manager, so the
patch takes it over (``pulumi.com/patchForce``).

Each patch applies under a field manager of its own, which the kubernetes provider
names (``pulumi-kubernetes-<hex>``) and keeps in the stack's state. So two stacks of
this program in one cluster that label the same node both own the label, and
deleting one stack's patch leaves it to the other. A pinned name would not do: one
name shared by two stacks lets the second stack's destroy remove the first one's
labels, and a name per stack goes through the annotation
``pulumi.com/patchFieldManager``, which the provider also writes onto the Node,
where two stacks' values overwrite each other (measured: the first stack's refresh
then finds its patches changed). A stack deployed with the pinned name keeps it:
the provider reads the manager from the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi
from pulumi_kubernetes.core.v1 import NodePatch
from pulumi_kubernetes.meta.v1 import ObjectMetaPatchArgs

from components.common import child

PURPOSE_LABEL = "hub.jupyter.org/node-purpose"


@dataclass(frozen=True, kw_only=True)
class NodePoolsArgs:
    user: list[str] = field(default_factory=list)
    core: list[str] = field(default_factory=list)


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
                        annotations={"pulumi.com/patchForce": "true"},
                    ),
                    opts=child(self),
                )
        self.register_outputs({"nodes": sorted(self.patches)})
