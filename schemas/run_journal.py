"""Pandera model for the ``run_journal`` table (one row per activity)."""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl

__all__ = ["RunJournal"]


class RunJournal(pa.DataFrameModel):
    """Each activity with its pre-run and post-run journal entries and the mood change.

    Matching rules (windows, edges, ownership) are in ``transform/run_journal.py``.
    """

    activity_id: str = pa.Field(unique=True, description="Activity id, as in activities.")
    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    sport: str = pa.Field(description="Sport of the activity (running, walking, ...).")
    start_utc: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        nullable=True, description="Start of the activity, UTC; null when the clock was never set."
    )
    end_utc: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        nullable=True, description="End of the activity, UTC; null when the clock was never set."
    )
    local_date: pl.Date = pa.Field(
        nullable=True, description="Calendar date of the start in the client's time zone."
    )
    duration_s: pl.Float64 = pa.Field(nullable=True, ge=0, description="Elapsed time, seconds.")
    moving_time_s: pl.Float64 = pa.Field(nullable=True, ge=0, description="Moving time, seconds.")
    distance_m: pl.Float64 = pa.Field(nullable=True, ge=0, description="Distance, metres.")
    pre_found: pl.Boolean = pa.Field(description="True when a pre-run entry was matched.")
    pre_entry_id: str = pa.Field(
        nullable=True, description="entry_id of the pre-run entry (last one in the window)."
    )
    pre_timestamp_utc: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        nullable=True, description="When the pre-run entry was written, UTC."
    )
    pre_minutes_before: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Minutes from the pre-run entry to the start (0 to the pre window).",
    )
    pre_mood: pl.Float64 = pa.Field(
        nullable=True, ge=1, le=10, description="Mood of the pre-run entry."
    )
    pre_mood_scale_max: pl.Int8 = pa.Field(
        nullable=True, isin=[5, 10], description="Top of the pre-run entry's mood scale."
    )
    post_found: pl.Boolean = pa.Field(description="True when a post-run entry was matched.")
    post_entry_id: str = pa.Field(
        nullable=True, description="entry_id of the post-run entry (first one in the window)."
    )
    post_timestamp_utc: Annotated[pl.Datetime, "us", "UTC"] = pa.Field(
        nullable=True, description="When the post-run entry was written, UTC."
    )
    post_minutes_after: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Minutes from the end to the post-run entry (0 to the post window).",
    )
    post_mood: pl.Float64 = pa.Field(
        nullable=True, ge=1, le=10, description="Mood of the post-run entry."
    )
    post_mood_scale_max: pl.Int8 = pa.Field(
        nullable=True, isin=[5, 10], description="Top of the post-run entry's mood scale."
    )
    post_rpe: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=10, description="Perceived exertion (CR-10) of the post entry."
    )
    mood_change: pl.Float64 = pa.Field(
        nullable=True,
        ge=-9,
        le=9,
        description="post_mood - pre_mood, in points of their common scale; null unless both "
        "entries were found with a mood on the same scale.",
    )

    class Config:
        """Strict: no other columns; coerce dtypes."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def found_flags_match_ids(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """pre_found / post_found are true exactly when the entry id is present."""
        return data.lazyframe.select(
            (pl.col("pre_found") == pl.col("pre_entry_id").is_not_null())
            & (pl.col("post_found") == pl.col("post_entry_id").is_not_null())
        )
