"""Pandera model for the ``roster`` table (one row per client)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

__all__ = ["Roster"]


class Roster(pa.DataFrameModel):
    """One row per client of the clinic, keyed by pseudonym.

    Examples
    --------
    >>> frame = pl.DataFrame({
    ...     "client_id": ["c1"], "sex": ["f"], "birth_year": [1990], "hr_rest": [55.0],
    ...     "hr_max": [185.0], "timezone": ["Europe/London"], "lthr": [None],
    ... })
    >>> Roster.validate(frame).height
    1
    """

    client_id: str = pa.Field(
        unique=True, description="Keyed pseudonym of the client (never the clinic code)."
    )
    sex: str = pa.Field(isin=["f", "m", "x"], description="Sex: f, m or x (other/unstated).")
    birth_year: pl.Int32 = pa.Field(ge=1900, le=2100, description="Year of birth.")
    hr_rest: pl.Float64 = pa.Field(ge=25, le=120, description="Resting heart rate, bpm.")
    hr_max: pl.Float64 = pa.Field(ge=100, le=230, description="Maximum heart rate, bpm.")
    timezone: str = pa.Field(
        str_matches=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$",
        description="IANA time zone of the client (e.g. Europe/London); local dates use it.",
    )
    lthr: pl.Float64 = pa.Field(
        nullable=True,
        ge=80,
        le=220,
        description="Lactate-threshold heart rate, bpm, when the clinic measured it.",
    )

    class Config:
        """Strict: no other columns; coerce dtypes."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def rest_below_max(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Resting heart rate is below maximum, and lthr (when given) between them."""
        return data.lazyframe.select(
            (pl.col("hr_rest") < pl.col("hr_max"))
            & (
                pl.col("lthr").is_null()
                | ((pl.col("lthr") > pl.col("hr_rest")) & (pl.col("lthr") < pl.col("hr_max")))
            )
        )
