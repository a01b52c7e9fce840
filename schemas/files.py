"""Schema of the ``files`` table: the ledger of every file received."""

from __future__ import annotations

from enum import StrEnum

import pandera.polars as pa

from schemas.base import DateTime, utc_field
from schemas.codes import REASON_CODES

__all__ = ["OUTCOMES", "Files", "Outcome"]


class Outcome(StrEnum):
    """What became of a file received: the only values of ``files.outcome``."""

    INGESTED = "ingested"
    """Taken in: its activities, journal rows or plan weeks are in the tables."""
    DUPLICATE = "duplicate"
    """Every activity it holds is already held (from this or another file)."""
    SKIPPED = "skipped"
    """A valid file that holds no workout (settings FIT, GPX route, an export's other files)."""
    QUARANTINED = "quarantined"
    """Refused, with a reason in plain words; moved to ``_quarantine``."""
    DEFERRED = "deferred"
    """Still being copied: left for the next run (never written to the table)."""


OUTCOMES: list[str] = [outcome.value for outcome in Outcome]


class Files(pa.DataFrameModel):
    """One row per distinct file received per client; grain: ``client_id``, ``sha256``.

    Members of archives get their own row with ``container_sha256`` naming the archive.
    """

    sha256: str = pa.Field(
        str_length=64, description="SHA-256 of the file's bytes (for .gz, of the compressed file)."
    )
    client_id: str = pa.Field(
        description="Keyed pseudonym of the client whose folder it was dropped in."
    )
    received_utc: DateTime = utc_field("When the pipeline first saw the file, UTC.")
    detected_format: str = pa.Field(
        description="Format judged from the content: fit, gpx, tcx, gzip, zip, xml, unknown."
    )
    outcome: str = pa.Field(
        isin=OUTCOMES,
        description=(
            "ingested, duplicate (same activity already held), skipped (valid but not a "
            "workout), quarantined or deferred."
        ),
    )
    reason_code: str = pa.Field(
        nullable=True,
        isin=list(REASON_CODES),
        description=(
            "Stable code of why it was not ingested, or of what was remarked on it; every value "
            "and its meaning is listed in schemas/codes.py (REASON_CODES)."
        ),
    )
    reason_message: str = pa.Field(
        nullable=True, description="The same reason in plain words, as in the quarantine note."
    )
    decoder: str = pa.Field(
        nullable=True,
        description="Decoder that produced the frames (fitparse, fit-columnar, gpxpy, gpx-stream, tcx).",
    )
    container_sha256: str = pa.Field(
        nullable=True, description="SHA-256 of the archive this file came out of, if any."
    )
    activity_ids: list[str] = pa.Field(description="Activities produced from this file.")
    duplicate_of: list[str] = pa.Field(
        description="Activities already held that this file duplicates."
    )
    n_records: int = pa.Field(ge=0, description="Records decoded from the file.")

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True
