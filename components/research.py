"""Research-group tenants: one Keycloak client role and one Capsule Tenant per group.

Each entry of ``dossier:tenants`` becomes a client role of the hub's client
(members get it in the ``tenants`` claim) and a Tenant owned by the hub's
service account with the hub tenant's network isolation plus ingress from the
group's own namespaces, its quotas, limit ranges and the policy annotations
Dossier's spawner reads. All groups are created in one pass under one component;
each child's logical name carries only its group's name, so adding or removing
a group leaves every other group's URNs and inputs as they were.

Assumes what the hub tenant assumes (Capsule installed, the hub's service
account among its ``capsuleUserGroups``); a ``nodeSelector`` needs the
``PodNodeSelector`` admission plugin to be enforced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

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
    """The hub's OpenID client: group roles are its client roles (the ``tenants`` claim)."""
    base: TenantSpecArgs
    """The hub tenant's spec: owner and network isolation every group shares."""
    protect: bool = True
    """Protect and retain each group's Tenant (``protectData``): its deletion deletes the group's namespaces."""
    delete_timeout: str | None = None
    """How long a delete may wait for a group's Tenant to be gone (``dossier:deleteTimeout``)."""


def group_spec_args(group: ResearchTenant, base: TenantSpecArgs) -> TenantSpecArgs:
    """The hub tenant's spec arguments with the group's name, quotas, limits, node pool and owners."""
    return replace(
        base,
        name=group.name,
        namespace_quota=group.namespaceQuota,
        own_namespaces=True,
        extra_owners=[{"kind": o.kind, "name": o.name} for o in group.owners],
        node_selector=group.nodeSelector,
        resource_quota=group.resourceQuota.model_dump(exclude_none=True) if group.resourceQuota else None,
        limits=group.limits.model_dump(exclude_none=True) if group.limits else None,
    )


def group_annotations(group: ResearchTenant) -> dict[str, str]:
    """Tenant annotations Dossier's spawner reads (it fails on a Tenant without annotations)."""
    return {IMAGE_POLICY_ANNOTATION: group.imagePolicy, RESOURCE_POLICY_ANNOTATION: group.resourcePolicy}


def group_tenant(group: ResearchTenant, base: TenantSpecArgs) -> dict[str, Any]:
    """The group's Tenant as the API server gets it (``apiVersion``, ``kind``, ``metadata``, ``spec``)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Tenant",
        "metadata": {"name": group.name, "annotations": group_annotations(group)},
        "spec": tenant_spec(group_spec_args(group, base)),
    }


class ResearchTenants(pulumi.ComponentResource):
    """All research groups: a client role and a Tenant each."""

    names: list[str]
    """Group names in config order (each is a client role and a Tenant)."""
    roles: dict[str, keycloak.Role]
    """Client role of the hub's client per group."""
    tenants: dict[str, CustomResource]
    """Capsule Tenant per group."""

    def __init__(self, name: str, args: ResearchTenantsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:research:ResearchTenants", name, None, opts)
        self.names = [group.name for group in args.groups]
        self.roles = {}
        self.tenants = {}
        # The roles' options are built once and shared: per group the pure spec functions and two registrations run.
        client_id = args.client.id
        role_opts = child(self)
        for group in args.groups:
            self.roles[group.name] = keycloak.Role(
                f"{name}-{group.name}-role",
                realm_id=args.realm,
                client_id=client_id,
                name=group.name,
                description=f"Members use the {group.name} tenant",
                opts=role_opts,
            )
            tenant = group_tenant(group, args.base)
            self.tenants[group.name] = CustomResource(
                f"{name}-{group.name}-tenant",
                api_version=tenant["apiVersion"],
                kind=tenant["kind"],
                metadata=ObjectMetaArgs(**tenant["metadata"]),
                spec=tenant["spec"],
                # After its role: a removed group's Tenant is deleted first, so that a protected one stops the
                # update before the role (and every member's assignment of it) is deleted.
                opts=child(self, protect=args.protect, retain=args.protect, delete_timeout=args.delete_timeout,
                           depends_on=[self.roles[group.name]]),
            )
        self.register_outputs({"names": self.names})
