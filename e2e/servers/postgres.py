"""PostgreSQL on 127.0.0.1, with the chart's user and database made as bitnami's image makes them.

``start_postgres(supervisor)`` runs ``initdb`` (superuser ``postgres``, password
authentication for every connection, UTF8) and ``postgres -h 127.0.0.1 -p <port>
-k <socket dir>`` from the ``postgresql`` toolchain piece, data in the run's
folder, with ``fsync=off`` (nothing here needs to survive a crash). PostgreSQL
refuses to run as root: as root both run as the ``postgres`` user (``nobody``
where there is none) through ``setpriv``, with the run's folder opened for
traversal and the programs copied into it when that user cannot reach them.

``Postgres.create_chart_database(secret)`` does what the bitnami/postgresql
image does on its first boot (``libpostgresql.sh``) with the stack's Secret
values: the ``postgres`` superuser's password becomes ``postgres-password``;
``CREATE DATABASE <database>``; ``CREATE ROLE <username> WITH LOGIN CREATEDB
PASSWORD <password>``; ``GRANT ALL PRIVILEGES ON DATABASE``; and (PostgreSQL 15)
``ALTER DATABASE ... OWNER TO <username>``. ``set_password`` is ``ALTER USER``;
``can_login`` answers whether a password login works.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from e2e.servers.supervisor import HOST, Process, ServerStartError, Supervisor, claim_port, tool

POSTGRES_LIMIT = 60.0
SUPERUSER = "postgres"
USER_KEY, ADMIN_KEY = "password", "postgres-password"  # the Secret's keys (components/postgresql.py)


@dataclass
class Postgres:
    """A running PostgreSQL: where it is and the superuser's current password."""

    host: str
    port: int
    superuser_password: str
    data_dir: Path
    process: Process
    seconds: float

    def url(self, user: str, password: str, database: str) -> str:
        """``postgresql://`` URL (for ``sqlalchemy``/JupyterHub's ``db_url``)."""
        from urllib.parse import quote

        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{database}"

    def connect(self, user: str = SUPERUSER, password: str | None = None,
                database: str = "postgres") -> psycopg2.extensions.connection:
        """A connection over TCP with password authentication (the superuser's by default), autocommit on."""
        connection = psycopg2.connect(host=self.host, port=self.port, user=user, dbname=database, connect_timeout=10,
                                      password=self.superuser_password if password is None else password)
        connection.autocommit = True
        return connection

    def _execute(self, *statements: sql.Composable) -> None:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    def create_chart_database(self, secret: Mapping[str, str], username: str = "jhub",
                              database: str = "jhub") -> None:
        """User and database as the bitnami image creates them from the stack's Secret (see the module doc)."""
        user, db = sql.Identifier(username), sql.Identifier(database)
        self._execute(
            sql.SQL("CREATE DATABASE {}").format(db),
            sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(secret[ADMIN_KEY])),
        )
        self.superuser_password = secret[ADMIN_KEY]
        self._execute(
            sql.SQL("CREATE ROLE {} WITH LOGIN CREATEDB PASSWORD {}").format(user, sql.Literal(secret[USER_KEY])),
            sql.SQL("GRANT ALL PRIVILEGES ON DATABASE {} TO {}").format(db, user),
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, user),
        )

    def set_password(self, username: str, password: str) -> None:
        """``ALTER USER <username> WITH PASSWORD`` (as the superuser)."""
        self._execute(sql.SQL("ALTER USER {} WITH PASSWORD {}").format(sql.Identifier(username), sql.Literal(password)))
        if username == SUPERUSER:
            self.superuser_password = password

    def can_login(self, username: str, password: str, database: str) -> bool:
        """Whether ``username`` can log in to ``database`` with ``password`` (False on authentication failure)."""
        try:
            self.connect(username, password, database).close()
        except psycopg2.OperationalError as exc:
            if "password authentication failed" in str(exc):
                return False
            raise
        return True


def _service_user() -> pwd.struct_passwd | None:
    """Who runs PostgreSQL: ourselves, or (as root, which PostgreSQL refuses) ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ServerStartError("running as root, but neither a `postgres` nor a `nobody` user exists to run PostgreSQL")


def _as(user: pwd.struct_passwd | None, argv: list[str]) -> list[str]:
    if user is None:
        return argv
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--", *argv]


def _programs(supervisor: Supervisor, user: pwd.struct_passwd | None) -> Path:
    """The folder of ``initdb`` and ``postgres``, reachable by ``user``."""
    initdb = tool("postgresql", "initdb")
    real = initdb.resolve().parent
    if user is None or subprocess.run(_as(user, ["test", "-x", str(real / "postgres")])).returncode == 0:
        return real
    # The piece lives in root's cache, out of reach: a copy in the run's folder (it is removed with it).
    home = initdb.parent.parent
    copy = supervisor.run_dir / "postgresql-programs"
    shutil.copytree(home, copy, symlinks=True)
    return copy / "bin"


def start_postgres(supervisor: Supervisor, *, port: int | None = None, limit: float = POSTGRES_LIMIT) -> Postgres:
    """Initdb and postgres on 127.0.0.1 (see the module doc); ready when the superuser can log in."""
    user = _service_user()
    if user is not None:
        supervisor.run_dir.chmod(0o711)  # the service user must traverse it to reach its own folder
    programs = _programs(supervisor, user)
    folder = supervisor.path("postgresql")
    sockets = folder / "sockets"
    sockets.mkdir()
    password = secrets.token_urlsafe(18)
    pwfile = folder / "superuser-password"
    pwfile.write_text(password + "\n")
    if user is not None:
        for path in (folder, sockets, pwfile):
            os.chown(path, user.pw_uid, user.pw_gid)
    data = folder / "data"
    initdb = subprocess.run(
        _as(user, [str(programs / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                   "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"]),
        capture_output=True, text=True, cwd=folder, timeout=limit,
    )
    pwfile.unlink()
    if initdb.returncode != 0:
        raise ServerStartError(f"initdb failed (exit {initdb.returncode}):\n{initdb.stdout}{initdb.stderr}")
    tcp_port = claim_port(port, "PostgreSQL")
    process = supervisor.start("postgresql", _as(user, [
        str(programs / "postgres"), "-D", str(data), "-h", HOST, "-p", str(tcp_port), "-k", str(sockets),
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
    ]), cwd=folder, stop_signal=signal.SIGINT)  # SIGINT: fast shutdown (SIGTERM waits for clients)
    server = Postgres(HOST, tcp_port, password, data, process, 0.0)
    server.seconds = supervisor.wait_until(process, lambda: server.connect().close() is None, limit=limit,
                                           what="accepting logins")
    return server
