"""Dossier's ``Spawner`` CRD and the remote spawners configured for the stack.

The ``spawners.dossier.unito.it`` CustomResourceDefinition (v1alpha1, cluster
scope), written from its description in alpha-unito/dossier ``crds/spawner.yaml``,
so that the hub's ClusterRole refers to an API that exists; and one cluster-scoped
``Spawner`` per configured remote spawner.

A CRD is cluster-wide: several stacks of this program in one cluster share it, and
exactly one installs it (``dossier:spawnerCrd``). The kubernetes provider creates
with server-side apply, which adopts an identical existing object without a word,
and deletes it with the stack that adopted it last. So the CRD carries the hub's
namespace in the annotation ``dossier.unito.it/installed-by``: a second stack that
would install it too sends another value for a field the first one's field manager
owns, and the API server refuses it (``Server-Side Apply field conflict ...
.metadata.annotations.dossier.unito.it/installed-by``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.apiextensions.v1 import CustomResourceDefinition
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.common import child

GROUP = "dossier.unito.it"
INSTALLED_BY = "dossier.unito.it/installed-by"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


def spawner_schema() -> dict[str, Any]:
    """openAPIV3Schema of a Spawner."""
    free_form = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "description": "Dossier Spawner to remote locations",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["class"],
                "properties": {
                    "class": {"type": "string", "description": "Fully qualified Spawner class."},
                    "parameters": {**free_form, "description": "Filled in by each user."},
                    "properties": {**free_form, "description": "Set by the administrator."},
                    "tenants": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    }


def crd_spec() -> dict[str, Any]:
    return {
        "group": GROUP,
        "names": {"plural": "spawners", "singular": "spawner", "kind": "Spawner", "listKind": "SpawnerList"},
        "scope": "Cluster",
        "versions": [
            {"name": VERSION, "served": True, "storage": True, "schema": {"openAPIV3Schema": spawner_schema()}}
        ],
    }


@dataclass(frozen=True, kw_only=True)
class RemoteSpawner:
    name: str
    class_: str
    properties: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    tenants: list[str] = field(default_factory=list)


def spawner_spec(spawner: RemoteSpawner) -> dict[str, Any]:
    return {
        "class": spawner.class_,
        "properties": dict(spawner.properties),
        "parameters": dict(spawner.parameters),
        "tenants": list(spawner.tenants),
    }


@dataclass(frozen=True, kw_only=True)
class SpawnersArgs:
    spawners: list[RemoteSpawner] = field(default_factory=list)
    install_crd: bool = True
    """Install the CRD (``dossier:spawnerCrd``); false where another stack of the cluster installed it."""
    installed_by: str = ""
    """The hub's namespace, in the CRD's ``installed-by`` annotation (see the module doc)."""


class Spawners(pulumi.ComponentResource):
    """The Spawner CRD and the configured Spawner objects."""

    crd: CustomResourceDefinition | None

    def __init__(self, name: str, args: SpawnersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:spawners:Spawners", name, None, opts)
        self.crd = None
        if args.install_crd:
            self.crd = CustomResourceDefinition(  # type: ignore[call-overload]  # spec as a plain dict
                f"{name}-crd",
                metadata=ObjectMetaArgs(name=f"spawners.{GROUP}", annotations={INSTALLED_BY: args.installed_by}),
                spec=crd_spec(),
                opts=child(self),
            )
        for spawner in args.spawners:
            CustomResource(
                f"{name}-{spawner.name}",
                api_version=API_VERSION,
                kind="Spawner",
                # Dossier reads metadata.annotations of every Spawner (KeyError without any).
                metadata=ObjectMetaArgs(name=spawner.name, annotations={"dossier.unito.it/display-name": spawner.name}),
                spec=spawner_spec(spawner),
                opts=child(self, depends_on=[self.crd] if self.crd else None),
            )
        self.register_outputs({"crd": f"spawners.{GROUP}"})
