"""PostgreSQL for the hub: generated passwords, their Secret and bitnami/postgresql.

Creates three ``RandomPassword``s (user, admin, replication), the Secret the
chart reads them from (``auth.existingSecret``) and a ``helm.v3.Release`` of
bitnami/postgresql pinned to an exact version. Only pods carrying the hub's
labels may connect (the chart's own NetworkPolicy). Assumes a default or named
StorageClass exists.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_random as random
from pulumi_kubernetes.core.v1 import Secret
from pulumi_kubernetes.helm.v3 import Release
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.common import DEFAULT_RELEASE_TIMEOUT, Chart, child

#: Keys of the Secret; also the chart's ``auth.secretKeys`` defaults.
USER_KEY = "password"
ADMIN_KEY = "postgres-password"
REPLICATION_KEY = "replication-password"
PORT = 5432


@dataclass(frozen=True, kw_only=True)
class PostgreSQLArgs:
    namespace: pulumi.Input[str]
    chart: Chart
    release_name: str = "jhub-postgresql"
    architecture: Literal["replication", "standalone"] = "replication"
    read_replicas: int = 1
    size: str = "20Gi"
    storage_class: str | None = None
    database: str = "jhub"
    username: str = "jhub"
    image: dict[str, str] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    """Node labels of the primary and the read replicas (empty: the chart's, none)."""
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    """Tolerations of the primary and the read replicas (empty: the chart's, none)."""
    client_pod_labels: dict[str, str] = field(default_factory=dict)
    protect: bool = True
    release_timeout: int = DEFAULT_RELEASE_TIMEOUT
    """Seconds ``pulumi up`` waits for the release's pods to be ready (``dossier:releaseTimeout``)."""


def primary_host(release_name: str, architecture: str) -> str:
    """Service of the primary, by the chart's naming rule (release name contains the chart name)."""
    # Ref: bitnami/postgresql 12.2.1 templates/_helpers.tpl, postgresql.primary.fullname
    return f"{release_name}-primary" if architecture == "replication" else release_name


def qualified_host(host: str, namespace: str) -> str:
    """The Service as pods of every namespace reach it: ``<service>.<namespace>.svc``.

    No cluster domain is written: a pod's DNS search list ends in the cluster's domain
    (``cluster.local`` unless the cluster was set up otherwise), so this name resolves in any
    pod that uses the cluster's DNS (``dnsPolicy: ClusterFirst``, the default), and stays
    right on a cluster with another domain. The short name resolves in the release's
    namespace only.
    """
    return f"{host}.{namespace}.svc"


def postgresql_values(args: PostgreSQLArgs) -> dict[str, Any]:
    """Values of bitnami/postgresql; every key exists in the chart's values.yaml."""
    persistence: dict[str, Any] = {"size": args.size}
    # The primary and the read replicas are placed alike (Dossier's reference pins both).
    placement: dict[str, Any] = {}
    if args.node_selector:
        placement["nodeSelector"] = dict(args.node_selector)
    if args.tolerations:
        placement["tolerations"] = [dict(t) for t in args.tolerations]
    values: dict[str, Any] = {
        "image": dict(args.image),
        "architecture": args.architecture,
        "auth": {
            "enablePostgresUser": True,
            "username": args.username,
            "database": args.database,
            "existingSecret": args.release_name,
            "secretKeys": {
                "adminPasswordKey": ADMIN_KEY,
                "userPasswordKey": USER_KEY,
                "replicationPasswordKey": REPLICATION_KEY,
            },
        },
        "primary": {"persistence": persistence, **placement},
        # Only the hub may connect. 12.2.1 has no networkPolicy.allowExternal: access is
        # narrowed with ingressRules.*AccessOnlyFrom (pods of this namespace with these labels).
        "networkPolicy": {
            "enabled": True,
            "ingressRules": {
                "primaryAccessOnlyFrom": {"enabled": True, "podSelector": dict(args.client_pod_labels)},
            },
        },
    }
    if args.storage_class:
        values["global"] = {"storageClass": args.storage_class}
    if args.architecture == "replication":
        values["readReplicas"] = {
            "replicaCount": args.read_replicas,
            "persistence": {"size": args.size},
            **copy.deepcopy(placement),
        }
        values["networkPolicy"]["ingressRules"]["readReplicasAccessOnlyFrom"] = {
            "enabled": True,
            "podSelector": dict(args.client_pod_labels),
        }
    return values


class PostgreSQL(pulumi.ComponentResource):
    """The hub's database."""

    host: str
    """Service name of the primary (known at preview): what the hub, in the same namespace, connects to."""
    service_host: pulumi.Output[str]
    """The same Service as other namespaces name it (``qualified_host``)."""
    client_labels: dict[str, str]
    """The labels a pod of the release's namespace needs for the chart's NetworkPolicy to admit it."""
    port: int
    database: str
    username: str
    secret_name: str
    """Secret holding ``password``, ``postgres-password`` and ``replication-password``."""
    password: pulumi.Output[str]
    """The hub user's password (secret)."""
    release: Release

    def __init__(self, name: str, args: PostgreSQLArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dossier:postgresql:PostgreSQL", name, None, opts)
        passwords = {
            key: random.RandomPassword(
                f"{name}-{role}-password",
                # Alphanumeric: safe in a connection string without escaping.
                length=40,
                special=False,
                opts=child(self, protect=args.protect),
            )
            for key, role in ((USER_KEY, "user"), (ADMIN_KEY, "admin"), (REPLICATION_KEY, "replication"))
        }
        secret = Secret(
            f"{name}-secret",
            metadata=ObjectMetaArgs(name=args.release_name, namespace=args.namespace),
            type="Opaque",
            string_data={key: password.result for key, password in passwords.items()},
            opts=child(self, protect=args.protect),
        )
        self.release = Release(
            f"{name}-release",
            name=args.release_name,
            namespace=args.namespace,
            chart=args.chart.chart,
            version=args.chart.version,
            repository_opts=args.chart.repository_opts,
            values=postgresql_values(args),
            timeout=args.release_timeout,
            opts=child(self, protect=args.protect, depends_on=[secret]),
        )
        self.host = primary_host(args.release_name, args.architecture)
        self.service_host = pulumi.Output.from_input(args.namespace).apply(lambda ns: qualified_host(self.host, ns))
        self.client_labels = dict(args.client_pod_labels)
        self.port = PORT
        self.database = args.database
        self.username = args.username
        self.secret_name = args.release_name
        self.password = pulumi.Output.secret(passwords[USER_KEY].result)
        self.register_outputs({
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "secretName": self.secret_name,
            "password": self.password,
        })
