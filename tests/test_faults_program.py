"""What the program does for the faults of ``make e2e-faults`` (e2e/faults, docs/operations.md#faults).

- ``dossier:deleteTimeout`` reaches the engine as the delete custom timeout of the
  Namespace and of every Tenant (the objects whose deletion waits on finalizers),
  and of nothing else; the default is the kubernetes provider's own 10 minutes.
- A research group's Tenant depends on its client role, so that removing a protected
  group deletes nothing (the Tenant, deleted first, stops the update).
- ``components/interrupt.py``: under a real engine, the SIGINT the CLI sends when it
  stops the program ends it at once with exit code 32 and no traceback; under the
  in-process engine stand-in nothing is installed (``make plan`` keeps Ctrl-C).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from components import interrupt
from offline import engine
from offline.engine import ROOT
from tests import stacks

NAMESPACE = "kubernetes:core/v1:Namespace"
TENANT = "kubernetes:capsule.clastix.io/v1beta2:Tenant"


@pytest.fixture
def timeouts(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], dict[str, str]]:
    """(type, name) -> the custom timeouts each registration sent to the engine (empty: none)."""
    sent: dict[tuple[str, str], dict[str, str]] = {}
    register = engine.EngineMonitor.RegisterResource

    def recording(self: engine.EngineMonitor, request: Any) -> Any:
        given = request.customTimeouts
        sent[(request.type, request.name)] = {k: getattr(given, k) for k in ("create", "update", "delete")
                                              if getattr(given, k)}
        return register(self, request)

    monkeypatch.setattr(engine.EngineMonitor, "RegisterResource", recording)
    return sent


def _config(**extra: Any) -> dict[str, Any]:
    config = stacks.config("dev")
    config["dossier:tenants"] = [{"name": "physics"}, {"name": "astro"}]
    config.update(extra)
    return config


def test_the_delete_timeout_bounds_the_namespace_and_every_tenant(
        timeouts: dict[tuple[str, str], dict[str, str]]) -> None:
    engine.run(_config(**{"dossier:deleteTimeout": "45s"}))
    bounded = {key: value for key, value in timeouts.items() if value}
    assert bounded == {
        (NAMESPACE, "namespace"): {"delete": "45s"},
        (TENANT, "tenant-tenant"): {"delete": "45s"},
        (TENANT, "research-physics-tenant"): {"delete": "45s"},
        (TENANT, "research-astro-tenant"): {"delete": "45s"},
    }


def test_the_default_delete_timeout_is_the_providers_own(timeouts: dict[tuple[str, str], dict[str, str]]) -> None:
    engine.run(_config())
    assert timeouts[(NAMESPACE, "namespace")] == {"delete": "10m"}
    assert {timeouts[(TENANT, name)]["delete"] for name in ("tenant-tenant", "research-physics-tenant")} == {"10m"}


def test_a_groups_tenant_depends_on_its_role() -> None:
    # Deletes go dependents first: removing a group deletes its (protected) Tenant before its role, so
    # with protectData the update stops before the role and its members' assignments are gone.
    result = engine.run(_config(**{"dossier:protectData": True}))
    by_name = {r.name: r for r in result.resources}
    for group in ("physics", "astro"):
        tenant, role = by_name[f"research-{group}-tenant"], by_name[f"research-{group}-role"]
        assert role.urn in tenant.dependencies, tenant.dependencies
        assert tenant.protect and not role.protect


def test_no_sigint_handler_under_the_engine_stand_in() -> None:
    before = signal.getsignal(signal.SIGINT)
    engine.run(_config())
    assert signal.getsignal(signal.SIGINT) is before
    assert interrupt.under_real_engine() is False


_REAL_ENGINE = textwrap.dedent("""
    import os, signal, sys, time
    from pulumi.runtime import settings
    from pulumi.runtime.proto import resource_pb2_grpc
    import grpc
    # A gRPC monitor stub, as the language host configures one (nothing listens: no call is made).
    stub = resource_pb2_grpc.ResourceMonitorStub(grpc.insecure_channel("127.0.0.1:9"))
    settings.configure(settings.Settings(project="p", stack="s", monitor=stub))
    from components.interrupt import quiet_stop_on_interrupt
    print("installed" if quiet_stop_on_interrupt() else "not installed", flush=True)
    print("waiting", flush=True)
    # Short sleeps: a signal that lands on one of gRPC's threads runs the Python handler only when the
    # main thread next wakes (one long sleep delayed it by its whole length under load).
    for _ in range(3000):
        time.sleep(0.1)
    print("not stopped", flush=True)
""")


def test_sigint_under_a_real_engine_exits_32_without_a_traceback() -> None:
    child = subprocess.Popen([sys.executable, "-c", _REAL_ENGINE], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    lines = [child.stdout.readline().strip(), child.stdout.readline().strip()]
    assert lines == ["installed", "waiting"], lines
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)  # a loaded machine is slow
    assert child.returncode == interrupt.EXIT_AFTER_ENGINE_REPORTED == 32
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "not stopped" not in out

