"""Users' notebook pods started as a kubelet would: as soon as their node has them, whatever their namespace.

KubeSpawner creates the user's pod; the scheduler binds it, kwok reports it Running with its IP and
the hub, told the pod runs, waits for the server at that IP. ``NotebookPods(runner)`` is the
kubelet's part in between: a thread that watches for pods of z2jh's ``component=singleuser-server``
label in every namespace and starts each once it is Running with an IP (the pod runner, with the
pod's own spec: its image, command, environment, volumes), and stops its processes when the pod is
deleted (the hub stops a server by deleting its pod).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from e2e.servers.crds import kube_request
from e2e.servers.pods import PodRunner, RunningPod

SELECTOR = "component=singleuser-server"


class NotebookPods:
    """Starts and stops users' pods as they come and go (see the module doc); ``stop()`` ends it all."""

    def __init__(self, runner: PodRunner, interval: float = 0.5) -> None:
        self.runner = runner
        self.interval = interval
        self.running: dict[tuple[str, str, str], RunningPod | None] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="notebook-pods", daemon=True)

    def start(self) -> NotebookPods:
        self._thread.start()
        return self

    def pod(self, namespace: str, name: str, limit: float = 60.0) -> RunningPod:
        """The pod ``namespace/name`` the API server has now, once started; ``AssertionError`` otherwise."""
        uid = kube_request(self.runner.objects.api, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")[
            "metadata"]["uid"]
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            running = self.running.get((namespace, name, uid))
            if running is not None:
                return running
            time.sleep(0.2)
        raise AssertionError(f"pod {namespace}/{name} not started within {limit:.0f} s; errors: {self.errors}")

    def wait_gone(self, namespace: str, name: str, limit: float = 60.0) -> None:
        """Until no process of a pod ``namespace/name`` runs (a kubelet ends a deleted pod's containers).

        kwok removes a deleted pod at once and may give its successor the same IP: a server restarted
        before the old process has stopped would be answered by the old one.
        """
        deadline = time.monotonic() + limit
        while any((ns, pod_name) == (namespace, name) for ns, pod_name, _ in list(self.running)):
            if time.monotonic() > deadline:
                raise AssertionError(f"pod {namespace}/{name}'s processes still run {limit:.0f} s after its delete")
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        for running in list(self.running.values()):
            if running is not None:
                self.runner.stop(running)
        self.running.clear()

    def _loop(self) -> None:
        api = self.runner.objects.api
        while not self._stop.is_set():
            try:
                pods = kube_request(api, "GET", f"/api/v1/pods?labelSelector={SELECTOR}")["items"]
                self._step(pods)
            except Exception as exc:  # the API server busy or restarting: the next round tries again
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.interval)

    def _step(self, pods: list[dict[str, Any]]) -> None:
        # A deleted pod's processes go first: a new pod of the same name may get the same IP from kwok.
        present = {(p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"]) for p in pods}
        for key in [k for k in self.running if k not in present or self._deleting(k, pods)]:
            running = self.running[key]
            if running is not None:
                self.runner.stop(running)
            del self.running[key]  # only once its processes are gone (``wait_gone``)
        for pod in pods:
            meta, status = pod["metadata"], pod.get("status") or {}
            key = (meta["namespace"], meta["name"], meta["uid"])
            if key in self.running or meta.get("deletionTimestamp"):
                continue
            if status.get("phase") == "Running" and status.get("podIP"):
                try:
                    self.running[key] = self.runner.start(meta["namespace"], meta["name"])
                except Exception as exc:
                    self.errors.append(f"pod {meta['namespace']}/{meta['name']}: {exc}")
                    self.running[key] = None  # tried once, as a container that failed

    @staticmethod
    def _deleting(key: tuple[str, str, str], pods: list[dict[str, Any]]) -> bool:
        return any((p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"]) == key
                   and p["metadata"].get("deletionTimestamp") for p in pods)
