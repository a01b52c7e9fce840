"""Parse functions for isolation tests, importable by name in ``spawn`` workers.

Each behaves badly for one file, chosen by a word in the file's name, and parses normally otherwise;
this is how a test makes a worker hang, crash or run out of memory on purpose.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.isolation import parse_job

if TYPE_CHECKING:
    from ingest.archive import ArchiveLimits
    from ingest.parse import FileResult
    from pipelines.run import ParseJob


def misbehaving_parse(job: ParseJob, limits: ArchiveLimits) -> FileResult:
    """Misbehave by name: hang, segv, oom (SIGKILL), hog (memory) or bug (exception).

    A file whose name holds none of these words is parsed normally.
    """
    name = Path(job.path).name
    if "hang" in name:
        time.sleep(3600)
    if "segv" in name:
        os.kill(os.getpid(), signal.SIGSEGV)  # how a crashing C extension ends
    if "oom" in name:
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does
    if "hog" in name:
        hoard = [bytearray(256 * 1024**2) for _ in range(64)]
        del hoard
    if "bug" in name:
        raise KeyError("root:x:0:0 content that must never be logged")
    return parse_job(job, limits)
