"""Storage as a static provisioner leaves it: local PersistentVolumes on each node, a default StorageClass.

A bare-metal cluster has no cloud disks; its operator (or a static provisioner
such as sigs.k8s.io/sig-storage-local-static-provisioner) creates one
``local`` PersistentVolume per disk of each node, pinned to that node by
``nodeAffinity``, in a StorageClass with no provisioner and
``volumeBindingMode: WaitForFirstConsumer``. ``provision_local_volumes`` does
the same once, before anything claims them: ``per_node`` volumes of ``size``
per node, their paths folders of the run (no kubelet mounts them), reclaim
policy ``Retain`` (a released volume keeps its data until an administrator
clears it; no deleter runs here). The StorageClass ``STORAGE_CLASS`` is the
cluster's default, so a claim without a class (the PostgreSQL chart's) gets it.

The rest is Kubernetes' own: the scheduler picks a volume on the node it places
a pod on (its VolumeBinding plugin), the controller manager's volume binder
binds the claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes import client

STORAGE_CLASS = "local-storage"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def provision_local_volumes(api: client.ApiClient, folder: Path, per_node: Mapping[str, int],
                            size: str = "50Gi") -> list[str]:
    """The default StorageClass and ``per_node[node]`` local volumes on each node; the volumes' names."""
    storage: Any = client.StorageV1Api(api)
    storage.create_storage_class(client.V1StorageClass(
        metadata=client.V1ObjectMeta(name=STORAGE_CLASS,
                                     annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        provisioner=NO_PROVISIONER, volume_binding_mode="WaitForFirstConsumer", reclaim_policy="Retain"))
    core: Any = client.CoreV1Api(api)
    names = []
    for node, count in per_node.items():
        for index in range(count):
            name = f"local-pv-{node}-{index}"
            path = folder / node / f"vol{index}"
            path.mkdir(parents=True, exist_ok=True)
            on_node = client.V1NodeSelectorRequirement(key="kubernetes.io/hostname", operator="In", values=[node])
            core.create_persistent_volume(client.V1PersistentVolume(
                metadata=client.V1ObjectMeta(name=name, labels={"e2e.dossier/node": node}),
                spec=client.V1PersistentVolumeSpec(
                    capacity={"storage": size}, access_modes=["ReadWriteOnce"], volume_mode="Filesystem",
                    persistent_volume_reclaim_policy="Retain", storage_class_name=STORAGE_CLASS,
                    local=client.V1LocalVolumeSource(path=str(path)),
                    node_affinity=client.V1VolumeNodeAffinity(required=client.V1NodeSelector(
                        node_selector_terms=[client.V1NodeSelectorTerm(match_expressions=[on_node])])))))
            names.append(name)
    return names


def volumes(api: client.ApiClient) -> dict[str, dict[str, str]]:
    """Each PersistentVolume: its node, phase and claim (``namespace/name``, or empty)."""
    core: Any = client.CoreV1Api(api)
    found = {}
    for pv in core.list_persistent_volume().items:
        claim = pv.spec.claim_ref
        found[str(pv.metadata.name)] = {
            "node": (pv.metadata.labels or {}).get("e2e.dossier/node", ""),
            "phase": str(pv.status.phase if pv.status else ""),
            "claim": f"{claim.namespace}/{claim.name}" if claim else "",
        }
    return found
