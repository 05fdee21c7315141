"""When the engine stops the program, it stops without Python tracebacks.

When an update fails (a provider error: Keycloak or the API server gone in
the middle of ``pulumi up``) or is cancelled, the CLI shuts its plugins down
and sends SIGINT to the language host's process group, which holds this
program. Python then prints a ``KeyboardInterrupt`` traceback chained to the
SDK's failed registrations ("resource monitor shut down while waiting on
step's done channel", "Resource monitor has terminated, shutting down") and a
"no running event loop" report from its shutdown: dozens of lines after the
provider's error, which is the line that matters (measured: 6 to 8 tracebacks
after a Keycloak timeout, e2e/faults). By then the engine has reported why it
stopped, so the program exits at once, with the language host's code for "the
user has been told" (32), which adds no message of its own.

Installed only under a real engine (a gRPC resource monitor): the in-process
engine stand-in (``offline/engine.py``, ``make plan``, the tests) keeps
Python's own Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2_grpc

#: pulumi-language-python-exec's PYTHON_PROCESS_EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE_CODE:
#: the language host then reports nothing more (it "bails").
EXIT_AFTER_ENGINE_REPORTED = 32


def stop_quietly(signum: int, frame: FrameType | None) -> None:
    """Exit now: the engine is stopping the program and has already said why."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_AFTER_ENGINE_REPORTED)


def under_real_engine() -> bool:
    """Whether the program talks to a real engine (not ``pulumi.runtime.set_mocks``)."""
    return isinstance(settings.get_monitor(), resource_pb2_grpc.ResourceMonitorStub)


def quiet_stop_on_interrupt() -> bool:
    """Handle SIGINT with ``stop_quietly`` under a real engine; whether it was installed."""
    if not under_real_engine() or threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGINT, stop_quietly)
    return True
