"""The hub's own identity on the API server, so the stand-in authenticator lists Tenants as Dossier does.

Dossier's authenticator lists the cluster's Capsule Tenants with the hub pod's ServiceAccount
(``<namespace>:hub``), which the stack's ClusterRole lets ``get`` and ``list`` them. No kubelet
mounts a token here: ``hub_tenants_api`` asks the API server for a token of that ServiceAccount
(TokenRequest), so the login also proves the stack's RBAC rule. The chart creates the
ServiceAccount; where no chart ran (``test_login.py``) it is created as the chart would.
"""

from __future__ import annotations

from kubernetes import client

from components.jupyterhub import HUB_SERVICE_ACCOUNT
from e2e.hub.run import TenantsApi
from e2e.servers import Cluster

TOKEN_SECONDS = 3600


def hub_tenants_api(cluster: Cluster, namespace: str, service_account: str = HUB_SERVICE_ACCOUNT) -> TenantsApi:
    """``TenantsApi`` with a token of ``<namespace>:<service_account>`` (created if missing, as the chart would)."""
    core = client.CoreV1Api(cluster.api_client())
    try:
        core.read_namespaced_service_account(service_account, namespace)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
        body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=service_account))
        core.create_namespaced_service_account(namespace, body)
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=TOKEN_SECONDS)
    )
    answer = core.create_namespaced_service_account_token(service_account, namespace, request)
    if answer.status is None or not answer.status.token:
        raise RuntimeError(f"the API server returned no token for {namespace}:{service_account}")
    return TenantsApi(server=cluster.url, token=answer.status.token, ca_file=cluster.ca_cert)
