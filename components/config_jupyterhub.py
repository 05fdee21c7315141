"""``dossier:jupyterhub``: the hub (z2jh), its image, its core pods and the users' notebook servers.

Defaults the seed left open follow Dossier's reference values
(``kubernetes/jupyter/jupyterhub-config.yaml`` in alpha-unito/dossier); a map or
list given in config replaces its default as a whole (``{}``/``[]`` clears it).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, StrictBool, StrictStr, model_validator

from components.config_charts import local_chart_path, local_chart_problems
from components.config_placement import Toleration
from components.config_types import (
    AnnotationKey,
    ChartRepository,
    ClassPath,
    DnsSubdomain,
    EnvName,
    ExactVersion,
    FieldProblemsError,
    ImageName,
    ImagePullPolicy,
    ImageTag,
    Model,
    PositiveInt,
    Problem,
    UrlPath,
    duplicates,
)

#: Dossier's image runs the classic Notebook server (its UI lives under /tree/).
SINGLEUSER_APP = {"JUPYTERHUB_SINGLEUSER_APP": "notebook.notebookapp.NotebookApp"}
#: The RuntimeDefault seccomp profile for the notebook pod and container, as Dossier's values set it
#: (annotations deprecated since Kubernetes 1.19 in favour of securityContext.seccompProfile).
SECCOMP_ANNOTATIONS = {
    "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
    "container.seccomp.security.alpha.kubernetes.io/notebook": "runtime/default",
}


class HubImage(Model):
    """``dossier:jupyterhub.image``."""

    name: ImageName = Field("docker.io/alphaunito/dossier", description="Hub image (Dossier).")
    tag: ImageTag = Field("0.0.1-alpha", description="Hub image tag (pinned; built on k8s-hub 2.0.0).")
    pullPolicy: ImagePullPolicy | None = Field(
        "Always", description="Image pull policy of the hub (Dossier's reference: Always; null: Kubernetes' default)."
    )
    pullSecrets: list[DnsSubdomain] = Field(
        default_factory=list,
        description="Secrets in the hub's namespace to pull the hub image with (created outside this program).",
    )

    @model_validator(mode="after")
    def _unique_secrets(self) -> HubImage:
        problems: list[Problem] = [
            (("pullSecrets", i), "secret listed twice", self.pullSecrets[i]) for i in duplicates(self.pullSecrets)
        ]
        if problems:
            raise FieldProblemsError(problems)
        return self


class CloudMetadata(Model):
    """``dossier:jupyterhub.singleuser.cloudMetadata``."""

    blockWithIptables: StrictBool = Field(
        False,
        description="Block the cloud metadata server from notebooks with a privileged iptables init container "
        "(the chart's default, true, adds it to every notebook pod; Dossier's reference: false).",
    )


class SingleuserConfig(Model):
    """``dossier:jupyterhub.singleuser``."""

    storageClass: DnsSubdomain | None = Field(None, description="Storage class of users' volumes.")
    startTimeout: PositiveInt = Field(600, description="Seconds a notebook may take to start.")
    defaultUrl: UrlPath | None = Field(
        "/tree/", description="Page a user's server opens on (null: the server's own default)."
    )
    extraEnv: dict[EnvName, StrictStr] = Field(
        default_factory=lambda: dict(SINGLEUSER_APP),
        description="Environment variables of notebook servers (the default selects the classic Notebook "
        "server Dossier's image runs).",
    )
    extraAnnotations: dict[AnnotationKey, StrictStr] = Field(
        default_factory=lambda: dict(SECCOMP_ANNOTATIONS),
        description="Annotations of notebook pods (the default: the RuntimeDefault seccomp profile annotations "
        "of Dossier's reference).",
    )
    cloudMetadata: CloudMetadata = Field(
        default_factory=CloudMetadata, description="Access of notebooks to the cloud metadata server."
    )


class JupyterHubConfig(Model):
    """``dossier:jupyterhub``."""

    CHART: ClassVar[str] = "jupyterhub"

    chartRepository: ChartRepository = Field(
        "https://hub.jupyter.org/helm-chart/",
        description="z2jh chart repository, or a local chart mirror for air-gapped clusters, such as "
        "file://charts (a folder relative to the project directory, or absolute) holding jupyterhub/Chart.yaml "
        "or jupyterhub-{chartVersion}.tgz; the mirror's chart must be jupyterhub at chartVersion.",
    )
    chartVersion: ExactVersion = Field("2.0.0", description="jupyterhub/jupyterhub chart version.")
    image: HubImage = Field(default_factory=HubImage, description="Hub image.")
    spawnerClass: ClassPath = Field(
        "dossier.spawners.kubespawner.DossierKubeSpawner",
        description="Spawner class in the hub image (images built from Dossier's master: "
        "dossier.spawners.kubernetes.DossierKubeSpawner).",
    )
    debug: StrictBool = Field(
        True, description="Debug logging of the hub and proxy (chart debug.enabled and hub --debug), as in "
        "Dossier's reference; turn it off in production."
    )
    corePodTolerations: list[Toleration] | None = Field(
        None,
        description="Tolerations of the hub's core pods (hub, proxy, user scheduler). Unset: with nodes in "
        "dossier:nodes.core, the chart's own plus node-role.kubernetes.io/control-plane:NoSchedule (Dossier's "
        "core pool is the control plane); without, the chart's. A list replaces all of them; [] clears them.",
    )
    singleuser: SingleuserConfig = Field(default_factory=SingleuserConfig, description="Users' notebook servers.")

    @model_validator(mode="after")
    def _local_chart_is_the_pinned_one(self) -> JupyterHubConfig:
        problems = local_chart_problems(self.chartRepository, self.CHART, self.chartVersion)
        if problems:
            raise FieldProblemsError(problems)
        return self

    def local_chart(self) -> str | None:
        """The chart's path in the local mirror (``chart`` of the release), ``None`` for a remote repository."""
        return local_chart_path(self.chartRepository, self.CHART, self.chartVersion)
