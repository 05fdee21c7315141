"""The floor under the real CLI: what the CLI, engine, providers and servers cost for the program's registrations.

The floor is a stack of ``real_floor_program.py`` (a Pulumi program with no
logic) beside the program's stack, with the same config, CLI, providers,
servers and engine settings. It replays the registrations the offline engine
records for the same config (``record``, run in a fresh process in the stack's
project folder so that local chart mirrors resolve as under the CLI): type,
name, parent, inputs with their secrets and unknowns, options, dependencies.
Values known only after apply are sent as unknowns, as the program sends them
in a preview of a new stack; so the floor is a floor for previews.

``same_registrations`` checks, from the ``PULUMI_DEBUG_GRPC`` logs of a program
preview and a floor preview, that the engine received the same resources with
the same inputs and options from both (``bench/real.py`` runs it once, untimed,
before the timed previews).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.grpc_log import GrpcLog
from offline.engine import ROOT, UNKNOWN, ResourceRef, Secret, run

PROGRAM = Path(__file__).with_name("real_floor_program.py")
RECORDING = "floor.json"
SDK_PACKAGES = ("pulumi", "pulumi_kubernetes", "pulumi_keycloak", "pulumi_random")
#: SDK modules the offline engine loads and a program run by the CLI does not.
NOT_THE_PROGRAMS = ("pulumi.runtime.mocks",)
#: RegisterResource fields compared between program and floor (``dependencies`` as a set).
COMPARED = ("custom", "object", "protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges",
            "replaceOnChanges", "additionalSecretOutputs", "provider", "aliasSpecs", "dependencies")


def encode(value: Any) -> Any:
    """A recorded value (offline engine markers) as the tagged JSON ``real_floor_program.py`` reads."""
    if isinstance(value, Secret):
        return {"__floor__": "secret", "value": encode(value.value)}
    if value is UNKNOWN:
        return {"__floor__": "unknown"}
    if isinstance(value, ResourceRef):
        return {"__floor__": "ref", "urn": value.urn}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def recording(config: Mapping[str, Any], stack: str, program: Path) -> dict[str, Any]:
    """Run ``program`` on the offline engine (preview) and return what the floor replays."""
    result = run(config, stack=stack, preview=True, program=program)
    resources = [
        {
            "urn": r.urn, "type": r.type, "name": r.name, "custom": r.custom, "parent": r.parent,
            "inputs": encode(r.inputs), "protect": r.protect, "retainOnDelete": r.retain_on_delete,
            "deleteBeforeReplace": r.delete_before_replace, "ignoreChanges": r.ignore_changes,
            "replaceOnChanges": r.replace_on_changes, "additionalSecretOutputs": r.additional_secret_outputs,
            "dependencies": r.dependencies,
        }
        for r in result.resources
    ]
    # In import order (the SDK packages set up their lazy submodules first); this process ran nothing else.
    modules = [m for m in sys.modules if m.split(".")[0] in SDK_PACKAGES and not m.startswith(NOT_THE_PROGRAMS)]
    return {"modules": modules, "resources": resources}


def install(project: Path, config: Mapping[str, Any], secrets: Mapping[str, str], stack: str) -> int:
    """Make the stack project at ``project`` a floor: its program replaced, the recording beside it.

    The recording is made in a fresh process (so the SDK modules it lists are the
    program's, not this process's) from the project's own copy of the program,
    whose ``components`` resolve relative chart mirrors from ``project``.
    Returns the number of resources recorded.
    """
    config_file = project / "floor-config.json"
    plain = dict(config)
    plain.update({key: {"secure": "floor"} for key in secrets})
    config_file.write_text(json.dumps(plain))
    subprocess.run([sys.executable, "-m", "bench.real_floor", "--config", str(config_file), "--stack", stack,
                    "--out", str(project / RECORDING)],
                   cwd=project, env=_python_env(), check=True)
    config_file.unlink()
    shutil.copy2(PROGRAM, project / "__main__.py")
    shutil.rmtree(project / "components", ignore_errors=True)
    return len(json.loads((project / RECORDING).read_text())["resources"])


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _comparable(request: Mapping[str, Any]) -> dict[str, Any]:
    found = {key: request.get(key) for key in COMPARED}
    found["dependencies"] = sorted(request.get("dependencies") or [])
    return found


def same_registrations(program: GrpcLog, floor: GrpcLog) -> list[str]:
    """How the engine's RegisterResource requests differ between a program and a floor run (empty: none)."""
    problems = []
    for key in sorted(set(program.registrations) | set(floor.registrations)):
        if key[0] == "pulumi:pulumi:Stack":
            continue
        if key not in floor.registrations:
            problems.append(f"{key[0]} {key[1]}: registered by the program only")
        elif key not in program.registrations:
            problems.append(f"{key[0]} {key[1]}: registered by the floor only")
        else:
            a, b = _comparable(program.registrations[key]), _comparable(floor.registrations[key])
            for field in COMPARED:
                if a[field] != b[field]:
                    problems.append(f"{key[0]} {key[1]}: {field} differs: program {a[field]!r}, floor {b[field]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.real_floor --config FILE --stack NAME --out FILE``, in a project: write its recording."""
    parser = argparse.ArgumentParser(prog="python -m bench.real_floor")
    parser.add_argument("--config", type=Path, required=True, help="the stack's config map as JSON")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    program = Path.cwd() / "__main__.py"
    args.out.write_text(json.dumps(recording(config, args.stack, program)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
