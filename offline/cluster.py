"""CRD schemas as the user's cluster serves them (``make plan SCHEMAS=cluster``, ``docs/schemas.md``).

The schema a ``pulumi up`` meets is the one of the CRD installed in the cluster,
not the pinned upstream file. On request only, the plan reads each CRD it needs
with the official Kubernetes client, through the kubeconfig and context the stack
names (``kubernetes:kubeconfig``, ``kubernetes:context``; ``KUBECONFIG`` and the
current context otherwise, as the provider does): one GET per CRD, answered as
the API server sends it. ``read_crd_schemas`` is the entry point the
end-to-end tests call against a real API server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3
import yaml

from offline import pins

#: (apiVersion, kind) -> the name of the CRD that serves it, for the kinds the stack creates
#: without installing their CRD (Capsule, Contour and cert-manager are prerequisites): ``crds`` of ``pins.yaml``.
CRD_NAMES: Mapping[tuple[str, str], str] = pins.Derived(lambda p: {key: c.crd for key, c in p.crds.items()})
REQUEST_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)


@dataclass
class ClusterSchemas:
    """What the cluster answered, per (apiVersion, kind) asked for."""

    context: str
    #: the served version's ``openAPIV3Schema``
    schemas: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: not installed, or that version not served: applying such an object fails
    absent: dict[tuple[str, str], str] = field(default_factory=dict)
    #: could not be read (no kubeconfig, unreachable, forbidden): the check cannot run
    unreadable: dict[tuple[str, str], str] = field(default_factory=dict)


def kubeconfig_source(kubeconfig: str | None) -> tuple[str | None, str]:
    """The kubeconfig file to read and where that choice came from, as the provider chooses it.

    ``(None, "kubernetes:kubeconfig (the file's content)")`` when the stack holds the content itself.
    """
    if kubeconfig and "\n" in kubeconfig:  # kubernetes:kubeconfig may hold the file's content
        return None, "kubernetes:kubeconfig (the file's content)"
    if kubeconfig:
        return kubeconfig, "kubernetes:kubeconfig"
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"], "KUBECONFIG"
    return os.path.join("~", ".kube", "config"), "the default: no kubernetes:kubeconfig, KUBECONFIG unset"


def _api_client(context: str | None, kubeconfig: str | None) -> Any:
    from kubernetes import config  # imported on request only: the client is large

    path, _ = kubeconfig_source(kubeconfig)
    if path is None:
        document = yaml.safe_load(kubeconfig or "")
        return config.new_client_from_config_dict(document, context=context, persist_config=False)
    return config.new_client_from_config(config_file=os.path.expanduser(path), context=context,
                                         persist_config=False)


def _status_message(exc: Any) -> str:
    """The API server's own message of a failed request (its ``Status`` object), else the HTTP reason."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except ValueError:
        message = None
    return f"HTTP {exc.status} {message or exc.reason}"


def read_crd_schemas(
    wanted: Mapping[tuple[str, str], str] = CRD_NAMES,
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
) -> ClusterSchemas:
    """The schemas of the CRDs ``wanted`` ((apiVersion, kind) -> CRD name) as the cluster serves them.

    ``context``: a context of the kubeconfig (``None``: its current context);
    ``kubeconfig``: a path or the file's content (``None``: ``KUBECONFIG``, then
    ``~/.kube/config``). Never raises for what the cluster or the kubeconfig
    answers: every failure is a readable reason in ``absent`` or ``unreadable``.
    """
    from kubernetes import client, config

    label = context or "(current context)"
    found = ClusterSchemas(label)
    try:
        api_client = _api_client(context, kubeconfig)
    except (config.ConfigException, OSError, yaml.YAMLError, TypeError, ValueError) as exc:
        # Which file was read, and why that one: a missing ~/.kube/config is the usual cause.
        path, source = kubeconfig_source(kubeconfig)
        if path is None:
            reason = f"kubeconfig from {source}: {exc}"
        else:
            files = [os.path.expanduser(p) for p in path.split(os.pathsep) if p]
            problem = exc if any(os.path.isfile(f) for f in files) else "no such file"
            reason = f"kubeconfig {path} ({source}): {problem}"
        found.unreadable = dict.fromkeys(wanted, reason)
        return found
    server = api_client.configuration.host
    with api_client:
        api = client.ApiextensionsV1Api(api_client)
        for key, name in wanted.items():
            version = key[0].rpartition("/")[2]
            try:
                # The raw answer (not the client's model): the schema exactly as the API server sends it.
                response: Any = api.read_custom_resource_definition(name, _preload_content=False,
                                                                    _request_timeout=REQUEST_TIMEOUT)
                crd = json.loads(response.data)
            except client.ApiException as exc:
                if exc.status == 404:
                    found.absent[key] = f"CRD {name} is not installed in cluster context {label}"
                else:
                    found.unreadable[key] = f"cannot read CRD {name} from {server}: {_status_message(exc)}"
                continue
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                reason = f"cannot reach the API server of context {label} ({server}): {exc}"
                for rest in [k for k in wanted if k not in found.schemas and k not in found.absent]:
                    found.unreadable[rest] = reason
                break
            served = [v for v in (crd.get("spec") or {}).get("versions") or [] if v.get("name") == version]
            schema = ((served[0].get("schema") or {}).get("openAPIV3Schema") if served else None)
            if not served or not served[0].get("served", False):
                found.absent[key] = f"CRD {name} in cluster context {label} does not serve version {version}"
            elif not schema:
                found.unreadable[key] = f"CRD {name} in cluster context {label} has no schema for version {version}"
            else:
                found.schemas[key] = schema
    return found


def for_stack(config: Mapping[str, Any]) -> ClusterSchemas:
    """The cluster's CRD schemas, through the kubeconfig and context a stack's config names."""
    context, kubeconfig = config.get("kubernetes:context"), config.get("kubernetes:kubeconfig")
    return read_crd_schemas(context=context if isinstance(context, str) else None,
                            kubeconfig=kubeconfig if isinstance(kubeconfig, str) else None)
