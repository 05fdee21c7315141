"""Shared fixtures: runs of the real program against the engine stand-in (offline/engine.py)."""

from __future__ import annotations

from typing import Any

# Imported at collection on purpose: hypothesis's pytest plugin otherwise imports it in
# the terminal summary, where CPython 3.11.7's ast.parse can fail with "AST constructor
# recursion depth mismatch" (fixed in 3.11.8) after the SDK's nested event-loop pumping.
import hypothesis  # noqa: F401
import pytest

from offline import validate
from offline.engine import RunResult, read_stack_config, run


def _run(stack: str = "dev", *, preview: bool = False, **overrides: Any) -> RunResult:
    config = read_stack_config(stack)
    config.update({f"dossier:{k}" if ":" not in k else k: v for k, v in overrides.items()})
    return run(config, stack=stack, preview=preview)


@pytest.fixture(scope="session")
def dev() -> RunResult:
    """One run of the dev stack, shared by read-only tests."""
    return _run("dev")


@pytest.fixture(scope="session")
def prod() -> RunResult:
    """One run of the production-shaped example stack (protection on, a research group)."""
    return _run("prod")


@pytest.fixture
def run_program():
    """Run the program with the dev stack plus overrides: ``run_program(tenants=[...])``."""
    return _run


@pytest.fixture
def upstream() -> None:
    if not validate.upstream_available():
        pytest.skip(f"upstream schemas not found at {validate.UPSTREAM} (../shared/upstream is absent)")
