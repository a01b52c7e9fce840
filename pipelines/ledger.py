"""Turn parse results into ``files`` ledger rows and staff-facing notes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ingest.parse import FileResult
from schemas.base import polars_schema
from schemas.files import Files, Outcome

__all__ = ["ledger_rows", "quarantine_note"]

LEDGER_SCHEMA: dict[str, pl.DataType] = polars_schema(Files)
"""Column types of the ``files`` table, in the order of :class:`schemas.files.Files`."""


def ledger_rows(result: FileResult, *, client_id: str, received: dt.datetime) -> pl.DataFrame:
    """One ``files`` row for the file and one per archive member."""
    rows: list[dict[str, Any]] = []
    for item in result.walk():
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
    Outcome.QUARANTINED: (
        "What to do: if you believe this file is a real workout, export it again from the watch\n"
        "or app and drop the new copy in the client's folder. The original is kept here untouched."
    ),
    Outcome.INGESTED: (
        "For your information: the file was taken in (the original is in _processed). Nothing to\n"
        "do unless the client says data is missing; then export the workout again and drop it in."
    ),
    Outcome.DUPLICATE: (
        "For your information: nothing was lost; the workout was already held from another file.\n"
        "The original is in _processed. Nothing to do."
    ),
    Outcome.SKIPPED: (
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
    refused = [m for m in result.walk()[1:] if m.outcome == Outcome.QUARANTINED]
    if refused:
        lines.append("Files inside this archive that were refused:")
        lines.extend(
            f"  - {m.member_name or '(compressed file)'}: {m.reason_message} [{m.reason_code}]"
            for m in refused
        )
    lines += ["", ADVICE.get(result.outcome, ADVICE[Outcome.QUARANTINED])]
    return "\n".join(lines) + "\n"
