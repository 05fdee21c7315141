"""A pod's volumes and a container's mounts, as the kubelet sets them up.

The token volume is the API server's: its ServiceAccount admission plugin adds the projected
volume ``kube-api-access-<suffix>`` (a bound token, ``ca.crt`` from the ``kube-root-ca.crt``
ConfigMap, ``namespace``) to a pod whose token is mounted automatically. ``volume_contents`` says
what each volume holds: the files of ``configMap``, ``secret``,
``projected`` (its ``serviceAccountToken`` source asks ``Objects.token``: a TokenRequest bound to
the pod) and ``downwardAPI`` volumes, with their modes; a host folder for ``hostPath`` and for a
``persistentVolumeClaim`` (its bound PersistentVolume's ``hostPath`` or ``local`` path);
nothing for ``emptyDir``. ``write_files`` lays files out as the kubelet's atomic writer does
(``..<timestamp>/``, ``..data`` and one link per top-level entry), so a process sees the same
folder. ``container_mounts`` gives each ``volumeMount``'s source and target. A volume that cannot
be set up raises ``VolumeError`` naming every reason (the kubelet's ``FailedMount``).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from e2e.servers.pods.environment import Objects, expand, field_value, resource_value

DEFAULT_MODE = 0o644


class VolumeError(Exception):
    """A volume that cannot be set up (the kubelet's FailedMount); the message names the pod and each reason."""


class TokenSource(Objects, Protocol):
    """``Objects`` that can also read ServiceAccounts, claims and volumes, and issue bound tokens."""

    def service_account(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def persistent_volume_claim(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def persistent_volume(self, name: str) -> Mapping[str, Any] | None: ...

    def token(self, pod: Mapping[str, Any], audience: str | None, seconds: int) -> str: ...


@dataclass
class Contents:
    """What one volume holds: ``files`` (path -> (bytes, mode)) to write, or a ``host`` folder, or nothing."""

    name: str
    files: dict[str, tuple[bytes, int]] | None = None
    host: Path | None = None
    kind: str = "emptyDir"


@dataclass(frozen=True)
class Mount:
    volume: str
    sub_path: str
    target: str
    read_only: bool


def _keyed(obj: Mapping[str, Any], secret: bool) -> dict[str, bytes]:
    if secret:
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    return data | {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}


def _projected_keys(source: Mapping[str, Any], kind: str, obj: Mapping[str, Any] | None, default_mode: int,
                    problems: list[str], where: str) -> dict[str, tuple[bytes, int]]:
    """The files of a ConfigMap's or Secret's keys (all, or its ``items``), as a volume or projection holds them."""
    if obj is None:
        if not source.get("optional"):
            problems.append(f'{where}: {kind} "{source.get("name") or source.get("secretName")}" not found')
        return {}
    data = _keyed(obj, kind == "secret")
    items = source.get("items")
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        if item["key"] not in data:
            if not source.get("optional"):
                problems.append(f"{where}: {kind} has no key {item['key']!r}")
            continue
        files[item["path"]] = (data[item["key"]], item.get("mode", default_mode))
    return files


def _downward(pod: Mapping[str, Any], items: list[Mapping[str, Any]], default_mode: int,
              objects: Objects, problems: list[str], where: str) -> dict[str, tuple[bytes, int]]:
    files = {}
    for item in items:
        try:
            if "fieldRef" in item:
                path = item["fieldRef"]["fieldPath"]
                if path in ("metadata.labels", "metadata.annotations"):
                    values = pod["metadata"].get(path.split(".")[1]) or {}
                    value = "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
                else:
                    value = field_value(pod, path)
            else:
                container = next(c for c in pod["spec"]["containers"]
                                 if c["name"] == item["resourceFieldRef"].get("containerName"))
                value = resource_value(pod, container, item["resourceFieldRef"], objects)
        except (KeyError, StopIteration) as exc:
            problems.append(f"{where}: {item.get('path')}: {exc}")
            continue
        files[item["path"]] = (value.encode(), item.get("mode", default_mode))
    return files


def volume_contents(pod: Mapping[str, Any], objects: TokenSource) -> dict[str, Contents]:
    """What each of the pod's volumes holds (see the module doc); ``VolumeError`` naming every problem."""
    namespace = pod["metadata"]["namespace"]
    problems: list[str] = []
    result: dict[str, Contents] = {}
    for volume in pod["spec"].get("volumes", []):
        name, where = volume["name"], f"volume {volume['name']}"
        if "configMap" in volume or "secret" in volume:
            secret = "secret" in volume
            source = volume["secret" if secret else "configMap"]
            ref = source.get("secretName") if secret else source.get("name")
            obj = objects.secret(namespace, ref) if secret else objects.config_map(namespace, ref)
            files = _projected_keys(source, "secret" if secret else "configmap", obj,
                                    source.get("defaultMode", DEFAULT_MODE), problems, where)
            result[name] = Contents(name, files=files, kind="secret" if secret else "configMap")
        elif "projected" in volume:
            default_mode = volume["projected"].get("defaultMode", DEFAULT_MODE)
            files = {}
            for source in volume["projected"].get("sources", []):
                if "configMap" in source or "secret" in source:
                    kind = "secret" if "secret" in source else "configmap"
                    ref = source["secret" if kind == "secret" else "configMap"]
                    obj = objects.secret(namespace, ref["name"]) if kind == "secret" else \
                        objects.config_map(namespace, ref["name"])
                    files |= _projected_keys(ref, kind, obj, default_mode, problems, where)
                elif "downwardAPI" in source:
                    files |= _downward(pod, source["downwardAPI"].get("items", []), default_mode, objects,
                                       problems, where)
                elif "serviceAccountToken" in source:
                    token = source["serviceAccountToken"]
                    seconds = int(token.get("expirationSeconds", 3600))
                    files[token["path"]] = (objects.token(pod, token.get("audience"), seconds).encode(), default_mode)
                else:
                    problems.append(f"{where}: projected source {sorted(source)} is not supported")
            result[name] = Contents(name, files=files, kind="projected")
        elif "downwardAPI" in volume:
            files = _downward(pod, volume["downwardAPI"].get("items", []),
                              volume["downwardAPI"].get("defaultMode", DEFAULT_MODE), objects, problems, where)
            result[name] = Contents(name, files=files, kind="downwardAPI")
        elif "emptyDir" in volume:
            result[name] = Contents(name)
        elif "hostPath" in volume:
            result[name] = Contents(name, host=Path(volume["hostPath"]["path"]), kind="hostPath")
        elif "persistentVolumeClaim" in volume:
            claim_name = volume["persistentVolumeClaim"]["claimName"]
            claim = objects.persistent_volume_claim(namespace, claim_name)
            bound = (claim or {}).get("spec", {}).get("volumeName")
            pv = objects.persistent_volume(bound) if bound else None
            path = ((pv or {}).get("spec", {}).get("hostPath") or (pv or {}).get("spec", {}).get("local") or {})
            if claim is None:
                problems.append(f'{where}: persistentvolumeclaim "{claim_name}" not found')
            elif pv is None:
                problems.append(f'{where}: persistentvolumeclaim "{claim_name}" is not bound to a PersistentVolume')
            elif "path" not in path:
                problems.append(f"{where}: PersistentVolume {bound} is neither hostPath nor local")
            else:
                result[name] = Contents(name, host=Path(path["path"]), kind="persistentVolumeClaim")
        else:
            kinds = sorted(k for k in volume if k != "name")
            problems.append(f"{where}: volume type {', '.join(kinds)} is not supported here")
    if problems:
        raise VolumeError(f"pod {namespace}/{pod['metadata']['name']}: " + "; ".join(problems))
    return result


def container_mounts(container: Mapping[str, Any], volumes: Mapping[str, Contents],
                     variables: Mapping[str, str]) -> list[Mount]:
    """Each ``volumeMount``: its volume, sub-path (``subPathExpr`` expanded from the kubelet's variables), target."""
    mounts = []
    for mount in container.get("volumeMounts", []):
        if mount["name"] not in volumes:
            raise VolumeError(f"container {container['name']}: volumeMount {mount['mountPath']} names volume "
                              f"{mount['name']!r}, which the pod does not have")
        sub_path = mount.get("subPath") or expand(mount.get("subPathExpr", ""), variables)
        if PurePosixPath(sub_path).is_absolute() or ".." in PurePosixPath(sub_path).parts:
            raise VolumeError(f"container {container['name']}: subPath {sub_path!r} must be a relative path "
                              "inside the volume")
        mounts.append(Mount(mount["name"], sub_path, mount["mountPath"], bool(mount.get("readOnly"))))
    return mounts


def write_files(folder: Path, files: Mapping[str, tuple[bytes, int]], group: int | None = None) -> None:
    """``files`` under ``folder`` as the kubelet's atomic writer lays them out (``..data`` and links)."""
    stamp = folder / time.strftime("..%Y_%m_%d_%H_%M_%S.0000", time.gmtime())
    stamp.mkdir(parents=True)
    for relative, (content, mode) in files.items():
        path = stamp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if group is not None:
            os.chown(path, -1, group)
            mode |= 0o040
        path.chmod(mode)
    (folder / "..data").symlink_to(stamp.name)
    for top in sorted({PurePosixPath(relative).parts[0] for relative in files}):
        (folder / top).symlink_to(f"..data/{top}")
    for path in [folder, stamp, *(p for p in stamp.rglob("*") if p.is_dir())]:
        if group is not None:
            os.chown(path, -1, group)
        path.chmod(0o755)
