"""The floor under the real CLI: a Pulumi program with no logic that registers recorded resources again.

``bench/real_floor.py`` copies this file into a stack's project as ``__main__.py``
with ``floor.json`` beside it: the SDK modules the program imported, and every
resource the program registered (type, name, parent, inputs, options), recorded
by the offline engine for the same config. This program imports the same SDK
modules and registers each resource, in the recorded order, with
``pulumi.CustomResource`` / ``pulumi.ComponentResource`` (one-line subclasses:
the SDK records source positions as it does for every real resource class).
Inputs are JSON with three tagged forms, ``{"__floor__": "secret", "value": v}``,
``{"__floor__": "unknown"}`` (known only after apply, as in a preview of a new
stack) and ``{"__floor__": "ref", "urn": u}`` (a resource, sent as a reference).
It is a floor for previews: an ``up`` would need the unknowns resolved.

Self-contained on purpose (nothing of the project is imported): the CLI's
language host runs it like any program.
"""

import asyncio
import importlib
import json
from pathlib import Path
from typing import Any

import pulumi

RECORDING = json.loads(Path(__file__).with_name("floor.json").read_text())
for module in RECORDING["modules"]:
    importlib.import_module(module)


def _settled(value: Any) -> "asyncio.Future[Any]":
    future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future


def _unknown(secret: bool) -> pulumi.Output[Any]:
    return pulumi.Output(set(), _settled(None), _settled(False), _settled(secret))


def to_input(value: Any, resources: dict[str, pulumi.Resource]) -> Any:
    """A recorded value as the SDK input that sends it."""
    if isinstance(value, dict):
        tag = value.get("__floor__")
        if tag == "secret":
            inner = value["value"]
            if isinstance(inner, dict) and inner.get("__floor__") == "unknown":
                return _unknown(secret=True)
            return pulumi.Output.secret(to_input(inner, resources))
        if tag == "unknown":
            return _unknown(secret=False)
        if tag == "ref":
            return resources[value["urn"]]
        return {k: to_input(v, resources) for k, v in value.items()}
    if isinstance(value, list):
        return [to_input(v, resources) for v in value]
    return value


class ReplayedResource(pulumi.CustomResource):
    """A custom resource of any type token, as the program registered it."""

    def __init__(self, type_: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(type_, name, props, opts)


class ReplayedComponent(pulumi.ComponentResource):
    """A component of any type token, with no children of its own."""

    def __init__(self, type_: str, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__(type_, name, None, opts)
        self.register_outputs({})


def replay(recorded: list[dict[str, Any]]) -> None:
    resources: dict[str, pulumi.Resource] = {}
    for r in recorded:
        opts = pulumi.ResourceOptions(
            parent=resources.get(r["parent"]),
            protect=r["protect"] or None,
            retain_on_delete=r["retainOnDelete"] or None,
            delete_before_replace=r["deleteBeforeReplace"] or None,
            ignore_changes=r["ignoreChanges"] or None,
            replace_on_changes=r["replaceOnChanges"] or None,
            additional_secret_outputs=r["additionalSecretOutputs"] or None,
            depends_on=[resources[u] for u in r["dependencies"] if u in resources] or None,
        )
        resource: pulumi.Resource
        if r["custom"]:
            resource = ReplayedResource(r["type"], r["name"], to_input(r["inputs"], resources), opts)
        else:
            resource = ReplayedComponent(r["type"], r["name"], opts)
        resources[r["urn"]] = resource


replay(RECORDING["resources"])
