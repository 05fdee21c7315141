"""Capsule tenants: the hub's own ``jhub`` tenant and the spec every tenant shares.

A ``capsule.clastix.io/v1beta2`` ``Tenant`` owned by the hub's service account,
with its network isolation (egress to the internet except configured CIDRs;
ingress from the hub namespace, Contour's Envoy and the same namespace) and
service restrictions. Tenants of a protected stack carry ``spec.preventDeletion``:
deleting a tenant deletes its namespaces and the users' volumes
(projectcapsule/capsule#1181). Capsule's webhook then refuses every delete,
``pulumi destroy``'s too, so a stack with ``protectData: false`` sets it false.
Assumes Capsule is installed with ``system:serviceaccounts:<namespace>`` among
its ``capsuleUserGroups``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.common import child

API_VERSION = "capsule.clastix.io/v1beta2"
TENANT_LABEL = "capsule.clastix.io/tenant"
IMAGE_POLICY_ANNOTATION = "dossier.unito.it/image-policy"
RESOURCE_POLICY_ANNOTATION = "dossier.unito.it/resource-policy"


@dataclass(frozen=True, kw_only=True)
class TenantSpecArgs:
    """What makes one tenant; shared by the hub's tenant and research groups."""

    name: str
    owner: pulumi.Input[str]
    """Service account owning the tenant, ``system:serviceaccount:<ns>:hub`` (from the hub component)."""
    namespace_quota: int
    egress_except: list[str] = field(default_factory=list)
    hub_namespace_labels: dict[str, str] = field(default_factory=dict)
    controller_namespace: str = "projectcontour"
    own_namespaces: bool = False
    """Also admit ingress from the tenant's other namespaces (research groups)."""
    extra_owners: list[dict[str, str]] = field(default_factory=list)
    node_selector: dict[str, str] | None = None
    resource_quota: dict[str, str] | None = None
    limits: dict[str, dict[str, str]] | None = None
    prevent_deletion: bool = True
    """``spec.preventDeletion`` (``protectData``): Capsule refuses to delete the Tenant, whoever asks."""


def network_policy(args: TenantSpecArgs) -> dict[str, Any]:
    """The tenant's NetworkPolicy: internet egress minus exceptions, ingress from the hub side only."""
    ip_block: dict[str, Any] = {"cidr": "0.0.0.0/0"}
    ipv4_except = [c for c in args.egress_except if ":" not in c]
    if ipv4_except:
        ip_block["except"] = ipv4_except
    sources: list[dict[str, Any]] = [
        {"namespaceSelector": {"matchLabels": dict(args.hub_namespace_labels)}},
    ]
    if args.own_namespaces:
        sources.append({"namespaceSelector": {"matchLabels": {TENANT_LABEL: args.name}}})
    sources += [
        {
            "namespaceSelector": {"matchLabels": {"name": args.controller_namespace}},
            "podSelector": {"matchLabels": {"app": "envoy"}},
        },
        {"podSelector": {}},
    ]
    egress: list[dict[str, Any]] = [{"to": [{"ipBlock": ip_block}]}]
    ipv6_except = [c for c in args.egress_except if ":" in c]
    if ipv6_except:
        egress.append({"to": [{"ipBlock": {"cidr": "::/0", "except": ipv6_except}}]})
    return {"policyTypes": ["Ingress", "Egress"], "podSelector": {}, "egress": egress, "ingress": [{"from": sources}]}


def _resource_quota(quota: dict[str, str]) -> dict[str, Any]:
    hard = {}
    if "cpu" in quota:
        hard["limits.cpu"] = quota["cpu"]
    if "memory" in quota:
        hard["limits.memory"] = quota["memory"]
    if "storage" in quota:
        hard["requests.storage"] = quota["storage"]
    return {"scope": "Tenant", "items": [{"hard": hard}]}


def _limit_ranges(limits: dict[str, dict[str, str]]) -> dict[str, Any]:
    # Dossier's spawner reads items[].limits[] of type Container: default, defaultRequest, min, max.
    entry: dict[str, Any] = {"type": "Container"}
    for bound in ("default", "defaultRequest", "min", "max"):
        values = {resource: limits[resource][bound] for resource in ("cpu", "memory") if resource in limits}
        if values:
            entry[bound] = values
    return {"items": [{"limits": [entry]}]}


def tenant_spec(args: TenantSpecArgs) -> dict[str, Any]:
    """``spec`` of a Capsule v1beta2 Tenant."""
    spec: dict[str, Any] = {
        "owners": [{"kind": "ServiceAccount", "name": args.owner}]
        + [{"kind": o["kind"], "name": o["name"]} for o in args.extra_owners],
        "namespaceOptions": {"quota": args.namespace_quota},
        "ingressOptions": {"allowedHostnames": {"allowed": []}},
        "serviceOptions": {
            "allowedServices": {"loadBalancer": False, "nodePort": False},
            "externalIPs": {"allowed": []},
        },
        "networkPolicies": {"items": [network_policy(args)]},
        # Deleting a tenant deletes its namespaces (projectcapsule/capsule#1181, #563).
        "preventDeletion": args.prevent_deletion,
    }
    if args.node_selector:
        spec["nodeSelector"] = dict(args.node_selector)
    if args.resource_quota:
        spec["resourceQuotas"] = _resource_quota(args.resource_quota)
    if args.limits:
        spec["limitRanges"] = _limit_ranges(args.limits)
    return spec


@dataclass(frozen=True, kw_only=True)
class CapsuleTenantArgs:
    spec: TenantSpecArgs
    protect: bool = True
    delete_timeout: str | None = None
    """How long a delete may wait for the Tenant to be gone (``dossier:deleteTimeout``; None: the provider's)."""


class CapsuleTenant(pulumi.ComponentResource):
    """The hub's own tenant (``jhub``)."""

    tenant: CustomResource
    name: str

    def __init__(self, name: str, args: CapsuleTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:capsule:CapsuleTenant", name, None, opts)
        spec = args.spec
        self.tenant = CustomResource(
            f"{name}-tenant",
            api_version=API_VERSION,
            kind="Tenant",
            # Dossier reads metadata.annotations of every tenant (KeyError without any).
            metadata=ObjectMetaArgs(
                name=spec.name,
                annotations={IMAGE_POLICY_ANNOTATION: "fixed", RESOURCE_POLICY_ANNOTATION: "fixed"},
            ),
            spec=tenant_spec(spec),
            opts=child(self, protect=args.protect, retain=args.protect, delete_timeout=args.delete_timeout),
        )
        self.name = spec.name
        self.register_outputs({"name": self.name})

