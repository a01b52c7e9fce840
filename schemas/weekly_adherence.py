"""Pandera model for the ``weekly_adherence`` table (one row per client and ISO week)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

__all__ = ["ADHERENCE_BANDS", "WeeklyAdherence"]

ADHERENCE_BANDS: tuple[str, ...] = ("green", "yellow", "red", "rest", "no_plan")


class WeeklyAdherence(pa.DataFrameModel):
    """Planned vs completed running per client and ISO week, with a compliance band.

    Counting rules and band edges are in ``transform/adherence.py``.
    """

    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    week_start: pl.Date = pa.Field(description="Monday starting the ISO week (client's zone).")
    iso_year: pl.Int32 = pa.Field(ge=1900, le=2200, description="ISO 8601 week-numbering year.")
    iso_week: pl.Int8 = pa.Field(ge=1, le=53, description="ISO 8601 week number.")
    planned_sessions: pl.Int32 = pa.Field(
        nullable=True, ge=0, le=21, description="Planned sessions; null when no plan."
    )
    planned_minutes: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=3000, description="Planned minutes; null when no plan."
    )
    session_type: str = pa.Field(
        nullable=True,
        isin=["easy", "mindfulness", "intervals", "run_walk"],
        description="Planned session type; null when no plan or not given.",
    )
    completed_sessions: pl.Int32 = pa.Field(
        ge=0,
        description="Counted sessions: runs (and walks in run_walk weeks) of at least the "
        "minimum moving time.",
    )
    completed_minutes: pl.Float64 = pa.Field(
        ge=0, description="Moving minutes of the counted sessions."
    )
    easy_share: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        le=1,
        description="Share (0-1) of the HR-zone time (activity_metrics hr_zone1_s..hr_zone5_s) "
        "of the week's counted runs (running sports only, walks left out) that lies in the easy "
        "zones 1 to AdherenceConfig.easy_zones (default 2: 50-70 % HRmax). Time below 50 % "
        "HRmax is in no zone and counts in neither part. Null when no counted run has HR-zone "
        "time.",
    )
    adherence_ratio: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="completed_minutes / planned_minutes; null with no plan or a rest week.",
    )
    band: str = pa.Field(
        isin=ADHERENCE_BANDS,
        description="green 80-120 %, yellow 50-<80 % or >120-150 %, red otherwise or no run in a "
        "planned week, rest (planned rest week, no run), no_plan.",
    )
    on_plan_streak: pl.Int32 = pa.Field(
        ge=0,
        description="Consecutive weeks up to and including this one with band green or rest.",
    )
    journal_entries: pl.Int32 = pa.Field(ge=0, description="Journal entries in the week.")
    journal_days: pl.Int32 = pa.Field(
        ge=0, le=7, description="Distinct days of the week with a journal entry."
    )

    class Config:
        """Strict: no other columns; coerce dtypes."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def monday(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """week_start is a Monday."""
        return data.lazyframe.select(pl.col("week_start").dt.weekday() == 1)

    @pa.dataframe_check
    @classmethod
    def one_row_per_week(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """At most one row per client and week."""
        return data.lazyframe.select(~pl.struct("client_id", "week_start").is_duplicated())
