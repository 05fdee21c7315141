"""Faults under the real engine (``make e2e-faults``; docs/e2e.md#faults-make-e2e-faults).

``python -m e2e.faults`` starts one server set (``e2e/servers``), deploys one
stack of the unmodified program with the real CLI and runs every case in
order on them, each case leaving the stack deployed for the next (the last
destroys it). A case injects its fault into the real servers or the CLI,
recovers as docs/operations.md#faults tells an operator to, and ends by
checking that Keycloak and the API server hold exactly what the stack's state
says (``compare.py``: a duplicate or a missing object is named). It prints one
line, ``case | what the operator saw | ok`` (or ``FAIL`` and why); the run
closes with ``N passed, M failed`` and exits non-zero on any failure.

Modules: ``rig.py`` (the servers, the stack, the CLI as a process, the
injections), ``compare.py`` (the comparison), ``recovery.py`` (the documented
recovery of an update that stopped half-way), and one module per group of
cases: ``servers_down.py`` (1, 2), ``interrupted.py`` (3, 4), ``drift.py`` (5),
``destroy.py`` (6), ``runbook.py``, ``backup.py`` and ``restore.py`` (7). A case is a function ``test_*(rig)``
returning what the operator saw; the runner, not pytest, calls them (they
share servers and a stack, in order).
"""
