"""Keycloak on https://localhost:<port>, with a certificate from the run's CA.

``start_keycloak(supervisor, ca)`` runs the ``keycloak-server`` piece (Keycloak
26.5.5, pre-built by its build script for ``--db=dev-mem``) as
``kc.sh start --optimized``: production mode without re-running the Quarkus
build on every start, which ``start-dev`` does (it measured ~100 s of the ~4
minutes ``start-dev`` took here under load). Options: ``--http-enabled=false``
(https only), ``--http-host=127.0.0.1`` (the one bind address, for http and
https), ``--https-port``, ``--https-certificate-file``/``-key-file`` (a
certificate for ``localhost`` and ``127.0.0.1``), ``--hostname=https://localhost:<port>``
(so issuer URLs are stable), ``--cache=local`` (no cluster ports),
``--http-management-port`` (a free port: the management interface's default, 9000,
collides between two runs on one machine), and the bootstrap admin from
``KC_BOOTSTRAP_ADMIN_USERNAME``/``PASSWORD``. ``start-dev`` ignores
``--http-enabled=false`` (it still listened on 8080), another reason not to use it.

Each run gets a home of its own (``<run>/keycloak``): a copy of ``bin/`` and
links to the piece's ``lib``, ``conf``, ``providers`` and ``themes``, so runs
share the cached distribution read-only and write only their own ``data/``.
The admin REST helpers are in ``e2e/servers/keycloak_admin.py``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import requests

from e2e.servers.certs import CertificateAuthority
from e2e.servers.keycloak_admin import KeycloakAdmin
from e2e.servers.supervisor import HOST, MissingToolError, Process, Supervisor, claim_port, free_port, tool

KEYCLOAK_LIMIT = 300.0
#: Heap bounds: the default (70% of the machine's memory) is far more than a test realm needs.
HEAP = "-Xms64m -Xmx768m"


@dataclass
class Keycloak:
    """A running Keycloak: its base URL, bootstrap admin and CA."""

    url: str
    """``https://localhost:<port>`` (no path: Keycloak ≥ 17 has no ``/auth``)."""
    port: int
    admin_username: str
    admin_password: str
    ca_cert: Path
    process: Process
    seconds: float

    def admin(self) -> KeycloakAdmin:
        """An admin REST client logged in as the bootstrap admin (master realm, ``admin-cli``)."""
        return KeycloakAdmin(self.url, self.ca_cert, self.admin_username, self.admin_password)

    def issuer(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}"


def _run_home(supervisor: Supervisor, dist: Path) -> Path:
    home = supervisor.path("keycloak")
    shutil.copytree(dist / "bin", home / "bin")
    for name in ("lib", "conf", "providers", "themes", "version.txt"):
        (home / name).symlink_to(dist / name)
    (home / "data").mkdir()
    return home


def start_keycloak(supervisor: Supervisor, ca: CertificateAuthority, *, port: int | None = None,
                   admin_username: str = "admin", admin_password: str | None = None,
                   limit: float = KEYCLOAK_LIMIT, distribution: Path | None = None) -> Keycloak:
    """Keycloak over https on 127.0.0.1 (see the module doc); ready when the master realm's discovery answers.

    ``distribution``: another unpacked Keycloak, built with ``kc.sh build --db=dev-mem`` (to measure
    another version); by default the ``keycloak-server`` piece's.
    """
    dist = distribution or tool("keycloak-server", "kc.sh").resolve().parent.parent
    java = shutil.which("java", path=os.path.join(os.environ["JAVA_HOME"], "bin")) \
        if os.environ.get("JAVA_HOME") else shutil.which("java")
    if java is None:
        raise MissingToolError("Keycloak needs a JDK 17 or later: no `java` on PATH (or in JAVA_HOME)")
    https_port = claim_port(port, "Keycloak")
    management_port = free_port()
    url = f"https://localhost:{https_port}"
    password = admin_password or secrets.token_urlsafe(18)
    serving = ca.issue("keycloak")
    home = _run_home(supervisor, dist)
    env = dict(os.environ, KC_BOOTSTRAP_ADMIN_USERNAME=admin_username, KC_BOOTSTRAP_ADMIN_PASSWORD=password,
               JAVA_OPTS_KC_HEAP=HEAP)
    process = supervisor.start("keycloak", [
        home / "bin" / "kc.sh", "start", "--optimized", "--cache=local",
        "--http-enabled=false", f"--http-host={HOST}", f"--https-port={https_port}",
        f"--https-certificate-file={serving.cert_path}", f"--https-certificate-key-file={serving.key_path}",
        f"--hostname={url}", f"--http-management-port={management_port}",
    ], env=env, cwd=home, stop_timeout=30.0)
    discovery = f"{url}/realms/master/.well-known/openid-configuration"

    def ready() -> bool:
        response = requests.get(discovery, verify=str(ca.cert_path), timeout=5)
        return response.status_code == 200 and response.json().get("issuer") == f"{url}/realms/master"

    seconds = supervisor.wait_until(process, ready, limit=limit, what="serving the master realm over https")
    return Keycloak(url, https_port, admin_username, password, ca.cert_path, process, seconds)
