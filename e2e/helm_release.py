"""What Helm stored of a release in the cluster: its values, its rendered manifest, its hooks.

Helm 3 keeps each revision of a release in a Secret ``sh.helm.release.v1.<name>.v<revision>``
of the release's namespace (labels ``owner=helm``, ``name``, ``version``,
``status``): its ``release`` key is the release as JSON, gzipped and base64-encoded
(once more under the Secret's own base64). ``read_release(api, namespace, name)``
gives the latest revision: ``config`` (the values Helm received, exactly as the
program sent them), ``manifest`` (every object the chart rendered for them) and
``hooks``. ``objects()`` parses the manifest; ``find_object`` reads one of them
back from the API server.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client, dynamic

RELEASE_SECRET = "sh.helm.release.v1"


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    """``<name>-<version>`` of the chart installed."""
    config: dict[str, Any]
    manifest: str
    hooks: list[dict[str, Any]]

    def objects(self) -> list[dict[str, Any]]:
        """The objects of the manifest (hooks not included), in the order Helm rendered them."""
        return [doc for doc in yaml.safe_load_all(self.manifest) if isinstance(doc, dict) and doc.get("kind")]

    def hook_objects(self) -> list[dict[str, Any]]:
        return [doc for hook in self.hooks for doc in yaml.safe_load_all(hook.get("manifest", ""))
                if isinstance(doc, dict) and doc.get("kind")]


def decode(data: str) -> dict[str, Any]:
    """A release from the ``release`` key of its Secret, as the API gives it (base64 of Helm's base64 of gzip)."""
    packed = base64.b64decode(base64.b64decode(data))
    return dict(json.loads(gzip.decompress(packed) if packed[:2] == b"\x1f\x8b" else packed))


def read_release(api: client.ApiClient, namespace: str, name: str) -> Release:
    """The latest revision of release ``name``; ``LookupError`` when Helm stored none."""
    core: Any = client.CoreV1Api(api)
    secrets = core.list_namespaced_secret(namespace, label_selector=f"owner=helm,name={name}").items
    if not secrets:
        raise LookupError(f"no Helm release {namespace}/{name} (no {RELEASE_SECRET}.{name}.v* Secret)")
    latest = max(secrets, key=lambda s: int((s.metadata.labels or {}).get("version", "0")))
    stored = decode(latest.data["release"])
    chart = stored.get("chart", {}).get("metadata", {})
    return Release(
        name=stored["name"], namespace=stored["namespace"], revision=int(stored["version"]),
        status=str(stored.get("info", {}).get("status", "")), chart=f"{chart.get('name')}-{chart.get('version')}",
        config=dict(stored.get("config") or {}), manifest=str(stored.get("manifest", "")),
        hooks=list(stored.get("hooks") or []),
    )


def describe(obj: dict[str, Any]) -> str:
    """``Kind name`` of a rendered object."""
    return f"{obj['kind']} {obj['metadata']['name']}"


def find_object(api: client.ApiClient, obj: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    """The object the API server holds for a rendered ``obj`` (namespaced ones in ``namespace``), or None."""
    resource = dynamic.DynamicClient(api).resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    where = obj["metadata"].get("namespace") or namespace if resource.namespaced else None
    try:
        found = resource.get(name=obj["metadata"]["name"], namespace=where)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(found.to_dict())
