"""A logged-in user's notebook, asked for and stopped through Dossier's hub as a browser does.

``spawn(hub, session, name)`` follows what the hub's ``/hub/spawn`` answers: Dossier's tenant choice
(``/hub/tenant/<name>``: the page lists the user's tenants; ``tenant`` chooses one, posted as its
form posts it), then the spawn itself (``/hub/spawn-pending/<name>``), and waits until the hub
reports the server ready. ``stop(hub, name)`` stops it (the hub deletes the pod). Both read the
hub's REST API with the admin token of ``Hub.authorize``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import requests

from e2e.hub import Hub
from e2e.login import page_text

TIMEOUT = 30


class SpawnError(AssertionError):
    """The hub refused or failed the spawn (the message holds its status and page text, or its log)."""


@dataclass
class Spawned:
    """What the spawn went through: the pages seen (path and status) and the hub's record of the server."""

    pages: list[tuple[str, int]] = field(default_factory=list)
    tenant_choices: list[str] = field(default_factory=list)
    server: dict[str, Any] = field(default_factory=dict)


class _Choices(HTMLParser):
    """The values of the ``tenant`` inputs of Dossier's tenant page."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name") == "tenant" and attributes.get("value"):
            self.values.append(str(attributes["value"]))


def spawn(hub: Hub, session: requests.Session, name: str, *, tenant: str | None = None,
          limit: float = 180.0) -> Spawned:
    """Ask for ``name``'s server (choosing ``tenant`` where Dossier asks) and wait until it is ready."""
    seen = Spawned()
    answer = session.get(hub.url("hub/spawn"), allow_redirects=False, timeout=TIMEOUT)
    seen.pages.append(("hub/spawn", answer.status_code))
    location = answer.headers.get("Location", "")
    if answer.status_code == 302 and location.startswith("/hub/tenant/"):
        page = session.get(hub.url(location), timeout=TIMEOUT)
        seen.pages.append((location, page.status_code))
        parser = _Choices()
        parser.feed(page.text)
        seen.tenant_choices = parser.values
        if tenant is None:
            raise SpawnError(f"Dossier asks {name} to choose a tenant among {parser.values}; none was given")
        # The page's form is multipart/form-data, sent to the page's own URL.
        chosen = session.post(hub.url(location), files={"tenant": (None, tenant)}, allow_redirects=False,
                              timeout=TIMEOUT, headers={"Referer": hub.url(location)})
        seen.pages.append((f"POST {location}", chosen.status_code))
        if chosen.status_code != 302:
            raise SpawnError(f"choosing tenant {tenant}: {chosen.status_code} {page_text(chosen)}")
        answer = session.get(hub.url(chosen.headers["Location"]), allow_redirects=False, timeout=TIMEOUT)
        seen.pages.append((chosen.headers["Location"], answer.status_code))
        location = answer.headers.get("Location", "")
    if answer.status_code != 302 or "/spawn-pending/" not in location:
        raise SpawnError(f"GET hub/spawn for {name}: {answer.status_code} {location or page_text(answer)}")
    seen.server = wait_ready(hub, name, limit)
    return seen


def wait_ready(hub: Hub, name: str, limit: float) -> dict[str, Any]:
    """The hub's record of ``name``'s server once ready; ``SpawnError`` with the hub's log if it fails."""
    start = hub.log_size()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        user = hub.api(f"users/{name}")
        server = user["servers"].get("")
        if server and server.get("ready"):
            return dict(server)
        if not server and not user.get("pending"):
            raise SpawnError(f"{name}'s server stopped before it was ready:\n{hub.log_since(start)[-8000:]}")
        time.sleep(1)
    raise SpawnError(f"{name}'s server not ready within {limit:.0f} s:\n{hub.log_since(start)[-8000:]}")


def stop(hub: Hub, name: str, limit: float = 90.0) -> None:
    """Stop ``name``'s server through the REST API and wait until the hub no longer has it (none: nothing to do)."""
    if not hub.api(f"users/{name}")["servers"]:
        return
    hub.api(f"users/{name}/server", method="DELETE")
    deadline = time.monotonic() + limit
    while hub.api(f"users/{name}")["servers"]:
        if time.monotonic() > deadline:
            raise SpawnError(f"{name}'s server still there {limit:.0f} s after the stop")
        time.sleep(1)
