"""What the controller manager would do on a real cluster, for the deletes a ``pulumi up``/``destroy`` makes.

A bare API server has no controller manager, and two of its controllers finish
every delete the kubernetes provider makes:

- the garbage collector: the provider deletes with ``propagationPolicy:
  Foreground``, so the API server puts a ``foregroundDeletion`` finalizer on the
  object and waits for the collector to delete its dependents and remove that
  finalizer. Here nothing would, and the provider waits until its delete
  timeout (10 minutes for a Tenant, measured). ``collect_garbage`` removes the
  finalizer from objects being deleted that nothing depends on (none here:
  nothing creates owned objects without controllers);
- the namespace controller: a deleted Namespace keeps its ``kubernetes``
  finalizer until its contents are deleted (``Cluster.finalize_namespace``).

``Controllers(cluster)`` runs both in a background thread while a ``with``
block lasts; ``namespaces=False`` runs the garbage collector alone (a deleted
Namespace stays Terminating). A fault test leaves them off on purpose to see
the provider's own messages when deletes never finish.
"""

from __future__ import annotations

import threading
from typing import Any

from kubernetes import client

from e2e.servers.cluster import Cluster
from e2e.servers.crds import kube_request

FOREGROUND = "foregroundDeletion"
REDISCOVER = 10
"""Rounds between two discoveries of the API's resources."""


def _resources(api: client.ApiClient) -> list[str]:
    """API paths of every top-level resource that can be listed and patched (namespaced ones cluster-wide)."""
    bases = ["/api/v1"] + [f"/apis/{g['preferredVersion']['groupVersion']}"
                           for g in kube_request(api, "GET", "/apis").get("groups", [])]
    paths = []
    for base in bases:
        for resource in kube_request(api, "GET", base).get("resources", []):
            verbs = set(resource.get("verbs", []))
            if "/" not in resource["name"] and {"list", "patch"} <= verbs:
                paths.append(f"{base}/{resource['name']}")
    return paths


def collect_garbage(api: client.ApiClient, paths: list[str] | None = None) -> list[str]:
    """Remove ``foregroundDeletion`` from every object being deleted; what was released (``path/name``)."""
    released = []
    for path in paths if paths is not None else _resources(api):
        for item in kube_request(api, "GET", path).get("items", []):
            metadata: dict[str, Any] = item.get("metadata", {})
            finalizers = metadata.get("finalizers") or []
            if not metadata.get("deletionTimestamp") or FOREGROUND not in finalizers:
                continue
            namespace = metadata.get("namespace")
            base, resource = path.rsplit("/", 1)
            where = f"{base}/namespaces/{namespace}/{resource}" if namespace else path
            body = {"metadata": {"finalizers": [f for f in finalizers if f != FOREGROUND],
                                 "resourceVersion": metadata["resourceVersion"]}}
            try:
                _merge_patch(api, f"{where}/{metadata['name']}", body)
            except client.ApiException as exc:
                if exc.status not in (404, 409):  # gone already, or changed: the next round sees it
                    raise
                continue
            released.append(f"{where}/{metadata['name']}")
    return released


def _merge_patch(api: client.ApiClient, path: str, body: dict[str, Any]) -> None:
    request = api.param_serialize(method="PATCH", resource_path=path, body=body, auth_settings=["BearerToken"],
                                  header_params={"Content-Type": "application/merge-patch+json",
                                                 "Accept": "application/json"})
    response = api.call_api(*request)
    response.read()
    if not 200 <= response.status <= 299:
        raise client.ApiException.from_response(http_resp=response, body=None, data=None)


class Controllers:
    """The garbage collector's and the namespace controller's part in deletes, in a background thread."""

    def __init__(self, cluster: Cluster, interval: float = 2.0, *, namespaces: bool = True) -> None:
        self.cluster = cluster
        self.interval = interval
        self.namespaces = namespaces
        """Finalize deleted Namespaces too (the namespace controller's part); ``False``: the collector alone."""
        self.released: list[str] = []
        self.finalized: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="e2e-controllers", daemon=True)

    def __enter__(self) -> Controllers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _loop(self) -> None:
        api = self.cluster.api_client()
        paths: list[str] = []
        rounds = 0
        while not self._stop.wait(self.interval):
            try:
                if rounds % REDISCOVER == 0:  # CRDs come and go with the stack
                    paths = _resources(api)
                rounds += 1
                self.released += collect_garbage(api, paths)
                if self.namespaces:
                    self.finalized += self.cluster.finalize_terminating_namespaces()
            except Exception as exc:  # a fault test may stop the API server: keep trying
                self.errors.append(f"{type(exc).__name__}: {exc}")
                rounds = 0
