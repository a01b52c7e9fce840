"""Schema of the ``samples`` table: one row per record (~1 Hz)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.base import DateTime, utc_field


class Samples(pa.DataFrameModel):
    """One row per recorded sample; grain: ``activity_id`` and order of ``elapsed_s``.

    Partitioned by ``client_id`` and ``year`` in the warehouse.
    """

    activity_id: str = pa.Field(description="Activity the sample belongs to.")
    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    timestamp: DateTime = utc_field(
        "Sample time, UTC; null when the clock was never set.", nullable=True, plausible=True
    )
    elapsed_s: float = pa.Field(
        ge=0, nullable=True, description="Seconds since the activity's start."
    )
    distance_m: float = pa.Field(
        ge=0, le=2_000_000, nullable=True, description="Cumulative distance, metres."
    )
    speed_mps: float = pa.Field(ge=0, le=60, nullable=True, description="Speed, metres per second.")
    hr_bpm: pl.Int16 = pa.Field(
        ge=20, le=250, nullable=True, description="Heart rate, beats per minute."
    )
    cadence_rpm: float = pa.Field(
        ge=0, le=300, nullable=True, description="Cadence as recorded (running: per leg), rpm."
    )
    altitude_m: float = pa.Field(ge=-500, le=9_000, nullable=True, description="Altitude, metres.")
    power_w: float = pa.Field(ge=0, le=3_000, nullable=True, description="Power, watts.")
    lat_deg: float = pa.Field(
        ge=-90, le=90, nullable=True, description="Latitude, degrees (WGS84)."
    )
    lon_deg: float = pa.Field(
        ge=-180, le=180, nullable=True, description="Longitude, degrees (WGS84)."
    )
    temperature_c: float = pa.Field(
        ge=-60, le=70, nullable=True, description="Temperature, degrees Celsius."
    )

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True
