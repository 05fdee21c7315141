"""Run a pod's containers as host processes, as a kubelet and a container runtime would start them.

``PodRunner(cluster, supervisor).start(namespace, name)`` reads the Pod from the API server (it must
be bound to a node and have a pod IP, which kwok gives on loopback), writes its volumes' files (the
service-account token's too, which the API server's admission plugin added) into the run's folder, and starts
each container under the servers' ``Supervisor`` (init containers first, each to completion):

    unshare --mount --uts --propagation private <python> -I enter.py <plan>

``enter.py`` mounts the volumes where the container mounts them, the pod's hosts file (with the
Services' names, ``network.py``) and, with ``trust``, a CA bundle where the image reads one, preloads
the pod's network (``podnet.c``, the ``pod-net`` piece: wildcard binds get the pod's IP; localhost
reaches the pod's container ports; a Service's cluster IP reaches a pod it selects; ``refresh()``
updates names and routes), sets the host name, user and groups (``runAsUser``/``runAsGroup``, else the
image's; ``fsGroup`` and ``supplementalGroups`` added) and the working folder, and execs the command
with the environment of ``environment.py``. The process is the leader of its own process group,
so the supervisor stops it with SIGTERM, the pod's ``terminationGracePeriodSeconds`` (30 s by
default) and SIGKILL, and waits until no member is left. Needs root (a private mount namespace).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client

from e2e.servers.cluster import SERVICE_CIDR, Cluster
from e2e.servers.crds import kube_request
from e2e.servers.pods.environment import command_line, container_variables, hostname, process_environment
from e2e.servers.pods.images import IMAGES, Image, image_for
from e2e.servers.pods.network import Overrides, hosts_file, network_settings, service_routes
from e2e.servers.pods.volumes import Contents, container_mounts, volume_contents, write_files
from e2e.servers.supervisor import Process, ServerError, Supervisor, piece_file

ENTER = Path(__file__).resolve().parent / "enter.py"
NETWORK_MOUNT = "/etc/pod-network"
INIT_LIMIT = 300.0


class PodError(ServerError):
    """A pod that cannot run here (not scheduled, no IP, a container or volume that cannot be set up)."""


class ApiObjects:
    """What a pod refers to, read from the API server (``environment.Objects``, ``volumes.TokenSource``)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def _get(self, path: str) -> Mapping[str, Any] | None:
        try:
            found: Mapping[str, Any] = kube_request(self.api, "GET", path)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._get(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    def all_services(self) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = kube_request(self.api, "GET", "/api/v1/services")["items"]
        return items

    def all_pods(self) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = kube_request(self.api, "GET", "/api/v1/pods")["items"]
        return items

    def services(self, namespace: str) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = kube_request(self.api, "GET", f"/api/v1/namespaces/{namespace}/services")[
            "items"]
        return items

    def node(self, name: str) -> Mapping[str, Any] | None:
        return self._get(f"/api/v1/nodes/{name}")

    def service_account(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._get(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")

    def persistent_volume_claim(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}")

    def persistent_volume(self, name: str) -> Mapping[str, Any] | None:
        return self._get(f"/api/v1/persistentvolumes/{name}")

    def token(self, pod: Mapping[str, Any], audience: str | None, seconds: int) -> str:
        """A TokenRequest for the pod's ServiceAccount, bound to the pod (as the kubelet asks for one)."""
        meta = pod["metadata"]
        account = pod["spec"].get("serviceAccountName") or "default"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {
            "audiences": [audience] if audience else [], "expirationSeconds": seconds,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}}}
        answer = kube_request(self.api, "POST",
                              f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token", body)
        return str(answer["status"]["token"])


@dataclass
class RunningPod:
    """A pod whose containers run here: its spec as run, IP, folder and one process per container."""

    namespace: str
    name: str
    ip: str
    folder: Path
    spec: dict[str, Any] = field(repr=False)
    containers: dict[str, Process] = field(default_factory=dict)

    def network_file(self) -> Path:
        return self.folder / "network" / "network"

    def hosts_file(self) -> Path:
        return self.folder / "etc" / "hosts"


def _ids(pod: Mapping[str, Any], container: Mapping[str, Any], image: Image) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary groups): the container's securityContext over the pod's over the image's."""
    pod_context = pod["spec"].get("securityContext") or {}
    context = container.get("securityContext") or {}
    uid = context.get("runAsUser", pod_context.get("runAsUser", image.user))
    gid = context.get("runAsGroup", pod_context.get("runAsGroup", image.group if uid == image.user else 0))
    # The runtime sets the primary group, then the pod's supplemental groups and fsGroup, as supplementary groups.
    groups = [gid, *pod_context.get("supplementalGroups", [])]
    if pod_context.get("fsGroup") is not None:
        groups.append(pod_context["fsGroup"])
    return int(uid), int(gid), list(dict.fromkeys(int(g) for g in groups))


def own_volume(root: Path, group: int) -> None:
    """The kubelet's ownership change of a volume for the pod's ``fsGroup`` (``SetVolumeOwnership``).

    Every file and folder gets the group, read and write for it, and folders the set-group-ID bit, so
    what the pod's processes create there keeps the group too (a local volume supports ownership).
    """
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        os.chown(path, -1, group)
        mode = path.stat().st_mode & 0o7777
        path.chmod(mode | (0o2070 if path.is_dir() else 0o060))


def image_files(home: Path) -> list[Path]:
    """The host folders an image's processes read: the piece's, and the Python its virtualenv runs on."""
    found = [home]
    config = home / "venv" / "pyvenv.cfg"
    if config.is_file():
        settings = dict(line.split(" = ", 1) for line in config.read_text().splitlines() if " = " in line)
        found.append(Path(settings["home"]).resolve().parent)
    return found


class PodRunner:
    """Starts pods of ``cluster`` under ``supervisor`` (see the module doc)."""

    def __init__(self, cluster: Cluster, supervisor: Supervisor, images: tuple[Image, ...] = IMAGES, *,
                 trust: Path | None = None, overrides: Overrides | None = None,
                 domain: str = "cluster.local") -> None:
        """A runner for ``cluster``'s pods.

        ``trust``: a CA certificate the images trust besides the host's (the run's CA);
        ``overrides``: where a Service's port goes when its pods do not run here.
        """
        self.cluster = cluster
        self.supervisor = supervisor
        self.images = images
        self.objects = ApiObjects(cluster.api_client())
        address = urlsplit(cluster.url)
        self.master = (str(address.hostname), int(address.port or 443))
        self.overrides = dict(overrides or {})
        self.domain = domain
        self.running: list[RunningPod] = []
        self.bundle: Path | None = None
        if trust is not None:
            host = Path("/etc/ssl/certs/ca-certificates.crt")
            self.bundle = supervisor.path("pods") / "ca-bundle.crt"
            self.bundle.write_text((host.read_text() if host.is_file() else "") + trust.read_text())
            self.bundle.chmod(0o644)

    def read(self, namespace: str, name: str) -> dict[str, Any]:
        pod: dict[str, Any] = kube_request(self.objects.api, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        return pod

    def start(self, namespace: str, name: str) -> RunningPod:
        """Start the pod's containers (init containers first, to completion); ``PodError`` naming why not."""
        if os.geteuid() != 0:
            raise PodError(f"pod {namespace}/{name}: running a pod needs root (a private mount namespace)")
        pod = self.read(namespace, name)
        if not pod["spec"].get("nodeName"):
            raise PodError(f"pod {namespace}/{name} is not bound to a node")
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise PodError(f"pod {namespace}/{name} has no pod IP yet (status.podIP)")
        try:
            for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
                image_for(container["image"], self.images)  # every image known before anything starts
            volumes = volume_contents(pod, self.objects)
        except Exception as exc:
            raise PodError(str(exc)) from exc
        # A pod's name comes back with a new pod (a user's server restarted): the UID tells them apart;
        # the same pod started again (its containers restarted) gets a folder of its own too.
        base = f"{namespace}_{name}_{pod['metadata']['uid'][:8]}"
        count = len(list(self.supervisor.path("pods").glob(f"{base}*")))
        folder = self.supervisor.path("pods", base + (f".{count}" if count else ""))
        running = RunningPod(namespace, name, ip, folder, pod)
        (folder / "network").mkdir()
        (folder / "network").chmod(0o755)
        shutil.copy(piece_file("pod-net", "lib/libpodnet.so"), folder / "network" / "libpodnet.so")
        (folder / "etc").mkdir()
        self.running.append(running)
        self._write_network(running, self.objects.all_services(), self.objects.all_pods())
        fs_group = (pod["spec"].get("securityContext") or {}).get("fsGroup")
        sources = self._write_volumes(folder, volumes, fs_group)
        for container in pod["spec"].get("initContainers", []):
            process = self._start_container(running, container, sources)
            self._wait_done(process)
        for container in pod["spec"]["containers"]:
            running.containers[container["name"]] = self._start_container(running, container, sources)
        return running

    def stop(self, running: RunningPod) -> None:
        for process in reversed(list(running.containers.values())):
            self.supervisor.stop(process)
        if running in self.running:
            self.running.remove(running)

    def refresh(self) -> None:
        """Every running pod's hosts file and routes from the Services and pods as they are now."""
        services, pods = self.objects.all_services(), self.objects.all_pods()
        for running in list(self.running):
            self._write_network(running, services, pods)

    def _write_network(self, running: RunningPod, services: list[Mapping[str, Any]],
                       pods: list[Mapping[str, Any]]) -> None:
        containers = running.spec["spec"]["containers"]
        ports = [int(p["containerPort"]) for c in containers for p in c.get("ports", [])]
        routes = service_routes(services, pods, self.overrides)
        settings = running.network_file()
        staged = settings.with_name(".network")
        staged.write_text(network_settings(running.ip, ports, routes, reject=(SERVICE_CIDR,)))
        staged.chmod(0o644)
        staged.replace(settings)  # the library reads it again when it changes: never half-written
        # Written in place: the container sees this very file, bind-mounted on its /etc/hosts.
        with running.hosts_file().open("w") as hosts:
            hosts.write(hosts_file(running.spec, services, self.domain))
        running.hosts_file().chmod(0o644)

    def _write_volumes(self, folder: Path, volumes: Mapping[str, Contents], fs_group: int | None) -> dict[str, Path]:
        sources = {}
        for name, contents in volumes.items():
            if contents.host is not None:
                if contents.kind == "persistentVolumeClaim" and fs_group is not None:
                    own_volume(contents.host, fs_group)
                sources[name] = contents.host
                continue
            path = folder / "volumes" / name
            if contents.files is None:  # emptyDir: writable by every user of the pod, as the kubelet makes it
                path.mkdir(parents=True)
                path.chmod(0o777)
            else:
                write_files(path, contents.files, fs_group)
            sources[name] = path
        return sources

    def _start_container(self, running: RunningPod, container: Mapping[str, Any],
                         sources: Mapping[str, Path]) -> Process:
        pod = running.spec
        image = image_for(container["image"], self.images)
        programs = piece_file(image.piece, image.programs)
        try:
            variables = container_variables(pod, container, self.objects, master=self.master)
            env = process_environment(pod, image, str(programs), variables)
            argv = command_line(container, image, variables)
            volumes = {name: Contents(name) for name in sources}
            mounts = container_mounts(container, volumes, variables)
        except Exception as exc:
            raise PodError(str(exc)) from exc
        uid, gid, groups = _ids(pod, container, image)
        piece_home = piece_file(image.piece, "VERSION").parent
        home = running.folder / "containers" / container["name"]
        (home / "scratch").mkdir(parents=True)
        plan = {
            "scratch": str(home / "scratch"),
            "hostname": hostname(pod),
            "mounts": [{"source": str(running.folder / "network"), "target": NETWORK_MOUNT, "read_only": True},
                       {"source": str(running.hosts_file()), "target": "/etc/hosts", "read_only": True},
                       *({"source": str(self.bundle), "target": path, "read_only": True}
                         for path in (image.ca_files if self.bundle else ())),
                       *({"source": str(sources[m.volume] / m.sub_path) if m.sub_path else str(sources[m.volume]),
                          "target": m.target, "read_only": m.read_only} for m in mounts)],
            "expose": [str(path) for path in image_files(piece_home)],
            "preload": f"{NETWORK_MOUNT}/libpodnet.so",
            "workdir": container.get("workingDir") or image.workdir,
            "uid": uid, "gid": gid, "groups": groups, "env": env, "argv": argv,
        }
        plan_file = home / "plan.json"
        plan_file.touch(mode=0o600)
        plan_file.write_text(json.dumps(plan, indent=2))
        grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
        return self.supervisor.start(
            f"pod-{running.namespace}-{running.name}-{container['name']}",
            ["unshare", "--mount", "--uts", "--propagation", "private", sys.executable, "-I", str(ENTER), plan_file],
            env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
            stop_signal=signal.SIGTERM, stop_timeout=grace,
        )

    def _wait_done(self, process: Process) -> None:
        deadline = time.monotonic() + INIT_LIMIT
        while (code := process.popen.poll()) is None:
            if time.monotonic() > deadline:
                self.supervisor.stop(process)
                raise PodError(f"init container {process.name} did not finish within {INIT_LIMIT:.0f} s")
            time.sleep(0.2)
        if code != 0:
            raise PodError(f"init container {process.name} exited with {code}:\n{process.log_tail()}")
