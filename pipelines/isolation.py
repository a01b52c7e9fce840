"""Parse files in child processes with hard memory and wall-time limits.

A Prefect task timeout cannot interrupt a long C call (zlib decompression, expat, fitparse's
struct loop), and a ``MemoryError`` or a segfault inside the run's own process would end the run.
So parsing happens in long-lived worker processes (``spawn`` context,
:attr:`IsolationLimits.workers` of them, so that every core is used), each with ``RLIMIT_AS`` set
to :attr:`IsolationLimits.memory_bytes` and core dumps disabled. The parent hands out one file at a
time and enforces :attr:`IsolationLimits.seconds_per_file` itself:

* a file that runs past its time: the worker is killed (``SIGKILL``) and restarted, the file gets
  ``resource_limit``, the rest of the batch goes on in the new worker;
* a worker that raises ``MemoryError``, or dies (segfault, the kernel's OOM killer): the file it
  was on gets ``resource_limit`` and the worker is restarted;
* any other exception inside a reader is a bug in mindmiles, not a verdict on the file: by default
  (``on_parser_error="quarantine"``) the file gets ``parser_error`` and the error's type and code
  location (never its message, which may quote file content) are logged; ``"raise"`` stops the run.

Results (:class:`~ingest.parse.FileResult` with Polars frames) come back by pickle over a pipe.
Use as ``run_ingest(settings, parse_batches=isolated_runner())``.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pipelines.fork_server import start_by_fork
from schemas.errors import ConfigError
from schemas.files import Outcome

if TYPE_CHECKING:
    from ingest.archive import ArchiveLimits
    from ingest.parse import FileResult
    from pipelines.run import ParseJob

__all__ = [
    "REASON_MESSAGES",
    "IsolationLimits",
    "ParseOne",
    "isolated_runner",
    "parse_isolated",
    "parse_job",
    "parse_job_pickled",
    "unpickled",
]

log = logging.getLogger(__name__)

GIB = 1024**3
POLARS_THREADS_VARIABLE = "POLARS_MAX_THREADS"

ParseOne = Callable[["ParseJob", "ArchiveLimits"], "FileResult"]
"""Parses one job inside a worker; must be importable by name (a module-level function)."""

ErrorPolicy = Literal["quarantine", "raise"]

REASON_MESSAGES: dict[str, str] = {
    "time": (
        "Reading this file took longer than the {limit} allowed, so it was set aside. "
        "Real watch exports and clinic CSVs are read in seconds; this one may be damaged, "
        "too large, or built to attack."
    ),
    "memory": (
        "Reading this file needed more memory than the {limit} allowed, so it was set aside. "
        "Real watch exports and clinic CSVs need far less; this one may be damaged, too large, "
        "or built to attack."
    ),
    "crash": (
        "The program reading this file stopped abruptly, so the file was set aside. "
        "It may be damaged or built to attack; the rest of the files were taken in as usual."
    ),
    "parser_error": (
        "This file could not be read because of a fault in mindmiles itself, not necessarily in "
        "the file. It was set aside for the engineers to look at."
    ),
}
"""Plain-language notes for files refused by the isolation layer, by cause."""


@dataclass(frozen=True)
class IsolationLimits:
    """Hard limits on each parsing worker.

    Attributes
    ----------
    memory_bytes
        ``RLIMIT_AS`` (virtual address space) of each worker. Polars alone reserves ~0.8 GiB of
        address space at import, so values under ~1.2 GiB leave little room for parsing.
    seconds_per_file
        Wall time one file may take, measured by the parent from hand-out to result...
    seconds_per_mib
        ...plus this much per MiB of the file, so that a whole-account export (hundreds of MB,
        thousands of members) gets a budget in proportion to its size.
    workers
        Worker processes (one per core is the useful maximum).
    polars_threads
        ``POLARS_MAX_THREADS`` inside workers: each Polars thread reserves address space, so a
        worker with one thread per core would spend the memory budget on stacks.
    start_timeout_s
        Time a new worker may take to import the readers and say it is ready.
    """

    memory_bytes: int = int(1.5 * GIB)
    seconds_per_file: float = 120.0
    seconds_per_mib: float = 2.0
    workers: int = 2
    polars_threads: int = 1
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError("isolation needs at least one worker")
        if self.seconds_per_file <= 0 or self.start_timeout_s <= 0 or self.seconds_per_mib < 0:
            raise ConfigError("isolation time limits must be positive")

    def budget_s(self, size_bytes: int) -> float:
        """Wall-time budget of a file of ``size_bytes``."""
        return self.seconds_per_file + self.seconds_per_mib * size_bytes / (1 << 20)


def parse_job(job: ParseJob, limits: ArchiveLimits) -> FileResult:
    """Parse one job exactly as the in-process runner does (:func:`pipelines.run.parse_job`)."""
    from pipelines.run import parse_job as parse_in_process

    return parse_in_process(job, limits)


def parse_job_pickled(job: ParseJob, limits: ArchiveLimits) -> FileResult:
    """Parse one job and pickle its result in the worker (a ``parse_one`` for pass-through).

    The parent then holds the result as ``bytes`` without unpickling it: a Dask worker hands it
    on to the flow, which unpickles it once (:func:`unpickled`), instead of three times.
    """
    return cast("FileResult", pickle.dumps(parse_job(job, limits), protocol=5))


def unpickled(result: FileResult | bytes) -> FileResult:
    """A result of :func:`parse_job_pickled` (or one the parent made itself) as a FileResult."""
    if isinstance(result, bytes):
        value = pickle.loads(result)  # bytes from our own worker process, never from a file
        return cast("FileResult", value)
    return result


# -- worker side -------------------------------------------------------------------------------


def _code_location(exc: BaseException) -> str:
    """Where an exception was raised: ``module.py:line in function`` (no message, no values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown location"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes ``import pandas`` fail in a parsing worker, as if pandas were not installed.

    No reader uses pandas; pandera imports it whenever it is installed (a development
    environment), which costs a worker 1.2 s of its 2.5 s start-up (measured here). It helps
    where the parent's main module does not import pandas itself (``spawn`` re-imports it in
    the child first): a Dask worker's and a Prefect flow-run process's parsing children. Under
    ``mindmiles ingest`` the CLI's own imports have already brought pandas in, and nothing changes.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _worker_main(
    conn: Connection, memory_bytes: int, polars_threads: int, parse_one: ParseOne
) -> None:
    """Worker loop: limit itself, then parse jobs until told to stop or the parent goes away."""
    os.environ[POLARS_THREADS_VARIABLE] = str(polars_threads)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    import pipelines.run  # noqa: F401  (import the readers before the memory limit applies)

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        conn.send(("ready", os.getpid()))
        while True:
            message = conn.recv()
            if message is None:
                return
            index, job, limits = message
            reply: tuple[Any, ...]
            try:
                reply = ("result", index, parse_one(job, limits))
            except MemoryError:
                reply = ("memory", index)
            except Exception as exc:  # reported to the parent, which applies the policy
                reply = ("error", index, type(exc).__name__, _code_location(exc))
            try:
                conn.send(reply)
            except MemoryError:
                # The pipe may hold half a message: only dying leaves the parent a clean signal.
                os._exit(3)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the parent is gone (killed, or the run ended): nothing left to do


# -- parent side -------------------------------------------------------------------------------


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    ready: bool = False
    job: int | None = None
    deadline: float = 0.0


def _forkserver() -> Any:
    """The ``forkserver`` context, its server importing the readers once per parent process.

    The server starts with the first worker: a fork of the parent when that is safe (see
    :mod:`pipelines.fork_server`), else a fresh Python importing Polars and the readers (2-3 s
    here); every later worker of the same parent, in this pool or the next, is a fork of it
    (about 0.05 s): a test session, a serving process or a Dask worker pays the imports once.
    A fork of a process holding threads is unsafe, which is why the children are forked from
    that server (one thread, no Polars work done) rather than from the parent.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipelines.run"])
    return context


@dataclass
class _Pool:
    limits: IsolationLimits
    parse_one: ParseOne
    context: Any = field(default_factory=lambda: _forkserver())
    workers: list[_Worker] = field(default_factory=list)
    restarts: int = 0

    def start(self) -> _Worker:
        start_by_fork()  # a fresh run's parent: the fork server in milliseconds, not seconds
        parent_end, child_end = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_worker_main,
            args=(child_end, self.limits.memory_bytes, self.limits.polars_threads, self.parse_one),
            name="mindmiles-parse",
            daemon=True,
        )
        # The child must see POLARS_MAX_THREADS before Polars starts its thread pool, which may
        # happen while it re-imports the parent's main module: set it in the environment it
        # inherits, and restore ours at once.
        previous = os.environ.get(POLARS_THREADS_VARIABLE)
        os.environ[POLARS_THREADS_VARIABLE] = str(self.limits.polars_threads)
        try:
            process.start()
        finally:
            if previous is None:
                del os.environ[POLARS_THREADS_VARIABLE]
            else:
                os.environ[POLARS_THREADS_VARIABLE] = previous
        child_end.close()
        deadline = time.monotonic() + self.limits.start_timeout_s
        worker = _Worker(process, parent_end, deadline=deadline)
        self.workers.append(worker)
        return worker

    def discard(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=10)
        worker.conn.close()
        self.workers.remove(worker)

    def stop(self) -> None:
        for worker in list(self.workers):
            if not worker.ready and not worker.conn.poll():
                self.discard(worker)  # still importing (started early, never used): no waiting
        for worker in list(self.workers):
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in list(self.workers):
            worker.process.join(timeout=5)
            self.discard(worker)


def _gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"


def _refused(job: ParseJob, cause: str, detail: str, *, limit: str = "") -> FileResult:
    from ingest.parse import FileResult

    code = "parser_error" if cause == "parser_error" else "resource_limit"
    return FileResult(
        sha256=job.sha256,
        detected_format="unknown",
        outcome=Outcome.QUARANTINED,
        reason_code=code,
        reason_message=REASON_MESSAGES[cause].format(limit=limit),
        detail=detail,
    )


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def parse_isolated(
    batches: Sequence[Sequence[ParseJob]],
    limits: ArchiveLimits,
    *,
    isolation: IsolationLimits | None = None,
    parse_one: ParseOne = parse_job,
    on_parser_error: ErrorPolicy = "quarantine",
    pool: _Pool | None = None,
    on_job: Callable[[ParseJob], None] | None = None,
) -> list[list[FileResult]]:
    """Parse every job of ``batches`` in limited worker processes; results keep the batch shape.

    Parameters
    ----------
    batches
        Jobs grouped as :func:`pipelines.run.make_batches` groups them; all jobs share the pool.
    limits
        Archive limits passed to the reader.
    isolation
        Memory, time and worker limits (defaults of :class:`IsolationLimits`).
    parse_one
        The function run in the worker for one job (default :func:`parse_job`); a module-level
        function, since the ``spawn`` context imports it by name.
    on_parser_error
        What an unexpected exception inside a reader does: ``"quarantine"`` the file with
        ``parser_error``, or ``"raise"`` a ``RuntimeError`` that ends the run.
    pool
        Workers kept alive between calls (see :class:`IsolatedParser`); by default a pool is
        started for this call and stopped at its end.
    on_job
        Called with each job as soon as it has its result (a progress bar's tick).

    Returns
    -------
    list of list of FileResult
        One result per job, in the order of ``batches``.

    Raises
    ------
    ConfigError
        A worker could not start (for instance ``memory_bytes`` too small to import the readers).
    RuntimeError
        A reader raised an unexpected exception and ``on_parser_error="raise"``.
    """
    isolation = isolation or IsolationLimits()
    jobs = [job for batch in batches for job in batch]
    results: list[FileResult | None] = [None] * len(jobs)
    if not jobs:
        return [[] for _ in batches]
    pending: deque[int] = deque(range(len(jobs)))
    owned = pool is None
    pool = pool if pool is not None else _Pool(isolation, parse_one)
    isolation = pool.limits
    done = 0

    def finish(index: int, result: FileResult) -> None:
        nonlocal done
        results[index] = result
        done += 1
        if on_job:
            on_job(jobs[index])

    try:
        while len(pool.workers) < min(isolation.workers, len(jobs)):
            pool.start()
        while done < len(jobs):
            now = time.monotonic()
            for worker in pool.workers:
                if worker.ready and worker.job is None and pending:
                    worker.job = pending.popleft()
                    worker.deadline = now + isolation.budget_s(jobs[worker.job].size)
                    worker.conn.send((worker.job, jobs[worker.job], limits))
            timeout = max(0.0, min(w.deadline for w in pool.workers) - time.monotonic())
            handles = [w.conn for w in pool.workers] + [w.process.sentinel for w in pool.workers]
            ready = wait(handles, timeout=timeout)
            for worker in list(pool.workers):
                if worker.conn in ready:
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if message is not None:
                        _handle(message, worker, jobs, finish, isolation, on_parser_error)
                        continue
                if (
                    worker.conn in ready
                    or worker.process.sentinel in ready
                    or (time.monotonic() >= worker.deadline)
                ):
                    _retire(worker, pool, jobs, finish, isolation, replace=bool(pending))
            if not pool.workers and done < len(jobs):
                pool.start()
    finally:
        if owned:
            pool.stop()
    log.info("isolated parsing: %d files, %d worker restarts", len(jobs), pool.restarts)
    out: list[list[FileResult]] = []
    position = 0
    for batch in batches:
        chunk = results[position : position + len(batch)]
        out.append([r for r in chunk if r is not None])
        position += len(batch)
    return out


def _handle(
    message: tuple[Any, ...],
    worker: _Worker,
    jobs: list[ParseJob],
    finish: Callable[[int, FileResult], None],
    isolation: IsolationLimits,
    on_parser_error: ErrorPolicy,
) -> None:
    kind = message[0]
    if kind == "ready":
        worker.ready = True
        worker.deadline = float("inf")
        return
    index = message[1]
    worker.job = None
    worker.deadline = float("inf")
    if kind == "result":
        finish(index, message[2])
    elif kind == "memory":
        limit = _gib(isolation.memory_bytes)
        detail = f"MemoryError under a {limit} limit"
        finish(index, _refused(jobs[index], "memory", detail, limit=limit))
    else:
        name, where = message[2], message[3]
        log.error("a reader raised %s at %s (file %s...)", name, where, jobs[index].sha256[:12])
        if on_parser_error == "raise":
            raise RuntimeError(f"a reader raised {name} at {where}")
        finish(index, _refused(jobs[index], "parser_error", f"{name} at {where}"))


def _retire(
    worker: _Worker,
    pool: _Pool,
    jobs: list[ParseJob],
    finish: Callable[[int, FileResult], None],
    isolation: IsolationLimits,
    *,
    replace: bool,
) -> None:
    """Kill (if needed) a worker that died or ran out of time; charge its file; start another."""
    timed_out = time.monotonic() >= worker.deadline
    if not timed_out:
        # Its pipe closed: the process is exiting. Let it finish so that its exit code (the signal
        # that ended it) can be read; a process only closes its end as it dies.
        worker.process.join(timeout=5)
    pool.discard(worker)
    if not worker.ready:
        raise ConfigError(
            "a parsing worker could not start "
            f"({'timed out' if timed_out else _signal_name(worker.process.exitcode)}); "
            f"is the memory limit of {_gib(isolation.memory_bytes)} too small?"
        )
    if worker.job is not None:
        job = jobs[worker.job]
        if timed_out:
            limit = f"{isolation.budget_s(job.size):.0f} s"
            result = _refused(job, "time", f"no result within {limit}", limit=limit)
        else:
            how = _signal_name(worker.process.exitcode)
            result = _refused(job, "crash", f"parser process ended ({how})")
        log.warning("file %s... refused: %s", job.sha256[:12], result.detail)
        finish(worker.job, result)
    if replace:
        pool.restarts += 1
        pool.start()


def isolated_runner(
    isolation: IsolationLimits | None = None,
    *,
    parse_one: ParseOne = parse_job,
    on_parser_error: ErrorPolicy = "quarantine",
) -> Callable[[Sequence[Sequence[ParseJob]], ArchiveLimits], list[list[FileResult]]]:
    """Return a ``parse_batches`` callable for :func:`pipelines.run.run_ingest`.

    The callable runs :func:`parse_isolated` with the given limits and policy.

    Examples
    --------
    >>> summary = run_ingest(settings, parse_batches=isolated_runner())  # doctest: +SKIP
    """

    def run(batches: Sequence[Sequence[ParseJob]], limits: ArchiveLimits) -> list[list[FileResult]]:
        return parse_isolated(
            batches,
            limits,
            isolation=isolation,
            parse_one=parse_one,
            on_parser_error=on_parser_error,
        )

    return run


class IsolatedParser:
    """A ``parse_batches`` callable whose worker processes live across calls.

    A run that parses in several waves (to keep memory flat) starts its workers once: a fresh
    Python with Polars costs about a second to start here.

    Examples
    --------
    >>> with IsolatedParser() as parser:  # doctest: +SKIP
    ...     summary = run_ingest(settings, parse_batches=parser)
    """

    def __init__(
        self,
        isolation: IsolationLimits | None = None,
        *,
        parse_one: ParseOne = parse_job,
        on_parser_error: ErrorPolicy = "quarantine",
        on_job: Callable[[ParseJob], None] | None = None,
    ) -> None:
        self._pool = _Pool(isolation or IsolationLimits(), parse_one)
        self._on_parser_error: ErrorPolicy = on_parser_error
        self._on_job = on_job

    def __enter__(self) -> IsolatedParser:
        return self

    def warm(self, files: int) -> None:
        """Start workers now for ``files`` waiting files, to import the readers during discovery.

        A fresh Python with Polars takes one to two seconds to start here: a nightly run with a
        few new files would otherwise wait for it after its discovery. No more workers start than
        there are files (none for an empty inbox).
        """
        while len(self._pool.workers) < min(self._pool.limits.workers, files):
            self._pool.start()

    def __exit__(self, *exc_info: object) -> None:
        self._pool.stop()

    def __call__(
        self, batches: Sequence[Sequence[ParseJob]], limits: ArchiveLimits
    ) -> list[list[FileResult]]:
        """Parse ``batches`` with the kept workers (started on first use)."""
        return parse_isolated(
            batches,
            limits,
            isolation=self._pool.limits,
            parse_one=self._pool.parse_one,
            on_parser_error=self._on_parser_error,
            pool=self._pool,
            on_job=self._on_job,
        )
