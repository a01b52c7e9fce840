"""Schema of the ``laps`` table: one row per lap."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.base import DateTime, utc_field


class Laps(pa.DataFrameModel):
    """One row per lap; grain: ``activity_id``, ``lap_index``."""

    activity_id: str = pa.Field(description="Activity the lap belongs to.")
    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    lap_index: pl.Int32 = pa.Field(ge=0, description="0-based order of the lap in the activity.")
    start_utc: DateTime = utc_field("Lap start, UTC.", nullable=True)
    elapsed_s: float = pa.Field(
        ge=0, nullable=True, description="Elapsed time of the lap, seconds."
    )
    timer_s: float = pa.Field(
        ge=0, nullable=True, description="Timer (moving) time of the lap, seconds."
    )
    distance_m: float = pa.Field(ge=0, nullable=True, description="Lap distance, metres.")
    hr_mean_bpm: float = pa.Field(ge=20, le=250, nullable=True, description="Mean heart rate, bpm.")
    hr_max_bpm: float = pa.Field(
        ge=20, le=250, nullable=True, description="Maximum heart rate, bpm."
    )
    cadence_mean_rpm: float = pa.Field(
        ge=0, le=300, nullable=True, description="Mean cadence, rpm."
    )
    speed_mean_mps: float = pa.Field(
        ge=0, le=60, nullable=True, description="Mean speed, metres per second."
    )
    ascent_m: float = pa.Field(ge=0, nullable=True, description="Ascent during the lap, metres.")

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True
