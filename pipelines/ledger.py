"""Turn parse results into ``files`` ledger rows and staff-facing notes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from pipelines.parse import FileResult

__all__ = ["flatten", "ledger_rows", "quarantine_note"]

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "sha256": pl.String(),
    "client_id": pl.String(),
    "received_utc": pl.Datetime("us", "UTC"),
    "detected_format": pl.String(),
    "outcome": pl.String(),
    "reason_code": pl.String(),
    "reason_message": pl.String(),
    "decoder": pl.String(),
    "container_sha256": pl.String(),
    "activity_ids": pl.List(pl.String()),
    "duplicate_of": pl.List(pl.String()),
    "n_records": pl.Int64(),
}
"""Column types of the ``files`` table, in the order of :class:`schemas.files.Files`."""


def flatten(result: FileResult) -> list[FileResult]:
    """The result and all its archive members, depth first."""
    out = [result]
    for member in result.members:
        out.extend(flatten(member))
    return out


def ledger_rows(result: FileResult, *, client_id: str, received: dt.datetime) -> pl.DataFrame:
    """One ``files`` row for the file and one per archive member."""
    rows: list[dict[str, Any]] = []
    for item in flatten(result):
        rows.append(
            {
                "sha256": item.sha256,
                "client_id": client_id,
                "received_utc": received,
                "detected_format": item.detected_format,
                "outcome": item.outcome,
                "reason_code": item.reason_code,
                "reason_message": item.reason_message,
                "decoder": item.decoder,
                "container_sha256": item.container_sha256,
                "activity_ids": item.activity_ids,
                "duplicate_of": getattr(item, "duplicate_of", []),
                "n_records": item.n_records,
            }
        )
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA)


ADVICE: dict[str, str] = {
    "quarantined": (
        "What to do: if you believe this file is a real workout, export it again from the watch\n"
        "or app and drop the new copy in the client's folder. The original is kept here untouched."
    ),
    "ingested": (
        "For your information: the file was taken in (the original is in _processed). Nothing to\n"
        "do unless the client says data is missing; then export the workout again and drop it in."
    ),
    "duplicate": (
        "For your information: nothing was lost; the workout was already held from another file.\n"
        "The original is in _processed. Nothing to do."
    ),
    "skipped": (
        "For your information: the file is valid but holds no workout (for example a planned\n"
        "route or watch settings). The original is in _processed. Nothing to do."
    ),
}
"""The last paragraph of a note, by outcome."""


def quarantine_note(result: FileResult, *, file_name: str) -> str:
    """A plain-language note for ``<name>.reason.txt``: what happened, why, and what to do."""
    lines = [
        f"File: {file_name}",
        f"Outcome: {result.outcome}",
        f"Reason: {result.reason_message or 'not given'}",
        f"Reason code: {result.reason_code}",
    ]
    if result.detail:
        lines.append(f"Technical detail: {result.detail}")
    if result.evidence:
        lines.append("Failing checks (column, check, value):")
        lines.extend(f"  - {e['column']}: {e['check']} (got {e['value']})" for e in result.evidence)
    refused = [m for m in flatten(result)[1:] if m.outcome == "quarantined"]
    if refused:
        lines.append("Files inside this archive that were refused:")
        lines.extend(
            f"  - {m.member_name or '(compressed file)'}: {m.reason_message} [{m.reason_code}]"
            for m in refused
        )
    lines += ["", ADVICE.get(result.outcome, ADVICE["quarantined"])]
    return "\n".join(lines) + "\n"
