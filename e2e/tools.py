"""The end-to-end toolchain: build each piece once into a per-user cache (``make e2e-tools``).

A piece is a folder of ``e2e/toolchain/`` holding its pins (a Go module with
``go.mod`` and ``go.sum``, a pip requirements file with hashes, an npm lock, a
Maven coordinate) and a ``build`` script. ``build OUT`` writes the piece's
programs to ``OUT/bin/`` and one line saying what they are to ``OUT/VERSION``.

The cache key of a piece is the SHA-256 of every file in its folder, the Go
version and the platform: a piece is rebuilt only when one of its pins (or its
build script) changes. Built pieces live in
``${DOSSIER_E2E_CACHE:-${XDG_CACHE_HOME:-~/.cache}/dossier-e2e}/pieces/<name>-<key>/``;
Go's module and build caches sit beside them, so a second run is warm.

Usage: ``python -m e2e.tools [--only NAME ...] [--jobs N] [--print-path]``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PINS = Path(__file__).resolve().parent / "toolchain"
#: The longest builds (measured, docs/e2e.md) start first, so a cold build ends sooner.
LONGEST_FIRST = ("kubernetes", "kube-control-plane", "keycloak", "random", "pulumi", "etcd")


def cache_root() -> Path:
    """Per-user cache, outside the work tree."""
    explicit = os.environ.get("DOSSIER_E2E_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dossier-e2e"


class ToolchainError(Exception):
    """A piece could not be built; the message names it and its log."""


@dataclass(frozen=True)
class Piece:
    name: str
    folder: Path

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)

    def key(self, environment: str) -> str:
        digest = hashlib.sha256(environment.encode())
        for path in self.files():
            digest.update(str(path.relative_to(self.folder)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Built:
    piece: Piece
    home: Path
    cached: bool
    seconds: float

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    @property
    def version(self) -> str:
        return (self.home / "VERSION").read_text().strip()


def pieces(only: Iterable[str] | None = None) -> list[Piece]:
    """The pieces under ``e2e/toolchain/`` (every folder with a ``build`` script)."""
    found = {p.name: Piece(p.name, p) for p in sorted(PINS.iterdir()) if (p / "build").is_file()}
    if only is None:
        rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
        return sorted(found.values(), key=lambda piece: rank.get(piece.name, len(rank)))
    wanted = list(only)
    unknown = [name for name in wanted if name not in found]
    if unknown:
        raise ToolchainError(f"unknown piece(s) {', '.join(unknown)}; known: {', '.join(found)}")
    return [found[name] for name in wanted]


def _go_version() -> str:
    try:
        out = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "no-go"
    return out.strip()


def environment_id() -> str:
    """What, besides a piece's own files, changes its build: the Go version and the platform."""
    return f"{_go_version()} {platform.system()} {platform.machine()}"


def build_env(cache: Path) -> dict[str, str]:
    """Environment of every build script: Go's caches in the per-user cache, static binaries."""
    go = cache / "go"
    env = dict(os.environ)
    env.update(
        GOPATH=str(go),
        GOMODCACHE=str(go / "mod"),
        GOCACHE=str(go / "build"),
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        GOFLAGS="-trimpath -buildvcs=false -mod=readonly",
        DOSSIER_E2E_CACHE=str(cache),
        # Maven and npm keep their downloads in the same cache.
        MAVEN_OPTS=f"{env.get('MAVEN_OPTS', '')} -Dmaven.repo.local={cache / 'm2'}".strip(),
        npm_config_cache=str(cache / "npm"),
        PIP_CACHE_DIR=str(cache / "pip"),
        # The CLI logs every command, `pulumi version` too, into PULUMI_HOME/logs: not the user's ~/.pulumi.
        PULUMI_HOME=str(pulumi_home(cache)),
        # The project's interpreter, for `python -m e2e.upstream` (a piece's upstream sources).
        DOSSIER_E2E_PYTHON=sys.executable,
    )
    return env


def pulumi_home(cache: Path | None = None) -> Path:
    """The ``PULUMI_HOME`` of the CLI's calls outside a stack (version checks): its logs stay in the cache."""
    return (cache or cache_root()) / "pulumi-home"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_piece(piece: Piece, cache: Path | None = None, environment: str | None = None) -> Built:
    """The piece from the cache, or built now (under a lock, so parallel runs build it once)."""
    cache = cache or cache_root()
    key = piece.key(environment or environment_id())
    home = cache / "pieces" / f"{piece.name}-{key}"
    started = time.monotonic()
    with _locked(cache / "locks" / f"{piece.name}-{key}.lock"):
        if (home / "VERSION").is_file():
            return Built(piece, home, cached=True, seconds=time.monotonic() - started)
        log = cache / "logs" / f"{piece.name}-{key}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        home.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{piece.name}-", dir=home.parent))
        try:
            with log.open("w") as out:
                result = subprocess.run(
                    ["bash", str(piece.folder / "build"), str(work)],
                    cwd=piece.folder,
                    env=build_env(cache),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if result.returncode != 0 or not (work / "VERSION").is_file():
                tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
                why = f"exit {result.returncode}" if result.returncode else "no VERSION written"
                raise ToolchainError(f"building {piece.name} failed ({why}); log: {log}\n{tail}")
            work.rename(home)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return Built(piece, home, cached=False, seconds=time.monotonic() - started)


def ensure(only: Iterable[str] | None = None, jobs: int = 3, report: bool = False) -> dict[str, Built]:
    """Every piece (or those named), built in parallel where missing; raises ``ToolchainError``."""
    selected = pieces(only)
    cache = cache_root()
    environment = environment_id()
    failures: list[str] = []
    built: dict[str, Built] = {}

    def one(piece: Piece) -> None:
        try:
            result = ensure_piece(piece, cache, environment)
        except ToolchainError as exc:
            failures.append(str(exc))
            if report:
                print(f"{piece.name:<18} FAILED", flush=True)
            return
        built[piece.name] = result
        if report:
            how = "cached" if result.cached else f"built in {result.seconds:.0f} s"
            print(f"{piece.name:<18} {result.version}  ({how})", flush=True)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, selected))
    if failures:
        raise ToolchainError("\n".join(failures))
    return {p.name: built[p.name] for p in selected}


def search_path(built: dict[str, Built], base: str | None = None) -> str:
    """``PATH`` with every piece's ``bin/`` first (the engine finds ambient plugins there)."""
    dirs = [str(b.bin) for b in built.values() if b.bin.is_dir()]
    return os.pathsep.join([*dirs, base if base is not None else os.environ.get("PATH", "")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.tools", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="build only these pieces")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("DOSSIER_E2E_JOBS", "3")),
                        help="pieces built at once (Go parallelises each build too)")
    parser.add_argument("--print-path", action="store_true", help="print the PATH that puts the toolchain first")
    args = parser.parse_args(argv)
    started = time.monotonic()
    print(f"toolchain cache: {cache_root()}  ({environment_id()})", flush=True)
    try:
        built = ensure(args.only, jobs=args.jobs, report=True)
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"toolchain ready in {time.monotonic() - started:.0f} s", flush=True)
    if args.print_path:
        print(search_path(built))
    return 0


if __name__ == "__main__":
    sys.exit(main())
