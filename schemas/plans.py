"""Pandera models for the ``plans`` table and the restricted ``plan_notes`` table."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

__all__ = ["PLAN_SESSION_TYPES", "PlanNotes", "Plans"]

PLAN_SESSION_TYPES: tuple[str, ...] = ("easy", "mindfulness", "intervals", "run_walk")


class Plans(pa.DataFrameModel):
    """One row per client and planned week: the running prescription.

    Examples
    --------
    >>> from datetime import date
    >>> frame = pl.DataFrame({
    ...     "client_id": ["c1"], "week_start": [date(2026, 3, 2)], "sessions": [3],
    ...     "minutes": [90.0], "session_type": ["run_walk"],
    ... })
    >>> Plans.validate(frame).height
    1
    """

    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    week_start: pl.Date = pa.Field(description="Monday that starts the ISO week planned.")
    sessions: pl.Int32 = pa.Field(ge=0, le=21, description="Planned number of sessions.")
    minutes: pl.Float64 = pa.Field(
        ge=0, le=3000, description="Planned total minutes of running (or run/walk) in the week."
    )
    session_type: str = pa.Field(
        nullable=True,
        isin=PLAN_SESSION_TYPES,
        description="Kind of session prescribed: easy, mindfulness, intervals or run_walk "
        "(walking counts towards the week only for run_walk); null when not given.",
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

    @pa.dataframe_check
    @classmethod
    def rest_weeks_consistent(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Sessions and minutes are both zero (rest week) or both positive."""
        return data.lazyframe.select((pl.col("sessions") == 0) == (pl.col("minutes") == 0))


class PlanNotes(pa.DataFrameModel):
    """Restricted table: the therapist's free-text note for a planned week.

    Written only under ``<warehouse>/restricted/``.

    Examples
    --------
    >>> from datetime import date
    >>> frame = pl.DataFrame(
    ...     {"client_id": ["c1"], "week_start": [date(2026, 3, 2)], "note": ["go gently"]}
    ... )
    >>> PlanNotes.validate(frame).height
    1
    """

    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    week_start: pl.Date = pa.Field(description="Monday of the planned week.")
    note: str = pa.Field(
        str_length={"min_value": 1},
        description="Free-text note from the plan file. Protected health information.",
    )

    class Config:
        """Strict: no other columns; coerce dtypes."""

        strict = True
        coerce = True
