"""The consumer of ``examples/consumer``, run unmodified as another team runs it.

``consumer_stack(...)`` copies the example into a project folder of its own and
makes its stack on the shared backend (project ``dossier-consumer``), with the
environment of the producer's stacks (the same backend, passphrase and toolchain:
the example pins the program's SDK versions, so the e2e's virtualenv runs it) and
its config set as its ``Pulumi.yaml`` declares it: the Dossier stack to read,
its own namespace, the cluster's context. Its ``.venv`` (the virtualenv its
``Pulumi.yaml`` names, which the language host runs it with) links to the
checkout's. ``changed_producer(outputs)`` writes a stand-in ``dossier`` project
that exports what it is given: a producer whose contract changed, for the
consumer to refuse.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from e2e.stack import ROOT, E2EStack, Toolchain, link_virtualenv

EXAMPLE = ROOT / "examples" / "consumer"


def copy_consumer(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "Pulumi.*.yaml"))
    return link_virtualenv(dest)


def consumer_stack(folder: Path, tools: Toolchain, *, name: str, dossier_stack: str, namespace: str,
                   context: str, env: Mapping[str, str]) -> E2EStack:
    stack = E2EStack(folder, tools, name=name, env=env, echo=False, program=copy_consumer)
    stack.configure({"dossier-consumer:dossierStack": dossier_stack, "dossier-consumer:namespace": namespace,
                     "kubernetes:context": context})
    return stack


#: A stack of the project ``dossier`` that exports what ``outputs.json`` says: a producer breaking the contract.
_STAND_IN = '''"""Exports outputs.json as stack outputs (a Dossier stack whose contract changed), secrets as such."""
import json

import pulumi

for name, (value, secret) in json.loads(open("outputs.json").read()).items():
    pulumi.export(name, pulumi.Output.secret(value) if secret else value)
'''


def changed_producer(outputs: Mapping[str, tuple[object, bool]]) -> Callable[[Path], Path]:
    """A project writer (for ``E2EStack(program=...)``) of a ``dossier`` program exporting ``outputs``."""
    def write(dest: Path) -> Path:
        dest.mkdir(parents=True)
        (dest / "Pulumi.yaml").write_text("name: dossier\nruntime:\n  name: python\n  options:\n"
                                          "    toolchain: pip\n    virtualenv: .venv\n")
        (dest / "__main__.py").write_text(_STAND_IN)
        (dest / "outputs.json").write_text(json.dumps(outputs))
        return link_virtualenv(dest)
    return write
