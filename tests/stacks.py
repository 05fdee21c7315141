"""The stacks the tests run the program on: ``tests/fixtures/stacks/Pulumi.<stack>.yaml``.

The stack files at the top of the project are the user's: a team sets its own names there
(README, "Deploy in five steps"), so no test reads them for their values. The tests run on
these fixtures instead, whose names all differ from the examples'; the user's files are
only checked for validity (``tests/test_config_contract.py``, ``tests/test_config_secrets.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from offline.engine import RunResult, read_stack_config, run

STACKS = Path(__file__).resolve().parent / "fixtures" / "stacks"
#: The same folder relative to the project, for ``python -m offline.plan --stacks``.
STACKS_ARG = "tests/fixtures/stacks"


def config(stack: str = "dev") -> dict[str, Any]:
    """The ``config:`` map of the fixture stack ``stack`` (a fresh copy: callers may change it)."""
    return read_stack_config(stack, STACKS)


def run_stack(stack: str = "dev", *, preview: bool = False, **overrides: Any) -> RunResult:
    """Run the program on the fixture stack, with ``dossier:`` keys (or full ``ns:key`` keys) overridden."""
    values = config(stack)
    values.update({f"dossier:{k}" if ":" not in k else k: v for k, v in overrides.items()})
    return run(values, stack=stack, preview=preview)


def plan_args(stack: str = "dev") -> list[str]:
    """The arguments of ``python -m offline.plan`` that plan the fixture stack ``stack``."""
    return ["--stack", stack, "--stacks", STACKS_ARG]
