"""Schema of the ``daily_wellness`` table: one row per client, day and source of wellness values."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from schemas.base import DateTime, utc_field

WELLNESS_SOURCES = ["garmin_monitoring"]
"""Where a daily value can come from (Garmin monitoring files' ``monitoring_hr_data`` for now)."""


class DailyWellness(pa.DataFrameModel):
    """One row per client, local calendar day and source; grain: ``client_id``, ``date``, ``source``.

    A rising resting heart rate over several days is a recovery signal the indicators can use.
    """

    client_id: str = pa.Field(description="Keyed pseudonym of the client (HMAC-SHA256).")
    date: dt.date = pa.Field(
        description="Calendar day of the reading in the client's roster timezone."
    )
    resting_hr_bpm: pl.Int16 = pa.Field(
        ge=25, le=150, description="Resting heart rate the watch computed for that day, bpm."
    )
    source: str = pa.Field(isin=WELLNESS_SOURCES, description="Where the value was read.")
    measured_utc: DateTime = utc_field("Time stamp of the reading the value was taken from, UTC.")
    source_sha256: str = pa.Field(
        str_length=64, description="SHA-256 of the file the value was read from."
    )

    @pa.dataframe_check
    @classmethod
    def one_row_per_day_and_source(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Grain: ``client_id``, ``date``, ``source`` is unique."""
        return data.lazyframe.select(~pl.struct("client_id", "date", "source").is_duplicated())

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True
