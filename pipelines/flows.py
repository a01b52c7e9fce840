"""Prefect flows: thin wiring around :func:`pipelines.run.run_ingest`.

Parsing is mapped over *batches* of files, one task per batch, never one per file: each task run
costs 12-80 ms of orchestration here and grows the server's database. The secret never becomes a
flow parameter (Prefect stores parameters); it is read from the environment inside the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import Task, flow, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from ingest.archive import ArchiveLimits
from ingest.parse import FileResult
from pipelines.isolation import IsolationLimits, parse_isolated
from pipelines.run import ParseJob, RunSummary, run_ingest
from pipelines.settings import Settings

__all__ = ["ingest_flow", "summary_markdown"]


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
"""Each batch task parses in its own limited worker process; two tasks run at once (two cores)."""


@task(
    name="parse-batch",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_condition_fn=_transient_io_error,
)
def parse_batch_task(jobs: Sequence[ParseJob], limits: ArchiveLimits) -> list[FileResult]:
    """Parse one batch of files in a worker process with memory and time limits (a Prefect task)."""
    return parse_isolated([jobs], limits, isolation=BATCH_ISOLATION)[0]


def _prefect_runner(
    batches: Sequence[Sequence[ParseJob]], limits: ArchiveLimits
) -> list[list[FileResult]]:
    if not batches:
        return []
    futures = parse_batch_task.map(list(batches), unmapped(limits))
    wait(futures)  # every task ends before the first failure is raised: none is left unawaited
    return [future.result() for future in futures]


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


@flow(
    name="mindmiles-ingest",
    log_prints=False,
    task_runner=ThreadPoolTaskRunner(max_workers=2),  # type: ignore[arg-type]
)
def ingest_flow(
    inbox: str, warehouse: str, settle_seconds: float = 2.0, config: str | None = None
) -> dict[str, Any]:
    """Take in everything ready in ``inbox`` and update ``warehouse``; returns the run summary.

    ``config`` names the clinic's threshold file, if any (:func:`pipelines.settings.read_thresholds`).
    """
    settings = Settings.from_options(
        inbox=Path(inbox), warehouse=Path(warehouse), settle_seconds=settle_seconds, config=config
    )
    who = f"Prefect flow run {flow_run.get_name() or flow_run.get_id()}"
    summary = run_ingest(settings, parse_batches=_prefect_runner, who=who)
    create_markdown_artifact(
        key="ingest-summary", markdown=summary_markdown(summary), description="mindmiles run record"
    )
    return asdict(summary)
