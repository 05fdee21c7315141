"""Dossier's hub, its proxy and users' notebooks, run from the pods the jupyterhub chart made (see docs/e2e.md)."""

from e2e.hub.notebooks import NotebookPods
from e2e.hub.run import DatabaseServer, Hub, HubError, start_hub
from e2e.hub.user_scheduler import start_user_scheduler

__all__ = ["DatabaseServer", "Hub", "HubError", "NotebookPods", "start_hub", "start_user_scheduler"]
