"""``dossier:postgresql``: the hub's database (bitnami/postgresql), its image and its placement."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from components.config_charts import local_chart_path, local_chart_problems
from components.config_placement import NodeSelector, Toleration
from components.config_types import (
    ChartRepository,
    DnsSubdomain,
    ExactVersion,
    FieldProblemsError,
    ImageName,
    ImageTag,
    Model,
    NonNegativeInt,
    PgIdentifier,
    PositiveQuantity,
    Problem,
    Registry,
    not_reserved_user,
)


class PostgresImage(Model):
    """``dossier:postgresql.image``."""

    registry: Registry = Field("docker.io", description="Image registry of PostgreSQL.")
    # bitnami moved its versioned images to bitnamilegacy in 2025 (bitnami/charts#35164).
    repository: ImageName = Field(
        "bitnamilegacy/postgresql",
        description="Image repository (bitnami/ no longer serves the tag chart 12.2.1 pins).",
    )
    tag: ImageTag = Field("15.2.0-debian-11-r2", description="Image tag (the chart 12.2.1 default).")


class PostgresConfig(Model):
    """``dossier:postgresql``."""

    CHART: ClassVar[str] = "postgresql"

    chartRepository: ChartRepository = Field(
        "oci://registry-1.docker.io/bitnamicharts",
        description="Chart location: an OCI registry (the https index no longer keeps 12.x), an https index, "
        "or a local chart mirror for air-gapped clusters, such as file://charts (a folder relative to the project "
        "directory, or absolute) holding postgresql/Chart.yaml or postgresql-{chartVersion}.tgz; the mirror's "
        "chart must be postgresql at chartVersion (Helm would install a local chart whatever its version).",
    )
    chartVersion: ExactVersion = Field("12.2.1", description="bitnami/postgresql chart version.")
    architecture: Literal["replication", "standalone"] = Field("replication", description="Chart architecture.")
    readReplicas: NonNegativeInt = Field(1, description="Read replicas (architecture replication only).")
    size: PositiveQuantity = Field("20Gi", description="Persistent volume size of each PostgreSQL pod.")
    storageClass: DnsSubdomain | None = Field(None, description="Storage class (cluster default when unset).")
    database: PgIdentifier = Field("jhub", description="Hub database. Do not change after the first deploy.")
    username: Annotated[PgIdentifier, AfterValidator(not_reserved_user)] = Field(
        "jhub", description="Hub database user. Do not change after the first deploy."
    )
    image: PostgresImage = Field(default_factory=PostgresImage, description="PostgreSQL image.")
    nodeSelector: NodeSelector = Field(
        default_factory=dict,
        description="Node labels the primary and the read replicas must match (Dossier's reference: "
        "node-role.kubernetes.io/control-plane: \"\").",
    )
    tolerations: list[Toleration] = Field(
        default_factory=list,
        description="Tolerations of the primary and the read replicas (Dossier's reference: "
        "node-role.kubernetes.io/control-plane, operator Exists, effect NoSchedule).",
    )

    @model_validator(mode="after")
    def _replicas_need_replication(self) -> PostgresConfig:
        problems: list[Problem] = []
        if self.architecture == "standalone" and self.readReplicas > 0 and "readReplicas" in self.model_fields_set:
            problems.append((("readReplicas",), "read replicas need architecture: replication", self.readReplicas))
        problems += local_chart_problems(self.chartRepository, self.CHART, self.chartVersion)
        if problems:
            raise FieldProblemsError(problems)
        return self

    def local_chart(self) -> str | None:
        """The chart's path in the local mirror (``chart`` of the release), ``None`` for a remote repository."""
        return local_chart_path(self.chartRepository, self.CHART, self.chartVersion)
