"""Helpers shared by the components: chart locations, resource options and timeouts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pulumi
from pulumi_kubernetes.helm.v3 import RepositoryOptsArgs

from components.config_types import DURATION_SECONDS, DURATION_UNIT


@dataclass(frozen=True, kw_only=True)
class Chart:
    """A Helm chart pinned to an exact version, from an https index, an OCI registry or a local mirror."""

    repository: str
    name: str
    version: str
    path: str | None = None
    """The chart in a local mirror (folder or ``.tgz``; ``./relative`` or absolute), checked by the config."""

    @property
    def chart(self) -> str:
        # Ref: https://www.pulumi.com/registry/packages/kubernetes/api-docs/helm/v3/release/
        # A local chart is named by its path ("A path may be used"), an OCI chart by its full
        # reference, an index chart by its name plus repo.
        if self.path is not None:
            return self.path
        if self.repository.startswith("oci://"):
            return f"{self.repository.rstrip('/')}/{self.name}"
        return self.name

    @property
    def repository_opts(self) -> RepositoryOptsArgs | None:
        if self.path is not None or self.repository.startswith("oci://"):
            return None
        return RepositoryOptsArgs(repo=self.repository)


def child(parent: pulumi.Resource, *, protect: bool = False, retain: bool = False,
          depends_on: list[pulumi.Resource] | None = None, delete_timeout: str | None = None,
          delete_before_replace: bool = False) -> pulumi.ResourceOptions:
    """Options of a component's child; ``protect``/``retain`` only for data-bearing ones.

    ``delete_timeout``: how long the provider may wait for the object to be gone (``dossier:deleteTimeout``).
    ``delete_before_replace``: a replacement deletes the old object first (one whose names cannot exist twice).
    """
    return pulumi.ResourceOptions(
        parent=parent,
        protect=protect or None,
        retain_on_delete=retain or None,
        depends_on=depends_on,
        custom_timeouts=delete_timeouts(delete_timeout),
        delete_before_replace=delete_before_replace or None,
    )


#: A Helm release's timeout when none is given: the kubernetes provider's default (and Helm's).
DEFAULT_RELEASE_TIMEOUT = 300
_DURATION_PART = re.compile(rf"(\d+(?:\.\d+)?)({DURATION_UNIT})")


def timeout_seconds(duration: str) -> int:
    """Whole seconds, rounded up, of a duration such as ``5m`` or ``1h30m`` (a Helm release's ``timeout``)."""
    parts = _DURATION_PART.findall(duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return max(1, math.ceil(sum(float(number) * DURATION_SECONDS[unit] for number, unit in parts)))


def delete_timeouts(delete: str | None) -> pulumi.CustomTimeouts | None:
    """A bounded wait for a delete (finalizers that never go: the provider fails naming the object)."""
    return None if delete is None else pulumi.CustomTimeouts(delete=delete)
