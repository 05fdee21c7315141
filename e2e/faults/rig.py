"""The rig every fault case runs on: one server set, one stack, the CLI as a process, the injections.

``Rig`` holds the run's ``Supervisor``, ``Servers`` and one ``E2EStack`` (the
unmodified program under the real CLI, ``e2e/stack.py``). A case drives the CLI
as an operator would: ``rig.pulumi(...)`` starts ``pulumi <args> --stack e2e
--non-interactive`` as a process of its own (its output in ``logs/cli-<n>.log``
of the run's folder), so that a case can signal or kill it; ``rig.run(...)``
waits for it. ``rig.wait_for_state(...)`` polls the backend's state file until
an update has recorded what the case waits for (the first created object, an
operation in flight) and is how a case times an injection: no sleeps.

Injections, each on what this run started: ``freeze_keycloak``/``thaw_keycloak``
(SIGSTOP/SIGCONT to Keycloak's process group: its database lives in memory, so
it is paused, not restarted), ``freeze_api_server``, ``kill_api_server`` and
``restart_api_server`` (SIGSTOP, SIGKILL, then the same command line on the same
port over the same etcd), and
``controllers(...)``: kube-controller-manager with all its controllers, or
without the namespace controller (started again with ``--controllers``).

``rig.differences()`` is the check every case ends with: what Keycloak and the
API server hold of the stack against ``pulumi stack export`` (``compare.py``),
plus the operations an interrupted update left in the state.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psutil
import requests
import yaml

from e2e import checks, state
from e2e.faults.compare import differences, pending_operations
from e2e.hub import Hub
from e2e.servers import Servers, Supervisor
from e2e.stack import E2EStack, Toolchain

#: The research group every case starts from (its role and Tenant exist throughout).
BASE_GROUPS = ("genomics",)
#: dossier:deleteTimeout of the e2e stack: short enough for CI, long enough for a healthy delete here.
DELETE_TIMEOUT = "15s"
CLI_LIMIT = 600.0
#: kube-controller-manager's ``--controllers`` for ``Rig.controllers``.
CONTROLLERS = {"all": "*", "gc": "*,-namespace-controller"}


class CaseFailedError(Exception):
    """A promise of docs/operations.md, "Faults", does not hold; the message says which, naming the objects."""


@dataclass
class CliRun:
    """One CLI command running in a session of its own; its output goes to ``log``."""

    args: tuple[str, ...]
    log: Path
    popen: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, limit: float = CLI_LIMIT) -> int:
        """The exit code; a run still going after ``limit`` seconds is killed and ``CaseFailedError`` raised."""
        try:
            return self.popen.wait(limit)
        except subprocess.TimeoutExpired:
            self.kill_tree()
            raise CaseFailedError(f"`pulumi {' '.join(self.args)}` still ran after {limit:.0f} s "
                                  f"(killed; output in {self.log})") from None

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def send(self, signum: int) -> None:
        """``signum`` to the CLI process alone (as a CI runner cancelling a job sends SIGTERM)."""
        self.popen.send_signal(signum)

    def kill_tree(self) -> list[int]:
        """SIGKILL the CLI and every process it started (plugins, the program), as a killed CI job loses all.

        The plugins run in process groups of their own, so the CLI's group is not enough;
        the PIDs are read from the CLI's process tree before anything is killed.
        """
        try:
            tree = [psutil.Process(self.pid), *psutil.Process(self.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(tree, timeout=10)
        self.popen.wait(10)
        return [p.pid for p in tree]


@dataclass
class Rig:
    """The servers, the stack and what the cases share (see the module doc)."""

    supervisor: Supervisor
    servers: Servers
    tools: Toolchain
    stack: E2EStack
    logs: Path
    groups: list[str] = field(default_factory=lambda: list(BASE_GROUPS))
    protect: bool = False
    frozen: bool = False
    database_ready: bool = False
    """The chart's user and database exist in PostgreSQL (``Postgres.create_chart_database``)."""
    hub: Hub | None = None
    hubs: int = 0
    """Hubs started so far (each gets a run folder of its own)."""
    _controllers_kind: str = "all"
    _runs: int = 0
    #: A ``file://`` backend (its metadata sidecars are part of the recovery); a bucket has none.
    file_backend: ClassVar[bool] = True

    @classmethod
    def create(cls, supervisor: Supervisor, servers: Servers, tools: Toolchain) -> Rig:
        stack = E2EStack(supervisor.path("stack"), tools, echo=False)
        rig = cls(supervisor, servers, tools, stack, supervisor.path("logs", "cli"))
        config, secrets = checks.stack_config(servers, groups=list(BASE_GROUPS), protect=False)
        config["dossier:deleteTimeout"] = DELETE_TIMEOUT
        stack.configure(config, secrets)
        return rig

    def close(self) -> None:
        self.thaw_keycloak()
        self.thaw_api_server()
        if self.hub is not None:
            self.hub.stop()

    # --- config -------------------------------------------------------------------

    def configure(self, *, groups: list[str] | None = None, protect: bool | None = None) -> None:
        """Set ``dossier:tenants`` (names) and ``dossier:protectData`` in the stack's file."""
        values: dict[str, Any] = {}
        if groups is not None:
            self.groups = list(groups)
            values["dossier:tenants"] = checks.tenants_config(groups)
        if protect is not None:
            self.protect = protect
            values["dossier:protectData"] = protect
        self.stack.configure(values)

    # --- the CLI --------------------------------------------------------------------

    def pulumi(self, *args: str, env: dict[str, str] | None = None) -> CliRun:
        """Start ``pulumi <args> --stack <stack> --non-interactive --color never`` (see the module doc)."""
        self._runs += 1
        log = self.logs / f"cli-{self._runs:02d}-{args[0]}.log"
        argv = [str(self.stack.workspace.pulumi_command.command), *args, "--stack", self.stack.name,
                "--non-interactive", "--color", "never"]
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, cwd=self.stack.project, env={**os.environ, **self.stack.env, **(env or {})},
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return CliRun(tuple(args), log, popen)

    def run(self, *args: str, env: dict[str, str] | None = None, limit: float = CLI_LIMIT) -> CliRun:
        run = self.pulumi(*args, env=env)
        run.wait(limit)
        return run

    def up(self, *extra: str, env: dict[str, str] | None = None) -> CliRun:
        """``pulumi up --yes --skip-preview``, which must succeed."""
        run = self.run("up", "--yes", "--skip-preview", *extra, env=env)
        if run.popen.returncode != 0:
            raise CaseFailedError(f"`pulumi up` failed: {last_error(run.output)} (output in {run.log})")
        return run

    # --- the state ------------------------------------------------------------------

    @property
    def backend_dir(self) -> Path:
        """The folder of the stack's ``file://`` backend."""
        return Path(self.stack.env["PULUMI_BACKEND_URL"].removeprefix("file://"))

    @property
    def state_file(self) -> Path:
        project = yaml.safe_load((self.stack.project / "Pulumi.yaml").read_text())["name"]
        return self.backend_dir / ".pulumi" / "stacks" / project / f"{self.stack.name}.json"

    @property
    def lock_dir(self) -> Path:
        return self.backend_dir / ".pulumi" / "locks"

    def locks(self) -> list[Path]:
        return sorted(p for p in self.lock_dir.rglob("*.json")) if self.lock_dir.is_dir() else []

    def wait_until(self, probe: Callable[[], object], limit: float, what: str) -> float:
        """Seconds until ``probe()`` is truthy; ``CaseFailedError`` naming ``what`` after ``limit``."""
        started = time.monotonic()
        while not probe():
            if time.monotonic() - started > limit:
                raise CaseFailedError(f"{what}: not within {limit:.0f} s")
            time.sleep(0.2)
        return time.monotonic() - started

    def wait_for_lock(self, run: CliRun, limit: float = 120.0) -> float:
        """Seconds until ``run`` holds the stack's lock (a lock file in the backend); ``CaseFailedError`` otherwise."""
        started = time.monotonic()
        while not self.locks():
            if not run.alive():
                raise CaseFailedError(f"`pulumi {' '.join(run.args)}` ended before it held the lock: "
                                      f"{last_error(run.output)}")
            if time.monotonic() - started > limit:
                raise CaseFailedError(f"no lock appeared within {limit:.0f} s")
            time.sleep(0.05)
        return time.monotonic() - started

    def checkpoint(self) -> dict[str, Any] | None:
        """The latest snapshot in the state file as the CLI last wrote it (None while it is being written)."""
        try:
            document = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        latest = (document.get("checkpoint") or {}).get("latest")
        return dict(latest) if isinstance(latest, dict) else {}

    def wait_for_state(self, what: str, test: Callable[[dict[str, Any]], bool], run: CliRun,
                       limit: float = 300.0) -> dict[str, Any]:
        """The first snapshot that satisfies ``test``; ``CaseFailedError`` if ``run`` ends first or time is up."""
        started = time.monotonic()
        while True:
            snapshot = self.checkpoint()
            if snapshot is not None and test(snapshot):
                return snapshot
            if not run.alive():
                raise CaseFailedError(f"`pulumi {' '.join(run.args)}` ended (exit {run.popen.returncode}) before the "
                                      f"state showed {what}: {last_error(run.output)}")
            if time.monotonic() - started > limit:
                run.kill_tree()
                raise CaseFailedError(f"the state did not show {what} within {limit:.0f} s")
            time.sleep(0.05)

    def deployment(self) -> dict[str, Any]:
        return self.stack.deployment()

    def differences(self) -> list[str]:
        """What the servers and the state disagree on, and operations left pending: each named; [] when none."""
        exported = self.deployment()
        resources = exported.get("deployment", {}).get("resources") or []
        found = differences(state.inventory(self.servers), state.state_inventory(resources))
        return found + [f"pending operation in the state: {op}" for op in pending_operations(exported)]

    def assert_converged(self) -> None:
        """The servers hold exactly what the state says, nothing is pending, and a preview has nothing to do."""
        problems = self.differences()
        if problems:
            raise CaseFailedError("; ".join(problems))
        preview = self.run("preview", "--expect-no-changes")
        if preview.popen.returncode != 0:
            raise CaseFailedError(f"`pulumi preview --expect-no-changes` found changes: {last_error(preview.output)} "
                                  f"(output in {preview.log})")

    # --- injections -------------------------------------------------------------------

    def freeze_keycloak(self) -> None:
        assert self.servers.keycloak
        os.killpg(self.servers.keycloak.process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw_keycloak(self) -> None:
        if self.frozen and self.servers.keycloak:
            os.killpg(self.servers.keycloak.process.pid, signal.SIGCONT)
            self.frozen = False

    def freeze_api_server(self) -> None:
        """SIGSTOP kube-apiserver: what it has not answered yet, it never will (``kill_api_server`` next)."""
        assert self.servers.cluster
        os.killpg(self.servers.cluster.apiserver.pid, signal.SIGSTOP)

    def thaw_api_server(self) -> None:
        assert self.servers.cluster
        if self.servers.cluster.apiserver.alive():
            os.killpg(self.servers.cluster.apiserver.pid, signal.SIGCONT)

    def kill_api_server(self) -> None:
        assert self.servers.cluster
        process = self.servers.cluster.apiserver
        os.killpg(process.pid, signal.SIGKILL)
        process.popen.wait(30)

    def restart_api_server(self) -> float:
        """The same kube-apiserver command line again (same port, same etcd); seconds until ``/readyz``."""
        cluster = self.servers.cluster
        assert cluster
        if cluster.apiserver.alive():
            return 0.0
        argv = [str(a) for a in cluster.apiserver.popen.args]  # type: ignore[union-attr]
        process = self.supervisor.start("kube-apiserver", argv)
        cluster.apiserver = process
        ready = f"{cluster.url}/readyz"
        return self.supervisor.wait_until(
            process, lambda: requests.get(ready, verify=str(cluster.ca_cert), timeout=5).status_code == 200,
            limit=180, what="ready again (/readyz)")

    def controllers(self, kind: str) -> None:
        """``all``: kube-controller-manager with every controller; ``gc``: without the namespace controller."""
        if kind == self._controllers_kind:
            return
        if kind not in CONTROLLERS:
            raise ValueError(f"unknown controllers {kind!r}")
        assert self.servers.cluster
        self.servers.cluster.restart_controller_manager(CONTROLLERS[kind])
        self._controllers_kind = kind

    @contextlib.contextmanager
    def keycloak_frozen(self) -> Iterator[None]:
        self.freeze_keycloak()
        try:
            yield
        finally:
            self.thaw_keycloak()


# --- reading the CLI's output ---------------------------------------------------------------

_SPACES = re.compile(r"\s+")
#: The Terraform bridge's prefix and suffix around a provider's own message.
_BRIDGE = re.compile(r"sdk-v2/provider2\.go:\d+: sdk\.helper_schema: |: provider=\S+$")


#: A URN in a message: its resource's name says the same, shorter.
_URN = re.compile(r'"?urn:pulumi:[^"\s]*::([^"\s]+)"?')


def squeeze(text: str, limit: int = 220) -> str:
    """One line: spaces collapsed, the bridge's wrapping and URNs' prefixes dropped, at most ``limit`` characters."""
    text = _SPACES.sub(" ", _URN.sub(r"\1", _BRIDGE.sub("", text.strip()))).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diagnostics(output: str) -> list[tuple[str, str]]:
    """(``type (name)``, first error line) of each resource in the last ``Diagnostics:`` section."""
    if "Diagnostics:" not in output:
        return []
    section = output.rsplit("Diagnostics:", 1)[1].split("\nOutputs:", 1)[0].split("\nResources:", 1)[0]
    found: list[tuple[str, str]] = []
    header = ""
    for line in section.splitlines():
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            header = line.strip().rstrip(":")
        elif line.strip().startswith("error:") and header and (not found or found[-1][0] != header):
            found.append((header, line.strip().removeprefix("error:").strip()))
    return found


def last_error(output: str) -> str:
    """The error the operator should read first: a resource's diagnostic, else the last ``error:`` line."""
    for header, error in diagnostics(output):
        if error not in ("update failed", "preview failed"):
            return squeeze(f"{header}: {error}")
    errors = [line.strip() for line in output.splitlines() if line.strip().startswith("error:")]
    return squeeze(errors[-1]) if errors else "(no error line)"
