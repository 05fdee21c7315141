"""Keycloak's admin REST API, for setting up a run and for drift tests.

``KeycloakAdmin(url, ca_cert, username, password)`` logs in to the master realm
with ``admin-cli`` (password grant) and renews its token before it expires
(master tokens live 60 s). Reads return Keycloak's JSON representations; updates
take the same dicts back (read, change, ``update_*``), which is how a test makes
drift: e.g. ``set_mapper_multivalued(realm, client_id, "tenants", False)`` or
``update_client(realm, {**admin.client(realm, client_id), "standardFlowEnabled": False})``.
Clients, roles, mappers and users are named as humans name them (``clientId``,
role name, mapper name, username), never by internal id. Errors raise
``KeycloakAdminError`` with the method, path, status and Keycloak's answer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

TOKEN_MARGIN = 15.0


class KeycloakAdminError(Exception):
    """An admin API call failed (message: method, path, HTTP status, Keycloak's answer)."""


class KeycloakAdmin:
    def __init__(self, url: str, ca_cert: Path, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self._session = requests.Session()
        # Per request: a Session's own ``verify`` loses to REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in the environment.
        self._verify = str(ca_cert)
        self._credentials = {"grant_type": "password", "client_id": "admin-cli",
                             "username": username, "password": password}
        self._token = ""
        self._expires = 0.0

    # --- plumbing -----------------------------------------------------------------

    def _bearer(self) -> str:
        if time.monotonic() > self._expires - TOKEN_MARGIN:
            answer = self._session.post(f"{self.url}/realms/master/protocol/openid-connect/token",
                                        data=self._credentials, verify=self._verify, timeout=30)
            if answer.status_code != 200:
                raise KeycloakAdminError(f"admin login to {self.url} failed: HTTP {answer.status_code} {answer.text}")
            body = answer.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + float(body.get("expires_in", 60))
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``method`` on ``/admin/realms`` + ``path`` (or an absolute ``/admin/...`` path); raises on >= 400."""
        full = path if path.startswith("/admin/") else f"/admin/realms{path}"
        answer = self._session.request(method, f"{self.url}{full}", verify=self._verify, timeout=30,
                                       headers={"Authorization": f"Bearer {self._bearer()}"}, **kwargs)
        if answer.status_code >= 400:
            raise KeycloakAdminError(f"{method} {full}: HTTP {answer.status_code} {answer.text[:500]}")
        return answer

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def put(self, path: str, body: Any) -> None:
        self.request("PUT", path, json=body)

    def post(self, path: str, body: Any) -> str:
        """POST ``body``; the created object's id (last segment of ``Location``), or ""."""
        answer = self.request("POST", path, json=body)
        return answer.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    # --- realms and clients ---------------------------------------------------------

    def create_realm(self, realm: str, **settings: Any) -> None:
        self.post("", {"realm": realm, "enabled": True, **settings})

    def realm(self, realm: str) -> dict[str, Any]:
        return dict(self.get(f"/{quote(realm)}"))

    def find_client(self, realm: str, client_id: str) -> dict[str, Any] | None:
        found = self.get(f"/{quote(realm)}/clients", clientId=client_id)
        return dict(found[0]) if found else None

    def client(self, realm: str, client_id: str) -> dict[str, Any]:
        """The client named ``client_id`` (its representation, with the internal ``id``)."""
        found = self.find_client(realm, client_id)
        if found is None:
            raise KeycloakAdminError(f"no client {client_id!r} in realm {realm!r}")
        return found

    def _client_path(self, realm: str, client_id: str) -> str:
        return f"/{quote(realm)}/clients/{self.client(realm, client_id)['id']}"

    def create_client(self, realm: str, representation: dict[str, Any]) -> str:
        return self.post(f"/{quote(realm)}/clients", representation)

    def update_client(self, realm: str, representation: dict[str, Any]) -> None:
        self.put(f"/{quote(realm)}/clients/{representation['id']}", representation)

    def client_secret(self, realm: str, client_id: str) -> str:
        return str(self.get(f"{self._client_path(realm, client_id)}/client-secret")["value"])

    def example_userinfo(self, realm: str, client_id: str, username: str) -> dict[str, Any]:
        """The userinfo ``username`` gets through ``client_id``, its mappers applied (scope evaluation)."""
        return dict(self.get(f"{self._client_path(realm, client_id)}/evaluate-scopes/generate-example-userinfo",
                             userId=self.user(realm, username)["id"], scope="openid"))

    # --- protocol mappers -----------------------------------------------------------

    def mappers(self, realm: str, client_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"{self._client_path(realm, client_id)}/protocol-mappers/models"))

    def mapper(self, realm: str, client_id: str, name: str) -> dict[str, Any]:
        for mapper in self.mappers(realm, client_id):
            if mapper["name"] == name:
                return mapper
        raise KeycloakAdminError(f"no mapper {name!r} on client {client_id!r} in realm {realm!r}")

    def update_mapper(self, realm: str, client_id: str, mapper: dict[str, Any]) -> None:
        self.put(f"{self._client_path(realm, client_id)}/protocol-mappers/models/{mapper['id']}", mapper)

    def set_mapper_multivalued(self, realm: str, client_id: str, name: str, multivalued: bool) -> None:
        """Drift: set the mapper's ``multivalued`` (a string in Keycloak's config map)."""
        mapper = self.mapper(realm, client_id, name)
        mapper["config"] = {**mapper.get("config", {}), "multivalued": "true" if multivalued else "false"}
        self.update_mapper(realm, client_id, mapper)

    # --- client roles -----------------------------------------------------------------

    def client_roles(self, realm: str, client_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"{self._client_path(realm, client_id)}/roles"))

    def client_role(self, realm: str, client_id: str, role: str) -> dict[str, Any]:
        return dict(self.get(f"{self._client_path(realm, client_id)}/roles/{quote(role)}"))

    def update_client_role(self, realm: str, client_id: str, role: dict[str, Any]) -> None:
        self.put(f"{self._client_path(realm, client_id)}/roles/{quote(role['name'])}", role)

    # --- users ------------------------------------------------------------------------

    def find_user(self, realm: str, username: str) -> dict[str, Any] | None:
        found = self.get(f"/{quote(realm)}/users", username=username, exact="true")
        return dict(found[0]) if found else None

    def user(self, realm: str, username: str) -> dict[str, Any]:
        found = self.find_user(realm, username)
        if found is None:
            raise KeycloakAdminError(f"no user {username!r} in realm {realm!r}")
        return found

    def update_user(self, realm: str, representation: dict[str, Any]) -> None:
        self.put(f"/{quote(realm)}/users/{representation['id']}", representation)

    def create_user(self, realm: str, username: str, password: str, *, email: str | None = None,
                    first_name: str = "Test", last_name: str = "User") -> str:
        """An enabled user with a verified e-mail, a name and a permanent password (nothing to do at login)."""
        return self.post(f"/{quote(realm)}/users", {
            "username": username, "enabled": True, "email": email or f"{username}@example.org",
            "emailVerified": True, "firstName": first_name, "lastName": last_name, "requiredActions": [],
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        })

    def user_client_roles(self, realm: str, client_id: str, username: str) -> list[str]:
        """Names of the client's roles mapped directly to the user."""
        user_id = self.user(realm, username)["id"]
        client_uuid = self.client(realm, client_id)["id"]
        mapped = self.get(f"/{quote(realm)}/users/{user_id}/role-mappings/clients/{client_uuid}")
        return sorted(r["name"] for r in mapped)

    def assign_client_roles(self, realm: str, client_id: str, username: str, roles: list[str]) -> None:
        """Map the client roles ``roles`` (which must exist) to the user."""
        self._map_client_roles("POST", realm, client_id, username, roles)

    def remove_client_roles(self, realm: str, client_id: str, username: str, roles: list[str]) -> None:
        self._map_client_roles("DELETE", realm, client_id, username, roles)

    def _map_client_roles(self, method: str, realm: str, client_id: str, username: str, roles: list[str]) -> None:
        user_id = self.user(realm, username)["id"]
        client_uuid = self.client(realm, client_id)["id"]
        bodies = [self.client_role(realm, client_id, role) for role in roles]
        self.request(method, f"/{quote(realm)}/users/{user_id}/role-mappings/clients/{client_uuid}", json=bodies)
