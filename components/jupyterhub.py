"""JupyterHub with Dossier's hub image, and the cluster-wide RBAC its spawner needs.

Creates the hub secrets (cookie secret, proxy auth token, CryptKeeper key) with
pulumi-random so they survive reinstalls, a ``helm.v3.Release`` of
jupyterhub/jupyterhub pinned to an exact version wired to Keycloak
(GenericOAuthenticator) and PostgreSQL (``hub.db``), and the ``hub`` ClusterRole
and ClusterRoleBinding of the Dossier guide. Assumes the Spawner CRD and Capsule
are installed (the role refers to their APIs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_random as random
from pulumi_kubernetes.helm.v3 import Release
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs
from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding, PolicyRuleArgs, RoleRefArgs, SubjectArgs

from components.common import DEFAULT_RELEASE_TIMEOUT, Chart, child
from components.keycloak_client import OidcEndpoints, callback_url

#: Names the chart gives its objects (z2jh 2.0.0 with ``fullnameOverride: ""``).
HUB_SERVICE_ACCOUNT = "hub"
PROXY_SERVICE = "proxy-public"
PROXY_SERVICE_PORT = 80
#: Label on the hub pod that PostgreSQL's NetworkPolicy admits.
DB_CLIENT_LABELS = {"jhub-postgresql-client": "true"}
CONFIG_PATH = "/usr/local/etc/jupyterhub/jupyterhub_config.py"
#: Network policy of hub, proxy and notebooks: users' notebooks run in tenant namespaces.
CROSS_NAMESPACE = {"enabled": True, "interNamespaceAccessLabels": "accept"}


@dataclass(frozen=True, kw_only=True)
class Database:
    host: str
    port: int
    database: str
    username: str
    password: pulumi.Input[str]

    @property
    def url(self) -> str:
        """SQLAlchemy URL without the password (the chart passes it separately)."""
        return f"postgresql+psycopg2://{self.username}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True, kw_only=True)
class OAuth:
    client_id: pulumi.Input[str]
    client_secret: pulumi.Input[str]
    endpoints: OidcEndpoints
    claim_name: str
    admin_roles: list[str]


@dataclass(frozen=True, kw_only=True)
class HubSecrets:
    cookie_secret: pulumi.Input[str]
    proxy_token: pulumi.Input[str]
    crypt_key: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class HubImage:
    name: str
    tag: str
    pull_policy: str | None = None
    pull_secrets: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Singleuser:
    """Settings of the users' notebook servers; ``None``/empty leaves the chart's default."""

    storage_class: str | None = None
    start_timeout: int = 300
    default_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_annotations: dict[str, str] = field(default_factory=dict)
    block_cloud_metadata: bool | None = None


@dataclass(frozen=True, kw_only=True)
class JupyterHubArgs:
    namespace: pulumi.Input[str]
    chart: Chart
    hub_url: str
    image: HubImage
    spawner_class: str
    database: Database
    oauth: OAuth
    #: The hub's Helm release. z2jh names its cluster-wide objects after it (the ClusterRole and binding
    #: ``<release>-user-scheduler``, the scheduler's name), so two stacks in one cluster need two names.
    release_name: str = "jhub"
    """Also names the hub's ClusterRole and binding (``<release>-hub``); the program names the release after the
    hub's namespace, so both are unique per stack in a shared cluster."""
    node_purpose: Literal["require", "prefer"] = "prefer"
    core_tolerations: list[dict[str, Any]] | None = None
    """Tolerations of the core pods; ``None`` leaves the chart's list."""
    debug: bool = False
    singleuser: Singleuser = field(default_factory=Singleuser)
    protect: bool = True
    release_timeout: int = DEFAULT_RELEASE_TIMEOUT
    """Seconds ``pulumi up`` waits for the release's pods to be ready (``dossier:releaseTimeout``)."""


def spawner_config(spawner_class: str) -> str:
    """``hub.extraConfig`` snippet that selects Dossier's spawner."""
    module, _, cls = spawner_class.rpartition(".")
    return (
        f"from {module} import {cls}\n"
        f"c.JupyterHub.spawner_class = {cls}\n"
        # Users' notebooks run in tenant namespaces: they reach the hub by its namespaced name.
        "c.JupyterHub.hub_connect_url = "
        "f'http://{get_name(\"hub\")}.{os.environ.get(\"POD_NAMESPACE\", \"default\")}"
        ":{get_name_env(\"hub\", \"_SERVICE_PORT\")}'\n"
        "c.KubeSpawner.enable_user_namespaces = True\n"
    )


#: ``hub.extraConfig`` snippet: a notebook pod carries itself what its Tenant asks of it, as admission gives it
#: once Capsule has finished the namespace: the Tenant's node selector, and the defaults of its ``Container``
#: limit ranges on every container that leaves them unset (as the LimitRanger admission plugin sets them: a
#: value the container has is kept). Capsule 0.2.1 annotates a tenant namespace with the selector and creates
#: its LimitRanges after the namespace exists (its Tenant controller, not its webhook), and Dossier's spawner
#: creates the namespace and the pod in the same second: without this, a user's first pod could run on another
#: group's node, or be refused by a LimitRange that appeared between the plugin's defaulting and its validation
#: ("minimum cpu usage per Container is 100m.  No request is specified"; both seen in the end-to-end run).
#: ``spawner.tenant`` is the Tenant object Dossier's spawner chose; other spawners have none. A container's
#: ``resources`` is a model (KubeSpawner's notebook container), a dict (z2jh's init container) or unset.
TENANT_POD_DEFAULTS_CONFIG = (
    "def dossier_tenant_pod_defaults(spawner, pod):\n"
    "    spec = (getattr(spawner, 'tenant', None) or {}).get('spec', {})\n"
    "    selector = spec.get('nodeSelector') or {}\n"
    "    if selector:\n"
    "        pod.spec.node_selector = {**(pod.spec.node_selector or {}), **selector}\n"
    "    ranges = [limit for item in (spec.get('limitRanges') or {}).get('items', [])\n"
    "              for limit in item.get('limits', []) if limit.get('type') == 'Container']\n"
    "    containers = [*(pod.spec.init_containers or []), *(pod.spec.containers or [])] if ranges else []\n"
    "    for container in containers:\n"
    "        if container.resources is None:\n"
    "            container.resources = {}\n"
    "        for bound, field in (('default', 'limits'), ('defaultRequest', 'requests')):\n"
    "            if isinstance(container.resources, dict):\n"
    "                current = container.resources.setdefault(field, {})\n"
    "            else:\n"
    "                if getattr(container.resources, field) is None:\n"
    "                    setattr(container.resources, field, {})\n"
    "                current = getattr(container.resources, field)\n"
    "            for limit in ranges:\n"
    "                for resource, amount in (limit.get(bound) or {}).items():\n"
    "                    current.setdefault(resource, amount)\n"
    "    return pod\n"
    "c.KubeSpawner.modify_pod_hook = dossier_tenant_pod_defaults\n"
)


def hub_values(args: JupyterHubArgs, secrets: HubSecrets) -> dict[str, Any]:
    """Values of jupyterhub/jupyterhub (z2jh 2.0.0 schema, oauthenticator 15.x option names)."""
    oauth = args.oauth
    core_pods: dict[str, Any] = {"nodeAffinity": {"matchNodePurpose": args.node_purpose}}
    if args.core_tolerations is not None:
        core_pods["tolerations"] = [dict(t) for t in args.core_tolerations]
    return {
        "debug": {"enabled": args.debug},
        "hub": {
            "image": image_values(args.image),
            # hub.args replaces the chart's whole command, with the flags the chart would add from
            # debug.enabled and hub.db.upgrade: both are repeated here, or they are lost.
            # Ref: zero-to-jupyterhub-k8s 2.0.0 jupyterhub/templates/hub/deployment.yaml
            "args": ["dossier", "--config", CONFIG_PATH, *(["--debug"] if args.debug else []), "--upgrade-db"],
            "labels": dict(DB_CLIENT_LABELS),
            "networkPolicy": dict(CROSS_NAMESPACE),
            "db": {
                "type": "postgres",
                "url": args.database.url,
                "password": args.database.password,
                # The chart's switch for --upgrade-db, which hub.args above repeats (hub.args replaces the
                # command this switch adds the flag to): set so that the intent holds without hub.args too.
                # Ref: jupyterhub/zero-to-jupyterhub-k8s#1244 (an external db is not upgraded otherwise).
                "upgrade": True,
            },
            "config": {
                "JupyterHub": {
                    "authenticator_class": "dossier.auth.oauth.DossierOAuthenticator",
                    "cookie_secret": secrets.cookie_secret,
                },
                "ConfigurableHTTPProxy": {"auth_token": secrets.proxy_token},
                "CryptKeeper": {"keys": [secrets.crypt_key]},
                # Dossier admits tenant members through the hub's groups (the tenants claim).
                "Authenticator": {"auto_login": False, "enable_auth_state": True, "manage_groups": True},
                "GenericOAuthenticator": {
                    "client_id": oauth.client_id,
                    "client_secret": oauth.client_secret,
                    "oauth_callback_url": callback_url(args.hub_url),
                    "authorize_url": oauth.endpoints.authorize,
                    "token_url": oauth.endpoints.token,
                    "userdata_url": oauth.endpoints.userinfo,
                    "logout_redirect_url": oauth.endpoints.end_session,
                    "login_service": "Keycloak",
                    "scope": ["openid"],
                    "username_key": "preferred_username",
                    "claim_groups_key": oauth.claim_name,
                    "admin_groups": list(oauth.admin_roles),
                    "enable_auth_state": True,
                },
            },
            "extraConfig": {
                "spawnerConfig": spawner_config(args.spawner_class),
                "tenantPodDefaults": TENANT_POD_DEFAULTS_CONFIG,
            },
        },
        "proxy": {"service": {"type": "ClusterIP"}, "chp": {"networkPolicy": dict(CROSS_NAMESPACE)}},
        "scheduling": {
            "userScheduler": {"enabled": True},
            "corePods": core_pods,
            "userPods": {"nodeAffinity": {"matchNodePurpose": args.node_purpose}},
        },
        "singleuser": singleuser_values(args.singleuser),
    }


def image_values(image: HubImage) -> dict[str, Any]:
    """``hub.image``: pull policy and secrets only when set (else the chart's)."""
    values: dict[str, Any] = {"name": image.name, "tag": image.tag}
    if image.pull_policy is not None:
        values["pullPolicy"] = image.pull_policy
    if image.pull_secrets:
        values["pullSecrets"] = list(image.pull_secrets)
    return values


def singleuser_values(singleuser: Singleuser) -> dict[str, Any]:
    """``singleuser``: notebooks run in tenant namespaces, so they are admitted across namespaces."""
    values: dict[str, Any] = {"networkPolicy": dict(CROSS_NAMESPACE), "startTimeout": singleuser.start_timeout}
    if singleuser.storage_class:
        values["storage"] = {"dynamic": {"storageClass": singleuser.storage_class}}
    if singleuser.default_url is not None:
        values["defaultUrl"] = singleuser.default_url
    if singleuser.extra_env:
        values["extraEnv"] = dict(singleuser.extra_env)
    if singleuser.extra_annotations:
        values["extraAnnotations"] = dict(singleuser.extra_annotations)
    if singleuser.block_cloud_metadata is not None:
        values["cloudMetadata"] = {"blockWithIptables": singleuser.block_cloud_metadata}
    return values


def hub_cluster_rules() -> list[dict[str, Any]]:
    """The hub's cluster-wide rules, as the Dossier guide lists them."""
    manage = ["get", "watch", "list", "create", "delete"]
    return [
        {"apiGroups": [""], "resources": ["pods", "persistentvolumeclaims", "secrets", "services"], "verbs": manage},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "watch", "list"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
        {"apiGroups": ["capsule.clastix.io"], "resources": ["tenants"], "verbs": ["get", "list"]},
        {"apiGroups": ["dossier.unito.it"], "resources": ["spawners"], "verbs": ["get", "list"]},
    ]


def _hex_secret(parent: pulumi.Resource, name: str, protect: bool) -> pulumi.Output[str]:
    # A RandomPassword, not RandomBytes: pulumi-random uses a RandomBytes' base64 value as its
    # resource ID, which the state keeps in clear (pulumi/pulumi-random provider/resources.go,
    # computeRandomBytesID); a RandomPassword's result is a secret and its ID is "none".
    # 0-9 and a-f only: 64 of them are 256 random bits, the hex form the chart itself would generate.
    generated = random.RandomPassword(
        name, length=64, lower=False, upper=False, numeric=True, special=True, override_special="abcdef",
        opts=child(parent, protect=protect),
    )
    return pulumi.Output.secret(generated.result)


class JupyterHub(pulumi.ComponentResource):
    """The hub: Helm release plus cluster RBAC."""

    release: Release
    service_account: pulumi.Output[str]
    """``system:serviceaccount:<namespace>:hub``, the hub's identity (Tenant owner)."""
    service_account_name: str
    proxy_service: str
    proxy_service_port: int
    pod_labels: dict[str, str]

    def __init__(self, name: str, args: JupyterHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:jupyterhub:JupyterHub", name, None, opts)
        secrets = HubSecrets(
            cookie_secret=_hex_secret(self, f"{name}-cookie-secret", args.protect),
            proxy_token=_hex_secret(self, f"{name}-proxy-token", args.protect),
            crypt_key=_hex_secret(self, f"{name}-crypt-key", args.protect),
        )
        self.release = Release(
            f"{name}-release",
            name=args.release_name,
            namespace=args.namespace,
            chart=args.chart.chart,
            version=args.chart.version,
            repository_opts=args.chart.repository_opts,
            values=hub_values(args, secrets),
            timeout=args.release_timeout,
            # A new release name replaces the release: the chart's namespaced objects (hub, proxy, ...) have
            # fixed names, so the old release must be gone before the new one installs them.
            opts=child(self, delete_before_replace=True),
        )
        labels = {"app": "jupyterhub", "component": "hub", "app.kubernetes.io/managed-by": "pulumi"}
        role = ClusterRole(
            f"{name}-cluster-role",
            metadata=ObjectMetaArgs(name=f"{args.release_name}-hub", labels=labels),
            rules=[PolicyRuleArgs(api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"])
                   for r in hub_cluster_rules()],
            opts=child(self),
        )
        ClusterRoleBinding(
            f"{name}-cluster-role-binding",
            metadata=ObjectMetaArgs(name=f"{args.release_name}-hub", labels=labels),
            role_ref=RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name),
            subjects=[SubjectArgs(kind="ServiceAccount", name=HUB_SERVICE_ACCOUNT, namespace=args.namespace)],
            opts=child(self),
        )
        self.service_account_name = HUB_SERVICE_ACCOUNT
        self.service_account = pulumi.Output.concat(
            "system:serviceaccount:", args.namespace, ":", HUB_SERVICE_ACCOUNT
        )
        self.proxy_service = PROXY_SERVICE
        self.proxy_service_port = PROXY_SERVICE_PORT
        self.pod_labels = dict(DB_CLIENT_LABELS)
        self.register_outputs({
            "serviceAccount": self.service_account,
            "proxyService": self.proxy_service,
            "proxyServicePort": self.proxy_service_port,
        })
