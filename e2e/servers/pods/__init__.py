"""Pods of the e2e API server run as host processes: a stand-in for the kubelet and the container runtime.

- ``PodRunner(cluster, supervisor).start(namespace, name)`` -> ``RunningPod`` (``runner.py``);
  ``PodError`` when a pod cannot run here.
- ``environment.py``: a container's environment and command line (pure functions of the pod).
- ``volumes.py``: the service-account volume, each volume's contents, each container's mounts.
- ``network.py``: the pod's hosts file with the Services' names, the Services' routes.
- ``images.py``: the images the e2e runs and the toolchain piece that stands for each.
- ``enter.py``: the step inside the container's private mount namespace (mounts, user, exec).
"""

from e2e.servers.pods.environment import ContainerConfigError
from e2e.servers.pods.images import IMAGES, Image, UnknownImageError, image_for
from e2e.servers.pods.runner import ApiObjects, PodError, PodRunner, RunningPod
from e2e.servers.pods.volumes import VolumeError

__all__ = [
    "IMAGES",
    "ApiObjects",
    "ContainerConfigError",
    "Image",
    "PodError",
    "PodRunner",
    "RunningPod",
    "UnknownImageError",
    "VolumeError",
    "image_for",
]
