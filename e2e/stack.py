"""The real program under the real CLI: a stack driven through ``pulumi.automation``.

``E2EStack`` copies the program as it is (``__main__.py``, ``components/``,
``Pulumi.yaml``) and the published charts it installs (``e2e/charts.py``: as
``charts/``, named in the config as the relative mirror ``file://charts``, as an
air-gapped operator fills one with ``helm pull``) into the run's folder, with
``.venv`` a link to this checkout's virtualenv (``Pulumi.yaml``'s
``runtime.options.virtualenv``: the language host runs the program with it; nothing
Python goes on ``PATH``), and runs the toolchain's CLI there with a ``file://`` backend and a
passphrase, offline engine settings and the toolchain's plugins first on ``PATH``:

- ``PULUMI_SKIP_UPDATE_CHECK``, ``PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION``:
  the plugins are the toolchain's binaries on ``PATH`` (ambient plugins);
- ``PULUMI_HOME`` in the run's folder: nothing of the user's own Pulumi setup
  is read or written.

Object config values are written to ``Pulumi.<stack>.yaml`` as YAML (as an
operator writes them); secrets go through ``pulumi config set --secret``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from e2e import charts, tools

ROOT = Path(__file__).resolve().parent.parent
#: Where the program under test comes from: this checkout, or another tree (``DOSSIER_E2E_PROGRAM``),
#: e.g. a deliberately broken copy that the suite must catch (docs/e2e.md).
PROGRAM_ROOT = Path(os.environ.get("DOSSIER_E2E_PROGRAM") or ROOT).resolve()
PROGRAM = ("__main__.py", "Pulumi.yaml", "components")
#: The local chart mirror in the project's copy (``chartRepository: file://charts``).
MIRROR = "charts"
PASSPHRASE = "dossier-e2e-throwaway"


@dataclass(frozen=True)
class Toolchain:
    """The built pieces and the ``PATH`` that puts them first."""

    built: Mapping[str, tools.Built]

    @property
    def cli_home(self) -> Path:
        return self.built["pulumi"].home

    def path(self) -> str:
        return tools.search_path(dict(self.built))

    def versions(self) -> dict[str, str]:
        return {name: b.version for name, b in self.built.items()}


def toolchain(only: Iterable[str] | None = None) -> Toolchain:
    """The toolchain from the cache (built where missing: ``make e2e-tools`` does it up front).

    It also gives this process a ``PULUMI_HOME`` in the cache where none is set: the automation
    API's version check runs ``pulumi version`` with this process's environment, and the CLI
    logs every command into ``PULUMI_HOME/logs`` (the user's ``~/.pulumi`` otherwise). Every
    stack sets a ``PULUMI_HOME`` of its own.
    """
    os.environ.setdefault("PULUMI_HOME", str(tools.pulumi_home()))
    return Toolchain(tools.ensure(only))


def _ignore(_: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith(".pyc")}


def copy_program(dest: Path, program: Path | None = None) -> Path:
    """The program (``PROGRAM_ROOT``'s, or ``program``'s), the published charts under ``charts/`` and ``.venv``.

    ``.venv`` is a link to this checkout's virtualenv.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROGRAM:
        source = (program or PROGRAM_ROOT) / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=_ignore)
        else:
            shutil.copy2(source, dest / name)
    charts.mirror(dest / MIRROR)
    return link_virtualenv(dest)


def link_virtualenv(project: Path) -> Path:
    """``project/.venv``, the virtualenv its ``Pulumi.yaml`` names, a link to this checkout's (which has the SDKs)."""
    (project / ".venv").symlink_to(ROOT / ".venv")
    return project


class Phase:
    """Prints each phase's wall time (``make e2e`` shows where the minutes go)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = 0.0

    def __enter__(self) -> Phase:
        self.started = time.monotonic()
        print(f"\n--- {self.name}", flush=True)
        return self

    def __exit__(self, *exc: object) -> None:
        outcome = "failed" if exc[0] else "ok"
        print(f"--- {self.name}: {outcome} in {time.monotonic() - self.started:.1f} s", flush=True)


class E2EStack:
    """One stack of the program in ``folder`` (its project copy, state, Pulumi home)."""

    def __init__(self, folder: Path, tools_: Toolchain, *, name: str = "e2e",
                 env: Mapping[str, str] | None = None, echo: bool = True,
                 program: Callable[[Path], Path] = copy_program) -> None:
        """``program`` writes the project into the folder it is given (another project: the consumer's)."""
        self.folder = folder
        self.name = name
        self.project = program(folder / "project")
        state = folder / "state"
        state.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self.env = {
            "PATH": tools_.path(),
            "PULUMI_HOME": str(folder / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SUPPRESS_COPILOT_LINK": "true",
            **(env or {}),
        }
        self.workspace = auto.LocalWorkspace(
            work_dir=str(self.project),
            pulumi_home=self.env["PULUMI_HOME"],
            env_vars=self.env,
            pulumi_command=auto.PulumiCommand(root=str(tools_.cli_home)),
        )
        self.stack = auto.Stack.create_or_select(name, self.workspace)

    # --- config -----------------------------------------------------------------------

    @property
    def settings_file(self) -> Path:
        return self.project / f"Pulumi.{self.name}.yaml"

    def config(self) -> dict[str, Any]:
        data = yaml.safe_load(self.settings_file.read_text()) if self.settings_file.is_file() else None
        return dict((data or {}).get("config") or {})

    def configure(self, values: Mapping[str, Any], secrets: Mapping[str, str] | None = None) -> None:
        """Set plain values (objects as YAML) and secrets (encrypted by the CLI); ``None`` removes a key."""
        data = yaml.safe_load(self.settings_file.read_text()) if self.settings_file.is_file() else {}
        data = data or {}
        config = dict(data.get("config") or {})
        for key, value in values.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        data["config"] = config
        self.settings_file.write_text(yaml.safe_dump(data, sort_keys=True))
        for key, secret in (secrets or {}).items():
            self.stack.set_config(key, auto.ConfigValue(value=secret, secret=True))

    # --- operations ---------------------------------------------------------------------

    def _out(self) -> Callable[[str], None] | None:
        return (lambda line: print(f"    {line}", end="" if line.endswith("\n") else "\n", flush=True)) \
            if self.echo else None

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        return self.stack.preview(on_output=self._out(), color="never", **kwargs)

    def up(self, **kwargs: Any) -> auto.UpResult:
        return self.stack.up(on_output=self._out(), color="never", **kwargs)

    def refresh(self, **kwargs: Any) -> auto.RefreshResult:
        return self.stack.refresh(on_output=self._out(), color="never", **kwargs)

    def destroy(self, **kwargs: Any) -> auto.DestroyResult:
        return self.stack.destroy(on_output=self._out(), color="never", **kwargs)

    def outputs(self) -> dict[str, auto.OutputValue]:
        return dict(self.stack.outputs())

    def deployment(self) -> dict[str, Any]:
        """``pulumi stack export --show-secrets``: the state as the backend holds it."""
        return dict(self.cli("stack", "export", "--show-secrets").json())

    def resources(self, type_: str | None = None) -> list[dict[str, Any]]:
        found = self.deployment().get("deployment", {}).get("resources") or []
        return [r for r in found if type_ is None or r.get("type") == type_]

    def cli(self, *args: str, check: bool = True, timeout: float = 900) -> CliResult:
        """The CLI itself (``pulumi <args> --stack <name>``) with the stack's environment."""
        argv = [str(self.workspace.pulumi_command.command), *args, "--stack", self.name, "--non-interactive"]
        done = subprocess.run(argv, cwd=self.project, env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=timeout, check=False)
        result = CliResult(argv, done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            raise AssertionError(f"`pulumi {' '.join(args)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return result


def changes(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """A change summary (``UpdateSummary.resource_changes``, ``PreviewResult.change_summary``) by plain names."""
    return {str(getattr(op, "value", op)): count for op, count in (summary or {}).items()}


@dataclass(frozen=True)
class CliResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)
