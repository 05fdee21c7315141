"""JupyterHub 3.0.0 started locally with the hub configuration the stack sent Helm (see docs/e2e.md)."""

from e2e.hub.chart import ValuesError
from e2e.hub.run import DatabaseServer, Hub, HubError, TenantsApi, start_hub

__all__ = ["DatabaseServer", "Hub", "HubError", "TenantsApi", "ValuesError", "start_hub"]
