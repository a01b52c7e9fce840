"""Start ``multiprocessing``'s fork server as a fork of this process, when that is safe.

The parsing workers are forked from a fork server (:func:`pipelines.isolation._forkserver`).
Started the standard way, that server is a fresh Python that imports Polars, pandera and the
readers before it can fork anything: 2-3 s here, which a nightly run with a few new files pays in
full (it was most of such a run). A process that has already imported all of that, and has not
started any thread that could hold a lock, can fork the server instead: the copy has every module
and starts in milliseconds.

That is safe only before the process has done Polars work: Polars' compute pool is a set of
threads that a fork does not copy, so a child forked after the pool started would wait for them
forever. :func:`unsafe_threads` lists what stands in the way (a compute pool, any Python thread
besides the main one, any thread not asleep); a fresh ``mindmiles ingest`` has none of them when
it starts its workers, a test session or a serving process usually has, and then the standard
server starts instead. CPython 3.11's ``multiprocessing.forkserver`` keeps the server's address,
its "alive" pipe and its pid in three attributes of one module-level object; they are filled in
here exactly as its ``ensure_running`` fills them, which then finds the server running.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from multiprocessing import connection, forkserver, resource_tracker, util
from pathlib import Path
from typing import Any

__all__ = ["SAFE_THREAD_NAMES", "start_by_fork", "unsafe_threads"]

log = logging.getLogger(__name__)

SAFE_THREAD_NAMES = ("polars-ooc-clea", "jemalloc_bg_thd", "python")
"""Native threads (``/proc/<pid>/task/*/comm``) that may exist at a fork, provided they sleep.

Polars' spill-file cleaner and jemalloc's background threads, and one unnamed native thread an
extension library starts at import (shown as ``python``); the allocator re-initialises its locks
in the child. Polars' compute threads are named ``polars-<n>``: their presence makes a fork unsafe.
"""


def unsafe_threads() -> list[str]:
    """Threads of this process that make a fork unsafe now (empty: safe), as ``name (state)``.

    Unsafe: any Python thread besides the main one, any native thread not named in
    :data:`SAFE_THREAD_NAMES`, any thread not asleep. Where ``/proc`` cannot say (not Linux),
    the answer is "unknown", which is unsafe.
    """
    bad = [f"{t.name} (Python)" for t in threading.enumerate() if t is not threading.main_thread()]
    me = os.getpid()
    try:
        tasks = list(Path(f"/proc/{me}/task").iterdir())
        for task in tasks:
            if int(task.name) == me:
                continue
            name = (task / "comm").read_text().strip()
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if not name.startswith(SAFE_THREAD_NAMES) or state != "S":
                bad.append(f"{name} ({state})")
    except (OSError, ValueError, IndexError):
        return ["unknown (no /proc)"]
    return bad


def start_by_fork() -> bool:
    """Make this process's fork server a fork of it; ``False`` (nothing done) when it cannot.

    It cannot when a server already runs, or when :func:`unsafe_threads` names anything: the
    standard server then starts with the first worker, as before. The server ends when this
    process does (its "alive" pipe closes), as the standard one does.
    """
    server: Any = forkserver._forkserver  # private attributes, named in the module docstring
    if server._forkserver_pid is not None:
        return False
    unsafe = unsafe_threads()
    if unsafe:
        log.debug("parsing workers' fork server starts afresh: threads %s", ", ".join(unsafe))
        return False
    resource_tracker.ensure_running()  # as ensure_running does: the children share the tracker
    with socket.socket(socket.AF_UNIX) as listener:
        address = connection.arbitrary_address("AF_UNIX")  # type: ignore[attr-defined]
        listener.bind(address)
        if not util.is_abstract_socket_namespace(address):
            Path(address).chmod(0o600)
        listener.listen()
        alive_r, alive_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the server: serve until the parent's end of the pipe closes, then go
            code = 0
            try:
                os.close(alive_w)
                forkserver.main(listener.fileno(), alive_r, [])
            except SystemExit as stop:  # how the server leaves its loop
                code = stop.code if isinstance(stop.code, int) else 0
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(alive_r)
    server._forkserver_address = address
    server._forkserver_alive_fd = alive_w
    server._forkserver_pid = pid
    log.debug("parsing workers' fork server forked from this process (pid %d)", pid)
    return True
