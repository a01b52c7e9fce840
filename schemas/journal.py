"""Pandera models for the ``journal`` table and the restricted ``journal_notes`` table."""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl

__all__ = ["JOURNAL_KINDS", "JOURNAL_SOURCES", "Journal", "JournalNotes"]

JOURNAL_KINDS: tuple[str, ...] = ("pre_run", "post_run", "daily")
JOURNAL_SOURCES: tuple[str, ...] = ("clinic_template", "daylio")
FIRST_YEAR = 1990
"""The first year of a date the clinic's CSVs may hold (journal entries, plan weeks)."""
END_YEAR = 2100
"""Dates from this year on are refused per row (with the line number)."""
MAX_CELL_CHARS = 128 * 1024
"""A CSV cell longer than this refuses its row (not the file)."""


class Journal(pa.DataFrameModel):
    """One row per mood-journal entry; analyst table, never holds free text.

    Examples
    --------
    >>> from datetime import date, datetime, timezone
    >>> frame = pl.DataFrame({
    ...     "entry_id": ["0123456789abcdef"], "client_id": ["c1"],
    ...     "timestamp_utc": [datetime(2026, 3, 2, 18, 40, tzinfo=timezone.utc)],
    ...     "local_date": [date(2026, 3, 2)], "kind": ["post_run"], "mood": [7.0],
    ...     "mood_scale_max": [10], "anxiety": [None], "stress": [None], "energy": [None],
    ...     "sleep_hours": [None], "sleep_quality": [None], "rpe": [5.0],
    ...     "source": ["clinic_template"],
    ... })
    >>> Journal.validate(frame).height
    1
    """

    entry_id: str = pa.Field(
        unique=True,
        str_matches=r"^[0-9a-f]{16}$",
        description="Entry id: first 16 hex characters of sha256(client_id, UTC time, kind, "
        "source); stable across re-exports of the same entry.",
    )
    client_id: str = pa.Field(description="Keyed pseudonym of the client (never the clinic code).")
    timestamp_utc: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        description="When the entry was made, UTC. Daylio's naive local times are read in the "
        "client's roster zone (gap: offset before the change; fold: first occurrence)."
    )
    local_date: pl.Date = pa.Field(
        description="Calendar date of the entry in the client's roster time zone."
    )
    kind: str = pa.Field(
        isin=JOURNAL_KINDS,
        description="pre_run (before a run), post_run (after a run) or daily (any other entry).",
    )
    mood: pl.Float64 = pa.Field(
        nullable=True,
        ge=1,
        le=10,
        description="Mood level, 1 (worst) to mood_scale_max (best).",
    )
    mood_scale_max: pl.Int8 = pa.Field(
        isin=[5, 10],
        description="Top of the mood scale: 10 for the clinic template, 5 for Daylio.",
    )
    anxiety: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=10, description="Self-rated anxiety, 0 (none) to 10 (worst)."
    )
    stress: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=10, description="Self-rated stress, 0 (none) to 10 (worst)."
    )
    energy: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=10, description="Self-rated energy, 0 (none) to 10 (highest)."
    )
    sleep_hours: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=24, description="Hours slept the night before, 0 to 24."
    )
    sleep_quality: pl.Float64 = pa.Field(
        nullable=True, ge=1, le=5, description="Self-rated sleep quality, 1 (poor) to 5 (great)."
    )
    rpe: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        le=10,
        description="Rating of perceived exertion of the run, Borg CR-10 (0 rest to 10 maximal).",
    )
    source: str = pa.Field(
        isin=JOURNAL_SOURCES, description="Journal format: clinic_template or daylio."
    )

    class Config:
        """Strict: no other columns; coerce dtypes."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def mood_within_its_scale(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Mood never exceeds the entry's own scale maximum."""
        return data.lazyframe.select(
            pl.col("mood").is_null() | (pl.col("mood") <= pl.col("mood_scale_max"))
        )


class JournalNotes(pa.DataFrameModel):
    """Restricted table: the free-text note of a journal entry.

    Written only under ``<warehouse>/restricted/``; joined to ``journal`` on ``entry_id``.

    Examples
    --------
    >>> frame = pl.DataFrame(
    ...     {"entry_id": ["0123456789abcdef"], "client_id": ["c1"], "note": ["felt calm"]}
    ... )
    >>> JournalNotes.validate(frame).height
    1
    """

    entry_id: str = pa.Field(
        unique=True, str_matches=r"^[0-9a-f]{16}$", description="Entry id, as in journal."
    )
    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    note: str = pa.Field(
        str_length={"min_value": 1},
        description="Free-text note as exported (Daylio: title and note joined by a line "
        "break, <br> and HTML entities kept). Protected health information.",
    )

    class Config:
        """Strict: no other columns; coerce dtypes."""

        strict = True
        coerce = True
