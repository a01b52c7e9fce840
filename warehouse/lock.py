"""One writer at a time: an advisory lock on ``<warehouse>/.lock``.

The lock is an ``flock`` on an open file, so the kernel releases it when the holder dies, even by
SIGKILL: a stale lock cannot outlive its process. The holder writes its pid and start time into
the file so that a waiting run can say whom it waits for.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schemas.errors import LockTimeout

__all__ = ["warehouse_lock"]

log = logging.getLogger(__name__)

POLL_S = 0.2


@contextmanager
def warehouse_lock(
    warehouse: Path, *, timeout_s: float, who: str = "mindmiles run"
) -> Iterator[None]:
    """Hold the warehouse's writer lock for the duration of the ``with`` block.

    Raises
    ------
    LockTimeout
        Another process held it for longer than ``timeout_s``.
    """
    warehouse.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = warehouse / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    holder = path.read_text(errors="replace").strip() or "another run"
                    log.warning(
                        "%s (pid %d) is waiting for the warehouse lock held by %s",
                        who,
                        os.getpid(),
                        holder,
                    )
                    announced = True
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"the warehouse is locked by another run for over {timeout_s:.0f} s"
                    ) from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{who} (pid {os.getpid()}, since {time.strftime('%H:%M:%S')})\n".encode(), 0)
        if announced:
            log.warning("%s (pid %d) got the warehouse lock", who, os.getpid())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
