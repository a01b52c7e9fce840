"""Journal and plan CSVs: read one file, then merge all new files into the warehouse tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from clinic.journal import read_journal
from clinic.journal_csv import decode_table_text
from clinic.plan import read_plan
from ingest.parse import FileResult
from schemas.errors import RowIssue, TableFileError
from schemas.files import Outcome
from transform.journal import merge_journal, merge_journal_notes
from transform.plans import merge_plan_notes, merge_plans
from warehouse.store import TableStore

__all__ = ["DAYLIO_RUN_ACTIVITIES", "TableFileResult", "merge_table_files", "read_table_file"]

DAYLIO_RUN_ACTIVITIES: Mapping[str, str] = {
    "after run": "post_run",
    "post run": "post_run",
    "running": "post_run",
    "before run": "pre_run",
    "pre run": "pre_run",
}
"""Daylio activity names that mark an entry as written after or before a run (case-insensitive)."""

MAX_ISSUES_IN_MESSAGE = 5

PLAIN_CSV = frozenset(
    {"read as UTF-8 text, comma-separated", "read as UTF-8 (with BOM) text, comma-separated"}
)
"""How a CSV is read when nothing about it needs saying."""


@dataclass
class TableFileResult:
    """A journal or plan file read, with its ledger result and frames."""

    result: FileResult
    kind: str
    client_id: str
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)


def _issues_message(issues: Sequence[RowIssue]) -> str:
    shown = "; ".join(f"line {i.line}: {i.message}" for i in issues[:MAX_ISSUES_IN_MESSAGE])
    more = (
        f" (and {len(issues) - MAX_ISSUES_IN_MESSAGE} more)"
        if len(issues) > MAX_ISSUES_IN_MESSAGE
        else ""
    )
    return f"{len(issues)} row(s) could not be read and were left out; the rest was kept. {shown}{more}"


def read_table_file(
    data: bytes, *, kind: str, sha256: str, client_id: str, timezone: str
) -> TableFileResult:
    """Read a journal or plan CSV; a file that cannot be read at all becomes a quarantine result."""
    result = FileResult(sha256=sha256, detected_format=kind, outcome=Outcome.INGESTED, decoder=kind)
    out = TableFileResult(result=result, kind=kind, client_id=client_id)
    try:
        how_read = decode_table_text(data).describe()
    except TableFileError:
        how_read = ""
    try:
        if kind == "journal":
            journal = read_journal(
                data, client_id=client_id, timezone=timezone, kind_activities=DAYLIO_RUN_ACTIVITIES
            )
            result.detected_format = journal.source
            out.frames = {"journal": journal.journal, "journal_notes": journal.notes}
            issues = journal.issues
            result.n_records = journal.journal.height
        else:
            plan = read_plan(data, client_id=client_id)
            out.frames = {"plans": plan.plans, "plan_notes": plan.notes}
            issues = plan.issues
            result.n_records = plan.plans.height
    except TableFileError as error:
        result.outcome = Outcome.QUARANTINED
        result.reason_code = error.reason_code
        result.reason_message = error.message
        result.detail = "; ".join(filter(None, [how_read, error.detail]))
        return out
    if issues:
        result.reason_code = "rows_skipped"
        result.reason_message = _issues_message(issues)
    if issues or how_read not in PLAIN_CSV:
        result.detail = (
            how_read  # said in the note (a plain UTF-8, comma-separated file needs none)
        )
    return out


def merge_table_files(store: TableStore, files: Sequence[TableFileResult]) -> set[str]:
    """Merge new journal and plan files into their tables; return the clients whose data changed.

    Journal exports are cumulative snapshots: entries are united by ``entry_id`` (a later export
    wins on an edited entry; an entry missing from a shorter export is kept). A later plan file
    overrides the weeks it lists.
    """
    taken = [f for f in files if f.result.outcome == Outcome.INGESTED]
    clients = {f.client_id for f in taken}
    if not clients:
        return set()
    keys = pl.DataFrame({"client_id": sorted(clients)})

    def current(name: str) -> pl.DataFrame:
        return store.read(name).join(keys, on="client_id", how="semi")

    journals = [f.frames["journal"] for f in taken if f.kind == "journal"]
    if journals:
        notes = [f.frames["journal_notes"] for f in taken if f.kind == "journal"]
        store.replace_clients("journal", merge_journal([current("journal"), *journals]), keys)
        store.replace_clients(
            "journal_notes", merge_journal_notes([current("journal_notes"), *notes]), keys
        )
    plans = [f.frames["plans"] for f in taken if f.kind == "plan"]
    if plans:
        notes = [f.frames["plan_notes"] for f in taken if f.kind == "plan"]
        held_plans, held_notes = current("plans"), current("plan_notes")
        store.replace_clients("plans", merge_plans([held_plans, *plans]), keys)
        store.replace_clients(
            "plan_notes", merge_plan_notes([held_plans, *plans], [held_notes, *notes]), keys
        )
    return clients
