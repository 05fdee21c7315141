"""An in-process stand-in for the Pulumi engine, for the tests and the offline plan.

It runs the real ``__main__.py`` against ``pulumi.runtime.set_mocks`` with a
``MockMonitor`` subclass that behaves like the engine where this project
depends on it:

- it applies each resource's ``additional_secret_outputs`` (the stock mocks do
  not, so ``RandomPassword.result`` would look plain there);
- it records every resource option the SDK sends (``protect``,
  ``retain_on_delete``, dependencies, aliases, ...);
- it refuses two resources with the same URN, as the engine does;
- it keeps nested secrets and unknowns in the inputs it records, so a test can
  tell which leaf of a Helm value is secret.

Providers are not called: values a provider would compute are generated
deterministically (passwords, ids), or left unknown in preview mode.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import runpy
import string
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from offline import stackfile

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "dossier"
#: The program's own package (``components/``), imported from the tree of the program being run.
PROGRAM_PACKAGE = "components"


# --- value markers ----------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A value the engine would treat as secret."""

    value: Any


class _Unknown:
    """A value only the engine can compute (``(known after apply)`` in a preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class ResourceRef:
    """A reference to another resource inside a resource's inputs."""

    urn: str


def decode(value: struct_pb2.Value | struct_pb2.Struct | struct_pb2.ListValue) -> Any:
    """Turn a protobuf property value into Python, keeping nested secrets and unknowns."""
    if isinstance(value, struct_pb2.Struct):
        fields = value.fields
        sig = fields.get(rpc._special_sig_key)
        if sig is not None:
            kind = sig.string_value
            if kind == rpc._special_secret_sig:
                return Secret(decode(fields["value"]))
            if kind == rpc._special_resource_sig:
                return ResourceRef(fields["urn"].string_value)
            if kind == rpc._special_output_value_sig:
                inner = decode(fields["value"]) if "value" in fields else UNKNOWN
                return Secret(inner) if fields.get("secret") and fields["secret"].bool_value else inner
            return {k: decode(v) for k, v in fields.items()}
        return {k: decode(v) for k, v in fields.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [decode(v) for v in value.values]
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return decode(value.struct_value)
    if kind == "list_value":
        return decode(value.list_value)
    if kind == "string_value":
        return UNKNOWN if value.string_value == rpc.UNKNOWN else value.string_value
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    return None


def encode(value: Any) -> Any:
    """The inverse of ``decode``, in the form ``rpc.serialize_properties`` sends back to the SDK."""
    if isinstance(value, Secret):
        return rpc.wrap_rpc_secret(encode(value.value))
    if value is UNKNOWN:
        return rpc.UNKNOWN
    if isinstance(value, ResourceRef):
        return value.urn
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """``value`` with every ``Secret`` unwrapped (for assertions on the plain values)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def leaves(value: Any, path: str = "", secret: bool = False) -> Iterator[tuple[str, Any, bool]]:
    """Every scalar in ``value`` as (path, value, is_secret)."""
    if isinstance(value, Secret):
        yield from leaves(value.value, path, True)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key), secret)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]", secret)
    else:
        yield path, value, secret


# --- registrations ----------------------------------------------------------


@dataclass
class Registration:
    """One resource as the program registered it: inputs, options and the outputs it got."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    replace_on_changes: list[str]
    additional_secret_outputs: list[str]
    dependencies: list[str]
    aliases: list[str]
    provider: str
    id: str = ""
    """The id the provider stand-in gave the resource (empty in a preview)."""


@dataclass
class StackOutput:
    value: Any
    secret: bool
    known: bool


@dataclass
class RunResult:
    """What one run of the program sent to the engine."""

    stack: str
    preview: bool
    resources: list[Registration]
    outputs: dict[str, StackOutput]
    generated_secrets: list[str] = field(default_factory=list)

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.by_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.by_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} (have {names})")
        return found[0]

    def named(self, name: str) -> Registration:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    @property
    def urns(self) -> list[str]:
        return [r.urn for r in self.resources]


class DuplicateUrnError(Exception):
    pass


# --- provider stand-ins -------------------------------------------------------

_PASSWORD_TYPES = {"random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"}


class EngineMocks(pulumi_mocks.Mocks):
    """Computes the outputs a provider would return; nothing is created anywhere."""

    def __init__(self, stack: str, preview: bool) -> None:
        self.stack = stack
        self.preview = preview
        self.generated: list[str] = []

    def _rng(self, name: str) -> random.Random:
        digest = hashlib.sha256(f"{self.stack}/{name}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def _password(self, name: str, inputs: Mapping[str, Any]) -> str:
        alphabet = ""
        if inputs.get("lower", True):
            alphabet += string.ascii_lowercase
        if inputs.get("upper", True):
            alphabet += string.ascii_uppercase
        if inputs.get("numeric", True):
            alphabet += string.digits
        if inputs.get("special", True):
            alphabet += inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?"
        rng = self._rng(name)
        return "".join(rng.choice(alphabet) for _ in range(int(inputs["length"])))

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if self.preview:
            # A preview knows only the inputs; everything a provider computes is unknown.
            return None, inputs
        outputs = dict(inputs)
        if args.typ in _PASSWORD_TYPES:
            value = self._password(args.name, reveal(inputs))
            self.generated.append(value)
            outputs["result"] = value
        elif args.typ == "random:index/randomBytes:RandomBytes":
            raw = bytes(self._rng(args.name).getrandbits(8) for _ in range(int(reveal(inputs)["length"])))
            outputs["hex"] = raw.hex()
            outputs["base64"] = base64.b64encode(raw).decode()
            self.generated.extend([outputs["hex"], outputs["base64"]])
        elif args.typ == "keycloak:openid/client:Client" and "clientSecret" not in inputs:
            value = "".join(self._rng(args.name).choice(string.ascii_letters + string.digits) for _ in range(32))
            self.generated.append(value)
            outputs["clientSecret"] = value
        elif args.typ == "kubernetes:helm.sh/v3:Release":
            plain = reveal(inputs)
            outputs["status"] = {
                "name": plain.get("name"),
                "namespace": plain.get("namespace"),
                "chart": plain.get("chart"),
                "version": plain.get("version"),
                "status": "deployed",
            }
        resource_id = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()[:16]
        return resource_id, outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


#: The event loops the SDK opens in the worker threads that run monitor calls; ``run``
#: closes them once those threads are joined (left to the garbage collector, each one
#: complained on stderr when collected after its self-pipe socket).
_WORKER_LOOPS: set[asyncio.AbstractEventLoop] = set()


class EngineMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that records options, applies secret outputs and refuses duplicate URNs."""

    def __init__(self, mocks: EngineMocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}
        self.order: list[str] = []
        self._seen: set[str] = set()
        # The SDK calls the monitor from several threads at once.
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's URN: the parent's type chain, without the root stack's type."""
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = ""
        return super().make_urn(parent, type_, name)

    def alias_urn(self, request: Any, alias: Any) -> str:
        """The URN an alias stands for, as the engine derives it: what the spec leaves out is the resource's own.

        The SDK sends a spec (``name``, ``type``, ``parentUrn`` or ``noParent``, ``stack``,
        ``project``) unless the program gave a whole URN; the kubernetes SDK, for one, aliases a
        ClusterRole to its older API versions by type alone.
        """
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        parent = "" if spec.noParent else spec.parentUrn or request.parent
        urn = self.make_urn(parent, spec.type or request.type, spec.name or request.name)
        if spec.stack or spec.project:
            head, project, rest = urn.split("::", 2)
            urn = f"urn:pulumi:{spec.stack or head.removeprefix('urn:pulumi:')}::{spec.project or project}::{rest}"
        return urn

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        with self._lock:
            if urn in self._seen:
                raise DuplicateUrnError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self._seen.add(urn)
            self.order.append(urn)
        worker_loop = pulumi_mocks._ensure_event_loop()
        with self._lock:
            _WORKER_LOOPS.add(worker_loop)
        inputs = decode(request.object)
        args = pulumi_mocks.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        resource_id, state = self.mocks.new_resource(args)
        secret_outputs = list(request.additionalSecretOutputs)
        for key in secret_outputs:
            if key in state and not isinstance(state[key], Secret):
                state[key] = Secret(state[key])
        self.registrations[urn] = Registration(
            urn=urn,
            id=resource_id or "",
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            inputs=inputs,
            outputs=state,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
            additional_secret_outputs=secret_outputs,
            dependencies=list(request.dependencies),
            aliases=[self.alias_urn(request, alias) for alias in request.aliases],
            provider=request.provider,
        )
        obj = _sync_await(rpc.serialize_properties(encode(state), {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id or "", state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=obj)


# --- stack config -------------------------------------------------------------


def stack_file(stack: str, root: Path = ROOT) -> Path:
    return stackfile.stack_file(stack, root)


def read_stack_config(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The ``config:`` map of ``Pulumi.<stack>.yaml`` (values as written, ``secure:`` kept).

    Raises ``stackfile.StackFileError`` for a file the CLI would refuse (a key given twice, bad YAML).
    """
    return stackfile.read_stack_config(stack, root)


def _flatten(config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config values in the form the engine hands them to a program, and the secret keys."""
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Ciphertext cannot be decrypted offline: the program sees a placeholder secret.
            flat[key] = f"offline-placeholder-for-{key}"
            secret_keys.append(key)
        elif isinstance(value, str):
            flat[key] = value
        else:
            flat[key] = json.dumps(value)
    return flat, secret_keys


# --- running the program ------------------------------------------------------


def _resolve(value: Any) -> StackOutput:
    output = pulumi.Output.from_input(value)

    async def settle() -> StackOutput:
        known = await output.is_known()
        secret = await output.is_secret()
        resolved = await output.future(with_unknowns=True)
        return StackOutput(value=_plain(resolved), secret=secret, known=known)

    return _sync_await(settle())


def _plain(value: Any) -> Any:
    from pulumi.output import Unknown

    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run(
    config: Mapping[str, Any],
    *,
    stack: str = "dev",
    preview: bool = False,
    program: Path = ROOT / "__main__.py",
) -> RunResult:
    """Run ``program`` with ``config`` (a stack file's ``config:`` map) against the stand-in."""
    # A fresh event loop per run: a run that failed while registrations were still in
    # flight must not leak them into the next run.
    previous_loop = asyncio.get_event_loop_policy().get_event_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return _run_on_loop(config, stack=stack, preview=preview, program=program)
    finally:
        _close(loop)
        asyncio.set_event_loop(previous_loop if not previous_loop.is_closed() else asyncio.new_event_loop())


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Finish the monitor calls still in worker threads, drop leftover tasks, free the loop's handles."""
    loop.run_until_complete(loop.shutdown_default_executor())
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    # The worker threads are joined: close the loops they opened (see _WORKER_LOOPS).
    while _WORKER_LOOPS:
        worker_loop = _WORKER_LOOPS.pop()
        if not worker_loop.is_running():
            worker_loop.close()


def _run_on_loop(config: Mapping[str, Any], *, stack: str, preview: bool, program: Path) -> RunResult:
    # As pulumi.runtime.test does: forget RPCs and outputs a previous run left pending.
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    mocks = EngineMocks(stack, preview)
    monitor = EngineMonitor(mocks)
    settings.ROOT.set(None)
    pulumi_mocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    flat, secret_keys = _flatten(config)
    set_all_config(flat, secret_keys)
    root = settings.get_root_resource()
    assert root is not None
    sys_path = list(sys.path)
    sys.path.insert(0, str(program.parent))
    # Another tree's program (make plan-diff's base) imports its own components/, not this tree's already loaded.
    own = {name: module for name, module in sys.modules.items() if name.split(".")[0] == PROGRAM_PACKAGE}
    foreign = program.resolve().parent != ROOT
    if foreign:
        for name in own:
            del sys.modules[name]
    try:
        def execute() -> None:
            runpy.run_path(str(program), run_name="__main__")

        _sync_await(run_pulumi_func(execute))
    finally:
        sys.path[:] = sys_path
        if foreign:
            for name in [n for n in sys.modules if n.split(".")[0] == PROGRAM_PACKAGE]:
                del sys.modules[name]
            sys.modules.update(own)
    exported: dict[str, Any] = getattr(root, "outputs", {})
    outputs = {name: _resolve(value) for name, value in exported.items()}
    resources = [monitor.registrations[urn] for urn in monitor.order]
    return RunResult(stack, preview, resources, outputs, list(mocks.generated))


def run_stack(stack: str = "dev", *, preview: bool = False, overrides: Mapping[str, Any] | None = None) -> RunResult:
    """Run the program with ``Pulumi.<stack>.yaml``, optionally overriding config keys."""
    config = read_stack_config(stack)
    config.update(overrides or {})
    return run(config, stack=stack, preview=preview)


if __name__ == "__main__":  # pragma: no cover - a quick look from the shell
    result = run_stack(sys.argv[1] if len(sys.argv) > 1 else "dev")
    for registration in result.resources:
        print(registration.type, registration.name)
