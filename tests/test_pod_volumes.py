"""A pod's volumes and mounts as the kubelet sets them up (e2e/servers/pods/volumes.py).

The hub pod has the volumes z2jh 2.0.0's Deployment gives it (its ConfigMap ``config``, its Secret
``secret``); the token volume is the one the API server's ServiceAccount admission plugin adds.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from e2e.servers.pods import volumes
from e2e.servers.pods.environment import StaticObjects
from e2e.servers.pods.volumes import Contents, Mount, VolumeError


class Objects(StaticObjects):
    """StaticObjects that also issue tokens (recording each request) and read accounts, claims, volumes."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__(items)
        self.tokens: list[tuple[str, str | None, int]] = []

    def service_account(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._find("ServiceAccount", namespace, name)

    def persistent_volume_claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._find("PersistentVolumeClaim", namespace, name)

    def persistent_volume(self, name: str) -> Mapping[str, Any] | None:
        return self._find("PersistentVolume", None, name)

    def token(self, pod: Mapping[str, Any], audience: str | None, seconds: int) -> str:
        self.tokens.append((pod["metadata"]["name"], audience, seconds))
        return f"token-of-{pod['metadata']['name']}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def world(*extra: dict[str, Any]) -> Objects:
    return Objects([
        {"kind": "ServiceAccount", "metadata": {"name": "hub", "namespace": "jhub"}},
        {"kind": "ServiceAccount", "metadata": {"name": "quiet", "namespace": "jhub"},
         "automountServiceAccountToken": False},
        {"kind": "ConfigMap", "metadata": {"name": "hub", "namespace": "jhub"},
         "data": {"jupyterhub_config.py": "c = get_config()\n", "z2jh.py": "# z2jh\n", "values.yaml": "hub: {}\n"}},
        {"kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "jhub"},
         "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}},
        {"kind": "Secret", "metadata": {"name": "hub", "namespace": "jhub"},
         "data": {"values.yaml": b64(b"hub:\n  db: {}\n"), "hub.db.password": b64(b"s3cret")}},
        *extra,
    ])


def hub_pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "hub-1", "namespace": "jhub", "uid": "uid-1"},
        "spec": {"serviceAccountName": "hub", "nodeName": "core-0", "containers": [{
            "name": "hub", "image": "alphaunito/dossier:0.0.1-alpha",
            "volumeMounts": [
                {"mountPath": "/usr/local/etc/jupyterhub/jupyterhub_config.py", "subPath": "jupyterhub_config.py",
                 "name": "config"},
                {"mountPath": "/usr/local/etc/jupyterhub/z2jh.py", "subPath": "z2jh.py", "name": "config"},
                {"mountPath": "/usr/local/etc/jupyterhub/config/", "name": "config"},
                {"mountPath": "/usr/local/etc/jupyterhub/secret/", "name": "secret"},
            ]}],
            "volumes": [{"name": "config", "configMap": {"name": "hub"}},
                        {"name": "secret", "secret": {"secretName": "hub"}}],
            **spec},
        "status": {"podIP": "127.1.0.5"},
    }


#: The token volume as the API server's ServiceAccount admission plugin adds it to the hub pod.
TOKEN_VOLUME = {"name": "kube-api-access-x1y2z", "projected": {"defaultMode": 0o644, "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
]}}


def with_token(pod: dict[str, Any]) -> dict[str, Any]:
    pod["spec"]["volumes"].append(TOKEN_VOLUME)
    for container in pod["spec"]["containers"]:
        container["volumeMounts"].append({"name": TOKEN_VOLUME["name"], "readOnly": True,
                                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    return pod


def test_the_volumes_hold_what_the_objects_hold() -> None:
    objects = world()
    pod = with_token(hub_pod())
    contents = volumes.volume_contents(pod, objects)
    assert contents["config"].files == {"jupyterhub_config.py": (b"c = get_config()\n", 0o644),
                                        "z2jh.py": (b"# z2jh\n", 0o644), "values.yaml": (b"hub: {}\n", 0o644)}
    assert contents["secret"].files == {"values.yaml": (b"hub:\n  db: {}\n", 0o644),
                                        "hub.db.password": (b"s3cret", 0o644)}
    (access,) = [c for name, c in contents.items() if name.startswith("kube-api-access-")]
    assert access.files == {"token": (b"token-of-hub-1", 0o644),
                            "ca.crt": (b"-----BEGIN CERTIFICATE-----\n", 0o644), "namespace": (b"jhub", 0o644)}
    assert objects.tokens == [("hub-1", None, 3607)]


def test_items_modes_claims_and_every_problem_at_once() -> None:
    objects = world(
        {"kind": "PersistentVolumeClaim", "metadata": {"name": "claim-alice", "namespace": "jhub"},
         "spec": {"volumeName": "pv-alice"}},
        {"kind": "PersistentVolume", "metadata": {"name": "pv-alice"}, "spec": {"hostPath": {"path": "/data/alice"}}},
        {"kind": "PersistentVolumeClaim", "metadata": {"name": "claim-bob", "namespace": "jhub"}, "spec": {}},
    )
    pod = hub_pod(volumes=[
        {"name": "files", "secret": {"secretName": "hub", "defaultMode": 0o400,
                                     "items": [{"key": "hub.db.password", "path": "db/password", "mode": 0o440},
                                               {"key": "values.yaml", "path": "values.yaml"}]}},
        {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "maybe", "configMap": {"name": "absent", "optional": True}},
    ])
    contents = volumes.volume_contents(pod, objects)
    assert contents["files"].files == {"db/password": (b"s3cret", 0o440), "values.yaml": (b"hub:\n  db: {}\n", 0o400)}
    assert (contents["home"].host, contents["scratch"].files, contents["maybe"].files) == (Path("/data/alice"), None,
                                                                                           {})
    broken = hub_pod(volumes=[
        {"name": "a", "configMap": {"name": "absent"}},
        {"name": "b", "secret": {"secretName": "hub", "items": [{"key": "nope", "path": "x"}]}},
        {"name": "c", "persistentVolumeClaim": {"claimName": "claim-bob"}},
        {"name": "d", "persistentVolumeClaim": {"claimName": "claim-carol"}},
        {"name": "e", "nfs": {"server": "x", "path": "/"}},
    ])
    with pytest.raises(VolumeError) as error:
        volumes.volume_contents(broken, objects)
    assert str(error.value) == (
        'pod jhub/hub-1: volume a: configmap "absent" not found; volume b: secret has no key \'nope\'; '
        'volume c: persistentvolumeclaim "claim-bob" is not bound to a PersistentVolume; '
        'volume d: persistentvolumeclaim "claim-carol" not found; volume e: volume type nfs is not supported here')


def test_mounts_with_sub_paths() -> None:
    container = {"name": "notebook", "volumeMounts": [
        {"name": "home", "mountPath": "/home/jovyan"},
        {"name": "files", "mountPath": "/etc/jupyter/x.py", "subPath": "x.py", "readOnly": True},
        {"name": "home", "mountPath": "/shared", "subPathExpr": "users/$(USER_NAME)"},
    ]}
    known = {"home": Contents("home"), "files": Contents("files")}
    assert volumes.container_mounts(container, known, {"USER_NAME": "alice"}) == [
        Mount("home", "", "/home/jovyan", False), Mount("files", "x.py", "/etc/jupyter/x.py", True),
        Mount("home", "users/alice", "/shared", False)]
    with pytest.raises(VolumeError, match="names volume 'other', which the pod does not have"):
        volumes.container_mounts({"name": "n", "volumeMounts": [{"name": "other", "mountPath": "/x"}]}, known, {})
    with pytest.raises(VolumeError, match=r"subPath '\.\./etc' must be a relative path inside the volume"):
        volumes.container_mounts({"name": "n", "volumeMounts": [{"name": "home", "mountPath": "/x",
                                                                 "subPath": "../etc"}]}, known, {})


def test_files_are_laid_out_as_the_atomic_writer_lays_them_out(tmp_path: Path) -> None:
    group = os.getgid() if os.geteuid() else 4321
    volumes.write_files(tmp_path / "v", {"values.yaml": (b"a: 1\n", 0o600), "db/password": (b"pw", 0o400)}, group)
    folder = tmp_path / "v"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("..2")) == ["..data", "db", "values.yaml"]
    assert os.readlink(folder / "values.yaml") == "..data/values.yaml" and os.readlink(folder / "db") == "..data/db"
    assert os.readlink(folder / "..data").startswith("..20")
    assert (folder / "values.yaml").read_bytes() == b"a: 1\n" and (folder / "db" / "password").read_bytes() == b"pw"
    real = (folder / "db" / "password").resolve()
    assert (stat.S_IMODE(real.stat().st_mode), real.stat().st_gid) == (0o440, group)  # fsGroup: group-readable
    volumes.write_files(tmp_path / "w", {"token": (b"t", 0o644)})
    assert stat.S_IMODE((tmp_path / "w" / "token").resolve().stat().st_mode) == 0o644
