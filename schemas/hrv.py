"""Schema of the ``hrv`` table: one row per RR interval."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


class Hrv(pa.DataFrameModel):
    """One row per beat-to-beat (RR) interval; grain: ``activity_id``, ``rr_index``."""

    activity_id: str = pa.Field(description="Activity the interval belongs to.")
    client_id: str = pa.Field(description="Keyed pseudonym of the client.")
    rr_index: pl.Int64 = pa.Field(
        ge=0, description="0-based order of the interval in the activity."
    )
    rr_s: float = pa.Field(
        gt=0,
        le=65.535,
        description="RR interval, seconds (as recorded; not yet filtered for artefacts).",
    )

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True
