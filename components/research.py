"""Research-group tenants: one Keycloak client role and one Capsule Tenant per group.

Each entry of ``dossier:tenants`` becomes a client role of the hub's client
(members get it in the ``tenants`` claim) and a Tenant owned by the hub's
service account with the hub tenant's network isolation plus ingress from the
group's own namespaces, its quotas, limit ranges and the policy annotations
Dossier's spawner reads. All groups are created in one pass under one component.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pulumi
import pulumi_keycloak as keycloak
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.common import child
from components.config import ResearchTenant
from components.tenant import (
    API_VERSION,
    IMAGE_POLICY_ANNOTATION,
    RESOURCE_POLICY_ANNOTATION,
    TenantSpecArgs,
    tenant_spec,
)


@dataclass(frozen=True, kw_only=True)
class ResearchTenantsArgs:
    groups: Sequence[ResearchTenant]
    realm: str
    client: keycloak.openid.Client
    base: TenantSpecArgs
    """The hub tenant's spec: owner and network isolation every group shares."""
    protect: bool = True


def group_spec_args(group: ResearchTenant, args: ResearchTenantsArgs) -> TenantSpecArgs:
    return replace(
        args.base,
        name=group.name,
        namespace_quota=group.namespaceQuota,
        own_namespaces=True,
        extra_owners=[o.model_dump() for o in group.owners],
        node_selector=group.nodeSelector,
        resource_quota=group.resourceQuota.model_dump(exclude_none=True) if group.resourceQuota else None,
        limits=group.limits.model_dump(exclude_none=True) if group.limits else None,
    )


def group_annotations(group: ResearchTenant) -> dict[str, str]:
    return {IMAGE_POLICY_ANNOTATION: group.imagePolicy, RESOURCE_POLICY_ANNOTATION: group.resourcePolicy}


class ResearchTenants(pulumi.ComponentResource):
    """All research groups: a client role and a Tenant each."""

    tenants: dict[str, CustomResource]
    roles: dict[str, keycloak.Role]

    def __init__(self, name: str, args: ResearchTenantsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:research:ResearchTenants", name, None, opts)
        self.tenants = {}
        self.roles = {}
        role_opts = child(self)
        tenant_opts = child(self, protect=args.protect, retain=args.protect)
        for group in args.groups:
            self.roles[group.name] = keycloak.Role(
                f"{name}-{group.name}-role",
                realm_id=args.realm,
                client_id=args.client.id,
                name=group.name,
                description=f"Members use the {group.name} tenant",
                opts=role_opts,
            )
            self.tenants[group.name] = CustomResource(
                f"{name}-{group.name}-tenant",
                api_version=API_VERSION,
                kind="Tenant",
                metadata=ObjectMetaArgs(name=group.name, annotations=group_annotations(group)),
                spec=tenant_spec(group_spec_args(group, args)),
                opts=tenant_opts,
            )
        self.register_outputs({"tenants": sorted(self.tenants)})
