"""Prefect flows: thin wiring around :func:`pipelines.run.run_ingest`.

Parsing is mapped over *batches* of files, one task per batch, never one per file: each task run
costs 12-80 ms of orchestration here (0.2-0.5 s on a Dask worker) and grows the server's
database. The secret never becomes a flow parameter (Prefect stores parameters); it is read from
the environment inside the run.

With ``dask_address`` the batches, and the derivation of the affected clients (a few clients per
task), run as tasks of ``prefect-dask``'s :class:`~prefect_dask.DaskTaskRunner` on that
scheduler's workers; the flow itself (discovery, every commit, the inbox moves) stays in the
flow-run process, the warehouse's one writer. A batch whose worker is lost is run again by Dask
on another worker; its rows are written once, by the flow.
"""

from __future__ import annotations

import atexit
import pickle
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from contextvars import ContextVar
from dataclasses import asdict, replace
from typing import Any

from prefect import Task, flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import FlowRunContext
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from ingest.archive import ArchiveLimits
from ingest.parse import FileResult
from pipelines.derive import ChunkInputs, DerivedFrames, derive_chunk
from pipelines.isolation import IsolatedParser, IsolationLimits, parse_job_pickled, unpickled
from pipelines.run import ParseJob, RunSummary, run_ingest
from pipelines.settings import Settings
from schemas.codes import REASON_CODES

__all__ = ["WARM_PARSER", "ingest_flow", "run_log_lines", "summary_markdown"]


PERMANENT_IO_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
"""I/O errors that a retry cannot cure."""


def _transient_io_error(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a batch only after a transient I/O error (a network share's hiccup).

    A corrupt file never raises (it is quarantined inside ``parse_batch``); any other exception is
    a bug and fails the run at once.
    """
    try:
        state.result()
    except PERMANENT_IO_ERRORS:
        return False
    except OSError:
        return True
    except Exception:
        return False
    return False


BATCH_ISOLATION = IsolationLimits(workers=1)
"""Each batch task parses in a limited worker process; two tasks run at once (two cores)."""

_PARSERS = threading.local()


def _on_dask_worker() -> bool:
    """Whether this task runs on a Dask worker (whose threads live across tasks)."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _thread_parser() -> IsolatedParser:
    """The calling thread's parsing worker, kept for the next batch task it runs.

    A fresh Python with Polars takes 1-2 s to start: a Dask worker thread starts its limited child
    process once and reuses it, task after task. A child that dies or runs out of time is replaced
    by the pool as usual.
    """
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = IsolatedParser(BATCH_ISOLATION, parse_one=parse_job_pickled)
        _PARSERS.parser = parser
        atexit.register(parser.__exit__, None, None, None)
    return parser


@task(
    name="parse-batch",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_condition_fn=_transient_io_error,
)
def parse_batch_task(jobs: Sequence[ParseJob], limits: ArchiveLimits) -> list[bytes]:
    """Parse one batch of files in a worker process with memory and time limits (a Prefect task).

    The results stay pickled, as the worker process made them, until the flow reads them.
    """
    if _on_dask_worker():
        results: list[FileResult | bytes] = list(_thread_parser()([jobs], limits)[0])
    else:  # a thread of the local task runner: its process ends with the task
        with IsolatedParser(BATCH_ISOLATION, parse_one=parse_job_pickled) as parser:
            results = list(parser([jobs], limits)[0])
    return [r if isinstance(r, bytes) else pickle.dumps(r, protocol=5) for r in results]


WARM_PARSER: ContextVar[IsolatedParser | None] = ContextVar("mindmiles_warm_parser", default=None)
"""Parsing workers started before the run, set by the serving process around a quick watch run.

A flow run in a fresh process, or a batch task on the local runner, starts its own parsing
process, which takes 1-2 s here (10 s and more when the machine is busy). The serving process
keeps two workers started between watch runs and lends them to the flow run it runs itself.
"""


def warm_parser() -> IsolatedParser | None:
    """The parsing workers lent to this flow run (:data:`WARM_PARSER`), if any.

    The flow reads the variable through this function: Prefect pickles the flow's function by
    value for remote task runners, with the globals it names, and a ``ContextVar`` cannot be
    pickled (a module-level function is pickled by reference).
    """
    return WARM_PARSER.get()


@task(name="parse-wave", cache_policy=NO_CACHE, persist_result=False)
def parse_wave_task(
    batches: Sequence[Sequence[ParseJob]], limits: ArchiveLimits, parser: IsolatedParser
) -> list[list[FileResult]]:
    """Parse a wave of batches with parsing workers that are already running (a Prefect task)."""
    return parser(batches, limits)


@task(name="derive-clients", cache_policy=NO_CACHE, persist_result=False)
def derive_chunk_task(inputs: ChunkInputs) -> DerivedFrames:
    """Derive a few clients' tables from the warehouse (a Prefect task; the flow writes them)."""
    return derive_chunk(inputs)


def _on_runner(
    runner: TaskRunner[Any],
) -> tuple[
    Callable[[Sequence[Sequence[ParseJob]], ArchiveLimits], list[list[FileResult]]],
    Callable[[Sequence[ChunkInputs]], list[DerivedFrames]],
]:
    """``parse_batches`` and ``derive_chunks`` that map their tasks on ``runner``.

    The flow's own thread pool, or a :class:`~prefect_dask.DaskTaskRunner`; every task ends
    before the first failure is raised, so none is left unawaited.
    """

    def parse(
        batches: Sequence[Sequence[ParseJob]], limits: ArchiveLimits
    ) -> list[list[FileResult]]:
        if not batches:
            return []
        parameters = {"jobs": list(batches), "limits": unmapped(limits)}
        futures = runner.map(parse_batch_task, parameters)  # type: ignore[arg-type]
        wait(futures)
        return [[unpickled(r) for r in future.result()] for future in futures]

    def derive(chunks: Sequence[ChunkInputs]) -> list[DerivedFrames]:
        if not chunks:
            return []
        futures = runner.map(derive_chunk_task, {"inputs": list(chunks)})  # type: ignore[arg-type]
        wait(futures)
        return [future.result() for future in futures]

    return parse, derive


CLUSTER_BATCH_FILES = 256
"""Files per batch task on a cluster, where a task costs 0.3-0.4 s of orchestration."""
MAX_BATCHES_PER_WAVE = 16
"""Batches a flow on a cluster parses before it writes them (its memory: about 100 MB each; it
holds two waves, the one it writes and the one being parsed)."""


def _cluster_threads(address: str) -> int:
    """Worker threads of the Dask cluster at ``address``."""
    from distributed import Client

    with Client(address, timeout=60) as client:  # type: ignore[no-untyped-call]
        return int(sum(client.nthreads().values()))


def summary_markdown(summary: RunSummary) -> str:
    """The run's record as a Markdown table (the Prefect artifact)."""
    rows = [
        ("files seen", summary.files_seen),
        ("ingested", summary.ingested),
        ("duplicates", summary.duplicates),
        ("skipped (not a workout)", summary.skipped),
        ("quarantined", summary.quarantined),
        ("deferred (still copying)", summary.deferred),
        ("new activities", summary.activities),
        ("duration (s)", summary.duration_s),
    ]
    lines = ["| what | count |", "|---|---:|", *[f"| {k} | {v} |" for k, v in rows]]
    if summary.reason_codes:
        lines += ["", "| reason code | files |", "|---|---:|"]
        lines += [f"| {code} | {n} |" for code, n in summary.reason_codes.items()]
    return "\n".join(lines)


def run_log_lines(summary: RunSummary) -> list[str]:
    """The run's counts and refusals in plain words, for the Prefect run log (no client codes).

    Examples
    --------
    >>> lines = run_log_lines(
    ...     RunSummary(files_seen=3, ingested=2, quarantined=1, reason_codes={"empty_file": 1})
    ... )
    >>> lines[0][:62]
    '3 file(s) looked at: 2 taken in, 0 already held (duplicates), '
    >>> lines[1]
    '1 file(s): the file is empty (0 bytes) [empty_file]'
    """
    lines = [
        f"{summary.files_seen} file(s) looked at: {summary.ingested} taken in, "
        f"{summary.duplicates} already held (duplicates), {summary.skipped} without a workout "
        f"(skipped), {summary.quarantined} refused (quarantined), {summary.deferred} still "
        f"being copied (deferred); {summary.activities} new activities, "
        f"{summary.clients_rebuilt} client(s) rebuilt, in {summary.duration_s:.1f} s"
    ]
    lines += [
        f"{count} file(s): {REASON_CODES.get(code, code)} [{code}]"
        for code, count in summary.reason_codes.items()
    ]
    if summary.clients_without_roster:
        lines.append(
            f"{summary.clients_without_roster} client folder(s) have no row in roster.csv: their "
            "files are taken in, but heart-rate zones, load and local dates need the row"
        )
    if summary.deferred:
        lines.append(f"{summary.deferred} file(s) still being copied were left for the next run")
    return lines


@flow(
    name="mindmiles-ingest",
    log_prints=False,
    task_runner=ThreadPoolTaskRunner(max_workers=2),  # type: ignore[arg-type]
)
def ingest_flow(
    inbox: str,
    warehouse: str,
    settle_seconds: float = 2.0,
    config: str | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Take in everything ready in ``inbox`` and update ``warehouse``; returns the run summary.

    ``inbox`` and ``warehouse`` are folders or ``s3://`` URIs. ``config`` names the clinic's
    threshold file, if any (:func:`pipelines.settings.read_thresholds`). ``dask_address``
    (``tcp://host:port``) runs the parsing and derivation tasks on that Dask scheduler.
    """
    settings = Settings.from_options(
        inbox=inbox, warehouse=warehouse, settle_seconds=settle_seconds, config=config
    )
    who = f"Prefect flow run {flow_run.get_name() or flow_run.get_id()}"
    with ExitStack() as stack:
        if dask_address:
            from prefect_dask.task_runners import DaskTaskRunner

            runner = stack.enter_context(DaskTaskRunner(address=dask_address))
            # A wave holds a batch for every worker thread, and the next wave is parsed while
            # the flow writes this one, so that the cluster stays busy; bounded, since the flow
            # holds two waves' frames at once.
            threads = _cluster_threads(dask_address)
            waves = min(MAX_BATCHES_PER_WAVE, max(2, threads))
            batch = max(settings.batch_files, CLUSTER_BATCH_FILES)
            settings = replace(
                settings,
                batches_per_wave=waves,
                batch_files=batch,
                derive_parallelism=max(2, threads),
            )
        else:
            runner = FlowRunContext.get().task_runner  # type: ignore[union-attr]
        parse, derive = _on_runner(runner)
        warm = warm_parser()
        if warm is not None and not dask_address:

            def parse(
                batches: Sequence[Sequence[ParseJob]], limits: ArchiveLimits
            ) -> list[list[FileResult]]:
                return parse_wave_task(batches, limits, warm) if batches else []

        summary = run_ingest(
            settings,
            parse_batches=parse,
            derive_chunks=derive,
            who=who,
            # on a cluster, workers on other machines read an object-store inbox themselves
            parse_from_origin=bool(dask_address),
            parse_ahead=bool(dask_address),
        )
    logger = get_run_logger()
    for line in run_log_lines(summary):
        logger.info(line)
    create_markdown_artifact(
        key="ingest-summary", markdown=summary_markdown(summary), description="mindmiles run record"
    )
    return asdict(summary)
