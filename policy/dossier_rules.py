"""The rules of the dossier policy pack, as pure functions plus the pulumi-policy objects that run them.

Each check takes ``(resource_type, props, urn, protect)`` — what the engine hands
a resource policy — and returns the violation messages (empty when the resource
complies); every message starts with the resource's type and logical name. The
checks read ``props`` through the ``Mapping``/``Sequence`` interfaces only, so they
work on plain dicts (tests) and on pulumi-policy's unknown-checking proxies
(``pulumi preview``). Nothing here imports the program: the pack also checks
stacks built by other programs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

Check = Callable[[str, Mapping[str, Any], str, bool], list[str]]

SERVICE = "kubernetes:core/v1:Service"
HTTPPROXY = "kubernetes:projectcontour.io/v1:HTTPProxy"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"
KEYCLOAK_CLIENT = "keycloak:openid/client:Client"
ROLE_MAPPERS = {
    "keycloak:openid/userClientRoleProtocolMapper:UserClientRoleProtocolMapper",
    "keycloak:openid/userRealmRoleProtocolMapper:UserRealmRoleProtocolMapper",
}
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CAPSULE_TENANT = re.compile(r"^kubernetes:capsule\.clastix\.io/[^:]+:Tenant$")
#: Resources whose deletion loses users' data or the credentials to reach it.
DATA_BEARING = {
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "random:index/randomPassword:RandomPassword",
    "random:index/randomBytes:RandomBytes",
    KEYCLOAK_CLIENT,
}
DATABASE_CHARTS = ("postgresql", "postgresql-ha", "mysql", "mariadb", "mongodb")
#: The only stack allowed to run unprotected (throwaway clusters).
UNPROTECTED_STACKS = {"dev"}
PUBLIC_SERVICE_TYPES = {"LoadBalancer", "NodePort"}
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
#: A chart on disk (``./charts/postgresql``, ``../x``, ``/abs/x``): a local chart mirror for air-gapped clusters.
#: A bare name (``bitnami/postgresql``) is not one: Helm would resolve it through repositories configured elsewhere.
LOCAL_CHART = re.compile(r"^\.{0,2}/")


# --- helpers -------------------------------------------------------------------


def resource_name(urn: str) -> str:
    """The logical name: the last ``::`` segment of the URN."""
    return urn.rsplit("::", 1)[-1]


def stack_name(urn: str) -> str:
    """The stack a URN belongs to: ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def _who(resource_type: str, urn: str) -> str:
    return f"{resource_type.rsplit(':', 1)[-1]} '{resource_name(urn)}'"


def _get(props: Any, *path: str) -> Any:
    """``props[path[0]][path[1]]...``, or None where a level is missing or not a mapping."""
    value = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _seq(value: Any) -> list[Any]:
    """A list property as a list ([] when unset); strings are not sequences here."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return []


def _known(container: Any, key: Any) -> tuple[bool, Any]:
    """``(True, container[key])``, or ``(False, None)`` for a value known only after apply."""
    try:
        return True, container[key]
    except UnknownValueError:
        return False, None


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path of the parent, key, value) of a nested mapping, skipping values known only after apply.

    A preview leaves generated secrets in Helm values unknown; skipping them lets the
    rule judge the rest of the values during the preview instead of giving up.
    """
    if isinstance(value, Mapping):
        for key in value:
            known, item = _known(value, key)
            if known:
                yield path, str(key), item
                yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for index in range(len(value)):
            known, item = _known(value, index)
            if known:
                yield from _walk(item, f"{path}[{index}]")


def chart_name(props: Mapping[str, Any]) -> str:
    """The chart's own name: ``oci://registry/org/postgresql`` -> ``postgresql``."""
    chart = _get(props, "chart")
    return chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else ""


def _is_helm(resource_type: str) -> bool:
    return resource_type in (HELM_RELEASE, HELM_CHART)


# --- checks --------------------------------------------------------------------


def check_no_public_services(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """Services stay inside the cluster: ingress goes through Contour only."""
    who = _who(resource_type, urn)
    if resource_type == SERVICE:
        kind = _get(props, "spec", "type")
        if kind in PUBLIC_SERVICE_TYPES:
            return [f"{who}: spec.type is {kind}; use ClusterIP behind the HTTPProxy"]
        return []
    if not _is_helm(resource_type):
        return []
    values = _get(props, "values")
    messages = [
        f"{who}: Helm value {parent}.type is {item}; use ClusterIP behind the HTTPProxy"
        for parent, key, item in _walk(values)
        if key == "type" and item in PUBLIC_SERVICE_TYPES and parent.rsplit(".", 1)[-1].lower().endswith("service")
    ]
    if chart_name(props) == "jupyterhub" and _get(values, "proxy", "service", "type") is None:
        # Ref: z2jh values.yaml, proxy.service.type defaults to LoadBalancer.
        messages.append(f"{who}: proxy.service.type is unset and z2jh defaults it to LoadBalancer; set ClusterIP")
    return messages


def check_httpproxy_tls(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """Every HTTPProxy serves its virtual host over TLS."""
    if resource_type != HTTPPROXY:
        return []
    tls = _get(props, "spec", "virtualhost", "tls")
    if _get(tls, "secretName") or _get(tls, "passthrough") is True:
        return []
    return [f"{_who(resource_type, urn)}: spec.virtualhost.tls.secretName is not set (plain HTTP)"]


def check_helm_pinned(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """Charts come from an https index, an OCI registry or a local path (a mirror), at an exact version."""
    if not _is_helm(resource_type):
        return []
    who = _who(resource_type, urn)
    messages = []
    version = _get(props, "version")
    if not isinstance(version, str) or not EXACT_VERSION.match(version):
        messages.append(f"{who}: chart version {version!r} is not an exact version (x.y.z)")
    chart = _get(props, "chart")
    repo = _get(props, "repositoryOpts", "repo")
    from_oci = isinstance(chart, str) and chart.startswith("oci://")
    from_https = isinstance(repo, str) and repo.startswith("https://")
    # A local chart's content is what the deployer put on disk; the program checks its Chart.yaml version.
    from_disk = isinstance(chart, str) and bool(LOCAL_CHART.match(chart)) and repo is None
    if not (from_oci or from_https or from_disk):
        messages.append(f"{who}: chart {chart!r} is not from an https repository, an oci:// registry or a local "
                        f"path (repositoryOpts.repo is {repo!r})")
    return messages


def check_keycloak_client(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """OpenID clients are confidential, use the standard flow and name their redirect URIs exactly."""
    if resource_type != KEYCLOAK_CLIENT:
        return []
    who = _who(resource_type, urn)
    messages = []
    if _get(props, "accessType") != "CONFIDENTIAL":
        messages.append(f"{who}: accessType is {_get(props, 'accessType')!r}, not CONFIDENTIAL")
    if _get(props, "standardFlowEnabled") is not True:
        # The provider's default is false: the hub's login would fail.
        messages.append(f"{who}: standardFlowEnabled is not true")
    for key in ("validRedirectUris", "validPostLogoutRedirectUris"):
        wild = [uri for uri in _seq(_get(props, key)) if isinstance(uri, str) and "*" in uri]
        if wild:
            messages.append(f"{who}: {key} has wildcards {wild}; list each URI exactly")
    return messages


def check_mappers_multivalued(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """Role mappers are multivalued: a user in two tenants gets both."""
    if resource_type not in ROLE_MAPPERS or _get(props, "multivalued") is True:
        return []
    return [f"{_who(resource_type, urn)}: multivalued is not true; a user in several tenants would get only one"]


def is_data_bearing(resource_type: str, props: Mapping[str, Any]) -> bool:
    if resource_type in DATA_BEARING or CAPSULE_TENANT.match(resource_type):
        return True
    return _is_helm(resource_type) and chart_name(props) in DATABASE_CHARTS


def check_data_protected(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """Outside the dev stack, data-bearing resources are protected (dossier:protectData)."""
    if protect or stack_name(urn) in UNPROTECTED_STACKS or not is_data_bearing(resource_type, props):
        return []
    return [f"{_who(resource_type, urn)}: holds data but is not protected in stack '{stack_name(urn)}'; "
            "set dossier:protectData: true"]


def check_tenant_prevent_deletion(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """Protected Capsule tenants refuse deletion: deleting one deletes its namespaces and volumes.

    An unprotected one (``protectData: false``) may not set it: Capsule would refuse ``pulumi destroy``.
    """
    if not CAPSULE_TENANT.match(resource_type) or not protect or _get(props, "spec", "preventDeletion") is True:
        return []
    return [f"{_who(resource_type, urn)}: protected, but spec.preventDeletion is not true "
            "(deleting the tenant would delete its namespaces and users' volumes)"]


def check_cluster_role_wildcards(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> list[str]:
    """ClusterRoles name their verbs and resources."""
    if resource_type != CLUSTER_ROLE:
        return []
    messages = []
    for index, rule in enumerate(_seq(_get(props, "rules"))):
        for key in ("verbs", "resources"):
            if "*" in _seq(_get(rule, key)):
                messages.append(f"{_who(resource_type, urn)}: rules[{index}].{key} has the wildcard '*'")
    return messages


# --- the pack --------------------------------------------------------------------

#: name -> (description, check)
RULES: dict[str, tuple[str, Check]] = {
    "no-public-services": ("No Service of type LoadBalancer or NodePort, also in Helm values.",
                           check_no_public_services),
    "httpproxy-tls": ("Every Contour HTTPProxy has TLS.", check_httpproxy_tls),
    "helm-chart-pinned": ("Helm charts are pinned to an exact version from an https or OCI repository, or a local "
                          "path.",
                          check_helm_pinned),
    "keycloak-client-confidential": ("Keycloak clients are confidential, use the standard flow and have no "
                                     "wildcard redirect URIs.", check_keycloak_client),
    "keycloak-mappers-multivalued": ("Keycloak role mappers (the tenants claim) are multivalued.",
                                     check_mappers_multivalued),
    "data-protected": ("Data-bearing resources are protected in every stack but dev.", check_data_protected),
    "capsule-tenant-prevent-deletion": ("Protected Capsule tenants set spec.preventDeletion.",
                                        check_tenant_prevent_deletion),
    "clusterrole-no-wildcards": ("ClusterRoles have no wildcard verbs or resources.", check_cluster_role_wildcards),
}


def violations(resource_type: str, props: Mapping[str, Any], urn: str, protect: bool) -> dict[str, list[str]]:
    """Every rule's messages for one resource (rules without a violation left out)."""
    found = {name: check(resource_type, props, urn, protect) for name, (_, check) in RULES.items()}
    return {name: messages for name, messages in found.items() if messages}


def _validator(check: Check) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, args.props, args.urn, bool(args.opts.protect)):
            report_violation(message, args.urn)

    return validate


POLICIES: list[ResourceValidationPolicy] = [
    ResourceValidationPolicy(
        name=name,
        description=description,
        validate=_validator(check),
        enforcement_level=EnforcementLevel.MANDATORY,
    )
    for name, (description, check) in RULES.items()
]
