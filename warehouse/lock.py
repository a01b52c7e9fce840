"""One writer at a time, across processes and machines.

On a local disk the lock is an ``flock`` on ``<warehouse>/.lock``, so the kernel releases it when
the holder dies, even by SIGKILL. On object storage, where there is no lock, it is a *lease*:
the object ``<warehouse>/.state/writer.lease`` created with a conditional put (only one creator
wins), renewed by its holder every :data:`LEASE_RENEW_S` and taken over by another writer only
once it has expired (:data:`LEASE_S` without renewal: its holder died or lost the network), or at
once when its holder was a process of this machine that no longer exists. The
holder writes who it is and since when, so that a waiting run can say whom it waits for.

Delta's own optimistic commits remain underneath: should two writers ever overlap (a lease
outlived by a stalled holder), each commit that loses a race is redone on the winner's version
(:meth:`warehouse.store.TableStore.upsert` writes by key), so nothing is doubled.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from schemas.errors import LockTimeout
from warehouse.location import Where, is_remote
from warehouse.objects import (
    create_object,
    delete_object,
    read_object_version,
    replace_object_if,
)
from warehouse.state import state_location

__all__ = ["LEASE_RENEW_S", "LEASE_S", "warehouse_lock"]

log = logging.getLogger(__name__)

POLL_S = 0.2
LEASE_S = 300.0
"""How long a lease lasts without renewal (object storage)."""
LEASE_RENEW_S = 60.0
"""How often its holder renews it."""
LEASE_NAME = "writer.lease"


@contextmanager
def warehouse_lock(
    warehouse: Where, *, timeout_s: float, who: str = "mindmiles run"
) -> Iterator[None]:
    """Hold the warehouse's writer lock for the duration of the ``with`` block.

    Raises
    ------
    LockTimeout
        Another writer held it for longer than ``timeout_s``.
    """
    if is_remote(warehouse):
        with _lease(str(state_location(warehouse, LEASE_NAME)), timeout_s=timeout_s, who=who):
            yield
        return
    with _flock(Path(warehouse), timeout_s=timeout_s, who=who):
        yield


def _waiting(who: str, holder: str) -> None:
    log.warning(
        "%s (pid %d) is waiting for the warehouse lock held by %s", who, os.getpid(), holder
    )


@contextmanager
def _flock(warehouse: Path, *, timeout_s: float, who: str) -> Iterator[None]:
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
                    _waiting(who, path.read_text(errors="replace").strip() or "another run")
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


def _lease_body(who: str, token: str) -> bytes:
    host, pid = socket.gethostname(), os.getpid()
    holder = f"{who} (pid {pid} on {host}, since {time.strftime('%H:%M:%S')})"
    body = {"holder": holder, "token": token, "expires": time.time() + LEASE_S, "host": host}
    return json.dumps({**body, "pid": pid}).encode()


def _lease_is_dead(lease: dict[str, Any]) -> bool:
    """Expired, or held by a process of this machine that no longer exists (killed)."""
    if float(lease["expires"]) < time.time():
        return True
    pid = lease.get("pid")
    if lease.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def _lease(uri: str, *, timeout_s: float, who: str) -> Iterator[None]:
    token = uuid.uuid4().hex
    deadline = time.monotonic() + timeout_s
    announced = False
    while not create_object(uri, _lease_body(who, token)):
        held = read_object_version(uri)
        if held is not None:
            try:
                lease = json.loads(held[0])
                expired = _lease_is_dead(lease)
            except (ValueError, KeyError, TypeError):
                lease, expired = {"holder": "an unreadable lease"}, True
            if expired and replace_object_if(uri, _lease_body(who, token), held[1]):
                log.warning("took over the expired warehouse lease of %s", lease.get("holder"))
                break
            if not announced:
                _waiting(who, str(lease.get("holder")))
                announced = True
        if time.monotonic() > deadline:
            raise LockTimeout(f"the warehouse is locked by another run for over {timeout_s:.0f} s")
        time.sleep(POLL_S)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(uri, who, token, stop), daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        held = read_object_version(uri)
        if held is not None and json.loads(held[0]).get("token") == token:
            delete_object(uri)


def _renew(uri: str, who: str, token: str, stop: threading.Event) -> None:
    while not stop.wait(LEASE_RENEW_S):
        held = read_object_version(uri)
        if held is None or json.loads(held[0]).get("token") != token:
            log.error("the warehouse lease was taken over by another writer")
            return
        replace_object_if(uri, _lease_body(who, token), held[1])
