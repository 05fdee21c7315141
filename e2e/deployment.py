"""A stack deployed for a test module, with the servers it runs against, their supervisor and the toolchain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from e2e.servers import Servers, Supervisor
from e2e.stack import E2EStack, Toolchain


@dataclass
class Deployment:
    servers: Servers
    stack: E2EStack
    supervisor: Supervisor
    tools: Toolchain
    notes: dict[str, Any] = field(default_factory=dict)
    """What one test leaves for a later one (the module's tests run in order)."""

    @property
    def api(self) -> client.ApiClient:
        """An administrator's client of the run's API server."""
        assert self.servers.cluster
        return self.servers.cluster.api_client()
