"""A container's environment and command line, as the kubelet and the runtime make them.

Pure functions of the Pod (its API JSON), the objects it refers to (``Objects``) and the image
(``images.Image``), following the kubelet's ``makeEnvironmentVariables``:

1. ``envFrom`` sources in order (a ``prefix`` prepended; keys that are no valid variable names
   skipped, as the kubelet skips them with an event);
2. ``env`` in order, later entries winning: ``value`` with ``$(VAR)`` expanded against what is
   defined so far and the Service variables (``$$`` is a literal ``$``; an unknown reference stays
   as written), or ``valueFrom`` (``fieldRef``, ``resourceFieldRef``, ``configMapKeyRef``,
   ``secretKeyRef``);
3. the Service variables (``<NAME>_SERVICE_HOST``, ``_PORT``, the docker-links forms) of every
   Service of the pod's namespace with a cluster IP when ``enableServiceLinks`` is not false, and
   always those of the ``kubernetes`` Service, each only where step 1 or 2 did not set it.

The runtime then lays that over the image's ``ENV`` and adds ``HOSTNAME`` (the pod's host name) and
``HOME`` (the image user's, when unset). One difference, on purpose: the ``kubernetes`` Service's
variables name the API server's real address (``master``), since no proxy serves its cluster IP.

A reference that cannot be resolved (a missing ConfigMap, Secret or key that is not ``optional``, a
field the kubelet does not know) raises ``ContainerConfigError`` naming the container and every
problem, as the kubelet's ``CreateContainerConfigError`` stops the container.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from kubernetes.utils.quantity import parse_quantity

from e2e.servers.pods.images import SYSTEM_PATH, Image

_VALID_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_REFERENCE = re.compile(r"\$\$|\$\(([^)]*)\)")


class ContainerConfigError(Exception):
    """The kubelet's CreateContainerConfigError: the container cannot be configured (every reason named)."""


class Objects(Protocol):
    """The API objects a pod's containers refer to (``None`` when absent)."""

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def services(self, namespace: str) -> list[Mapping[str, Any]]: ...

    def node(self, name: str) -> Mapping[str, Any] | None: ...


@dataclass
class StaticObjects:
    """``Objects`` from lists of API objects (tests, and a runner that read them once)."""

    objects: list[Mapping[str, Any]] = field(default_factory=list)

    def _find(self, kind: str, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        for item in self.objects:
            meta = item.get("metadata", {})
            if item.get("kind") == kind and meta.get("name") == name and meta.get("namespace") == namespace:
                return item
        return None

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._find("ConfigMap", namespace, name)

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._find("Secret", namespace, name)

    def services(self, namespace: str) -> list[Mapping[str, Any]]:
        return [i for i in self.objects if i.get("kind") == "Service" and i["metadata"].get("namespace") == namespace]

    def node(self, name: str) -> Mapping[str, Any] | None:
        return self._find("Node", None, name)


def expand(text: str, *mappings: Mapping[str, str]) -> str:
    """``$(VAR)`` replaced from the first mapping that has it; ``$$`` -> ``$``; unknown references kept."""
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        for mapping in mappings:
            if name in mapping:
                return mapping[name]
        return match.group(0)
    return _REFERENCE.sub(one, text)


def service_variables(services: list[Mapping[str, Any]], *, master: tuple[str, int] | None = None) -> dict[str, str]:
    """The docker-links variables of Services with a cluster IP (``master`` replaces ``kubernetes``' address)."""
    env: dict[str, str] = {}
    for service in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = service.get("spec", {})
        host = spec.get("clusterIP")
        if not host or host == "None":
            continue
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        ports = [(p.get("name"), int(p["port"]), p.get("protocol", "TCP")) for p in spec.get("ports", [])]
        if service["metadata"]["name"] == "kubernetes" and master is not None:
            host, ports = master[0], [(name, master[1], protocol) for name, _, protocol in ports[:1]]
        if not ports:
            continue
        env[f"{prefix}_SERVICE_HOST"] = host
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0][1])
        for name, port, _ in ports:
            if name:
                env[f"{prefix}_SERVICE_PORT_{name.upper().replace('-', '_')}"] = str(port)
        env[f"{prefix}_PORT"] = f"{ports[0][2].lower()}://{host}:{ports[0][1]}"
        for _, port, protocol in ports:
            base = f"{prefix}_PORT_{port}_{protocol.upper()}"
            env[base] = f"{protocol.lower()}://{host}:{port}"
            env[f"{base}_PROTO"] = protocol.lower()
            env[f"{base}_PORT"] = str(port)
            env[f"{base}_ADDR"] = host
    return env


def _data(obj: Mapping[str, Any], secret: bool) -> dict[str, str]:
    if secret:
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()} | \
            dict(obj.get("stringData") or {})
    return dict(obj.get("data") or {})


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """A pod field the downward API knows (``fieldRef.fieldPath``); ``KeyError`` naming it otherwise."""
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    keyed = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if keyed:
        return str((meta.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.hostIP": status.get("hostIP"), "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs") or []),
    }
    if path not in simple:
        raise KeyError(f"fieldPath {path!r} is not supported by the downward API")
    return str(simple[path] or "")


def resource_value(pod: Mapping[str, Any], container: Mapping[str, Any], ref: Mapping[str, Any],
                   objects: Objects) -> str:
    """``resourceFieldRef``: the container's request or limit (a limit not set: the node's allocatable)."""
    target = container
    if ref.get("containerName"):
        named = [c for c in pod["spec"].get("containers", []) if c["name"] == ref["containerName"]]
        if not named:
            raise KeyError(f"resourceFieldRef names container {ref['containerName']!r}, not in the pod")
        target = named[0]
    kind, _, resource = ref["resource"].partition(".")
    if kind not in ("limits", "requests") or resource not in ("cpu", "memory", "ephemeral-storage"):
        raise KeyError(f"resourceFieldRef resource {ref['resource']!r} is not supported")
    value = ((target.get("resources") or {}).get(kind) or {}).get(resource)
    if value is None and kind == "requests":
        value = ((target.get("resources") or {}).get("limits") or {}).get(resource)
    if value is None:
        node = objects.node(pod["spec"].get("nodeName", "")) or {}
        value = ((node.get("status") or {}).get("allocatable") or {}).get(resource)
        if value is None and kind == "requests":
            value = "0"
    if value is None:
        raise KeyError(f"resourceFieldRef {ref['resource']}: no limit and no node allocatable to default to")
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor == 0:
        raise KeyError(f"resourceFieldRef {ref['resource']}: divisor 0")
    quotient: Decimal = parse_quantity(value) / divisor
    return str(max(math.ceil(quotient), 1 if resource == "cpu" else 0))


def container_variables(pod: Mapping[str, Any], container: Mapping[str, Any], objects: Objects, *,
                        master: tuple[str, int]) -> dict[str, str]:
    """What the kubelet gives the runtime for one container (steps 1 to 3 of the module doc)."""
    namespace = pod["metadata"]["namespace"]
    problems: list[str] = []
    links = pod["spec"].get("enableServiceLinks", True) is not False
    services = [s for s in objects.services("default") if s["metadata"]["name"] == "kubernetes"]
    if links:
        services += [s for s in objects.services(namespace) if namespace != "default" or s not in services]
    service_env = service_variables(services, master=master)

    defined: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        ref, secret = (source["configMapRef"], False) if "configMapRef" in source else (source.get("secretRef"), True)
        if ref is None:
            problems.append(f"envFrom entry {source} names neither a ConfigMap nor a Secret")
            continue
        kind = "secret" if secret else "configmap"
        obj = objects.secret(namespace, ref["name"]) if secret else objects.config_map(namespace, ref["name"])
        if obj is None:
            if not ref.get("optional"):
                problems.append(f'{kind} "{ref["name"]}" not found (envFrom)')
            continue
        for key, value in _data(obj, secret).items():
            name = source.get("prefix", "") + key
            if _VALID_NAME.match(name):
                defined[name] = value

    for var in container.get("env") or []:
        name, source = var["name"], var.get("valueFrom")
        if source is None:
            defined[name] = expand(var.get("value", ""), defined, service_env)
            continue
        try:
            if "fieldRef" in source:
                defined[name] = field_value(pod, source["fieldRef"]["fieldPath"])
            elif "resourceFieldRef" in source:
                defined[name] = resource_value(pod, container, source["resourceFieldRef"], objects)
            elif "configMapKeyRef" in source or "secretKeyRef" in source:
                secret = "secretKeyRef" in source
                ref = source["secretKeyRef" if secret else "configMapKeyRef"]
                kind = "secret" if secret else "configmap"
                obj = objects.secret(namespace, ref["name"]) if secret else objects.config_map(namespace, ref["name"])
                data = _data(obj, secret) if obj is not None else None
                if data is not None and ref["key"] in data:
                    defined[name] = data[ref["key"]]
                elif not ref.get("optional"):
                    what = f'{kind} "{ref["name"]}" not found' if obj is None else \
                        f'couldn\'t find key {ref["key"]} in {kind.capitalize()} {namespace}/{ref["name"]}'
                    problems.append(f"{what} (env {name})")
            else:
                problems.append(f"env {name}: valueFrom {sorted(source)} is not supported")
        except KeyError as exc:
            problems.append(f"env {name}: {exc.args[0]}")
    if problems:
        raise ContainerConfigError(f"container {container['name']} of pod {namespace}/{pod['metadata']['name']}: "
                                   + "; ".join(problems))
    return defined | {k: v for k, v in service_env.items() if k not in defined}


def hostname(pod: Mapping[str, Any]) -> str:
    """The pod's host name: ``spec.hostname``, else its name, cut to 63 characters as the kubelet cuts it."""
    name = pod["spec"].get("hostname") or pod["metadata"]["name"]
    return str(name)[:63].rstrip("-.")


def process_environment(pod: Mapping[str, Any], image: Image, programs: str,
                        variables: Mapping[str, str]) -> dict[str, str]:
    """The process's whole environment.

    The image's ENV (PATH with ``programs`` first) and ``HOSTNAME``, the kubelet's ``variables`` over
    them, ``HOME`` from the image's user when still unset.
    """
    env = {"PATH": f"{programs}:{SYSTEM_PATH}", **image.env, "HOSTNAME": hostname(pod), **variables}
    env.setdefault("HOME", image.home)
    return env


def command_line(container: Mapping[str, Any], image: Image, variables: Mapping[str, str]) -> list[str]:
    """The process's arguments, by the runtime's rule (moby's).

    No ``command``: the image's ENTRYPOINT, and ``args`` or, without them, its CMD; a ``command``: it
    and ``args``. ``$(VAR)`` expanded from the kubelet's ``variables``.
    """
    command, args = list(container.get("command") or []), list(container.get("args") or [])
    if not command:
        command = list(image.entrypoint)
        if not args:
            args = list(image.cmd)
    argv = [expand(part, variables) for part in command + args]
    if not argv:
        raise ContainerConfigError(f"container {container['name']}: no command, args, entrypoint or cmd to run")
    return argv
