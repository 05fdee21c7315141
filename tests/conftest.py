"""Shared fixtures: runs of the real program against the engine stand-in (offline/engine.py)."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Imported at collection on purpose: hypothesis's pytest plugin otherwise imports it in
# the terminal summary, where CPython 3.11.7's ast.parse can fail with "AST constructor
# recursion depth mismatch" (fixed in 3.11.8) after the SDK's nested event-loop pumping.
import hypothesis  # noqa: F401
import pytest

from offline import schemas
from offline.engine import ROOT, RunResult
from tests.stacks import run_stack

# The schema checks run strict (docs/schemas.md): the pinned upstream files come from DOSSIER_UPSTREAM,
# set here to ../shared/upstream when that folder sits beside the checkout and nothing else was chosen,
# else from the per-user cache or a download. A test that needs them fails when no source has them,
# unless DOSSIER_ALLOW_UNCHECKED=1 (`make test ALLOW_UNCHECKED=1`) lets it skip.
_BESIDE = ROOT.parent / "shared" / "upstream"
if not os.environ.get(schemas.ENV_DIRECTORY) and _BESIDE.is_dir():
    os.environ[schemas.ENV_DIRECTORY] = str(_BESIDE)
ALLOW_UNCHECKED = os.environ.get("DOSSIER_ALLOW_UNCHECKED", "") not in ("", "0")


@pytest.fixture(scope="session")
def dev() -> RunResult:
    """One run of the tests' dev stack (tests/fixtures/stacks), shared by read-only tests."""
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> RunResult:
    """One run of the tests' production-shaped stack (protection on, a research group, a secure value)."""
    return run_stack("prod")


@pytest.fixture
def run_program():
    """Run the program with the tests' dev stack plus overrides: ``run_program(tenants=[...])``."""
    return run_stack


def _missing_upstream() -> dict[str, schemas.SchemaUnavailable]:
    """The pinned files no source provides (looked up once per process: ``schemas.resolve`` keeps the answer)."""
    missing = {}
    for name in schemas.PINS:
        try:
            schemas.resolve(name)
        except schemas.SchemaUnavailable as exc:
            missing[name] = exc
    return missing


def pytest_report_header() -> list[str]:
    missing = _missing_upstream()
    if not missing:
        where = {str(schemas.resolve(name)[0].parent) for name in schemas.PINS}
        return [f"pinned upstream files: all {len(schemas.PINS)} from {', '.join(sorted(where))}"]
    mode = "skipped (DOSSIER_ALLOW_UNCHECKED)" if ALLOW_UNCHECKED else "FAIL"
    return [f"pinned upstream files: {len(missing)} missing, the tests that need them {mode}: {', '.join(missing)}"]


@pytest.fixture
def upstream() -> None:
    """The pinned upstream files, from any source; strict: a test fails when one is missing."""
    missing = _missing_upstream()
    if not missing:
        return
    first = next(iter(missing.values()))
    message = "\n".join([
        f"pinned upstream files missing: {', '.join(missing)}",
        f"  {first.name}: {'; '.join(first.reasons)}",
        "Provide them in one of two ways:",
        *(f"  {line}" for line in schemas.how_to_provide(cluster=False)),
        "Or skip the tests that need them: DOSSIER_ALLOW_UNCHECKED=1 (make test ALLOW_UNCHECKED=1).",
    ])
    if ALLOW_UNCHECKED:
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{unused_port()}"


@pytest.fixture
def no_schemas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> schemas.Sources:
    """No source of pinned files: DOSSIER_UPSTREAM unset, an empty cache, downloads to a closed port."""
    monkeypatch.delenv(schemas.ENV_DIRECTORY, raising=False)
    monkeypatch.setenv(schemas.ENV_CACHE, str(tmp_path / "empty-cache"))
    monkeypatch.setenv(schemas.ENV_MIRROR, f"http://127.0.0.1:{unused_port()}")
    return schemas.Sources.from_env()


class LocalServer:
    """An HTTP server on 127.0.0.1 answering ``routes`` (path -> status, body); it records each request.

    Header names are recorded in lower case.
    """

    def __init__(self, routes: dict[str, tuple[int, bytes]]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, body = server.routes.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body[:1] == b"{" else "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def local_server() -> Iterator[Callable[[dict[str, tuple[int, bytes]]], LocalServer]]:
    """Start local HTTP servers: ``local_server(routes)``; all are stopped when the test ends, also on failure."""
    started: list[LocalServer] = []

    def start(routes: dict[str, tuple[int, bytes]]) -> LocalServer:
        started.append(LocalServer(routes))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()
