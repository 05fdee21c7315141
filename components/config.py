"""The stack's configuration: one typed, validated model of the ``dossier:`` namespace.

This module is the only reader of ``pulumi.Config``. ``load()`` reads every
``dossier:`` key once, validates the whole of it and either returns a frozen
``StackConfig`` or raises one ``ConfigError`` that lists every problem (key
path, offending value, expected form) before any resource is registered.

Provider settings (``kubernetes:*``, ``keycloak:*``) are left to the providers.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

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
    model_validator,
)

NAMESPACE = "dossier"

# --- value types -----------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
# Ref: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
# Ref: https://projectcontour.io/docs/1.24/config/request-routing/#response-timeout
# (Go time.ParseDuration units, as Contour accepts them; "infinity" disables the timeout).
_DURATION = re.compile(r"^((\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+|infinity)$")
_NO_SPACE = re.compile(r"^\S+$")
_IMAGE_REF = re.compile(r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


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
        raise ValueError("expected a lowercase DNS name")
    labels = value.split(".")
    if len(labels) < 2 or len(value) > 253:
        raise ValueError("expected a fully qualified DNS name of at most 253 characters, e.g. hub.example.org")
    for label in labels:
        if not _DNS_LABEL.match(label):
            raise ValueError(
                f"label {label!r} is not an RFC 1123 label (a-z, 0-9, '-', at most 63 characters, "
                "starting and ending with a letter or digit)"
            )
    return value


def _https_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError("expected an https:// URL such as https://auth.example.org")
    if parts.query or parts.fragment:
        raise ValueError("expected a base URL without query or fragment")
    return value.rstrip("/")


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"expected an IPv4 or IPv6 network such as 10.0.0.0/8 ({exc})") from None


DnsLabel = Annotated[
    StrictStr, _matches(_DNS_LABEL, "a DNS-1123 label (a-z, 0-9, '-', at most 63 characters)")
]
NodeName = Annotated[
    StrictStr, _matches(_DNS_SUBDOMAIN, "a Kubernetes node name (a DNS-1123 subdomain)")
]
Fqdn = Annotated[StrictStr, AfterValidator(_fqdn)]
HttpsUrl = Annotated[StrictStr, AfterValidator(_https_url)]
Identifier = Annotated[StrictStr, _matches(_NO_SPACE, "a non-empty name without spaces")]
ExactVersion = Annotated[
    StrictStr, _matches(_SEMVER, "an exact semantic version such as 12.2.1 (no ranges, no 'latest')")
]
Quantity = Annotated[StrictStr, _matches(_QUANTITY, "a Kubernetes quantity such as 20Gi or 500m")]
Duration = Annotated[StrictStr, _matches(_DURATION, "a Contour duration such as 650s, 1h or infinity")]
Cidr = Annotated[StrictStr, AfterValidator(_cidr)]
ImageName = Annotated[StrictStr, _matches(_IMAGE_REF, "an image name such as quay.io/org/image")]
ImageTag = Annotated[StrictStr, _matches(_IMAGE_TAG, "an image tag such as 1.2.3")]
ChartRepository = Annotated[
    StrictStr,
    _matches(re.compile(r"^(https://|oci://)\S+$"), "an https:// or oci:// chart repository"),
]
ClassPath = Annotated[
    StrictStr, _matches(re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$"), "a dotted Python class path")
]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sections ---------------------------------------------------------------


class KeycloakConfig(_Model):
    """``dossier:keycloak``."""

    url: HttpsUrl = Field(description="Keycloak base URL (https; include /auth for Keycloak < 17).")
    realm: Identifier = Field(
        "dossier", description="Realm of the hub's client. Do not change after the first deploy."
    )
    clientId: Identifier = Field(
        "jupyter", description="OpenID client id of the hub. Do not change after the first deploy."
    )
    adminRoles: list[Identifier] = Field(
        default_factory=lambda: ["admin"],
        description="Client roles whose members are JupyterHub admins (admin_groups).",
    )


class PostgresImage(_Model):
    """``dossier:postgresql.image``."""

    registry: Identifier = Field("docker.io", description="Image registry of PostgreSQL.")
    # bitnami moved its versioned images to bitnamilegacy in 2025 (bitnami/charts#35164).
    repository: ImageName = Field(
        "bitnamilegacy/postgresql", description="Image repository (bitnami/ no longer serves the pinned tag)."
    )
    tag: ImageTag = Field("15.2.0-debian-11-r2", description="Image tag (the chart 12.2.1 default).")


class PostgresConfig(_Model):
    """``dossier:postgresql``."""

    chartRepository: ChartRepository = Field(
        "oci://registry-1.docker.io/bitnamicharts",
        description="Chart location (OCI: the https index no longer keeps 12.x).",
    )
    chartVersion: ExactVersion = Field("12.2.1", description="bitnami/postgresql chart version.")
    architecture: Literal["replication", "standalone"] = Field(
        "replication", description="Chart architecture."
    )
    readReplicas: NonNegativeInt = Field(1, description="Read replicas (architecture replication).")
    size: Quantity = Field("20Gi", description="Persistent volume size of each PostgreSQL pod.")
    storageClass: DnsLabel | None = Field(None, description="Storage class (cluster default when unset).")
    database: Identifier = Field("jhub", description="Hub database. Do not change after the first deploy.")
    username: Identifier = Field("jhub", description="Hub database user. Do not change after the first deploy.")
    image: PostgresImage = Field(default_factory=PostgresImage)

    @model_validator(mode="after")
    def _replicas_need_replication(self) -> PostgresConfig:
        if self.architecture == "standalone" and self.readReplicas > 0 and "readReplicas" in self.model_fields_set:
            raise ValueError("readReplicas needs architecture: replication")
        return self


class HubImage(_Model):
    """``dossier:jupyterhub.image``."""

    name: ImageName = Field("docker.io/alphaunito/dossier", description="Hub image (Dossier).")
    tag: ImageTag = Field("0.0.1-alpha", description="Hub image tag (pinned; built on k8s-hub 2.0.0).")


class SingleuserConfig(_Model):
    """``dossier:jupyterhub.singleuser``."""

    storageClass: DnsLabel | None = Field(None, description="Storage class of users' volumes.")
    startTimeout: PositiveInt = Field(300, description="Seconds a notebook may take to start.")


class JupyterHubConfig(_Model):
    """``dossier:jupyterhub``."""

    chartRepository: ChartRepository = Field(
        "https://hub.jupyter.org/helm-chart/", description="z2jh chart repository."
    )
    chartVersion: ExactVersion = Field("2.0.0", description="jupyterhub/jupyterhub chart version.")
    image: HubImage = Field(default_factory=HubImage)
    spawnerClass: ClassPath = Field(
        "dossier.spawners.kubespawner.DossierKubeSpawner",
        description="Spawner class in the hub image (images built from Dossier's master: "
        "dossier.spawners.kubernetes.DossierKubeSpawner).",
    )
    singleuser: SingleuserConfig = Field(default_factory=SingleuserConfig)


class TenantConfig(_Model):
    """``dossier:tenant``: the hub's own Capsule tenant."""

    name: DnsLabel = Field("jhub", description="Capsule Tenant name. Do not change after the first deploy.")
    namespaceQuota: PositiveInt = Field(100, description="Namespaces the tenant may hold.")
    egressExcept: list[Cidr] = Field(
        default_factory=list, description="CIDRs users' notebooks may not reach (egress to 0.0.0.0/0 except these)."
    )


class IngressConfig(_Model):
    """``dossier:ingress``."""

    clusterIssuer: DnsLabel = Field("letsencrypt-cluster-issuer", description="cert-manager ClusterIssuer.")
    controllerNamespace: DnsLabel = Field("projectcontour", description="Namespace of Contour's Envoy.")
    responseTimeout: Duration = Field("650s", description="HTTPProxy route response timeout.")
    idleTimeout: Duration = Field("1h", description="HTTPProxy route idle timeout (idle kernel websockets).")


class NodesConfig(_Model):
    """``dossier:nodes``."""

    user: list[NodeName] = Field(default_factory=list, description="Nodes labelled node-purpose=user.")
    core: list[NodeName] = Field(default_factory=list, description="Nodes labelled node-purpose=core.")

    @model_validator(mode="after")
    def _disjoint(self) -> NodesConfig:
        both = sorted(set(self.user) & set(self.core))
        if both:
            raise ValueError(f"nodes {both} are in both user and core; a node has one purpose")
        for pool in (self.user, self.core):
            if len(set(pool)) != len(pool):
                raise ValueError("a node is listed twice")
        return self


class ResourceBounds(_Model):
    """Limit range of one resource (cpu or memory) of a research tenant."""

    default: Quantity
    defaultRequest: Quantity
    min: Quantity
    max: Quantity


class ContainerLimits(_Model):
    cpu: ResourceBounds | None = None
    memory: ResourceBounds | None = None


class ResourceQuota(_Model):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    storage: Quantity | None = None


class Owner(_Model):
    kind: Literal["User", "Group", "ServiceAccount"]
    name: StrictStr = Field(min_length=1)


class ResearchTenant(_Model):
    """One entry of ``dossier:tenants``: a research group."""

    name: DnsLabel
    namespaceQuota: PositiveInt = 5
    nodeSelector: dict[StrictStr, StrictStr] | None = None
    resourceQuota: ResourceQuota | None = None
    limits: ContainerLimits | None = None
    imagePolicy: Literal["fixed", "profiles", "manual"] = "fixed"
    resourcePolicy: Literal["fixed", "profiles", "manual"] = "fixed"
    owners: list[Owner] = Field(default_factory=list)


class SpawnerConfig(_Model):
    """One entry of ``dossier:spawners``: a remote spawner."""

    name: Annotated[StrictStr, _matches(_DNS_SUBDOMAIN, "a DNS-1123 subdomain")]
    class_: Identifier = Field(alias="class")
    properties: dict[StrictStr, Any] = Field(default_factory=dict)
    parameters: dict[StrictStr, Any] = Field(default_factory=dict)
    tenants: list[DnsLabel] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StackConfig(_Model):
    """The whole ``dossier:`` namespace."""

    fqdn: Fqdn = Field(description="Public DNS name of the hub, e.g. hub.example.org.")
    namespace: DnsLabel = Field("jhub", description="Namespace of the hub. Do not change after the first deploy.")
    keycloak: KeycloakConfig
    postgresql: PostgresConfig = Field(default_factory=PostgresConfig)
    jupyterhub: JupyterHubConfig = Field(default_factory=JupyterHubConfig)
    tenant: TenantConfig = Field(default_factory=TenantConfig)
    ingress: IngressConfig = Field(default_factory=IngressConfig)
    nodes: NodesConfig = Field(default_factory=NodesConfig)
    protectData: StrictBool = Field(True, description="Protect data-bearing resources against deletion.")
    tenants: list[ResearchTenant] = Field(default_factory=list, description="Research-group tenants.")
    spawners: list[SpawnerConfig] = Field(default_factory=list, description="Remote spawners.")

    @model_validator(mode="after")
    def _cross_checks(self) -> StackConfig:
        problems: list[str] = []
        names = [t.name for t in self.tenants]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append(f"tenants[{i}].name {name!r} is listed twice")
            if name == self.tenant.name:
                problems.append(f"tenants[{i}].name {name!r} is the hub's own tenant (tenant.name)")
        known = set(names) | {self.tenant.name}
        spawner_names = [s.name for s in self.spawners]
        for i, spawner in enumerate(self.spawners):
            if spawner.name in spawner_names[:i]:
                problems.append(f"spawners[{i}].name {spawner.name!r} is listed twice")
            for tenant in spawner.tenants:
                if tenant not in known:
                    problems.append(
                        f"spawners[{i}] ({spawner.name}) lists tenant {tenant!r}, "
                        f"which is neither in tenants nor {self.tenant.name!r}"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self


# --- loading ----------------------------------------------------------------

#: Keys whose value is a plain string in the stack file (everything else is JSON).
_STRING_KEYS = {"fqdn", "namespace"}


class ConfigError(pulumi.RunError):
    """Invalid stack configuration; the message lists every problem.

    A ``pulumi.RunError`` so that ``pulumi up`` prints the message without a traceback.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem(s)):\n{lines}")


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "class_":
            path += ".class"
        else:
            path += f".{part}" if path else str(part)
    return f"{NAMESPACE}:{path}" if path else NAMESPACE


def _describe(errors: list[Any]) -> list[str]:
    problems = []
    for err in errors:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            problems.append(f"{_key_path(loc)}: required, not set")
            continue
        if err["type"] == "extra_forbidden":
            known = _known_fields(loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(known)}"
            problems.append(f"{_key_path(loc)}: unknown key{suggestion}")
            continue
        value = json.dumps(err.get("input"), default=str)
        problems.append(f"{_key_path(loc)}: {msg} (got {value})")
    return problems


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    model: Any = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def parse(raw: Mapping[str, str]) -> StackConfig:
    """Validate ``dossier:`` config values as Pulumi hands them over (strings; objects as JSON)."""
    data: dict[str, Any] = {}
    problems: list[str] = []
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
        problems.extend(_describe(exc.errors()))
    raise ConfigError(problems)


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
        if full.startswith(prefix) and ":" not in full[len(prefix):]:
            value = cfg.get(full[len(prefix):])
            if value is not None:
                raw[full[len(prefix):]] = value
    return raw


def load() -> StackConfig:
    """Read and validate the stack's ``dossier:`` config; raise ``ConfigError`` listing every problem."""
    return parse(_raw_namespace())
