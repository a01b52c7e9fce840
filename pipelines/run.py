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

import contextvars
import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import polars as pl

from clinic.roster import read_roster
from clinic.tabular import classify_table_file
from ingest.archive import ArchiveLimits, count_members
from ingest.detect import detect_format
from ingest.exports.wellness import daily_wellness_frame
from ingest.parse import FileResult, parse_file, sha256_hex, validate_results
from pipelines.derive import DERIVED_TABLES, DeriveChunks, derive_for_clients
from pipelines.duplicate_resolution import mark_duplicates, replace_held
from pipelines.ledger import ledger_rows, quarantine_note
from pipelines.reports import refresh_reports
from pipelines.settings import Settings
from pipelines.tabular import TableFileResult, merge_table_files, read_table_file
from schemas.errors import MindmilesError, RosterInvalid, UnsupportedFormat
from schemas.files import Outcome
from schemas.local_dates import DEFAULT_TIMEZONE, add_local_date
from transform.privacy import privacy_radii, trim_home_zones
from warehouse.inbox import Candidate, FileChanged, Inbox, NotRegular, Oddity, display_name
from warehouse.location import Where, is_remote
from warehouse.lock import warehouse_lock
from warehouse.object_inbox import staged_inbox
from warehouse.objects import read_source
from warehouse.runlog import (
    append_run,
    read_derived_with,
    read_failures,
    read_pending,
    write_derived_with,
    write_failures,
    write_pending,
)
from warehouse.secret import (
    load_secret,
    pseudonymize,
    record_fingerprint,
    recorded_fingerprint,
)
from warehouse.sql import DATABASE_NAME, write_database
from warehouse.store import TableStore
from warehouse.tables import with_sample_partition

__all__ = ["ParseJob", "RunSummary", "parse_batch", "parse_job", "run_ingest"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseJob:
    """One file to parse: where it is and whose it is (all a parsing task needs)."""

    path: str
    client_id: str
    sha256: str
    size: int
    detected_format: str | None = None
    """The format discovery judged from the magic bytes (``None``: refused there, judged again)."""
    members: int = 1
    """Files it holds, as a progress bar counts them (a zip's listed members; else 1)."""
    table_kind: str | None = None
    """``"journal"`` or ``"plan"`` for a clinic CSV (read by :func:`read_table_file`)."""
    timezone: str = DEFAULT_TIMEZONE
    """The client's roster timezone (a journal's local dates)."""


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
    activities_found: int = 0
    duplicates_merged: int = 0
    non_activity_files: int = 0
    clients_rebuilt: int = 0
    clients_without_roster: int = 0
    reason_codes: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: discover_hash, parse, validate, write, derive, publish."""

    def to_json(self) -> str:
        """One JSON object."""
        return json.dumps(asdict(self), sort_keys=True)


OUTCOME_COUNTERS = {
    Outcome.INGESTED: "ingested",
    Outcome.DUPLICATE: "duplicates",
    Outcome.SKIPPED: "skipped",
    Outcome.QUARANTINED: "quarantined",
}
"""Outcome of a file -> the :class:`RunSummary` counter it adds to."""

BatchRunner = Callable[[Sequence[Sequence[ParseJob]], ArchiveLimits], list[list[FileResult]]]
Progress = Callable[[int, int], None]
MemberProgress = Callable[[int], None]


def parse_job(
    job: ParseJob, limits: ArchiveLimits, on_member: MemberProgress | None = None
) -> FileResult:
    """Parse one file; schema validation is left to the run (one call per table per run)."""
    try:
        data = read_source(job.path)
    except FileNotFoundError:
        # Moved or deleted since it was found: nothing to judge now; seen again if it returns.
        return FileResult(sha256=job.sha256, detected_format="unknown", outcome=Outcome.DEFERRED)
    if job.table_kind is not None:  # a clinic CSV: read here too, under the same limits
        if sha256_hex(data) != job.sha256:
            return FileResult(
                sha256=job.sha256, detected_format="unknown", outcome=Outcome.DEFERRED
            )
        table = read_table_file(
            data,
            kind=job.table_kind,
            sha256=job.sha256,
            client_id=job.client_id,
            timezone=job.timezone,
        )
        table.result.tables = table.frames
        return table.result
    result = parse_file(
        data,
        client_id=job.client_id,
        limits=limits,
        validate=False,
        on_member=on_member,
        detected_format=job.detected_format,
    )
    if result.sha256 != job.sha256:
        # The bytes changed between hashing and parsing: judged again on the next run.
        result.outcome = Outcome.DEFERRED
    return result


def parse_batch(
    jobs: Sequence[ParseJob], limits: ArchiveLimits, on_member: MemberProgress | None = None
) -> list[FileResult]:
    """Parse a batch of files; every file gets a result, a bad one never stops the batch."""
    return [parse_job(job, limits, on_member) for job in jobs]


def parse_serially(
    batches: Sequence[Sequence[ParseJob]],
    limits: ArchiveLimits,
    progress: Progress | None = None,
    on_member: MemberProgress | None = None,
) -> list[list[FileResult]]:
    """Parse batches one after the other in this process."""
    out = []
    done = 0
    total = sum(len(b) for b in batches)
    for batch in batches:
        out.append(parse_batch(batch, limits, on_member))
        done += len(batch)
        if progress:
            progress(done, total)
    return out


def _from_origin(job: ParseJob, settings: Settings) -> ParseJob:
    """The job reading its file from the object-store inbox that the run's inbox is a copy of."""
    relative = Path(job.path).relative_to(Path(settings.inbox)).as_posix()
    return replace(job, path=f"{settings.inbox_origin}/{relative}")


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
    try:
        data = inbox.read_roster()
    except OSError as error:  # a link, pipe or device is never opened; nothing of it is quoted
        reasons["roster_unreadable"] += 1
        kind = "is not a regular file" if isinstance(error, NotRegular) else "cannot be read"
        log.error(
            "roster.csv %s (%s): replace it with the CSV file itself; the previous roster is kept",
            kind,
            error.strerror,
        )
        return held, False
    if data is None:
        return held, False
    try:
        result = read_roster(data, pseudonymize=lambda code: pseudonymize(code, secret))
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


def _count_sources(kept: list[tuple[ParseJob, FileResult]], summary: RunSummary) -> None:
    leaves = [m for _, r in kept for m in r.walk()]
    found = sum(m.activities.height for m in leaves if m.activities is not None)
    summary.activities_found += found
    summary.non_activity_files += sum(m.non_activity_kind is not None for m in leaves)


def _write_wellness(
    store: TableStore, kept: list[tuple[ParseJob, FileResult]], timezones: pl.DataFrame
) -> None:
    """Daily resting heart rates read from monitoring files go to ``daily_wellness``."""
    readings = [
        (job.client_id, m.sha256, reading)
        for job, r in kept
        for m in r.walk()
        for reading in m.wellness
    ]
    if readings:
        store.upsert("daily_wellness", daily_wellness_frame(readings, timezones))


PER_ACTIVITY_TABLES = ("samples", "laps", "hrv")


def _frames(results: list[FileResult], name: str) -> pl.DataFrame | None:
    frames = [
        getattr(r, name) for top in results for r in top.walk() if getattr(r, name) is not None
    ]
    frames = [f for f in frames if f.height]
    if name in PER_ACTIVITY_TABLES:
        # Each reader's rows come in recording order: put the activities in key order too, so
        # that the store finds the frame sorted instead of sorting a million rows again.
        frames.sort(key=lambda frame: frame["activity_id"][0])
    return pl.concat(frames, how="vertical_relaxed") if frames else None


def _judge_format(data: bytes) -> tuple[str | None, str | None]:
    """Judge a file by its content, once, for both kinds of input.

    Returns ``(activity format, None)`` for a watch file or archive, ``(None, "journal" | "plan")``
    for the clinic's CSVs, ``(None, None)`` when refused (the parser then refuses it with the
    reason).
    """
    try:
        return detect_format(data), None
    except UnsupportedFormat as error:
        if error.reason_code == "unknown_format":
            return None, classify_table_file(data)
        return None, None


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
    held = store.keys("activities")
    # Activities seen for the first time (the usual case) have no laps, HRV or samples yet:
    # theirs are appended without looking for rows to replace.
    new = held is None or activities.join(held, on="activity_id", how="semi").is_empty()
    store.upsert("activities", activities)
    for name in ("laps", "hrv"):
        frame = _frames(results, name)
        if frame is not None:
            store.upsert(name, frame, new=new)
    samples = _frames(results, "samples")
    for item in (r for top in results for r in top.walk()):
        # The concatenated copy is all that is needed from here: half the memory.
        item.samples = None
    if samples is not None:
        # Positions near where each run starts and ends (home) never reach the analyst table.
        radii = privacy_radii(samples["client_id"].unique().to_list(), secret)
        samples = with_sample_partition(trim_home_zones(samples, radii), activities)
        store.upsert("samples", samples, new=new)
    return activities


@dataclass
class _Discovery:
    """What the inbox holds that this run must judge."""

    jobs: list[tuple[Candidate, ParseJob]] = field(default_factory=list)
    table_jobs: list[tuple[Candidate, ParseJob]] = field(default_factory=list)
    """Journal and plan CSVs: parsed after the watch files, by the same runner and limits."""
    repeats: list[tuple[Candidate, str, dict[str, object]]] = field(default_factory=list)
    folder_clients: set[str] = field(default_factory=set)
    oddities: list[Oddity] = field(default_factory=list)
    run_failed: list[tuple[Candidate, str, str]] = field(default_factory=list)
    """Files whose processing made earlier runs fail (candidate, client id, sha256)."""
    read: list[tuple[Candidate, str, str]] = field(default_factory=list)
    """Every file read (candidate, client id, sha256)."""
    other_clients: dict[str, set[str]] = field(default_factory=dict)
    """sha256 -> the clients it was received for, where more than one."""

    def keys(self) -> set[str]:
        """``client_id:sha256`` of every file this run parses or reads."""
        return {f"{j.client_id}:{j.sha256}" for _, j in self.jobs + self.table_jobs}


def _discover(
    inbox: Inbox,
    secret: bytes,
    known: dict[tuple[str, str], dict[str, object]],
    zone_of: dict[str, str],
    summary: RunSummary,
    failures: dict[str, int],
) -> _Discovery:
    """Find the inbox's files, defer those still arriving, hash the rest and sort them."""
    found = _Discovery()
    seen: set[tuple[str, str]] = set()
    clients_of: dict[str, set[str]] = {}
    for client_id, sha in known:
        clients_of.setdefault(sha, set()).add(client_id)
    scan = inbox.scan()
    found.oddities = list(scan.oddities)
    summary.files_seen += len(scan.oddities)
    for candidate in scan.candidates:
        summary.files_seen += 1
        if inbox.still_arriving(candidate):
            summary.deferred += 1
            continue
        client_id = pseudonymize(candidate.client_code, secret)
        found.folder_clients.add(client_id)
        try:
            data = inbox.read(candidate)
        except FileChanged:
            summary.deferred += 1
            continue
        except OSError as error:
            what = (
                "is no longer a regular file; it is never opened"
                if isinstance(error, NotRegular)
                else f"cannot be read ({error.strerror}); give mindmiles read permission"
            )
            reason = "not_a_regular_file" if isinstance(error, NotRegular) else "unreadable"
            found.oddities.append(Oddity(candidate.client_code, candidate.path, reason, what))
            continue
        sha = sha256_hex(data)
        key = (client_id, sha)
        clients_of.setdefault(sha, set()).add(client_id)
        found.read.append((candidate, client_id, sha))
        if key in known or key in seen:
            found.repeats.append((candidate, sha, known.get(key, {"outcome": Outcome.INGESTED})))
            continue
        seen.add(key)
        if failures.get(f"{client_id}:{sha}", 0) >= RUN_FAILURES_TO_QUARANTINE:
            found.run_failed.append((candidate, client_id, sha))
            continue
        fmt, kind = _judge_format(data)
        if kind is not None:
            zone = zone_of.get(client_id, DEFAULT_TIMEZONE)
            job = ParseJob(
                str(candidate.path),
                client_id,
                sha,
                candidate.size,
                table_kind=kind,
                timezone=zone,
            )
            found.table_jobs.append((candidate, job))
        else:
            members = count_members(data) if fmt == "zip" else 1
            job = ParseJob(str(candidate.path), client_id, sha, candidate.size, fmt, members)
            found.jobs.append((candidate, job))
    found.other_clients = {sha: ids for sha, ids in clients_of.items() if len(ids) > 1}
    return found


@dataclass(frozen=True)
class _Move:
    """A file judged by this run, moved once the run's tables are published."""

    candidate: Candidate
    sha256: str
    quarantine: bool
    note: str | None
    """The ``.reason.txt`` (quarantined) or ``.note.txt`` (taken in with a remark) text."""


def _settle(
    inbox: Inbox,
    store: TableStore,
    moves: Sequence[tuple[Candidate, str, FileResult]],
    *,
    received: dt.datetime,
    summary: RunSummary,
    reasons: Counter[str],
) -> list[_Move]:
    """Record files in the ``files`` ledger; return their moves (done after publishing).

    A file that changed since it was read (a journal appended to during the run) is left out of
    the ledger and left in place: the next run reads it again.
    """
    unchanged = []
    for candidate, client_id, result in moves:
        if inbox.unchanged(candidate):
            unchanged.append((candidate, client_id, result))
        else:
            summary.deferred += 1
    if not unchanged:
        return []
    store.upsert(
        "files",
        pl.concat([ledger_rows(r, client_id=cid, received=received) for _, cid, r in unchanged]),
    )
    out = []
    for candidate, _, result in unchanged:
        for item in result.walk():
            if item.reason_code:
                reasons[item.reason_code] += 1
        attr = OUTCOME_COUNTERS[result.outcome]
        setattr(summary, attr, getattr(summary, attr) + 1)
        note = quarantine_note(result, file_name=candidate.name)
        quarantined = result.outcome == Outcome.QUARANTINED
        remark = result.reason_code or any(
            m.outcome == Outcome.QUARANTINED for m in result.walk()[1:]
        )
        if not quarantined and not remark and result.detail and result.decoder in TABLE_KINDS:
            # A clinic CSV in another encoding or with another delimiter: say how it was read.
            note = (
                f"File: {candidate.name}\nOutcome: {result.outcome}\n"
                f"This file was {result.detail}; every row was read.\n"
            )
            remark = True
        out.append(
            _Move(candidate, result.sha256, quarantined, note if quarantined or remark else None)
        )
    return out


def _apply_moves(inbox: Inbox, moves: Sequence[_Move], summary: RunSummary) -> None:
    """Move each judged file to ``_processed`` or ``_quarantine`` with its note."""
    for move in moves:
        try:
            if move.quarantine:
                inbox.quarantine(move.candidate, move.sha256, move.note or "")
                continue
            inbox.move_processed(move.candidate, move.sha256)
        except FileChanged:  # changed after it was read: judged again on the next run
            summary.deferred += 1
            continue
        if move.note is not None:
            inbox.note_beside_processed(move.candidate, move.sha256, move.note)


ODDITY_ADVICE = (
    "What to do: mindmiles only reads regular files that are in the client's folder itself. "
    "Put the file itself (not a link, pipe or device) into the client's folder, readable by "
    "mindmiles, under a name that is plain text; it is read on the next run."
)


def _quarantine_oddities(
    inbox: Inbox, oddities: Sequence[Oddity], summary: RunSummary, reasons: Counter[str]
) -> None:
    """Move each entry that is never opened to ``_quarantine`` with a note (never followed)."""
    for odd in oddities:
        note = (
            f"File: {display_name(odd.path.name)}\n"
            f"Outcome: {Outcome.QUARANTINED}\n"
            f"Reason: this entry {odd.message}.\n"
            f"Reason code: {odd.reason_code}\n\n{ODDITY_ADVICE}\n"
        )
        try:
            inbox.quarantine_entry(odd, note)
        except OSError as error:
            log.error("an inbox entry could not be moved to _quarantine: %s", error.strerror)
            continue
        reasons[odd.reason_code] += 1
        summary.quarantined += 1


TABLE_KINDS = ("journal", "plan")
"""The ``decoder`` of a clinic CSV's result."""
RUN_FAILED_EXIT = 2
"""The exit code of a run that failed (:attr:`schemas.errors.MindmilesError.exit_code`)."""
RUN_FAILURES_TO_QUARANTINE = 2
"""Runs that a file's processing made fail before it is quarantined (``run_failed``)."""


def _run_failed_result(sha: str) -> FileResult:
    return FileResult(
        sha256=sha,
        detected_format="unknown",
        outcome=Outcome.QUARANTINED,
        reason_code="run_failed",
        reason_message=(
            f"Processing this file made {RUN_FAILURES_TO_QUARANTINE} runs fail, so it was set "
            "aside to keep the nightly runs going. Keep it for the mindmiles maintainers "
            "(`mindmiles status` shows the error)."
        ),
    )


def _parse_tables(
    jobs: Sequence[tuple[Candidate, ParseJob]],
    settings: Settings,
    parse_batches: BatchRunner | None,
    in_flight: set[str],
    summary: RunSummary,
    *,
    parse_from_origin: bool,
) -> list[tuple[Candidate, TableFileResult]]:
    """Read the journal and plan CSVs with the watch files' runner (its memory and time limits).

    A CSV the runner refuses (``resource_limit``: too slow or too large) is quarantined like a
    watch file; a file that changed since it was hashed is deferred.
    """
    if not jobs:
        return []
    in_flight.update(f"{j.client_id}:{j.sha256}" for _, j in jobs)
    batch = [j for _, j in jobs]
    if parse_from_origin and settings.inbox_origin:
        batch = [_from_origin(j, settings) for j in batch]
    if parse_batches is None:
        parsed = parse_serially([batch], settings.limits)
    else:
        parsed = parse_batches([batch], settings.limits)
    out = []
    for (candidate, job), result in zip(jobs, parsed[0], strict=True):
        if result.outcome == Outcome.DEFERRED:
            summary.deferred += 1
            continue
        kind = job.table_kind or "journal"
        out.append((candidate, TableFileResult(result, kind, job.client_id, result.tables)))
    return out


def _record_failure(
    warehouse: Where, error: Exception, in_flight: set[str], finished: dt.datetime, started: float
) -> None:
    """Record a failed run in ``runs.jsonl`` and count it against the files it was processing."""
    text = (str(error).splitlines() or [""])[0][:300]
    record = {
        "finished_utc": finished.isoformat(),
        "failed": True,
        "error": f"{type(error).__name__}: {text}".rstrip(": "),
        "files_in_flight": len(in_flight),
        "duration_s": round(time.monotonic() - started, 3),
    }
    try:
        append_run(warehouse, record)
        if in_flight:
            failures = read_failures(warehouse)
            for key in in_flight:
                failures[key] = failures.get(key, 0) + 1
            write_failures(warehouse, failures)
    except (OSError, MindmilesError) as also:  # the original error is what the caller sees
        log.error("the failed run could not be recorded: %s", also)


def _note_shared_files(
    inbox: Inbox, found: _Discovery, secret: bytes, reasons: Counter[str]
) -> None:
    """A note beside each copy of a file received for more than one client (none named)."""
    if not found.other_clients:
        return
    note = (
        "The same file (identical bytes) was also received in another client's folder.\n"
        "It was taken in for each client it was received for. If it belongs to one client only, "
        "tell the mindmiles maintainers so that the other copy can be removed.\n"
    )
    here: dict[str, set[str]] = {}
    for candidate, client_id, sha in found.read:
        if sha in found.other_clients:
            here.setdefault(sha, set()).add(client_id)
            reasons["same_file_other_client"] += 1
            target = inbox.processed_path(candidate, sha)
            if target is not None:
                inbox.note_on_file(target, note)
    elsewhere = {sha: ids - here.get(sha, set()) for sha, ids in found.other_clients.items()}
    wanted = {cid for ids in elsewhere.values() for cid in ids}
    if not any(elsewhere.values()):
        return
    sizes = {sha: c.size for c, _, sha in found.read}
    for code in inbox.processed_codes():
        client_id = pseudonymize(code, secret)
        if client_id not in wanted:
            continue
        for sha, ids in elsewhere.items():
            if client_id in ids and sha in sizes:
                inbox.note_on_processed_copy(code, sha, sizes[sha], note)


def _keys(wave: list[list[ParseJob]]) -> set[str]:
    """The ledger keys (client and file hash) of a wave's files."""
    return {f"{j.client_id}:{j.sha256}" for batch in wave for j in batch}


def _parsed_waves(
    waves: list[list[list[ParseJob]]],
    parse: Callable[[list[list[ParseJob]]], list[list[FileResult]]],
    *,
    ahead: bool,
    held: ExitStack,
) -> Iterator[tuple[list[list[ParseJob]], list[list[FileResult]]]]:
    """Each wave with its parsed results; with ``ahead``, the next wave parses meanwhile."""
    if not ahead or len(waves) < 2:
        for wave in waves:
            yield wave, parse(wave)
        return
    pool = held.enter_context(ThreadPoolExecutor(1, thread_name_prefix="mindmiles-parse"))
    # The parsing thread runs in a copy of this thread's context: a Prefect flow's tasks are
    # submitted from there with the flow run's context, as from the flow itself.
    context = contextvars.copy_context()
    pending = pool.submit(context.run, parse, waves[0])
    for index, wave in enumerate(waves):
        parsed = pending.result()
        if index + 1 < len(waves):
            pending = pool.submit(context.run, parse, waves[index + 1])
        yield wave, parsed


def _waves(batches: list[list[ParseJob]], size: int) -> list[list[list[ParseJob]]]:
    return [batches[i : i + size] for i in range(0, len(batches), size)] or []


class _Stopwatch:
    """Seconds spent per stage of a run (reported in :attr:`RunSummary.stage_s`)."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._mark = time.monotonic()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - self._mark, 3)
        self._mark = now


def run_ingest(
    settings: Settings,
    *,
    parse_batches: BatchRunner | None = None,
    derive_chunks: DeriveChunks | None = None,
    progress: Progress | None = None,
    on_member: MemberProgress | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    who: str = "mindmiles ingest",
    parse_from_origin: bool = False,
    parse_ahead: bool = False,
) -> RunSummary:
    """Take in everything that is ready in the inbox; return what happened.

    Files are parsed and written in *waves* of :attr:`Settings.batches_per_wave` batches, so that
    memory stays flat however large the inbox is; each wave's files are recorded and moved as soon
    as their rows are written. Derived tables are rebuilt once, at the end, for the clients the run
    touched (remembered on disk until done, so a killed run's clients are rebuilt by the next).

    Parameters
    ----------
    settings
        Folders, secret and limits.
    parse_batches
        How batches are parsed; default serially in this process. The CLI passes an
        :class:`pipelines.isolation.IsolatedParser` (worker processes with limits); the Prefect
        flow maps a task over the batches.
    progress
        Called with (files done, files total), counting each archive member as a file: once
        the inbox has been looked at (0 done), after each wave, and when every file is settled.
    on_member
        Called with the members read so far while a whole-account export is parsed in this
        process (``parse_batches=None``).
    derive_chunks
        How chunks of clients are derived; default in this process. The Dask engine maps a task
        over them.
    who
        Names this run in the lock file, so that a waiting run can say whom it waits for.
    parse_from_origin
        With an inbox on object storage, parsers read each file from the store rather than
        from the run's local copy (Dask workers on other machines).
    parse_ahead
        Parse the next wave while this one is written (``parse_batches`` is then called from
        one other thread, one call at a time): the parsing workers stay busy while the tables
        are written. The CLI's local engine sets it; Prefect task mapping does not.
    """
    started = time.monotonic()
    summary = RunSummary()
    watch = _Stopwatch()
    local_warehouse = not is_remote(settings.warehouse)
    in_flight: set[str] = set()
    """Files (``client_id:sha256``) being processed: blamed if the run fails now."""
    with ExitStack() as held:
        held.enter_context(
            warehouse_lock(settings.warehouse, timeout_s=settings.lock_timeout_s, who=who)
        )
        try:
            if is_remote(settings.inbox):  # worked on through a local copy, under the lock
                origin = str(settings.inbox)
                local_inbox = held.enter_context(staged_inbox(origin))
                settings = replace(settings, inbox=local_inbox, inbox_origin=origin)
            store = TableStore(settings.warehouse, history_days=settings.history_days)
            publish_views = (
                (lambda: write_database(Path(settings.warehouse))) if local_warehouse else None
            )
            store.clean_stale(before_removing=publish_views)
            secret = load_secret(
                env_value=settings.secret, key_file=settings.key_file, warehouse=settings.warehouse
            )
            if recorded_fingerprint(settings.warehouse) is None:
                record_fingerprint(settings.warehouse, secret)  # the warehouse's first run
            inbox = Inbox(Path(settings.inbox), settle_seconds=settings.settle_seconds)
            reasons: Counter[str] = Counter()
            roster, roster_changed = _load_roster(inbox, store, secret, reasons)
            timezones = roster.select("client_id", "timezone")
            zone_of = dict(timezones.iter_rows())
            ledger = store.read("files").filter(pl.col("container_sha256").is_null())
            known = {(r["client_id"], r["sha256"]): r for r in ledger.iter_rows(named=True)}
            failures = read_failures(settings.warehouse)
            found = _discover(inbox, secret, known, zone_of, summary, failures)
            moves: list[_Move] = []
            summary.clients_without_roster = len(found.folder_clients - set(zone_of))
            watch.lap("discover_hash")

            affected = read_pending(settings.warehouse)
            jobs = [j for _, j in found.jobs]
            if parse_from_origin and settings.inbox_origin:
                jobs = [_from_origin(j, settings) for j in jobs]
            # Never fewer batches than a wave holds while there are files for them: every parsing
            # worker (every cluster thread) gets work from the first wave on.
            spread = -(-len(jobs) // max(1, settings.batches_per_wave))
            batches = make_batches(
                jobs,
                max_files=max(1, min(settings.batch_files, spread)),
                max_bytes=settings.batch_bytes,
            )
            candidate_of = {id(j): c for (c, _), j in zip(found.jobs, jobs, strict=True)}
            total = sum(j.members for j in jobs) + len(found.table_jobs) + len(found.repeats)
            done = 0
            if progress:
                progress(done, total)

            def parse_wave(wave: list[list[ParseJob]]) -> list[list[FileResult]]:
                # counted against a failed run from the moment they are being parsed
                in_flight.update(_keys(wave))
                if parse_batches is None:
                    return parse_serially(wave, settings.limits, on_member=on_member)
                return parse_batches(wave, settings.limits)

            for wave, parsed in _parsed_waves(
                _waves(batches, settings.batches_per_wave), parse_wave, ahead=parse_ahead, held=held
            ):
                wave_jobs = [j for batch in wave for j in batch]
                results = [r for batch in parsed for r in batch]
                done += sum(j.members for j in wave_jobs)
                if progress:
                    progress(done, total)
                watch.lap("parse")
                validate_results([r for r in results if r.outcome != Outcome.DEFERRED])
                watch.lap("validate")
                summary.deferred += sum(r.outcome == Outcome.DEFERRED for r in results)
                kept = [
                    (j, r)
                    for j, r in zip(wave_jobs, results, strict=True)
                    if r.outcome != Outcome.DEFERRED
                ]
                _count_sources(kept, summary)
                replacement = mark_duplicates([r for _, r in kept], store)
                summary.duplicates_merged += replacement.merged
                written = _write_tables([r for _, r in kept], store, timezones, secret)
                replace_held(store, replacement)
                _write_wellness(store, kept, timezones)
                affected |= replacement.clients
                if written is not None:
                    summary.activities += written.height
                    affected |= set(written["client_id"].to_list())
                    write_pending(settings.warehouse, affected)
                wave_moves = [(candidate_of[id(j)], j.client_id, r) for j, r in kept]
                moves += _settle(
                    inbox, store, wave_moves, received=now(), summary=summary, reasons=reasons
                )
                # the wave's files are in: a later failure is not theirs (the next wave's,
                # perhaps being parsed meanwhile, stay counted)
                in_flight.difference_update(_keys(wave))
                watch.lap("write")

            tables = _parse_tables(
                found.table_jobs,
                settings,
                parse_batches,
                in_flight,
                summary,
                parse_from_origin=parse_from_origin,
            )
            watch.lap("parse")
            affected |= merge_table_files(store, [t for _, t in tables])
            table_moves = [(c, t.client_id, t.result) for c, t in tables]
            table_moves += [(c, cid, _run_failed_result(sha)) for c, cid, sha in found.run_failed]
            moves += _settle(
                inbox, store, table_moves, received=now(), summary=summary, reasons=reasons
            )
            for candidate, sha, previous in found.repeats:
                summary.duplicates += 1
                reasons["same_file_received_again"] += 1
                refused = previous.get("outcome") == Outcome.QUARANTINED
                note = (
                    f"File: {candidate.name}\n"
                    f"This exact file was refused before: {previous.get('reason_message')}\n"
                )
                moves.append(_Move(candidate, sha, refused, note if refused else None))
            in_flight.clear()
            if progress:
                progress(total, total)
            watch.lap("write")

            outdated = [name for name in DERIVED_TABLES if store.is_outdated(name)]
            for name in outdated:  # written by an older mindmiles: rebuilt whole below
                log.info("derived table %s has other columns than its model: rebuilding it", name)
                store.reset(name)
            # another config (or none recorded, as before a warehouse's first run): every client
            thresholds_json = settings.thresholds.to_json()
            thresholds_changed = read_derived_with(settings.warehouse) != thresholds_json
            if (
                roster_changed
                or thresholds_changed
                or outdated
                or any(store.version(name) is None for name in DERIVED_TABLES)
            ):
                affected |= set(store.read("activities")["client_id"].unique().to_list())
                affected |= set(roster["client_id"].to_list())
            write_pending(settings.warehouse, affected)
            derive_for_clients(
                store,
                affected,
                thresholds=settings.thresholds,
                derive_chunks=derive_chunks,
                parallelism=settings.derive_parallelism,
                extend_behind=True,  # new data may move the clinic's last day past others' days
            )
            if thresholds_changed:
                write_derived_with(settings.warehouse, thresholds_json)
            summary.clients_rebuilt = len(affected)
            watch.lap("derive")

            # Every table exists, empty when nothing fed it. After the derive check above, which
            # reads a derived table without a version as "rebuild every client".
            created = store.ensure_all()
            store.compact()  # the files that each wave's appends added, merged before the views
            database_missing = (
                local_warehouse and not (Path(settings.warehouse) / DATABASE_NAME).exists()
            )
            if created or affected or summary.files_seen or database_missing:
                # The DuckDB views (local warehouses) and the reports read the same committed
                # tables and write apart: built side by side, on both cores.
                with ThreadPoolExecutor(1, thread_name_prefix="mindmiles-views") as side:
                    views = None if publish_views is None else side.submit(publish_views)
                    refresh_reports(settings, secret, generated=now())
                    if views is not None:
                        views.result()
            # The tables are published: only now do the judged files leave the client folders.
            _apply_moves(inbox, moves, summary)
            _quarantine_oddities(inbox, found.oddities, summary, reasons)
            _note_shared_files(inbox, found, secret, reasons)
            summary.reason_codes = dict(sorted(reasons.items()))
            store.vacuum()  # after the views moved on: plain Parquet readers see the current rows
            # Only now are the clients done: a run killed while publishing leaves them pending, so
            # that the next run publishes again even when it has nothing new to take in.
            write_pending(settings.warehouse, set())
            judged = found.keys() | {f"{c}:{h}" for _, c, h in found.run_failed}
            if set(failures) & judged:
                write_failures(
                    settings.warehouse, {k: n for k, n in failures.items() if k not in judged}
                )
            watch.lap("publish")
            summary.stage_s = watch.stages
            summary.duration_s = round(time.monotonic() - started, 3)
            append_run(settings.warehouse, {"finished_utc": now().isoformat(), **asdict(summary)})
        except Exception as error:
            # A refused command (another secret, bad settings: exit 1) writes nothing at all; a
            # fault of the run itself (exit 2, or any other exception) is recorded for `status`.
            if not (isinstance(error, MindmilesError) and error.exit_code != RUN_FAILED_EXIT):
                _record_failure(settings.warehouse, error, in_flight, now(), started)
            raise
    log.info(
        "run finished: %d files seen, %d ingested, %d duplicates, %d skipped, %d quarantined, "
        "%d deferred",
        summary.files_seen,
        summary.ingested,
        summary.duplicates,
        summary.skipped,
        summary.quarantined,
        summary.deferred,
    )
    return summary
