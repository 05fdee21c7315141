"""The stack's configuration: one typed, validated model of the ``dossier:`` namespace.

This module is the only reader of ``pulumi.Config``. ``load()`` reads every
``dossier:`` key once (unknown ones included), validates the whole of it and
either returns a frozen ``StackConfig`` or raises one ``ConfigError`` that lists
every problem (key path, offending value, expected form) before any resource is
registered.

Provider settings (``kubernetes:*``, ``keycloak:*``) are left to the providers.
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

NAMESPACE = "dossier"


class Kind:
    """A value type's name in the docs (README table): kept in the field's metadata."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Kind({self.name!r})"


#: One problem a validator found: path below the validated value, message, offending value
#: (``None`` when the problem is a missing value).
Problem = tuple[tuple[int | str, ...], str, Any]


class FieldProblemsError(ValueError):
    """Several problems found by one validator, each at a path relative to the validated value.

    ``_describe`` expands them into one line each under the validator's key path, so a
    cross-check names the entry it is about (``dossier:tenants[1].name``), not its parent.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message, _ in problems))


# --- value types -----------------------------------------------------------

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_LABEL = re.compile(rf"^{_LABEL}$")
# Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-subdomain-names
_DNS_SUBDOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
# Ref: https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
# Ref: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_QUANTITY_SCALE = {
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
    "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal("1e3"), "M": Decimal("1e6"),
    "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
}  # fmt: skip
# Ref: https://projectcontour.io/docs/1.24/config/api/#projectcontour.io/v1.TimeoutPolicy
# (Go time.ParseDuration units; "infinity"/"infinite" disable the timeout).
_DURATION = re.compile(r"^((\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+|infinity|infinite)$")
_NO_SPACE = re.compile(r"^\S+$")
# A realm is part of every OpenID URL: no spaces, no URL delimiters.
_REALM = re.compile(r"^[^\s/?#%]+$")
# Unquoted PostgreSQL identifier (the chart creates the user and database from it and
# the hub's database URL embeds it). Ref: https://www.postgresql.org/docs/15/sql-syntax-lexical.html
_PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SPAWNER_QUANTITY = {
    "cpu": (re.compile(r"^\d+m?$"), "whole cores or millicores such as 2 or 500m"),
    "memory": (
        re.compile(r"^\d+(m|k|M|G|T|P|E|Mi|Gi|Ti|Pi|Ei)?$"),
        "a whole number with an optional unit such as 256Mi, 2Gi or 32G (no fractions, Ki or exponents)",
    ),
}
_IMAGE_COMPONENT = r"[a-z0-9]+([._-][a-z0-9]+)*"
_IMAGE_REF = re.compile(rf"^([A-Za-z0-9.-]+(:\d+)?/)?{_IMAGE_COMPONENT}(/{_IMAGE_COMPONENT})*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REGISTRY = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:\d+)?$")
# Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _matches(pattern: re.Pattern[str], expected: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"expected {expected}")
        return value

    return AfterValidator(check)


def _fqdn(value: str) -> str:
    if "://" in value or "/" in value or ":" in value:
        raise ValueError("expected a bare DNS name such as hub.example.org (no scheme, port or path)")
    if value != value.lower():
        raise ValueError("expected a lowercase DNS name such as hub.example.org")
    if value.endswith(".") or ".." in value:
        raise ValueError("expected a DNS name without empty labels (no trailing or double dot)")
    labels = value.split(".")
    if len(labels) < 2 or len(value) > 253:
        raise ValueError("expected a fully qualified DNS name of at most 253 characters, e.g. hub.example.org")
    for label in labels:
        if not _DNS_LABEL.match(label):
            raise ValueError(
                f"label {label!r} is not an RFC 1123 label (a-z, 0-9, '-', 1 to 63 characters, "
                "starting and ending with a letter or digit)"
            )
    if labels[-1].isdigit():
        # The certificate is issued for a name; an all-numeric top-level label is an IP address.
        raise ValueError("expected a DNS name, not an IP address")
    return value


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError("expected an https:// URL such as https://auth.example.org")
    if parts.query or parts.fragment or value.rstrip("/").endswith(("?", "#")):
        raise ValueError("expected a base URL without query or fragment")
    if parts.username is not None or any(c.isspace() for c in value):
        raise ValueError("expected a base URL without credentials or spaces")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValueError("expected a valid port after the host name") from None
    host = parts.hostname or ""
    if not host or not (_DNS_SUBDOMAIN.match(host) or _is_ip(host)):
        raise ValueError(f"host {host!r} is not a DNS name")
    if "/realms/" in f"{parts.path}/":
        raise ValueError("expected Keycloak's base URL (the realm goes in keycloak.realm, not in the URL)")
    # Trailing slashes are normalised away: endpoints are built as f"{url}/realms/...".
    return value.rstrip("/")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8 ({exc})") from None
    if network.prefixlen == 0:
        # NetworkPolicy's ipBlock.except must be a strict subset of its cidr (0.0.0.0/0, ::/0).
        raise ValueError("expected a network smaller than the whole address space (prefix length > 0)")
    return str(network)


def quantity_value(text: str) -> Decimal:
    """The numeric value of a Kubernetes quantity (``500m`` -> 0.5, ``1Gi`` -> 1073741824)."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number, suffix = match.group(1), match.group(3) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"not a Kubernetes quantity: {text!r}") from None
    if suffix[:1] in ("e", "E"):
        return base * Decimal(10) ** int(suffix[1:])
    return base * _QUANTITY_SCALE[suffix]


def _positive_quantity(value: str) -> str:
    if quantity_value(value) <= 0:
        raise ValueError("expected a quantity greater than zero")
    return value


def _label_key(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or not _LABEL_NAME.match(name):
        raise ValueError("expected a label key such as pool or example.org/pool")
    return value


def _label_value(value: str) -> str:
    if value and not _LABEL_NAME.match(value):
        raise ValueError("expected a label value (at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.')")
    return value


def _not_reserved_user(value: str) -> str:
    if value == "postgres":
        raise ValueError("expected a user other than 'postgres' (the chart's superuser)")
    return value


DnsLabel = Annotated[
    StrictStr,
    _matches(_DNS_LABEL, "a DNS-1123 label (a-z, 0-9, '-', at most 63 characters)"),
    Kind("DNS-1123 label"),
]
DnsSubdomain = Annotated[
    StrictStr,
    _matches(_DNS_SUBDOMAIN, "a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters)"),
    Kind("DNS-1123 subdomain"),
]
NodeName = Annotated[
    StrictStr,
    _matches(_DNS_SUBDOMAIN, "a Kubernetes node name (a DNS-1123 subdomain such as worker-0.example.org)"),
    Kind("node name"),
]
Fqdn = Annotated[StrictStr, AfterValidator(_fqdn), Kind("DNS name")]
HttpsUrl = Annotated[StrictStr, AfterValidator(_https_url), Kind("https URL")]
Identifier = Annotated[StrictStr, _matches(_NO_SPACE, "a non-empty name without spaces"), Kind("name")]
RealmName = Annotated[
    StrictStr, _matches(_REALM, "a non-empty realm name without spaces, '/', '?', '#' or '%'"), Kind("name")
]
PgIdentifier = Annotated[
    StrictStr,
    _matches(_PG_IDENTIFIER, "a PostgreSQL identifier (a-z, 0-9, '_', not starting with a digit, at most 63)"),
    Kind("PostgreSQL identifier"),
]
ExactVersion = Annotated[
    StrictStr,
    _matches(_SEMVER, "an exact semantic version such as 12.2.1 (no ranges, no 'v' prefix, no 'latest')"),
    Kind("semver"),
]
Quantity = Annotated[
    StrictStr, _matches(_QUANTITY, "a Kubernetes quantity such as 20Gi, 500m or 2"), Kind("quantity")
]
PositiveQuantity = Annotated[Quantity, AfterValidator(_positive_quantity), Kind("quantity > 0")]
Duration = Annotated[
    StrictStr, _matches(_DURATION, "a Contour duration such as 650s, 1h30m or infinity"), Kind("duration")
]
Cidr = Annotated[StrictStr, AfterValidator(_cidr), Kind("CIDR")]
ImageName = Annotated[
    StrictStr, _matches(_IMAGE_REF, "an image name without tag, such as quay.io/org/image"), Kind("image name")
]
ImageTag = Annotated[StrictStr, _matches(_IMAGE_TAG, "an image tag such as 1.2.3"), Kind("image tag")]
Registry = Annotated[
    StrictStr, _matches(_REGISTRY, "a registry host such as docker.io or registry.example.org:5000"), Kind("host")
]
ChartRepository = Annotated[
    StrictStr,
    _matches(re.compile(r"^(https://|oci://)\S+$"), "an https:// or oci:// chart repository"),
    Kind("URL"),
]
ClassPath = Annotated[
    StrictStr,
    _matches(re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$"), "a dotted Python class path such as pkg.module.Class"),
    Kind("class path"),
]
LabelKey = Annotated[StrictStr, AfterValidator(_label_key), Kind("label key")]
LabelValue = Annotated[StrictStr, AfterValidator(_label_value), Kind("label value")]
PositiveInt = Annotated[StrictInt, Field(ge=1), Kind("integer ≥ 1")]
NonNegativeInt = Annotated[StrictInt, Field(ge=0), Kind("integer ≥ 0")]
Policy = Literal["fixed", "profiles", "manual"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duplicates(values: list[str]) -> list[int]:
    """Indices of the entries equal to an earlier entry."""
    return [i for i, value in enumerate(values) if value in values[:i]]


# --- sections ---------------------------------------------------------------


class KeycloakConfig(_Model):
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
            ((i,), "role listed twice", roles[i]) for i in _duplicates(roles)
        ]
        if problems:
            raise FieldProblemsError(problems)
        return roles


class PostgresImage(_Model):
    """``dossier:postgresql.image``."""

    registry: Registry = Field("docker.io", description="Image registry of PostgreSQL.")
    # bitnami moved its versioned images to bitnamilegacy in 2025 (bitnami/charts#35164).
    repository: ImageName = Field(
        "bitnamilegacy/postgresql",
        description="Image repository (bitnami/ no longer serves the tag chart 12.2.1 pins).",
    )
    tag: ImageTag = Field("15.2.0-debian-11-r2", description="Image tag (the chart 12.2.1 default).")


class PostgresConfig(_Model):
    """``dossier:postgresql``."""

    chartRepository: ChartRepository = Field(
        "oci://registry-1.docker.io/bitnamicharts",
        description="Chart location (OCI: the https index no longer keeps 12.x).",
    )
    chartVersion: ExactVersion = Field("12.2.1", description="bitnami/postgresql chart version.")
    architecture: Literal["replication", "standalone"] = Field("replication", description="Chart architecture.")
    readReplicas: NonNegativeInt = Field(1, description="Read replicas (architecture replication only).")
    size: PositiveQuantity = Field("20Gi", description="Persistent volume size of each PostgreSQL pod.")
    storageClass: DnsSubdomain | None = Field(None, description="Storage class (cluster default when unset).")
    database: PgIdentifier = Field("jhub", description="Hub database. Do not change after the first deploy.")
    username: Annotated[PgIdentifier, AfterValidator(_not_reserved_user)] = Field(
        "jhub", description="Hub database user. Do not change after the first deploy."
    )
    image: PostgresImage = Field(default_factory=PostgresImage, description="PostgreSQL image.")

    @model_validator(mode="after")
    def _replicas_need_replication(self) -> PostgresConfig:
        if self.architecture == "standalone" and self.readReplicas > 0 and "readReplicas" in self.model_fields_set:
            problem = (("readReplicas",), "read replicas need architecture: replication", self.readReplicas)
            raise FieldProblemsError([problem])
        return self


class HubImage(_Model):
    """``dossier:jupyterhub.image``."""

    name: ImageName = Field("docker.io/alphaunito/dossier", description="Hub image (Dossier).")
    tag: ImageTag = Field("0.0.1-alpha", description="Hub image tag (pinned; built on k8s-hub 2.0.0).")


class SingleuserConfig(_Model):
    """``dossier:jupyterhub.singleuser``."""

    storageClass: DnsSubdomain | None = Field(None, description="Storage class of users' volumes.")
    startTimeout: PositiveInt = Field(300, description="Seconds a notebook may take to start.")


class JupyterHubConfig(_Model):
    """``dossier:jupyterhub``."""

    chartRepository: ChartRepository = Field(
        "https://hub.jupyter.org/helm-chart/", description="z2jh chart repository."
    )
    chartVersion: ExactVersion = Field("2.0.0", description="jupyterhub/jupyterhub chart version.")
    image: HubImage = Field(default_factory=HubImage, description="Hub image.")
    spawnerClass: ClassPath = Field(
        "dossier.spawners.kubespawner.DossierKubeSpawner",
        description="Spawner class in the hub image (images built from Dossier's master: "
        "dossier.spawners.kubernetes.DossierKubeSpawner).",
    )
    singleuser: SingleuserConfig = Field(default_factory=SingleuserConfig, description="Users' notebook servers.")


class TenantConfig(_Model):
    """``dossier:tenant``: the hub's own Capsule tenant."""

    name: DnsLabel = Field("jhub", description="Capsule Tenant name. Do not change after the first deploy.")
    namespaceQuota: PositiveInt = Field(100, description="Namespaces the tenant may hold.")
    egressExcept: list[Cidr] = Field(
        default_factory=list,
        description="IPv4/IPv6 networks users' notebooks may not reach (internet egress except these).",
    )


class IngressConfig(_Model):
    """``dossier:ingress``."""

    clusterIssuer: DnsSubdomain = Field("letsencrypt-cluster-issuer", description="cert-manager ClusterIssuer.")
    controllerNamespace: DnsLabel = Field("projectcontour", description="Namespace of Contour's Envoy.")
    responseTimeout: Duration = Field("650s", description="HTTPProxy route response timeout.")
    idleTimeout: Duration = Field("1h", description="HTTPProxy route idle timeout (idle kernel websockets).")


class NodesConfig(_Model):
    """``dossier:nodes``."""

    user: list[NodeName] = Field(default_factory=list, description="Nodes labelled node-purpose=user.")
    core: list[NodeName] = Field(default_factory=list, description="Nodes labelled node-purpose=core.")

    @model_validator(mode="after")
    def _one_purpose_each(self) -> NodesConfig:
        problems: list[Problem] = []
        for pool in ("user", "core"):
            names = getattr(self, pool)
            problems += [((pool, i), "node listed twice", names[i]) for i in _duplicates(names)]
        problems += [
            (("core", i), "node is in both user and core; a node has one purpose", node)
            for i, node in enumerate(self.core)
            if node in self.user
        ]
        if problems:
            raise FieldProblemsError(problems)
        return self


class ResourceBounds(_Model):
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


class ContainerLimits(_Model):
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
        pattern, expected = _SPAWNER_QUANTITY[str(info.field_name)]
        problems: list[Problem] = [
            ((name,), f"expected {expected} (Dossier's spawner reads no other form)", getattr(bounds, name))
            for name in ResourceBounds.model_fields
            if not pattern.match(getattr(bounds, name))
        ]
        if problems:
            raise FieldProblemsError(problems)
        return bounds


class ResourceQuota(_Model):
    """Totals over a research tenant's namespaces."""

    cpu: PositiveQuantity | None = Field(None, description="CPU limits in total.")
    memory: PositiveQuantity | None = Field(None, description="Memory limits in total.")
    storage: PositiveQuantity | None = Field(None, description="Requested storage in total.")


class Owner(_Model):
    """An extra owner of a research tenant."""

    kind: Literal["User", "Group", "ServiceAccount"] = Field(description="Owner kind.")
    name: Identifier = Field(description="User, group or service account name.")


class ResearchTenant(_Model):
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


class SpawnerConfig(_Model):
    """One entry of ``dossier:spawners``: a remote spawner."""

    name: DnsSubdomain = Field(description="Spawner object name (unique).")
    class_: ClassPath = Field(alias="class", description="Spawner class (Python class path).")
    properties: dict[StrictStr, Any] = Field(default_factory=dict, description="Spawner properties.")
    parameters: dict[StrictStr, Any] = Field(default_factory=dict, description="Spawner parameters.")
    tenants: list[DnsLabel] = Field(
        default_factory=list, description="Tenants allowed to use it (in dossier:tenants, or the hub's)."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StackConfig(_Model):
    """The whole ``dossier:`` namespace."""

    fqdn: Fqdn = Field(description="Public DNS name of the hub, e.g. hub.example.org.")
    namespace: DnsLabel = Field("jhub", description="Namespace of the hub. Do not change after the first deploy.")
    keycloak: KeycloakConfig = Field(description="The hub's Keycloak client.")
    postgresql: PostgresConfig = Field(default_factory=PostgresConfig, description="The hub's database.")
    jupyterhub: JupyterHubConfig = Field(default_factory=JupyterHubConfig, description="The hub.")
    tenant: TenantConfig = Field(default_factory=TenantConfig, description="The hub's own Capsule tenant.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Certificate and HTTPProxy.")
    nodes: NodesConfig = Field(default_factory=NodesConfig, description="Node pools (hub.jupyter.org/node-purpose).")
    protectData: StrictBool = Field(True, description="Protect data-bearing resources against deletion.")
    tenants: list[ResearchTenant] = Field(default_factory=list, description="Research-group tenants.")
    spawners: list[SpawnerConfig] = Field(default_factory=list, description="Remote spawners.")

    # Field validators run in field order and see the fields validated before them in
    # ``info.data``; each check runs when what it compares against is valid.
    @field_validator("tenants")
    @classmethod
    def _unique_tenants(cls, tenants: list[ResearchTenant], info: ValidationInfo) -> list[ResearchTenant]:
        names = [t.name for t in tenants]
        problems: list[Problem] = [
            ((i, "name"), "tenant listed twice", names[i]) for i in _duplicates(names)
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
        if problems:
            raise FieldProblemsError(problems)
        return tenants

    @field_validator("spawners")
    @classmethod
    def _known_spawner_tenants(cls, spawners: list[SpawnerConfig], info: ValidationInfo) -> list[SpawnerConfig]:
        names = [s.name for s in spawners]
        problems: list[Problem] = [
            ((i, "name"), "spawner listed twice", names[i]) for i in _duplicates(names)
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


# --- loading ----------------------------------------------------------------

#: Keys whose value is a plain string in the stack file (everything else is JSON).
_STRING_KEYS = {"fqdn", "namespace"}

#: Expected forms for pydantic's own error types, in the operator's words.
_EXPECTED = {
    "bool_type": "expected true or false (a YAML boolean, not a string)",
    "int_type": "expected an integer",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping of keys (set one nested value with `pulumi config set --path`)",
    "model_attributes_type": "expected a mapping of keys (set one nested value with `pulumi config set --path`)",
    "greater_than_equal": "expected an integer ≥ {ge}",
}


class ConfigError(pulumi.RunError):
    """Invalid stack configuration; the message lists every problem.

    A ``pulumi.RunError`` so that ``pulumi up`` prints the message without a traceback.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


def key_path(loc: tuple[int | str, ...]) -> str:
    """``("keycloak", "realm")`` -> ``dossier:keycloak.realm``; list indices as ``[i]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "class_":
            path += ".class"
        else:
            path += f".{part}" if path else str(part)
    return f"{NAMESPACE}:{path}" if path else NAMESPACE


def _show(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _describe(errors: list[Any]) -> list[str]:
    problems = []
    for err in errors:
        # Validator frames (function-after[...]) and union members are not config keys.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblemsError):
            problems += [
                f"{key_path(loc + sub)}: {msg}" + ("" if value is None else f" (got {_show(value)})")
                for sub, msg, value in cause.problems
            ]
            continue
        if err["type"] == "missing":
            problems.append(f"{key_path(loc)}: required, not set")
            continue
        if err["type"] == "extra_forbidden":
            problems.append(f"{key_path(loc)}: unknown key{_suggest(loc)}")
            continue
        expected = _EXPECTED.get(err["type"])
        msg = expected.format(**(err.get("ctx") or {})) if expected else err["msg"].removeprefix("Value error, ")
        problems.append(f"{key_path(loc)}: {msg} (got {_show(err.get('input'))})")
    return problems


def _suggest(loc: tuple[int | str, ...]) -> str:
    known = known_keys(loc[:-1])
    typo = str(loc[-1])
    head = typo.split(".", 1)[0]
    if len(loc) == 1 and "." in typo and head in known:
        return f"; did you mean {head!r}? Set a nested value with `pulumi config set --path '{NAMESPACE}:{typo}'`"
    by_lower = {k.lower(): k for k in known}
    hint = difflib.get_close_matches(typo.lower(), list(by_lower), n=1, cutoff=0.6)
    if hint:
        return f"; did you mean {by_lower[hint[0]]!r}?"
    return f"; known keys: {', '.join(known)}"


def known_keys(loc: tuple[int | str, ...] = ()) -> list[str]:
    """The keys the model accepts at ``loc`` (``()`` for the top level)."""
    model: Any = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``annotation`` (``X``, ``X | None``, ``list[X]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse(raw: Mapping[str, str]) -> StackConfig:
    """Validate ``dossier:`` config values as Pulumi hands them over (strings; objects as JSON)."""
    data: dict[str, Any] = {}
    for key, text in raw.items():
        if key in _STRING_KEYS:
            data[key] = text
            continue
        try:
            data[key] = json.loads(text)
        except (TypeError, ValueError):
            data[key] = text
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors())) from None


def _raw_namespace() -> dict[str, str]:
    """Every ``dossier:*`` key the engine passed to this program, unknown ones included."""
    # pulumi.Config can only get keys it is asked for; an unknown key (a typo) must be
    # an error too, so list what the engine sent. Ref: pulumi/runtime/config.py.
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{NAMESPACE}:"
    cfg = pulumi.Config(NAMESPACE)
    raw: dict[str, str] = {}
    for full in sorted(keys):
        if full.startswith(prefix):
            value = cfg.get(full[len(prefix):])
            if value is not None:
                raw[full[len(prefix):]] = value
    return raw


def load() -> StackConfig:
    """Read and validate the stack's ``dossier:`` config; raise ``ConfigError`` listing every problem."""
    return parse(_raw_namespace())
