"""What the program does with each key of Dossier's reference values: where it sets it, or why not.

Keys are written as in ``docs/parity.md``: dotted, with a key that holds a dot or a
slash in brackets (``primary.nodeSelector[node-role.kubernetes.io/control-plane]``).
``WHERE`` names, by key prefix, where the program sets what it renders;
``DIFFERENCES`` gives the reason for every key the dev stack does not render with
Dossier's value. ``offline/parity.py`` checks both against the files and the
rendered values: a reason that no longer holds is reported, as is a key neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Difference:
    """Why the program does not render a reference key with Dossier's value."""

    reason: str
    kind: Literal["value", "unset", "chart-default", "not-in-chart"] = "unset"
    """``value``: rendered, with another value; ``unset``: not rendered; ``chart-default``: not
    rendered because the pinned chart's default is Dossier's value; ``not-in-chart``: not rendered,
    the pinned chart has no such key. Each is checked against the rendered values and the chart."""


def _other(reason: str) -> Difference:
    """Rendered with another value than Dossier's, for ``reason``."""
    return Difference(reason, "value")


_PLACEHOLDER = "Dossier's file holds a placeholder"
_KEYCLOAK = f"built from dossier:keycloak.url and .realm; {_PLACEHOLDER}"
_SITE_STORAGE = "a storage class of Dossier's own cluster (cdk-cinder, OpenStack Cinder); the dev stack uses the " \
    "cluster's default"

WHERE: dict[str, dict[str, str]] = {
    "jupyterhub": {
        "debug.enabled": "dossier:jupyterhub.debug",
        "hub.args": "Dossier's entry point (components/jupyterhub.py); --debug with dossier:jupyterhub.debug",
        "hub.config.Authenticator": "components/jupyterhub.py",
        "hub.config.GenericOAuthenticator": "the Keycloak client (dossier:keycloak, components/keycloak_client.py)",
        "hub.config.GenericOAuthenticator.admin_groups": "dossier:keycloak.adminRoles",
        "hub.config.GenericOAuthenticator.client_id": "dossier:keycloak.clientId",
        "hub.config.GenericOAuthenticator.claim_groups_key": "the client's tenants mapper (keycloak_client.py)",
        "hub.config.GenericOAuthenticator.oauth_callback_url": "dossier:fqdn",
        "hub.config.JupyterHub": "components/jupyterhub.py",
        "hub.db": "the PostgreSQL component (dossier:postgresql.username, .database, its generated password)",
        "hub.extraConfig.spawnerConfig": "dossier:jupyterhub.spawnerClass",
        "hub.image": "dossier:jupyterhub.image",
        "hub.labels": "components/jupyterhub.py: the labels PostgreSQL's NetworkPolicy admits",
        "hub.networkPolicy": "components/jupyterhub.py: notebooks in tenant namespaces reach the hub",
        "proxy.chp.networkPolicy": "components/jupyterhub.py: notebooks in tenant namespaces reach the proxy",
        "proxy.service": "components/jupyterhub.py: the HTTPProxy routes to it (dossier:ingress)",
        "scheduling.corePods.nodeAffinity": "dossier:nodes (require when both pools are set)",
        "scheduling.corePods.tolerations": "dossier:jupyterhub.corePodTolerations (default with dossier:nodes.core)",
        "scheduling.userPods": "dossier:nodes (require when both pools are set)",
        "scheduling.userScheduler": "components/jupyterhub.py",
        "singleuser.cloudMetadata": "dossier:jupyterhub.singleuser.cloudMetadata",
        "singleuser.defaultUrl": "dossier:jupyterhub.singleuser.defaultUrl",
        "singleuser.extraAnnotations": "dossier:jupyterhub.singleuser.extraAnnotations",
        "singleuser.extraEnv": "dossier:jupyterhub.singleuser.extraEnv",
        "singleuser.networkPolicy": "components/jupyterhub.py: notebooks run in tenant namespaces",
        "singleuser.startTimeout": "dossier:jupyterhub.singleuser.startTimeout",
    },
    "postgresql": {
        "architecture": "dossier:postgresql.architecture",
        "auth.database": "dossier:postgresql.database",
        "auth.existingSecret": "the component's Secret of generated passwords (components/postgresql.py)",
        "auth.username": "dossier:postgresql.username",
        "networkPolicy.enabled": "components/postgresql.py: only the hub's pods may connect",
        "primary.nodeSelector": "dossier:postgresql.nodeSelector",
        "primary.persistence.size": "dossier:postgresql.size",
        "primary.tolerations": "dossier:postgresql.tolerations",
        "readReplicas.nodeSelector": "dossier:postgresql.nodeSelector",
        "readReplicas.persistence.size": "dossier:postgresql.size",
        "readReplicas.replicaCount": "dossier:postgresql.readReplicas",
        "readReplicas.tolerations": "dossier:postgresql.tolerations",
    },
}

DIFFERENCES: dict[str, dict[str, Difference]] = {
    "jupyterhub": {
        "hub.config.GenericOAuthenticator.client_secret": _other(
            f"the Keycloak client's secret, generated by pulumi-random and kept secret; {_PLACEHOLDER}"
        ),
        "hub.config.GenericOAuthenticator.oauth_callback_url": _other(
            f"built from dossier:fqdn; {_PLACEHOLDER}"
        ),
        "hub.config.GenericOAuthenticator.authorize_url": _other(_KEYCLOAK),
        "hub.config.GenericOAuthenticator.token_url": _other(_KEYCLOAK),
        "hub.config.GenericOAuthenticator.userdata_url": _other(_KEYCLOAK),
        "hub.config.GenericOAuthenticator.login_service": _other(
            "only the label of the login button (\"Sign in with Keycloak\"), capitalised"
        ),
        "hub.config.JupyterHub.authenticator_class": _other(
            "Dossier's authenticator is set here directly; Dossier's file names generic-oauth here and replaces "
            "it with the same class in hub.extraConfig.authenticatorConfig"
        ),
        "hub.db.password": _other(
            "the database user's generated password (pulumi-random), a secret; Dossier's file masks it"
        ),
        "hub.extraConfig.authenticatorConfig": Difference(
            "the same class is set in hub.config.JupyterHub.authenticator_class, where the chart expects it"
        ),
        "hub.image.name": _other("the same image, with its registry (docker.io) spelled out"),
        "hub.image.pullSecrets": Difference(
            "names a Secret for Dossier's own registry that this program does not create; "
            "dossier:jupyterhub.image.pullSecrets names yours"
        ),
        "scheduling.corePods.tolerations": _other(
            "Dossier's control-plane toleration plus the chart's own two (hub.jupyter.org/dedicated=core), "
            "which a list in the values would otherwise drop; dossier:jupyterhub.corePodTolerations replaces them"
        ),
        "singleuser.storage.dynamic.storageClass": Difference(
            f"{_SITE_STORAGE}; dossier:jupyterhub.singleuser.storageClass sets it"
        ),
    },
    "postgresql": {
        "global.storageClass": Difference(f"{_SITE_STORAGE}; dossier:postgresql.storageClass sets it"),
        "metrics.enabled": Difference("left unset: the chart's default is the same (false)", "chart-default"),
        "metrics.serviceMonitor.enabled": Difference(
            "inert while metrics.enabled is false; a ServiceMonitor needs the Prometheus operator, "
            "which this program does not assume"
        ),
        "metrics.serviceMonitor.namespace": Difference("inert while metrics.enabled is false (as above)"),
        "networkPolicy.allowExternal": Difference(
            "bitnami/postgresql 12.2.1 has no such key (Helm would drop it); the program admits only the hub's "
            "pods with networkPolicy.ingressRules.primaryAccessOnlyFrom and readReplicasAccessOnlyFrom",
            "not-in-chart",
        ),
        "primary.persistence.storageClass": Difference(
            f"{_SITE_STORAGE}; dossier:postgresql.storageClass sets global.storageClass, which both roles use"
        ),
        "readReplicas.persistence.storageClass": Difference(
            f"{_SITE_STORAGE}; dossier:postgresql.storageClass sets global.storageClass, which both roles use"
        ),
    },
}
