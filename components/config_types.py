"""Value types of the stack config: names, URLs, quantities, durations, CIDRs, images.

Each type is a ``typing.Annotated`` string or integer with its validator and its
``Kind`` (the name the README's config table shows). Pure Python: no Pulumi here.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr


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
#: Seconds per unit of a Go duration (``dossier:releaseTimeout``, ``dossier:deleteTimeout``, Contour's timeouts).
DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Those units as a regular-expression alternation (longer units first: ``ms`` before ``m``).
DURATION_UNIT = "|".join(DURATION_SECONDS)
_DURATION = re.compile(rf"^((\d+(\.\d+)?({DURATION_UNIT}))+|infinity|infinite)$")
# A Pulumi custom timeout (Go time.ParseDuration, read by the engine): a finite, non-zero duration.
_TIMEOUT = re.compile(rf"^(\d+(\.\d+)?({DURATION_UNIT}))+$")
_NO_SPACE = re.compile(r"^\S+$")
# A realm is part of every OpenID URL: no spaces, no URL delimiters.
_REALM = re.compile(r"^[^\s/?#%]+$")
# Unquoted PostgreSQL identifier (the chart creates the user and database from it and
# the hub's database URL embeds it). Ref: https://www.postgresql.org/docs/15/sql-syntax-lexical.html
_PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SPAWNER_QUANTITY = {
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


def _positive_timeout(value: str) -> str:
    if not re.search(r"[1-9]", value):
        raise ValueError("expected a duration above zero, such as 10m")
    return value


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


def _qualified_name(kind: str, example: str) -> AfterValidator:
    # Label keys, annotation keys and toleration keys share one syntax: [prefix/]name.
    def check(value: str) -> str:
        prefix, _, name = value.rpartition("/")
        if (prefix and not _DNS_SUBDOMAIN.match(prefix)) or not _LABEL_NAME.match(name):
            raise ValueError(f"expected {kind} such as {example}")
        return value

    return AfterValidator(check)


def _label_value(value: str) -> str:
    if value and not _LABEL_NAME.match(value):
        raise ValueError("expected a label value (at most 63 characters of A-Z, a-z, 0-9, '-', '_', '.')")
    return value


def not_reserved_user(value: str) -> str:
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
Timeout = Annotated[
    StrictStr,
    _matches(_TIMEOUT, "a duration such as 10m, 90s or 1h30m"),
    AfterValidator(_positive_timeout),
    Kind("duration"),
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
    _matches(
        re.compile(r"^(https://|oci://|file://)\S+$"),
        "an https:// or oci:// chart repository, or a local chart mirror such as file://charts",
    ),
    Kind("URL"),
]
ClassPath = Annotated[
    StrictStr,
    _matches(re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$"), "a dotted Python class path such as pkg.module.Class"),
    Kind("class path"),
]
LabelKey = Annotated[StrictStr, _qualified_name("a label key", "pool or example.org/pool"), Kind("label key")]
AnnotationKey = Annotated[
    StrictStr, _qualified_name("an annotation key", "note or example.org/note"), Kind("annotation key")
]
# Ref: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
TaintKey = Annotated[
    StrictStr,
    _qualified_name("a taint key", "dedicated or node-role.kubernetes.io/control-plane"),
    Kind("taint key"),
]
# Ref: Kubernetes validation of EnvVar.name (IsEnvVarName).
EnvName = Annotated[
    StrictStr,
    _matches(
        re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"),
        "an environment variable name (letters, digits, '_', '-', '.'; not starting with a digit)",
    ),
    Kind("variable name"),
]
UrlPath = Annotated[
    StrictStr, _matches(re.compile(r"^/[^\s?#]*$"), "a URL path starting with '/', such as /tree/ or /lab"),
    Kind("URL path"),
]
ImagePullPolicy = Literal["Always", "IfNotPresent", "Never"]
LabelValue = Annotated[StrictStr, AfterValidator(_label_value), Kind("label value")]
PositiveInt = Annotated[StrictInt, Field(ge=1), Kind("integer ≥ 1")]
NonNegativeInt = Annotated[StrictInt, Field(ge=0), Kind("integer ≥ 0")]
Policy = Literal["fixed", "profiles", "manual"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def duplicates(values: list[str]) -> list[int]:
    """Indices of the entries equal to an earlier entry."""
    return [i for i, value in enumerate(values) if value in values[:i]]
