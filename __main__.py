"""Dossier platform: multi-tenant Jupyter notebooks on Kubernetes, one stack per environment.

Loads and validates the stack config (nothing is registered on a config error),
then creates the components in dependency order and exports the output contract.
Providers are the stock ones, configured through ``kubernetes:*`` and ``keycloak:*``.
"""

import pulumi
from pulumi_kubernetes.core.v1 import Namespace
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components import config as stack_config
from components.common import Chart, delete_timeouts, timeout_seconds
from components.guard import DestroyGuard
from components.ingress import HubIngress, HubIngressArgs
from components.interrupt import quiet_stop_on_interrupt
from components.jupyterhub import (
    DB_CLIENT_LABELS,
    Database,
    HubImage,
    JupyterHub,
    JupyterHubArgs,
    OAuth,
    Singleuser,
)
from components.keycloak_client import KeycloakClient, KeycloakClientArgs
from components.nodepools import NodePools, NodePoolsArgs, match_node_purpose
from components.postgresql import PostgreSQL, PostgreSQLArgs
from components.research import ResearchTenants, ResearchTenantsArgs
from components.spawners import RemoteSpawner, Spawners, SpawnersArgs
from components.tenant import CapsuleTenant, CapsuleTenantArgs, TenantSpecArgs

# A failed or cancelled update stops the program: no SDK tracebacks after the provider's error.
quiet_stop_on_interrupt()
cfg = stack_config.load()
protect = cfg.protectData
hub_url = f"https://{cfg.fqdn}"

namespace_labels = {"name": cfg.namespace}
namespace = Namespace(
    "namespace",
    metadata=ObjectMetaArgs(name=cfg.namespace, labels=namespace_labels),
    # Deleting the namespace would delete the database volumes with it.
    opts=pulumi.ResourceOptions(
        protect=protect or None,
        retain_on_delete=protect or None,
        # A namespace whose contents never finish deleting fails the update instead of waiting on.
        custom_timeouts=delete_timeouts(cfg.deleteTimeout),
    ),
)
namespace_name = namespace.metadata.apply(lambda m: m["name"])

pg = cfg.postgresql
postgresql = PostgreSQL(
    "postgresql",
    PostgreSQLArgs(
        namespace=namespace_name,
        chart=Chart(repository=pg.chartRepository, name=pg.CHART, version=pg.chartVersion, path=pg.local_chart()),
        architecture=pg.architecture,
        read_replicas=pg.readReplicas,
        size=pg.size,
        storage_class=pg.storageClass,
        database=pg.database,
        username=pg.username,
        image=pg.image.model_dump(),
        node_selector=pg.nodeSelector,
        tolerations=[t.spec() for t in pg.tolerations],
        client_pod_labels=DB_CLIENT_LABELS,
        protect=protect,
        release_timeout=timeout_seconds(cfg.releaseTimeout),
    ),
)

kc = cfg.keycloak
keycloak_client = KeycloakClient(
    "keycloak",
    KeycloakClientArgs(
        url=kc.url, realm=kc.realm, client_id=kc.clientId, hub_url=hub_url, admin_roles=kc.adminRoles, protect=protect
    ),
)

node_pools_args = NodePoolsArgs(user=cfg.nodes.user, core=cfg.nodes.core)
node_pools = NodePools("nodes", node_pools_args)
spawners = Spawners(
    "spawners",
    SpawnersArgs(
        install_crd=cfg.spawnerCrd,
        installed_by=cfg.namespace,
        spawners=[
            RemoteSpawner(
                name=s.name, class_=s.class_, properties=s.properties, parameters=s.parameters, tenants=s.tenants
            )
            for s in cfg.spawners
        ]
    ),
)

jh, su = cfg.jupyterhub, cfg.jupyterhub.singleuser
# Dossier's core pool is the control plane: its pods tolerate the taint unless configured otherwise.
core_tolerations = stack_config.core_pod_tolerations(jh.corePodTolerations, cfg.nodes.core)
hub = JupyterHub(
    "jupyterhub",
    JupyterHubArgs(
        namespace=namespace_name,
        chart=Chart(repository=jh.chartRepository, name=jh.CHART, version=jh.chartVersion, path=jh.local_chart()),
        hub_url=hub_url,
        image=HubImage(
            name=jh.image.name, tag=jh.image.tag, pull_policy=jh.image.pullPolicy, pull_secrets=jh.image.pullSecrets
        ),
        spawner_class=jh.spawnerClass,
        release_name=cfg.namespace,  # z2jh's cluster-wide names and the hub's ClusterRole follow it
        database=Database(
            host=postgresql.host,
            port=postgresql.port,
            database=postgresql.database,
            username=postgresql.username,
            password=postgresql.password,
        ),
        oauth=OAuth(
            client_id=keycloak_client.client_id,
            client_secret=keycloak_client.client_secret,
            endpoints=keycloak_client.endpoints,
            claim_name=keycloak_client.claim_name,
            admin_roles=kc.adminRoles,
        ),
        node_purpose=match_node_purpose(node_pools_args),
        core_tolerations=None if core_tolerations is None else [t.spec() for t in core_tolerations],
        debug=jh.debug,
        singleuser=Singleuser(
            storage_class=su.storageClass,
            start_timeout=su.startTimeout,
            default_url=su.defaultUrl,
            extra_env=su.extraEnv,
            extra_annotations=su.extraAnnotations,
            block_cloud_metadata=su.cloudMetadata.blockWithIptables,
        ),
        protect=protect,
        release_timeout=timeout_seconds(cfg.releaseTimeout),
    ),
    opts=pulumi.ResourceOptions(depends_on=[postgresql, spawners]),
)

hub_tenant = TenantSpecArgs(
    name=cfg.tenant.name,
    owner=hub.service_account,
    namespace_quota=cfg.tenant.namespaceQuota,
    egress_except=cfg.tenant.egressExcept,
    hub_namespace_labels=namespace_labels,
    controller_namespace=cfg.ingress.controllerNamespace,
    # Capsule refuses to delete a Tenant with preventDeletion, destroy included: only protected stacks set it.
    prevent_deletion=protect,
)
tenant = CapsuleTenant(
    "tenant", CapsuleTenantArgs(spec=hub_tenant, protect=protect, delete_timeout=cfg.deleteTimeout)
)
# Research groups share the hub tenant's owner and network isolation.
research = ResearchTenants(
    "research",
    ResearchTenantsArgs(
        groups=cfg.tenants,
        realm=kc.realm,
        client=keycloak_client.client,
        base=hub_tenant,
        protect=protect,
        delete_timeout=cfg.deleteTimeout,
    ),
)

ingress = HubIngress(
    "ingress",
    HubIngressArgs(
        namespace=namespace_name,
        fqdn=cfg.fqdn,
        cluster_issuer=cfg.ingress.clusterIssuer,
        service_name=hub.proxy_service,
        service_port=hub.proxy_service_port,
        response_timeout=cfg.ingress.responseTimeout,
        idle_timeout=cfg.ingress.idleTimeout,
    ),
    opts=pulumi.ResourceOptions(depends_on=[hub]),
)

# With protectData, `pulumi destroy` must delete nothing: the guard depends on everything above.
DestroyGuard(
    "destroy-guard",
    [namespace, postgresql, keycloak_client, node_pools, spawners, hub, tenant, research, ingress],
    protect=protect,
)

# --- output contract (docs/outputs.md; pinned by tests/test_outputs.py) ---
pulumi.export("hubUrl", hub_url)
pulumi.export("namespace", namespace_name)
pulumi.export("tenant", tenant.name)
pulumi.export("tenants", [tenant.name, *(t.name for t in cfg.tenants)])
pulumi.export(
    "postgresql",
    {
        # Resolvable from every namespace; the hub itself keeps the short name (its values are unchanged).
        "host": postgresql.service_host,
        "port": postgresql.port,
        "database": postgresql.database,
        "username": postgresql.username,
        "secretName": postgresql.secret_name,
        # The chart's NetworkPolicy admits only pods of the hub's namespace with these labels.
        "clientLabels": postgresql.client_labels,
    },
)
pulumi.export("postgresqlPassword", postgresql.password)
pulumi.export(
    "keycloak",
    {
        "clientId": keycloak_client.client_id,
        "issuerUrl": keycloak_client.endpoints.issuer,
        "realm": kc.realm,
    },
)
pulumi.export("keycloakClientSecret", keycloak_client.client_secret)
pulumi.export("hubServiceAccount", hub.service_account)
pulumi.export("tlsSecret", {"name": ingress.tls_secret, "namespace": namespace_name})
pulumi.export("chartVersions", {"postgresql": pg.chartVersion, "jupyterhub": jh.chartVersion})
