"""Pod placement in the stack config: tolerations and the defaults Dossier's reference uses.

``Toleration`` follows the Kubernetes ``Toleration`` rules (checked here, not at
apply time); ``CONTROL_PLANE`` is the toleration Dossier's reference values give
the hub's core pods and PostgreSQL. Pure Python: no Pulumi here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictInt, model_validator

from components.config_types import FieldProblemsError, LabelKey, LabelValue, Model, Problem, TaintKey

NodeSelector = dict[LabelKey, LabelValue]


class Toleration(Model):
    """One pod toleration (the fields of a Kubernetes ``Toleration``)."""

    key: TaintKey | None = Field(None, description="Taint key; unset with operator Exists tolerates every taint.")
    operator: Literal["Exists", "Equal"] = Field("Equal", description="Exists (any value) or Equal (value).")
    value: LabelValue | None = Field(None, description="Taint value (operator Equal only).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect; unset tolerates every effect."
    )
    tolerationSeconds: StrictInt | None = Field(
        None, ge=0, description="Seconds a NoExecute taint is tolerated before eviction."
    )

    # Ref: Kubernetes ValidateTolerations (pkg/apis/core/validation/validation.go).
    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        problems: list[Problem] = []
        if self.key is None and self.operator != "Exists":
            problems.append((("operator",), "expected Exists when key is unset", self.operator))
        if self.operator == "Exists" and self.value:
            problems.append((("value",), "expected no value with operator Exists", self.value))
        if self.tolerationSeconds is not None and self.effect != "NoExecute":
            problems.append((("tolerationSeconds",), "only with effect NoExecute", self.tolerationSeconds))
        if problems:
            raise FieldProblemsError(problems)
        return self

    def spec(self) -> dict[str, Any]:
        """The toleration as a pod spec holds it (unset fields left out)."""
        return self.model_dump(exclude_none=True)


#: The toleration of Dossier's reference values for pods on control-plane nodes.
CONTROL_PLANE = Toleration(key="node-role.kubernetes.io/control-plane", operator="Exists", effect="NoSchedule")

#: z2jh 2.0.0's own ``scheduling.corePods.tolerations`` (its dedicated-core-node taints). A
#: list in the values replaces the chart's list, so the default keeps these next to CONTROL_PLANE.
Z2JH_CORE_DEFAULTS = (
    Toleration(key="hub.jupyter.org/dedicated", operator="Equal", value="core", effect="NoSchedule"),
    Toleration(key="hub.jupyter.org_dedicated", operator="Equal", value="core", effect="NoSchedule"),
)


def core_pod_tolerations(configured: list[Toleration] | None, core_nodes: list[str]) -> list[Toleration] | None:
    """The hub's core-pod tolerations; ``None`` leaves the chart's own list in place.

    Configured ones replace everything (``[]`` clears the list). Unset: with a core
    pool, the chart's tolerations plus the control plane's (Dossier's core pool is
    the control-plane node); without one, the chart's.
    """
    if configured is not None:
        return list(configured)
    if core_nodes:
        return [*Z2JH_CORE_DEFAULTS, CONTROL_PLANE]
    return None
