"""The model of the whole ``dossier:`` config namespace: one pydantic class per section.

Every level forbids unknown keys; cross-checks name the entry they are about
(``dossier:tenants[1].name``) through ``FieldProblemsError``.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.config_jupyterhub import JupyterHubConfig
from components.config_namespaces import too_long
from components.config_postgresql import PostgresConfig
from components.config_types import (
    SPAWNER_QUANTITY,
    Cidr,
    ClassPath,
    DnsLabel,
    DnsSubdomain,
    Duration,
    FieldProblemsError,
    Fqdn,
    HttpsUrl,
    Identifier,
    LabelKey,
    LabelValue,
    Model,
    NodeName,
    Policy,
    PositiveInt,
    PositiveQuantity,
    Problem,
    RealmName,
    Timeout,
    duplicates,
    quantity_value,
)


class KeycloakConfig(Model):
    """``dossier:keycloak``."""

    url: HttpsUrl = Field(
        description="Keycloak base URL (https, no path below the base; include /auth for Keycloak < 17; "
        "a trailing slash is dropped)."
    )
    realm: RealmName = Field(
        "dossier", description="Realm of the hub's client. Do not change after the first deploy."
    )
    clientId: Identifier = Field(
        "jupyter", description="OpenID client id of the hub. Do not change after the first deploy."
    )
    adminRoles: list[Identifier] = Field(
        default_factory=lambda: ["admin"],
        description="Client roles whose members are JupyterHub admins (admin_groups); unique, "
        "and no research group may share a name with one.",
    )

    @field_validator("adminRoles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        # Each is one client role in Keycloak: a second one with the same name is a conflict.
        problems: list[Problem] = [
            ((i,), "role listed twice", roles[i]) for i in duplicates(roles)
        ]
        if problems:
            raise FieldProblemsError(problems)
        return roles


class TenantConfig(Model):
    """``dossier:tenant``: the hub's own Capsule tenant."""

    name: DnsLabel = Field("jhub", description="Capsule Tenant name. Do not change after the first deploy.")
    namespaceQuota: PositiveInt = Field(100, description="Namespaces the tenant may hold.")
    egressExcept: list[Cidr] = Field(
        default_factory=list,
        description="IPv4/IPv6 networks users' notebooks may not reach (internet egress except these).",
    )


class IngressConfig(Model):
    """``dossier:ingress``."""

    clusterIssuer: DnsSubdomain = Field("letsencrypt-cluster-issuer", description="cert-manager ClusterIssuer.")
    controllerNamespace: DnsLabel = Field("projectcontour", description="Namespace of Contour's Envoy.")
    responseTimeout: Duration = Field("650s", description="HTTPProxy route response timeout.")
    idleTimeout: Duration = Field("1h", description="HTTPProxy route idle timeout (idle kernel websockets).")


class NodesConfig(Model):
    """``dossier:nodes``."""

    user: list[NodeName] = Field(default_factory=list, description="Nodes labelled node-purpose=user.")
    core: list[NodeName] = Field(default_factory=list, description="Nodes labelled node-purpose=core.")

    @model_validator(mode="after")
    def _one_purpose_each(self) -> NodesConfig:
        problems: list[Problem] = []
        for pool in ("user", "core"):
            names = getattr(self, pool)
            problems += [((pool, i), "node listed twice", names[i]) for i in duplicates(names)]
        problems += [
            (("core", i), "node is in both user and core; a node has one purpose", node)
            for i, node in enumerate(self.core)
            if node in self.user
        ]
        if problems:
            raise FieldProblemsError(problems)
        return self


class ResourceBounds(Model):
    """Limit range of one resource (cpu or memory) of a research tenant's containers."""

    default: PositiveQuantity = Field(description="Default limit.")
    defaultRequest: PositiveQuantity = Field(description="Default request.")
    min: PositiveQuantity = Field(description="Smallest request or limit.")
    max: PositiveQuantity = Field(description="Largest request or limit.")

    @model_validator(mode="after")
    def _ordered(self) -> ResourceBounds:
        # LimitRange admission requires min <= defaultRequest <= default <= max.
        order = ("min", "defaultRequest", "default", "max")
        problems: list[Problem] = []
        for low, high in itertools.pairwise(order):
            if quantity_value(getattr(self, low)) > quantity_value(getattr(self, high)):
                problems.append(((high,), f"expected at least {low} ({getattr(self, low)})", getattr(self, high)))
        if problems:
            raise FieldProblemsError(problems)
        return self


class ContainerLimits(Model):
    """Container limit ranges of a research tenant (what Dossier's resource form offers)."""

    cpu: ResourceBounds | None = Field(
        None, description="CPU bounds: whole cores or millicores (`2`, `500m`), as Dossier's form reads them."
    )
    memory: ResourceBounds | None = Field(
        None, description="Memory bounds: a whole number with an optional unit (`256Mi`, `2Gi`, `32G`; no `Ki`)."
    )

    # Dossier's spawner parses these quantities itself (dossier/spawners/kubespawner.py,
    # _get_resource_amount): cpu as int(v) or int(v[:-1]) / 1000 for "...m"; memory as an
    # integer with one of m, k, M, G, T, P, E, Mi, Gi, Ti, Pi, Ei. Fractions, "Ki" and
    # exponents are valid Kubernetes quantities but break its resource form.
    @field_validator("cpu", "memory")
    @classmethod
    def _spawner_can_parse(cls, bounds: ResourceBounds | None, info: ValidationInfo) -> ResourceBounds | None:
        if bounds is None:
            return bounds
        pattern, expected = SPAWNER_QUANTITY[str(info.field_name)]
        problems: list[Problem] = [
            ((name,), f"expected {expected} (Dossier's spawner reads no other form)", getattr(bounds, name))
            for name in ResourceBounds.model_fields
            if not pattern.match(getattr(bounds, name))
        ]
        if problems:
            raise FieldProblemsError(problems)
        return bounds


class ResourceQuota(Model):
    """Totals over a research tenant's namespaces."""

    cpu: PositiveQuantity | None = Field(None, description="CPU limits in total.")
    memory: PositiveQuantity | None = Field(None, description="Memory limits in total.")
    storage: PositiveQuantity | None = Field(None, description="Requested storage in total.")


class Owner(Model):
    """An extra owner of a research tenant."""

    kind: Literal["User", "Group", "ServiceAccount"] = Field(description="Owner kind.")
    name: Identifier = Field(description="User, group or service account name.")


#: What each notebook requests in memory when Dossier's spawner sets no request itself: z2jh 2.0.0's
#: ``singleuser.memory.guarantee`` (``1G``), which JupyterHub reads in binary units (the pod asks 1073741824).
CHART_MEMORY_GUARANTEE = "1Gi"


class ResearchTenant(Model):
    """One entry of ``dossier:tenants``: a research group."""

    name: DnsLabel = Field(description="Client role and Capsule Tenant name (unique).")
    namespaceQuota: PositiveInt = Field(5, description="Namespaces the group may hold.")
    nodeSelector: dict[LabelKey, LabelValue] | None = Field(None, description="Node pool of the group's pods.")
    resourceQuota: ResourceQuota | None = Field(None, description="Capsule spec.resourceQuotas.")
    limits: ContainerLimits | None = Field(None, description="Capsule spec.limitRanges.")
    imagePolicy: Policy = Field("fixed", description="Dossier image policy annotation.")
    resourcePolicy: Policy = Field("fixed", description="Dossier resource policy annotation.")
    owners: list[Owner] = Field(default_factory=list, description="Extra owners besides the hub.")

    @model_validator(mode="after")
    def _quota_needs_limits(self) -> ResearchTenant:
        # A ResourceQuota on limits.cpu/limits.memory rejects every pod without that limit;
        # only the limit range's default gives notebooks one.
        problems: list[Problem] = []
        for resource in ("cpu", "memory"):
            quota = getattr(self.resourceQuota, resource, None) if self.resourceQuota else None
            if quota is not None and (self.limits is None or getattr(self.limits, resource) is None):
                problems.append(
                    (("limits", resource), f"required when resourceQuota.{resource} is set (pods need a limit)", None)
                )
        if problems:
            raise FieldProblemsError(problems)
        return self

    @model_validator(mode="after")
    def _memory_fits_the_charts_guarantee(self) -> ResearchTenant:
        # Dossier's spawner sets a notebook's memory request from its form only: with resourcePolicy manual
        # (the user's value) or fixed behind a form (defaultRequest). With no form (both policies fixed) or
        # resourcePolicy profiles (not implemented by Dossier) the chart's guarantee stays, and the pod is
        # refused unless min <= guarantee <= default (request <= limit, LimitRange min).
        memory = self.limits.memory if self.limits else None
        form_sets_it = self.resourcePolicy == "manual" or (
            self.resourcePolicy == "fixed" and self.imagePolicy != "fixed"
        )
        if memory is None or form_sets_it:
            return self
        guarantee = quantity_value(CHART_MEMORY_GUARANTEE)
        why = (
            f"each notebook of this group requests the chart's memory guarantee ({CHART_MEMORY_GUARANTEE}, "
            f"singleuser.memory.guarantee) as imagePolicy {self.imagePolicy} and resourcePolicy "
            f"{self.resourcePolicy} give Dossier's spawner no form to set it"
        )
        problems: list[Problem] = []
        if quantity_value(memory.default) < guarantee:
            problems.append((("limits", "memory", "default"), f"expected at least {CHART_MEMORY_GUARANTEE}: {why}",
                             memory.default))
        if quantity_value(memory.min) > guarantee:
            problems.append((("limits", "memory", "min"), f"expected at most {CHART_MEMORY_GUARANTEE}: {why}",
                             memory.min))
        if problems:
            raise FieldProblemsError(problems)
        return self


class SpawnerConfig(Model):
    """One entry of ``dossier:spawners``: a remote spawner."""

    name: DnsSubdomain = Field(description="Spawner object name (unique).")
    class_: ClassPath = Field(alias="class", description="Spawner class (Python class path).")
    properties: dict[StrictStr, Any] = Field(default_factory=dict, description="Spawner properties.")
    parameters: dict[StrictStr, Any] = Field(default_factory=dict, description="Spawner parameters.")
    tenants: list[DnsLabel] = Field(
        default_factory=list, description="Tenants allowed to use it (in dossier:tenants, or the hub's)."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StackConfig(Model):
    """The whole ``dossier:`` namespace."""

    fqdn: Fqdn = Field(description="Public DNS name of the hub, e.g. hub.example.org.")
    namespace: DnsLabel = Field("jhub", description="Namespace of the hub. Do not change after the first deploy.")
    keycloak: KeycloakConfig = Field(description="The hub's Keycloak client.")
    postgresql: PostgresConfig = Field(default_factory=PostgresConfig, description="The hub's database.")
    jupyterhub: JupyterHubConfig = Field(default_factory=JupyterHubConfig, description="The hub.")
    tenant: TenantConfig = Field(
        default_factory=TenantConfig, validate_default=True, description="The hub's own Capsule tenant."
    )
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Certificate and HTTPProxy.")
    nodes: NodesConfig = Field(default_factory=NodesConfig, description="Node pools (hub.jupyter.org/node-purpose).")
    spawnerCrd: StrictBool = Field(
        True,
        description="Install the cluster-wide Spawner CRD (spawners.dossier.unito.it). In a cluster shared by "
        "several stacks of this program exactly one installs it; the others set false.",
    )
    protectData: StrictBool = Field(True, description="Protect data-bearing resources against deletion.")
    deleteTimeout: Timeout = Field(
        "10m",
        description="How long deleting the Namespace or a Tenant may take (finalizers) before the update fails "
        "naming it (a Pulumi custom timeout; 10m is the kubernetes provider's own default).",
    )
    releaseTimeout: Timeout = Field(
        "5m",
        description="How long `pulumi up` waits for each Helm release to be ready (its pods scheduled and ready, "
        "its hooks done) before it fails naming the release (whole seconds; 5m is the provider's and Helm's default).",
    )
    tenants: list[ResearchTenant] = Field(default_factory=list, description="Research-group tenants.")
    spawners: list[SpawnerConfig] = Field(default_factory=list, description="Remote spawners.")

    # Field validators run in field order and see the fields validated before them in
    # ``info.data``; each check runs when what it compares against is valid.
    @field_validator("tenant")
    @classmethod
    def _hub_tenant_fits(cls, tenant: TenantConfig, info: ValidationInfo) -> TenantConfig:
        # The hub's own tenant names notebook namespaces too (<tenant>-<namespace>-<user>).
        problem = too_long(tenant.name, info.data["namespace"]) if "namespace" in info.data else None
        if problem:
            raise FieldProblemsError([(("name",), problem, tenant.name)])
        return tenant

    @field_validator("tenants")
    @classmethod
    def _unique_tenants(cls, tenants: list[ResearchTenant], info: ValidationInfo) -> list[ResearchTenant]:
        names = [t.name for t in tenants]
        problems: list[Problem] = [
            ((i, "name"), "tenant listed twice", names[i]) for i in duplicates(names)
        ]
        keycloak = info.data.get("keycloak")
        if isinstance(keycloak, KeycloakConfig):
            # A group's client role would be a second role of the same name on the hub's client.
            problems += [
                ((i, "name"), "is also an admin role (dossier:keycloak.adminRoles); client roles are unique", name)
                for i, name in enumerate(names)
                if name in keycloak.adminRoles
            ]
        hub = info.data.get("tenant")
        if isinstance(hub, TenantConfig):
            problems += [
                ((i, "name"), f"is the hub's own tenant (dossier:tenant.name = {hub.name!r})", name)
                for i, name in enumerate(names)
                if name == hub.name
            ]
        if "namespace" in info.data:
            problems += [((i, "name"), problem, name) for i, name in enumerate(names)
                         if (problem := too_long(name, info.data["namespace"]))]
        if problems:
            raise FieldProblemsError(problems)
        return tenants

    @field_validator("spawners")
    @classmethod
    def _known_spawner_tenants(cls, spawners: list[SpawnerConfig], info: ValidationInfo) -> list[SpawnerConfig]:
        names = [s.name for s in spawners]
        problems: list[Problem] = [
            ((i, "name"), "spawner listed twice", names[i]) for i in duplicates(names)
        ]
        hub, groups = info.data.get("tenant"), info.data.get("tenants")
        if isinstance(hub, TenantConfig) and isinstance(groups, list):
            known = {hub.name, *(g.name for g in groups)}
            for i, spawner in enumerate(spawners):
                problems += [
                    ((i, "tenants", j), f"unknown tenant: not in dossier:tenants nor {hub.name!r}", tenant)
                    for j, tenant in enumerate(spawner.tenants)
                    if tenant not in known
                ]
        if problems:
            raise FieldProblemsError(problems)
        return spawners
