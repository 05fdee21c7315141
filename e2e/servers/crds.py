"""The three CRDs the stack needs, built from the pinned upstream schemas, installed and waited for.

The schemas (``spec.versions[].schema.openAPIV3Schema`` of each upstream CRD)
come from ``offline/schemas.py``, as ``make plan`` gets them (``DOSSIER_UPSTREAM``,
the per-user cache, or a download checked against the pinned SHA-256: docs/schemas.md),
never copied into the project; ``upstream=<dir>`` reads them from a folder instead.
The rest of each CRD (names, scope, subresources) is what the upstream CRD files declare:

- Capsule ``Tenant`` ``capsule.clastix.io/v1beta2``: cluster-scoped, ``tnt``;
- cert-manager ``Certificate`` ``cert-manager.io/v1``: namespaced, ``cert``/``certs``;
- Contour ``HTTPProxy`` ``projectcontour.io/v1``: namespaced, ``proxy``/``proxies``.

Only the one version the stack uses is served (and stored). ``install_crds``
returns once each CRD is ``Established`` with its names accepted and its
resource is listed by API discovery, so a client can use it at once.

When Capsule runs (``e2e/servers/capsule.py``) the Tenant CRD is Capsule's own,
from its chart, and the cluster gets only the other two (``WITHOUT_TENANT``);
``apply_crds`` installs given CRD manifests and waits for them the same way.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from e2e.servers.supervisor import ServerStartError
from offline import schemas
from offline.validate import CRD_SCHEMAS


@dataclass(frozen=True)
class CrdSpec:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    scope: str  # "Cluster" or "Namespaced"
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
CRDS = (
    CrdSpec("capsule.clastix.io", "v1beta2", "Tenant", "tenants", "tenant", "Cluster", ("tnt",)),
    CrdSpec("cert-manager.io", "v1", "Certificate", "certificates", "certificate", "Namespaced",
            ("cert", "certs"), ("cert-manager",)),
    CrdSpec("projectcontour.io", "v1", "HTTPProxy", "httpproxies", "httpproxy", "Namespaced", ("proxy", "proxies")),
)
#: The CRDs of a cluster whose Tenant CRD comes from Capsule's chart.
WITHOUT_TENANT = tuple(spec for spec in CRDS if spec.kind != "Tenant")


def crd_manifest(spec: CrdSpec, upstream: Path | None = None) -> dict[str, Any]:
    """The ``CustomResourceDefinition`` of ``spec`` with its pinned upstream schema (see the module doc)."""
    name = CRD_SCHEMAS[(spec.api_version, spec.kind)]
    if upstream is None:
        schema = schemas.load(name)  # SchemaUnavailable names the ways to provide it
    else:
        path = upstream / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {upstream} holds no copy of the pinned {name}")
        schema = json.loads(path.read_text())
    names: dict[str, Any] = {"kind": spec.kind, "listKind": f"{spec.kind}List", "plural": spec.plural,
                             "singular": spec.singular}
    if spec.short_names:
        names["shortNames"] = list(spec.short_names)
    if spec.categories:
        names["categories"] = list(spec.categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": spec.name},
        "spec": {
            "group": spec.group,
            "names": names,
            "scope": spec.scope,
            "versions": [{
                "name": spec.version,
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": copy.deepcopy(schema)},
                "subresources": {"status": {}},
            }],
        },
    }


def _established(status: Any) -> bool:
    conditions = {c.type: c.status for c in (status.conditions or [])} if status else {}
    return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"


def kube_request(api: client.ApiClient, method: str, path: str, body: Any = None) -> Any:
    """The JSON answer of ``method path`` (with the client's token and CA); ``ApiException`` if not 2xx."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = api.param_serialize(method=method, resource_path=path, body=body, header_params=headers,
                                  auth_settings=["BearerToken"])
    response = api.call_api(*request)
    response.read()
    if not 200 <= response.status <= 299:
        raise client.ApiException.from_response(http_resp=response, body=None, data=None)
    return json.loads(response.data) if response.data else None


def _discovered(api: client.ApiClient, spec: CrdSpec) -> bool:
    resources = kube_request(api, "GET", f"/apis/{spec.group}/{spec.version}").get("resources", [])
    return any(r.get("name") == spec.plural for r in resources)


def install_crds(api: client.ApiClient, upstream: Path | None = None, limit: float = 60.0,
                 specs: tuple[CrdSpec, ...] = CRDS) -> dict[str, float]:
    """Create the CRDs and wait until each is established and served; seconds each took, by CRD name."""
    return _create_and_wait(api, [(spec, crd_manifest(spec, upstream)) for spec in specs], limit)


def apply_crds(api: client.ApiClient, manifests: list[dict[str, Any]], limit: float = 60.0) -> dict[str, float]:
    """Create CRDs from their manifests and wait as ``install_crds`` does (discovery of the storage version)."""
    pairs = []
    for manifest in manifests:
        spec, names = manifest["spec"], manifest["spec"]["names"]
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        pairs.append((CrdSpec(spec["group"], storage, names["kind"], names["plural"], names.get("singular", ""),
                              spec["scope"]), manifest))
    return _create_and_wait(api, pairs, limit)


def _create_and_wait(api: client.ApiClient, pairs: list[tuple[CrdSpec, dict[str, Any]]],
                     limit: float) -> dict[str, float]:
    extensions = client.ApiextensionsV1Api(api)
    started = time.monotonic()
    for _, manifest in pairs:
        kube_request(api, "POST", CRD_PATH, manifest)
    specs = [spec for spec, _ in pairs]
    took: dict[str, float] = {}
    pending = list(specs)
    last = ""
    while pending:
        for spec in list(pending):
            try:
                ready = _established(extensions.read_custom_resource_definition(spec.name).status) \
                    and _discovered(api, spec)
            except client.ApiException as exc:
                ready, last = False, f"{spec.name}: HTTP {exc.status} {exc.reason}"
            if ready:
                took[spec.name] = time.monotonic() - started
                pending.remove(spec)
        if pending and time.monotonic() - started > limit:
            names = ", ".join(s.name for s in pending)
            raise ServerStartError(f"CRD(s) {names} not established and served within {limit:.0f} s ({last})")
        if pending:
            time.sleep(0.2)
    return took
