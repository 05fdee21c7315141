"""The servers of the end-to-end run, on 127.0.0.1 only, stopped by the PIDs this package started.

API (each module's docstring says more):

- ``Supervisor`` (``supervisor.py``): a run's temporary folder, processes, PID
  files and clean-up (normal exit, exceptions, SIGINT/SIGTERM, atexit);
  ``DOSSIER_E2E_KEEP=1`` keeps the folder. Errors: ``ServerError`` and its
  ``ServerStartError``, ``PortInUseError``, ``MissingToolError``.
- ``start_servers(supervisor, which=..., context=, nodes=, realm=, provider_realm=, hub_namespace=)``
  (``run.py``): everything in parallel, as ``Servers``.
- ``start_cluster`` -> ``Cluster`` (``cluster.py``): etcd + kube-apiserver, kubeconfig,
  CRDs (``crds.py``), kube-controller-manager, kube-scheduler and kwok
  (``control_plane.py``), Nodes kwok keeps Ready (``nodes.py``: ``NodeSpec``,
  ``dossier_nodes``), local volumes (``storage.py``); ``restart_controller_manager``,
  ``namespace_contents``.
- ``start_keycloak`` -> ``Keycloak`` (``keycloak.py``); ``prepare_realm`` ->
  ``RealmSetup`` with the provider's ``ProviderAccount`` (``keycloak_realm.py``);
  ``KeycloakAdmin`` (``keycloak_admin.py``): clients, mappers, roles, users,
  ``assign_client_roles``, ``set_mapper_multivalued``.
- ``start_postgres`` -> ``Postgres`` (``postgres.py``): ``create_chart_database``,
  ``set_password``, ``can_login``.
- ``start_object_store`` -> ``ObjectStore`` (``s3.py``): versitygw, an S3-compatible
  store for the shared state backend (``backend_url``, ``env``, ``keys``).
- ``start_capsule`` -> ``Capsule`` (``capsule.py``): Capsule 0.2.1 out of cluster, its
  chart's CRDs, RBAC, configuration and webhooks (on loopback), ``configure(groups)``;
  ``relay.py`` joins its network namespace to loopback.
- ``CertificateAuthority`` (``certs.py``): the run's CA.

For humans: ``python -m e2e.servers up [--keep]``.
"""

from e2e.servers.capsule import Capsule, start_capsule
from e2e.servers.certs import CertificateAuthority
from e2e.servers.cluster import Cluster, start_cluster
from e2e.servers.keycloak import Keycloak, start_keycloak
from e2e.servers.keycloak_admin import KeycloakAdmin, KeycloakAdminError
from e2e.servers.keycloak_realm import ProviderAccount, RealmSetup, prepare_realm, server_version_seen_by
from e2e.servers.nodes import NodeSpec, dossier_nodes
from e2e.servers.postgres import Postgres, start_postgres
from e2e.servers.run import Servers, start_servers
from e2e.servers.s3 import ObjectStore, start_object_store
from e2e.servers.supervisor import (
    MissingToolError,
    PortInUseError,
    ServerError,
    ServerStartError,
    Supervisor,
    claim_port,
    free_port,
    tool,
)

__all__ = [
    "Capsule",
    "CertificateAuthority",
    "Cluster",
    "Keycloak",
    "KeycloakAdmin",
    "KeycloakAdminError",
    "MissingToolError",
    "NodeSpec",
    "ObjectStore",
    "PortInUseError",
    "Postgres",
    "ProviderAccount",
    "RealmSetup",
    "ServerError",
    "ServerStartError",
    "Servers",
    "Supervisor",
    "claim_port",
    "dossier_nodes",
    "free_port",
    "prepare_realm",
    "server_version_seen_by",
    "start_capsule",
    "start_cluster",
    "start_keycloak",
    "start_object_store",
    "start_postgres",
    "start_servers",
    "tool",
]
