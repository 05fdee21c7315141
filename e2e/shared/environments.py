"""The two environments of the shared-backend run and what the servers hold of each.

``FIRST`` is the e2e's own stack (the defaults: namespace ``jhub``, client
``jupyter``, the Spawner CRD installed here). ``SECOND`` is shaped like
production as docs/operations.md describes a second environment in the same
cluster: its own namespace, hostname, Keycloak client and hub tenant, the CRD
left to the first (``dossier:spawnerCrd: false``), ``protectData`` on. Both
label the same nodes (their label is co-owned). ``Environment.stack(...)``
makes the stack on the shared backend, in a project folder of its own (a
runner's checkout).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e import checks, state
from e2e.faults.compare import differences
from e2e.servers import ObjectStore, Servers
from e2e.stack import E2EStack, Toolchain


@dataclass(frozen=True)
class Environment:
    stack: str
    namespace: str
    fqdn: str
    client_id: str
    tenant: str
    groups: tuple[str, ...]
    spawner_crd: bool
    protect: bool

    @property
    def fully_qualified(self) -> str:
        """How another project's program names this stack on a self-managed backend."""
        return f"organization/dossier/{self.stack}"

    def config(self, servers: Servers, groups: list[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """The stack's config and secrets; the kubeconfig comes from ``KUBECONFIG``, as in the workflows."""
        assert servers.keycloak
        config, secrets = checks.stack_config(servers, groups=list(groups or self.groups),
                                              protect=self.protect)
        config.pop("kubernetes:kubeconfig")
        config.update({
            "dossier:fqdn": self.fqdn,
            "dossier:namespace": self.namespace,
            "dossier:keycloak": {"url": servers.keycloak.url, "realm": state.REALM, "clientId": self.client_id},
            "dossier:tenant": {"name": self.tenant},
            "dossier:spawnerCrd": self.spawner_crd,
            "dossier:deleteTimeout": "15s",
        })
        return config, secrets

    def stack_in(self, folder: Path, tools: Toolchain, servers: Servers, store: ObjectStore,
                 env: Mapping[str, str] | None = None, configure: bool = True) -> E2EStack:
        """The stack on the shared backend, run from ``folder`` (a checkout of its own)."""
        assert servers.cluster
        stack = E2EStack(folder, tools, name=self.stack, echo=False, env={
            "PULUMI_BACKEND_URL": store.backend_url(), "KUBECONFIG": str(servers.cluster.kubeconfig),
            **store.env(), **(env or {})})
        if configure:
            stack.configure(*self.config(servers))
        return stack

    def inventory(self, servers: Servers) -> dict[str, Any]:
        return state.inventory(servers, namespace=self.namespace, client_id=self.client_id)

    def differences(self, servers: Servers, stack: E2EStack) -> list[str]:
        """What the servers hold of this environment against its state, each difference named."""
        resources = stack.deployment().get("deployment", {}).get("resources") or []
        return differences(self.inventory(servers), state.state_inventory(resources))


FIRST = Environment("e2e", "jhub", checks.FQDN, state.CLIENT, "jhub", ("genomics",), spawner_crd=True,
                    protect=False)
SECOND = Environment("prod", "jhub-prod", "dossier.prod.e2e.test", "jupyter-prod", "jhub-prod", ("genomics-prod",),
                     spawner_crd=False, protect=True)
