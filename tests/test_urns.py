"""The URN of every resource of the tests' dev stack is pinned in ``tests/fixtures/urns.dev.txt``.

Pulumi identifies a resource by its URN (stack, project, parent type chain,
type, logical name). A change to any of them — renaming a logical name, moving a
resource to another component, changing a component's type token — makes
``pulumi up`` delete the old resource and create a new one: for the database,
the namespace or a tenant that loses data. This test turns such a change into a
CI failure until it is either reverted or made safe with ``aliases=``.

The stack is the tests' own (``tests/fixtures/stacks/Pulumi.dev.yaml``), not the
user's ``Pulumi.dev.yaml``: a change to a user's stack file (names, research
groups, nodes) never touches the pin; a change to the program does.

Regenerate the pin after an intended change (new resources, or a rename with
its alias in place)::

    UPDATE_URN_PIN=1 .venv/bin/python -m pytest tests/test_urns.py
    # or: .venv/bin/python -m tests.test_urns
"""

from __future__ import annotations

import os
from pathlib import Path

from offline.engine import RunResult
from tests import stacks

PIN = Path(__file__).parent / "fixtures" / "urns.dev.txt"
HEADER = (
    "# Every URN of the tests' dev stack, tests/fixtures/stacks/Pulumi.dev.yaml (tests/test_urns.py).\n"
    "# A changed URN is a delete + create:\n"
    "# add aliases= first, then regenerate: UPDATE_URN_PIN=1 .venv/bin/python -m pytest tests/test_urns.py\n"
)


def current_urns(result: RunResult) -> list[str]:
    return sorted(result.urns)


def read_pin() -> list[str]:
    return [line for line in PIN.read_text().splitlines() if line and not line.startswith("#")]


def write_pin(urns: list[str]) -> None:
    PIN.parent.mkdir(parents=True, exist_ok=True)
    PIN.write_text(HEADER + "".join(f"{urn}\n" for urn in urns))


def explain(removed: list[str], added: list[str]) -> str:
    lines = ["The URNs of the tests' dev stack (tests/fixtures/stacks) differ from tests/fixtures/urns.dev.txt."]
    if removed:
        lines.append("Gone from the program (pulumi up would DELETE these):")
        lines += [f"  - {urn}" for urn in removed]
    if added:
        lines.append("New in the program (pulumi up would CREATE these):")
        lines += [f"  + {urn}" for urn in added]
    lines += [
        "A renamed logical name, a resource moved to another parent or a changed type token is a",
        "delete + create, which loses data for the database, the namespace and the tenants.",
        "If this is a rename, keep the old identity with",
        "    opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name=<old name>, parent=<old parent>)])",
        "(or aliases=[<old URN>]). Once the change is intended and safe, regenerate the pin:",
        "    UPDATE_URN_PIN=1 .venv/bin/python -m pytest tests/test_urns.py",
    ]
    return "\n".join(lines)


def test_urns_of_dev_stack_are_pinned(dev: RunResult) -> None:
    urns = current_urns(dev)
    if os.environ.get("UPDATE_URN_PIN") == "1":
        write_pin(urns)
    assert PIN.exists(), "no URN pin yet: UPDATE_URN_PIN=1 .venv/bin/python -m pytest tests/test_urns.py"
    pinned = read_pin()
    removed = sorted(set(pinned) - set(urns))
    added = sorted(set(urns) - set(pinned))
    assert not removed and not added, explain(removed, added)


def test_urns_are_unique_and_belong_to_the_dev_stack(dev: RunResult) -> None:
    assert len(set(dev.urns)) == len(dev.urns)
    assert all(urn.startswith("urn:pulumi:dev::dossier::") for urn in dev.urns)


def test_urns_have_the_engine_form(dev: RunResult) -> None:
    # The engine leaves the root stack out of a top-level resource's type chain.
    assert "urn:pulumi:dev::dossier::dossier:postgresql:PostgreSQL::postgresql" in dev.urns
    assert not [urn for urn in read_pin() + dev.urns if "pulumi:pulumi:Stack$" in urn]


def test_pin_explains_how_to_keep_a_renamed_resource() -> None:
    message = explain(["urn:pulumi:dev::dossier::old"], ["urn:pulumi:dev::dossier::new"])
    assert "DELETE" in message and "CREATE" in message
    assert "aliases=" in message and "UPDATE_URN_PIN=1" in message


if __name__ == "__main__":
    write_pin(current_urns(stacks.run_stack("dev")))
    print(f"wrote {PIN}")
