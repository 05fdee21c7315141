"""The chart's user-scheduler: its profile, from the ConfigMap z2jh rendered, served by the toolchain's kube-scheduler.

z2jh 2.0.0 sets ``schedulerName: user-scheduler`` on every user pod (``scheduling.userScheduler.enabled``)
and runs that scheduler as a Deployment of kube-scheduler 1.23 configured by its ``user-scheduler``
ConfigMap (``kubescheduler.config.k8s.io/v1beta3``). Its pods here are kwok's and run nothing, and the
toolchain's kube-scheduler (1.35.4) reads only the ``v1`` configuration, whose profile fields are the
same. So ``start_user_scheduler`` reads the rendered ConfigMap and starts a second kube-scheduler of the
toolchain with the chart's profile (its name, plugins and plugin configuration unchanged) as the
cluster's ``system:kube-scheduler`` user: the chart's RBAC for it is the 1.23 scheduler's, narrower than
what 1.35's informers list. No leader election (one replica). See docs/e2e.md.
"""

from __future__ import annotations

from typing import Any

import yaml

from e2e.servers import Cluster, Supervisor
from e2e.servers.control_plane import scheduler_kubeconfig, start_profile_scheduler
from e2e.servers.crds import kube_request
from e2e.servers.supervisor import Process


def chart_profiles(cluster: Cluster, namespace: str, name: str = "user-scheduler") -> list[dict[str, Any]]:
    """The ``profiles`` of the ConfigMap the chart rendered for its user-scheduler."""
    config_map = kube_request(cluster.api_client(), "GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    rendered = yaml.safe_load(config_map["data"]["config.yaml"])
    if rendered.get("kind") != "KubeSchedulerConfiguration" or not rendered.get("profiles"):
        raise ValueError(f"configmap {namespace}/{name}: no KubeSchedulerConfiguration profiles in config.yaml")
    profiles: list[dict[str, Any]] = rendered["profiles"]
    return profiles


def start_user_scheduler(cluster: Cluster, supervisor: Supervisor, namespace: str) -> tuple[Process, list[str]]:
    """A kube-scheduler serving the chart's user-scheduler profile; the process and the scheduler names served."""
    assert cluster.ca is not None, "a cluster started by start_cluster"
    profiles = chart_profiles(cluster, namespace)
    process, _ = start_profile_scheduler(supervisor, "user-scheduler", scheduler_kubeconfig(cluster.kubeconfig.parent),
                                         cluster.ca, supervisor.path("user-scheduler"), profiles)
    return process, [str(p["schedulerName"]) for p in profiles]
