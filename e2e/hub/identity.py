"""A token of the hub's ServiceAccount, for checks that act as the hub does outside its pod.

Dossier's hub reaches the API server as its pod's ServiceAccount (``<namespace>:hub``). Checks that
make a namespace as Dossier's spawner does, without a hub running (``test_capsule.py``, the deploy's
Capsule check), ask the API server for a token of that ServiceAccount (TokenRequest), so the stack's
and the chart's RBAC decide. The chart creates the ServiceAccount; where no chart ran it is created
as the chart would.
"""

from __future__ import annotations

from kubernetes import client

from components.jupyterhub import HUB_SERVICE_ACCOUNT
from e2e.servers import Cluster

TOKEN_SECONDS = 3600


def hub_token(cluster: Cluster, namespace: str, service_account: str = HUB_SERVICE_ACCOUNT) -> str:
    """A token of ``<namespace>:<service_account>`` (the account created if missing, as the chart would)."""
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
    return str(answer.status.token)
