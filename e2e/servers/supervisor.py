"""Start server processes on loopback and stop exactly those, whatever happens.

``Supervisor`` owns a run: a temporary folder (``run_dir``) holding the servers'
data, logs (``logs/<name>.log``) and PID files (``pids/<name>.pid``), and the
processes it started. Each process runs in a process group of its own, so a
Ctrl-C at the terminal reaches only this Python process, which then stops them.
They are stopped (the stop signal, a bounded wait, then SIGKILL, to the group
whose leader is the PID started; then a wait until no member of the group is
left, so their ports are free again) when the ``with`` block ends normally or by an
exception, on SIGINT/SIGTERM (handlers clean up, then re-raise
``KeyboardInterrupt``/exit 128+signal) and at interpreter exit (``atexit``).
The folder is removed at the end unless ``keep=True`` or ``DOSSIER_E2E_KEEP=1``.

Every wait has a limit: ``wait_until`` raises ``ServerStartError`` naming the
server, the limit and the last lines of its log. ``tool()`` finds a program of
a built toolchain piece (``piece_file()`` any file of it) or raises
``MissingToolError`` naming the piece and ``make e2e-tools``. ``claim_port()`` gives a free port on 127.0.0.1, or checks
a fixed one (``PortInUseError``: "port N in use").
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any

HOST = "127.0.0.1"
LOG_TAIL_LINES = 25
#: Seconds a stopped process group's members (SIGKILLed) may take to exit.
GROUP_GONE_LIMIT = 10.0


class ServerError(Exception):
    """A server could not be started or used; the message says which and why."""


class ServerStartError(ServerError):
    """A server exited or did not answer within its limit (message: name, limit, log tail)."""


class PortInUseError(ServerError):
    """A fixed port asked for is taken on 127.0.0.1."""


class MissingToolError(ServerError):
    """A toolchain program is not built (message: the piece and ``make e2e-tools``)."""


@cache
def _environment_id() -> str:
    from e2e import tools

    return tools.environment_id()


def tool(piece: str, program: str) -> Path:
    """``program`` from the built piece ``e2e/toolchain/<piece>/`` in the per-user cache (never builds)."""
    return piece_file(piece, f"bin/{program}")


def piece_file(piece: str, relative: str) -> Path:
    """A file or folder of the built piece ``e2e/toolchain/<piece>/`` (``bin/...``, ``lib/...``; never builds)."""
    from e2e import tools

    try:
        (found,) = tools.pieces([piece])
    except tools.ToolchainError as exc:
        raise MissingToolError(f"no toolchain piece {piece!r} ({exc})") from None
    home = tools.cache_root() / "pieces" / f"{piece}-{found.key(_environment_id())}"
    path = home / relative
    if not (home / "VERSION").is_file() or not path.exists():
        raise MissingToolError(
            f"{Path(relative).name} is not built: toolchain piece e2e/toolchain/{piece} is not in the cache ({home}); "
            f"run `make e2e-tools` (or `python -m e2e.tools --only {piece}`)"
        )
    return path


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def claim_port(port: int | None, what: str) -> int:
    """``port`` if it is free on 127.0.0.1 (else ``PortInUseError``), or a free one when ``None``."""
    if port is None:
        return free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise PortInUseError(f"port {port} in use on {HOST}: cannot start {what} there ({exc.strerror}); "
                                 "free it or leave the port unset to get a free one") from None
    return port


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ("" if there is none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "".join(text.splitlines(keepends=True)[-lines:])


@dataclass
class Process:
    """One started server process (the leader of its own process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    pid_file: Path
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 20.0
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return tail(self.log, lines)


class Supervisor:
    """A run: its temporary folder, the processes started in it, and their clean-up (see the module doc)."""

    def __init__(self, name: str = "dossier-e2e", keep: bool | None = None) -> None:
        self.keep = keep if keep is not None else os.environ.get("DOSSIER_E2E_KEEP", "") not in ("", "0")
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.logs = self.run_dir / "logs"
        self.pids = self.run_dir / "pids"
        self.logs.mkdir()
        self.pids.mkdir()
        self.processes: list[Process] = []
        self._lock = threading.RLock()
        self._closed = False
        self._previous: dict[int, Any] = {}
        atexit.register(self.close)
        self._install_handlers()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def path(self, *parts: str) -> Path:
        """A folder inside the run's folder, created if needed."""
        folder = self.run_dir.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def start(self, name: str, argv: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None,
              cwd: Path | None = None, stop_signal: int = signal.SIGTERM, stop_timeout: float = 20.0) -> Process:
        """Start ``argv`` in a new process group, output to ``logs/<name>.log``, PID in ``pids/<name>.pid``."""
        with self._lock:
            if self._closed:
                raise ServerError(f"cannot start {name}: the run is already stopped")
            log = self.logs / f"{name}.log"
            with log.open("ab") as out:
                popen = subprocess.Popen(
                    [str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=cwd, env=dict(env) if env is not None else None, start_new_session=True,
                )
            pid_file = self.pids / f"{name}.pid"
            pid_file.write_text(f"{popen.pid}\n")
            process = Process(name, popen, log, pid_file, stop_signal, stop_timeout)
            self.processes.append(process)
            return process

    def wait_until(self, process: Process, probe: Callable[[], object], *, limit: float,
                   what: str = "ready", interval: float = 0.5) -> float:
        """Seconds until ``probe()`` is truthy; ``ServerStartError`` if the process exits or ``limit`` passes."""
        started = time.monotonic()
        last = "no answer yet"
        while True:
            code = process.popen.poll()
            if code is not None:
                raise ServerStartError(f"{process.name} exited with code {code} before it was {what}; "
                                       f"last lines of {process.log}:\n{process.log_tail()}")
            try:
                if probe():
                    return time.monotonic() - started
                last = "not ready"
            except Exception as exc:  # a probe failing is the normal "not yet"
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started > limit:
                raise ServerStartError(f"{process.name} was not {what} within its limit of {limit:.0f} s "
                                       f"(last check: {last}); last lines of {process.log}:\n{process.log_tail()}")
            time.sleep(interval)

    def stop(self, process: Process) -> None:
        """Stop one process: its stop signal to its group, a bounded wait, then SIGKILL."""
        pgid = process.pid  # the leader's PID: start_new_session made it the group id
        if process.alive():
            _signal_group(pgid, process.stop_signal)
            try:
                process.popen.wait(process.stop_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                process.popen.wait(10)
            # Members the leader left behind, just reaped, are ours too (the id is not reused while they live).
            _signal_group(pgid, signal.SIGKILL)
        # Gone means gone: until every member has exited, a port it held may still be bound.
        _wait_group_gone(pgid, GROUP_GONE_LIMIT)
        process.pid_file.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop every process started (last first), restore signal handlers, remove the folder unless kept."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for process in reversed(self.processes):
            self.stop(process)
        self._restore_handlers()
        atexit.unregister(self.close)
        if self.keep:
            print(f"kept the run's folder (DOSSIER_E2E_KEEP): {self.run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    # --- signals ----------------------------------------------------------------

    def _install_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; atexit and __exit__ still clean up
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._on_signal)

    def _restore_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, previous)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # A second Ctrl-C must not interrupt the clean-up: ignore both signals until it is done.
        handlers, self._previous = self._previous, {}
        for other in handlers:
            signal.signal(other, signal.SIG_IGN)
        self.close()
        for other, handler in handlers.items():
            signal.signal(other, handler)
        previous = handlers.get(signum)
        if callable(previous):
            previous(signum, frame)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process of group ``pgid`` is left.

    A zombie holds no port, and where PID 1 reaps nothing it would stay forever.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _wait_group_gone(pgid: int, limit: float) -> None:
    """Wait until no live process of group ``pgid`` is left (SIGKILLed members exit at once)."""
    deadline = time.monotonic() + limit
    while _group_alive(pgid):
        if time.monotonic() > deadline:
            raise ServerError(f"process group {pgid} still has members {limit:.0f} s after SIGKILL")
        time.sleep(0.05)
