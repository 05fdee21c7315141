"""The SDK floor: a program with no logic that registers recorded resources again.

``replay(registrations)`` registers, in the recorded order, every resource of a
run (type, name, parent, inputs with their secrets and unknowns, options) with
``pulumi.CustomResource`` / ``pulumi.ComponentResource`` (through minimal
subclasses, see ``ReplayedResource``): what the Pulumi SDK itself costs for the
same work, without config loading, value building or the typed resource classes.
``run_floor`` runs it (as ``floor_program.py``) through the same engine stand-in
as the real program, so the two can be compared; ``python -m bench.floor
--replay FILE`` does the same in a fresh process, for cold-start timing
(``bench/offline.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pickle
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

# The program's SDK modules, imported here too so that both pay the same imports.
import pulumi_keycloak  # noqa: F401
import pulumi_kubernetes  # noqa: F401
import pulumi_random  # noqa: F401

from offline.engine import UNKNOWN, Registration, ResourceRef, RunResult, Secret, run

#: What ``run_floor`` hands to ``floor_program.py`` when the engine runs it as the program.
PENDING: list[Registration] = []


def _settled(value: Any) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future


def _unknown(secret: bool) -> pulumi.Output[Any]:
    return pulumi.Output(set(), _settled(None), _settled(False), _settled(secret))


def to_input(value: Any, resources: Mapping[str, pulumi.Resource]) -> Any:
    """A recorded input value as the SDK input that sends it: secrets and unknowns as Outputs."""
    if isinstance(value, Secret):
        if value.value is UNKNOWN:
            return _unknown(secret=True)
        return pulumi.Output.secret(to_input(value.value, resources))
    if value is UNKNOWN:
        return _unknown(secret=False)
    if isinstance(value, ResourceRef):
        return resources[value.urn]
    if isinstance(value, Mapping):
        return {k: to_input(v, resources) for k, v in value.items()}
    if isinstance(value, list):
        return [to_input(v, resources) for v in value]
    return value


class ReplayedResource(pulumi.CustomResource):
    """A custom resource of any type token, as the program registered it."""

    def __init__(self, type_: str, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(type_, name, dict(props), opts)


class ReplayedComponent(pulumi.ComponentResource):
    """A component of any type token, with no children of its own."""

    def __init__(self, type_: str, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__(type_, name, None, opts)
        self.register_outputs({})


# Subclasses, not the bare classes: the SDK records the user's stack (source positions)
# for every registration, found as the frames below the third ``__init__`` on the stack
# (Resource, Custom/ComponentResource, the user's class). A bare ``CustomResource`` has
# no third ``__init__``, so the SDK would skip that work, which every real program pays.
# Ref: pulumi/runtime/resource.py ``_get_stack_trace``.


def replay(registrations: Sequence[Registration]) -> None:
    """Register ``registrations`` again, in order, with the same inputs and options."""
    resources: dict[str, pulumi.Resource] = {}
    for recorded in registrations:
        opts = pulumi.ResourceOptions(
            parent=resources.get(recorded.parent),
            protect=recorded.protect or None,
            retain_on_delete=recorded.retain_on_delete or None,
            delete_before_replace=recorded.delete_before_replace or None,
            ignore_changes=recorded.ignore_changes or None,
            replace_on_changes=recorded.replace_on_changes or None,
            additional_secret_outputs=recorded.additional_secret_outputs or None,
            depends_on=[resources[u] for u in recorded.dependencies if u in resources] or None,
        )
        resource: pulumi.Resource
        if recorded.custom:
            resource = ReplayedResource(recorded.type, recorded.name, to_input(recorded.inputs, resources), opts)
        else:
            resource = ReplayedComponent(recorded.type, recorded.name, opts)
        resources[recorded.urn] = resource


def run_floor(registrations: Sequence[Registration], config: Mapping[str, Any], *, stack: str,
              preview: bool = True) -> RunResult:
    """Run ``replay(registrations)`` as the program, through the same engine stand-in."""
    PENDING[:] = registrations
    try:
        return run(config, stack=stack, preview=preview, program=Path(__file__).with_name("floor_program.py"))
    finally:
        PENDING.clear()


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.floor --replay FILE``: a whole floor process, for cold-start timing.

    FILE (written by ``bench/offline.py``) holds the registrations, the stack
    config and the SDK modules the program imported; this process imports the
    same modules, then replays the registrations through the engine stand-in.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--replay", type=Path, required=True)
    args = parser.parse_args(argv)
    recording = pickle.loads(args.replay.read_bytes())
    for module in recording["modules"]:
        importlib.import_module(module)
    run_floor(recording["registrations"], recording["config"], stack=recording["stack"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
