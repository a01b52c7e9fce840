"""One complete ingestion run, as plain functions (the Prefect flow wraps these).

Order of work, chosen so that a run killed at any point converges on the next run:

1. take the warehouse lock and remove what an interrupted run left behind;
2. find the inbox's files, defer those still being copied, hash the rest and skip bytes the ledger
   already holds (they only get moved);
3. parse in batches (``parse_batches`` decides how: serially, or as Prefect tasks);
4. recognise runs already held, set local dates;
5. upsert ``activities``, ``laps``, ``hrv``, ``samples``, then the ``files`` ledger (ids are derived
   from content, so replaying a half-finished run rewrites the same rows);
6. move each file to ``_processed`` or ``_quarantine`` (with its note).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from ingest.archive import ArchiveLimits
from ingest.detect import detect_format
from ingest.errors import MindmilesError, UnsupportedFormat
from ingest.journal_errors import RosterInvalid
from ingest.roster import read_roster
from ingest.tabular import classify_table_file
from pipelines.derive import DERIVED_TABLES, derive_for_clients
from pipelines.ledger import flatten, ledger_rows, quarantine_note
from pipelines.parse import FileResult, parse_file, sha256_hex, validate_results
from pipelines.report import default_report_dir, write_reports
from pipelines.settings import Settings
from pipelines.tabular import TableFileResult, merge_table_files, read_table_file
from transform.dedupe import find_duplicates
from transform.local_dates import DEFAULT_TIMEZONE, add_local_date
from transform.privacy import privacy_radii, trim_home_zones
from warehouse.inbox import Candidate, Inbox
from warehouse.lock import warehouse_lock
from warehouse.runlog import append_run
from warehouse.secret import load_secret, pseudonymize
from warehouse.sql import write_database
from warehouse.store import TableStore

__all__ = ["ParseJob", "RunSummary", "parse_batch", "parse_job", "run_ingest"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseJob:
    """One file to parse: where it is and whose it is (all a parsing task needs)."""

    path: str
    client_id: str
    sha256: str
    size: int


@dataclass
class RunSummary:
    """What one run did; printed by ``mindmiles ingest --json``."""

    files_seen: int = 0
    ingested: int = 0
    duplicates: int = 0
    skipped: int = 0
    quarantined: int = 0
    deferred: int = 0
    activities: int = 0
    clients_rebuilt: int = 0
    clients_without_roster: int = 0
    reason_codes: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_json(self) -> str:
        """One JSON object."""
        return json.dumps(asdict(self), sort_keys=True)


OUTCOME_COUNTERS = {
    "ingested": "ingested",
    "duplicate": "duplicates",
    "skipped": "skipped",
    "quarantined": "quarantined",
}
"""Outcome of a file -> the :class:`RunSummary` counter it adds to."""

BatchRunner = Callable[[Sequence[Sequence[ParseJob]], ArchiveLimits], list[list[FileResult]]]
Progress = Callable[[int, int], None]


def parse_job(job: ParseJob, limits: ArchiveLimits) -> FileResult:
    """Parse one file; schema validation is left to the run (one call per table per run)."""
    try:
        data = Path(job.path).read_bytes()
    except FileNotFoundError:
        # Moved or deleted since it was found: nothing to judge now; seen again if it returns.
        return FileResult(sha256=job.sha256, detected_format="unknown", outcome="deferred")
    result = parse_file(data, client_id=job.client_id, limits=limits, validate=False)
    if result.sha256 != job.sha256:
        # The bytes changed between hashing and parsing: judged again on the next run.
        result.outcome = "deferred"
    return result


def parse_batch(jobs: Sequence[ParseJob], limits: ArchiveLimits) -> list[FileResult]:
    """Parse a batch of files; every file gets a result, a bad one never stops the batch."""
    return [parse_job(job, limits) for job in jobs]


def parse_serially(
    batches: Sequence[Sequence[ParseJob]], limits: ArchiveLimits, progress: Progress | None = None
) -> list[list[FileResult]]:
    """Parse batches one after the other in this process."""
    out = []
    done = 0
    total = sum(len(b) for b in batches)
    for batch in batches:
        out.append(parse_batch(batch, limits))
        done += len(batch)
        if progress:
            progress(done, total)
    return out


def make_batches(
    jobs: Sequence[ParseJob], *, max_files: int, max_bytes: int
) -> list[list[ParseJob]]:
    """Group jobs into batches bounded by file count and total size (order kept)."""
    batches: list[list[ParseJob]] = []
    current: list[ParseJob] = []
    size = 0
    for job in jobs:
        if current and (len(current) >= max_files or size + job.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(job)
        size += job.size
    if current:
        batches.append(current)
    return batches


def _load_roster(
    inbox: Inbox, store: TableStore, secret: bytes, reasons: Counter[str]
) -> tuple[pl.DataFrame, bool]:
    """Read ``roster.csv``; return the roster to use and whether it changed since the last run."""
    held = store.read("roster")
    if not inbox.roster_path.exists():
        return held, False
    try:
        result = read_roster(
            inbox.roster_path.read_bytes(), pseudonymize=lambda code: pseudonymize(code, secret)
        )
    except RosterInvalid as error:
        reasons[error.reason_code] += 1
        log.error("roster.csv cannot be read (%s); the previous roster is kept", error.message)
        return held, False
    for issue in result.issues:
        reasons["roster_row_refused"] += 1
        log.warning("roster.csv line %d refused: %s", issue.line, issue.message)
    roster = result.roster.select(held.columns).cast(held.schema)
    if held.height == roster.height and held.sort("client_id").equals(roster.sort("client_id")):
        return held, False
    store.replace("roster", roster)
    return roster, True


def _mark_duplicates(results: list[FileResult], store: TableStore) -> None:
    held = store.read("activities").select("activity_id", "client_id", "sport", "start_utc")
    items = [r for top in results for r in flatten(top) if r.activities is not None]
    if not items:
        return
    new = pl.concat([r.activities.select(held.columns) for r in items if r.activities is not None])
    held_ids = set(held["activity_id"].to_list())
    duplicates = find_duplicates(new.filter(~pl.col("activity_id").is_in(held_ids)), held)
    for item in items:
        assert item.activities is not None
        ids = item.activities["activity_id"].to_list()
        repeated = [a for a in ids if a in duplicates]
        if not repeated:
            continue
        item.duplicate_of = [duplicates[a] for a in repeated]
        keep = ~pl.col("activity_id").is_in(repeated)
        item.activities = item.activities.filter(keep)
        for name in ("samples", "laps", "hrv"):
            frame = getattr(item, name)
            setattr(item, name, frame.filter(keep))
        if item.activities.is_empty():
            item.outcome = "duplicate"
            item.reason_code = "same_activity_held"
            item.reason_message = "This workout is already in the warehouse from another file."
    for top in results:
        if (
            top.members
            and all(m.outcome in ("duplicate", "skipped") for m in flatten(top)[1:])
            and any(m.outcome == "duplicate" for m in flatten(top)[1:])
        ):
            top.outcome = "duplicate"


def _frames(results: list[FileResult], name: str) -> pl.DataFrame | None:
    frames = [
        getattr(r, name) for top in results for r in flatten(top) if getattr(r, name) is not None
    ]
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else None


def _table_kind(data: bytes) -> str | None:
    """``journal`` or ``plan`` for the clinic's CSVs; ``None`` for anything else (judged by content)."""
    try:
        detect_format(data)
    except UnsupportedFormat as error:
        if error.reason_code == "unknown_format":
            return classify_table_file(data)
        return None
    return None


def _write_tables(
    results: list[FileResult], store: TableStore, timezones: pl.DataFrame, secret: bytes
) -> pl.DataFrame | None:
    activities = _frames(results, "activities")
    if activities is None:
        return None
    activities = add_local_date(activities, timezones)
    unknown_zone = ~pl.col("client_id").is_in(timezones["client_id"].to_list())
    activities = activities.with_columns(
        quality_flags=pl.when(unknown_zone)
        .then(
            pl.concat_str(
                [pl.col("quality_flags"), pl.lit("timezone_unknown")], separator=","
            ).str.strip_chars(",")
        )
        .otherwise(pl.col("quality_flags"))
    )
    store.upsert("activities", activities)
    for name in ("laps", "hrv"):
        frame = _frames(results, name)
        if frame is not None:
            store.upsert(name, frame)
    samples = _frames(results, "samples")
    if samples is not None:
        # Positions near where each run starts and ends (home) never reach the analyst table.
        radii = privacy_radii(samples["client_id"].unique().to_list(), secret)
        store.upsert("samples", trim_home_zones(samples, radii))
    return activities


def run_ingest(
    settings: Settings,
    *,
    parse_batches: BatchRunner | None = None,
    progress: Progress | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    who: str = "mindmiles ingest",
) -> RunSummary:
    """Take in everything that is ready in the inbox; return what happened.

    Parameters
    ----------
    settings
        Folders, secret and limits.
    parse_batches
        How batches are parsed; default serially in this process. The Prefect flow passes a runner
        that maps :func:`parse_batch` over the batches as tasks.
    progress
        Called with (files done, files total) while parsing.
    who
        Names this run in the lock file, so that a waiting run can say whom it waits for.
    """
    started = time.monotonic()
    summary = RunSummary()
    with warehouse_lock(settings.warehouse, timeout_s=settings.lock_timeout_s, who=who):
        store = TableStore(settings.warehouse)
        store.clean_stale()
        secret = load_secret(
            env_value=settings.secret, key_file=settings.key_file, warehouse=settings.warehouse
        )
        inbox = Inbox(settings.inbox, settle_seconds=settings.settle_seconds)
        reasons: Counter[str] = Counter()
        roster, roster_changed = _load_roster(inbox, store, secret, reasons)
        timezones = roster.select("client_id", "timezone")
        zone_of = dict(timezones.iter_rows())
        ledger = store.read("files")
        known = {
            (row["client_id"], row["sha256"]): row
            for row in ledger.filter(pl.col("container_sha256").is_null()).iter_rows(named=True)
        }
        jobs: list[tuple[Candidate, ParseJob]] = []
        tables: list[tuple[Candidate, TableFileResult]] = []
        repeats: list[tuple[Candidate, str, dict[str, object]]] = []
        seen: set[tuple[str, str]] = set()
        folder_clients: set[str] = set()
        for candidate in inbox.candidates():
            summary.files_seen += 1
            if inbox.still_arriving(candidate):
                summary.deferred += 1
                continue
            client_id = pseudonymize(candidate.client_code, secret)
            folder_clients.add(client_id)
            data = candidate.path.read_bytes()
            sha = sha256_hex(data)
            key = (client_id, sha)
            if key in known or key in seen:
                repeats.append((candidate, sha, known.get(key, {"outcome": "ingested"})))
                continue
            seen.add(key)
            kind = _table_kind(data)
            if kind is not None:
                zone = zone_of.get(client_id, DEFAULT_TIMEZONE)
                tables.append(
                    (
                        candidate,
                        read_table_file(
                            data, kind=kind, sha256=sha, client_id=client_id, timezone=zone
                        ),
                    )
                )
            else:
                jobs.append(
                    (candidate, ParseJob(str(candidate.path), client_id, sha, candidate.size))
                )
            del data
        summary.clients_without_roster = len(folder_clients - set(zone_of))
        batches = make_batches(
            [j for _, j in jobs], max_files=settings.batch_files, max_bytes=settings.batch_bytes
        )
        if parse_batches is None:
            parsed = parse_serially(batches, settings.limits, progress)
        else:
            parsed = parse_batches(batches, settings.limits)
        results = [r for batch in parsed for r in batch]
        validate_results([r for r in results if r.outcome != "deferred"])
        summary.deferred += sum(r.outcome == "deferred" for r in results)
        pairs = [
            (c, j, r) for (c, j), r in zip(jobs, results, strict=True) if r.outcome != "deferred"
        ]
        final = [r for _, _, r in pairs]
        _mark_duplicates(final, store)
        written = _write_tables(final, store, timezones, secret)
        summary.activities = 0 if written is None else written.height
        affected = set() if written is None else set(written["client_id"].to_list())
        affected |= merge_table_files(store, [t for _, t in tables])
        if roster_changed or any(store.current_version(name) is None for name in DERIVED_TABLES):
            affected |= set(store.read("activities")["client_id"].unique().to_list())
            affected |= set(roster["client_id"].to_list())
        derive_for_clients(store, affected)
        summary.clients_rebuilt = len(affected)
        received = now()
        ledger_frames = [
            ledger_rows(r, client_id=j.client_id, received=received) for _, j, r in pairs
        ]
        ledger_frames += [
            ledger_rows(t.result, client_id=t.client_id, received=received) for _, t in tables
        ]
        if ledger_frames:
            store.upsert("files", pl.concat(ledger_frames))
        moves = [(c, r) for c, _, r in pairs] + [(c, t.result) for c, t in tables]
        for candidate, result in moves:
            for item in flatten(result):
                if item.reason_code:
                    reasons[item.reason_code] += 1
            attr = OUTCOME_COUNTERS[result.outcome]
            setattr(summary, attr, getattr(summary, attr) + 1)
            if result.outcome == "quarantined":
                inbox.quarantine(
                    candidate, result.sha256, quarantine_note(result, file_name=candidate.name)
                )
            else:
                inbox.move_processed(candidate, result.sha256)
                if result.reason_code or any(
                    m.outcome == "quarantined" for m in flatten(result)[1:]
                ):
                    inbox.note_beside_processed(
                        candidate, result.sha256, quarantine_note(result, file_name=candidate.name)
                    )
        for candidate, sha, previous in repeats:
            summary.duplicates += 1
            reasons["same_file_received_again"] += 1
            if previous.get("outcome") == "quarantined":
                note = f"File: {candidate.name}\nThis exact file was refused before: {previous.get('reason_message')}\n"
                inbox.quarantine(candidate, sha, note)
            else:
                inbox.move_processed(candidate, sha)
        summary.reason_codes = dict(sorted(reasons.items()))
        summary.duration_s = round(time.monotonic() - started, 3)
        append_run(settings.warehouse, {"finished_utc": now().isoformat(), **asdict(summary)})
        write_database(settings.warehouse)
        try:
            write_reports(
                warehouse=settings.warehouse,
                inbox=settings.inbox,
                out=default_report_dir(settings.inbox),
                secret=secret,
                generated=now(),
            )
        except (OSError, MindmilesError) as exc:  # the data is in; a report is not worth a failure
            log.error("the therapist reports were not refreshed: %s", exc)
    log.info(
        "run finished: %d files seen, %d ingested, %d duplicates, %d skipped, %d quarantined, %d deferred",
        summary.files_seen,
        summary.ingested,
        summary.duplicates,
        summary.skipped,
        summary.quarantined,
        summary.deferred,
    )
    return summary
