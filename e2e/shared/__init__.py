"""One state backend shared by a team, two environments in one cluster, other teams reading outputs.

``make e2e-shared`` (``e2e/tests_shared/``): an S3-compatible object store
(versitygw, ``e2e/servers/s3.py``) as the self-managed backend, two stacks of the
program (``environments.py``) deployed into one server set, the consumer of
``examples/consumer`` per environment, the preview step of the pull-request
workflow run as the workflow runs it (``workflow.py``), and the lock and recovery
cases of ``make e2e-faults`` on that backend (``rig.py``); every object each
environment holds on the servers, compared before and after the other's destroy
(``holdings.py``). docs/e2e.md says more.
"""
