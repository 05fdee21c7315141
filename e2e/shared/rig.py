"""The fault rig (``e2e/faults/rig.py``) on the shared S3 backend.

The cases of ``make e2e-faults`` that concern the backend (two updates at once, a
killed CLI and the documented recovery, a lost stack restored from its export)
run unchanged on a stack whose state lives in the bucket. The rig times its
injections by watching the state and lock objects; on the POSIX gateway each
object is a file under its key in the bucket's folder, so ``backend_dir`` is that
folder and the rig reads it as it reads a ``file://`` backend. The recovery skips
the page's ``file://``-only line (a bucket keeps no metadata sidecars).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from e2e.faults.rig import Rig
from e2e.servers import ObjectStore


@dataclass
class S3Rig(Rig):
    store: ObjectStore | None = None
    file_backend: ClassVar[bool] = False

    @property
    def backend_dir(self) -> Path:
        assert self.store
        return self.store.bucket_dir

    def lock_keys(self) -> list[str]:
        """The lock objects of the stack, listed through the S3 API."""
        assert self.store
        return self.store.keys(".pulumi/locks/")
