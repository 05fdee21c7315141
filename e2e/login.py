"""A user's login through Keycloak's real login form into Dossier's hub, driven over HTTP.

The authorization-code flow as a browser runs it: the hub's ``/hub/oauth_login`` redirects to
Keycloak's authorize endpoint, the login form is filled in and posted, and Keycloak redirects to the
stack's callback URL (``https://<fqdn>/hub/oauth_callback``). That host is not served here, so the
redirect is taken as it is and delivered, code, state and the hub's cookies intact, to the local
hub's ``/hub/oauth_callback``. The hub then exchanges the code with Keycloak itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from e2e.hub import Hub

TIMEOUT = 30


class LoginError(Exception):
    """The flow broke before the hub could decide (a page or redirect not as Keycloak or the hub send it)."""


@dataclass(frozen=True)
class LoginResult:
    """The outcome: logged in (with the hub's record of the user), refused (403, or at Keycloak's form), or failed."""

    username: str
    logged_in: bool
    status: int
    message: str
    user: dict[str, Any] | None = None
    """The hub's REST record (``GET /hub/api/users/<name>``: ``admin``, ``groups``; ``auth_state`` with an
    admin's token, see ``Hub.authorize``)."""
    hub_log: str = field(default="", repr=False)
    """What the hub logged during this login (Dossier's authenticator says why it decided, at debug level)."""
    session: requests.Session | None = field(default=None, repr=False, compare=False)
    """The browser's session once logged in: its cookies carry the user to the hub and their server."""

    @property
    def admin(self) -> bool:
        return bool(self.user and self.user.get("admin"))

    @property
    def groups(self) -> list[str]:
        return list(self.user.get("groups", [])) if self.user else []

    @property
    def auth_state(self) -> dict[str, Any]:
        """What the authenticator stored for the user (Dossier's ``tenants`` among it)."""
        return dict((self.user or {}).get("auth_state") or {})

    @property
    def claims(self) -> dict[str, Any]:
        """The userinfo the hub received (``auth_state.oauth_user``)."""
        auth_state = (self.user or {}).get("auth_state") or {}
        return dict(auth_state.get("oauth_user") or {})

    def __str__(self) -> str:
        if self.logged_in:
            return f"logged in as {self.user and self.user.get('name')} (admin={self.admin}, groups={self.groups})"
        if self.status == 403 or self.message.startswith("Keycloak:"):
            return f"{self.username} refused: {self.status} {self.message}"
        # Not a decision: the hub failed (a 500 when it cannot reach Keycloak's token endpoint, for example).
        return f"{self.username} not logged in, the hub failed: {self.status} {self.message}"


class _FormParser(HTMLParser):
    """The forms of a page (action, inputs, has a password field) and the text of its error elements."""

    VOID = frozenset({"input", "br", "img", "meta", "link", "hr", "area", "base", "col", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.text: list[str] = []
        self._error_depth = 0
        self._heading = False
        self._in_title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": attributes.get("action", ""), "inputs": {}, "password": False})
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["inputs"][attributes["name"]] = attributes.get("value", "")
            self.forms[-1]["password"] |= attributes.get("type") == "password"
        if tag in self.VOID:
            return
        self._heading = tag == "h1"
        self._in_title = tag == "title"
        # JupyterHub's error page: <div class="error">; Keycloak's form: <div id="input-error-username">
        # (keycloak.v2 theme) or <span id="input-error"> (older themes), the text in class kc-feedback-text.
        classes = attributes.get("class", "").split()
        element_id = attributes.get("id", "")
        is_error = "error" in classes or "kc-feedback-text" in classes or element_id.startswith("input-error")
        if self._error_depth or is_error:
            self._error_depth += 1

    def handle_endtag(self, tag: str) -> None:
        self._heading = self._in_title = False
        if self._error_depth and tag not in self.VOID:
            self._error_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        # JupyterHub's <h1> repeats the status ("403 : Forbidden"), which the result holds already.
        if self._error_depth and not self._heading and data.strip():
            self.text.append(data.strip())

    @property
    def login_form(self) -> dict[str, Any] | None:
        return next((f for f in self.forms if f["password"]), None)


def _parse(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


def page_text(response: requests.Response) -> str:
    text = " ".join(_parse(response.text).text)
    return text or response.reason or ""


def login(hub: Hub, username: str, password: str, callback_url: str) -> LoginResult:
    """Log ``username`` in through Keycloak's form; the hub's decision, with its record of the user."""
    log_start = hub.log_size()
    session = requests.Session()
    session.trust_env = False  # no CA bundle, proxy or netrc from the environment: the run's CA only
    start = session.get(hub.url("hub/oauth_login"), allow_redirects=False, timeout=TIMEOUT)
    authorize = start.headers.get("Location", "")
    if start.status_code != 302 or not authorize.startswith("https://"):
        raise LoginError(f"hub/oauth_login answered {start.status_code} {authorize!r}, expected a redirect to Keycloak")
    sent_redirect = parse_qs(urlsplit(authorize).query).get("redirect_uri", [""])[0]
    if sent_redirect != callback_url:
        raise LoginError(f"the hub sends redirect_uri={sent_redirect!r} to Keycloak, expected {callback_url!r}")

    page = session.get(authorize, verify=hub.keycloak_ca, timeout=TIMEOUT)
    form = _parse(page.text).login_form
    if page.status_code != 200 or form is None:
        raise LoginError(f"no login form at Keycloak's authorize URL ({page.status_code}): {page_text(page)!r}")
    fields = {**form["inputs"], "username": username, "password": password}
    posted = session.post(
        urljoin(page.url, form["action"]), data=fields, allow_redirects=False, verify=hub.keycloak_ca, timeout=TIMEOUT
    )
    location = posted.headers.get("Location", "")
    if posted.status_code != 302:
        answer = _parse(posted.text)
        if answer.login_form is None:
            # A required action (update profile, verify email): the user is not set up for a scripted login.
            raise LoginError(f"Keycloak answered the login with {posted.status_code} {answer.title!r}, not a redirect")
        # Keycloak shows the form again with its error (wrong password, disabled user): refused there.
        return LoginResult(username, False, posted.status_code, f"Keycloak: {page_text(posted)}",
                           hub_log=hub.log_since(log_start))
    if not location.startswith(callback_url + "?"):
        raise LoginError(f"Keycloak redirected to {location!r}, expected the stack's callback {callback_url!r}")

    # Deliver Keycloak's redirect to the local hub: same query (code, state, session_state, iss), same cookies.
    callback = session.get(
        hub.url("hub/oauth_callback") + "?" + urlsplit(location).query, allow_redirects=False, timeout=TIMEOUT
    )
    if callback.status_code != 302:
        return LoginResult(username, False, callback.status_code, page_text(callback),
                           hub_log=hub.log_since(log_start))
    # The session cookie now names the user; the API token reads the hub's full record of them.
    # (JupyterHub takes a session cookie on its API only with a same-origin Referer.)
    me = session.get(hub.url("hub/api/user"), headers={"Referer": hub.url("hub/home")}, timeout=TIMEOUT)
    if me.status_code != 200:
        raise LoginError(f"the hub logged {username} in but its session is refused by hub/api/user: {me.status_code}")
    # The auth state only with an admin's token (Hub.authorize): a user's own record leaves it out.
    user = hub.api("users/" + me.json()["name"]) if hub.token else me.json()
    return LoginResult(username, True, callback.status_code, f"redirected to {callback.headers.get('Location')}",
                       user=user, hub_log=hub.log_since(log_start), session=session)
