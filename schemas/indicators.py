"""Pandera model for the ``indicators`` table (one row per client, indicator and episode)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.codes import INDICATOR_CODES, INSUFFICIENT_REASONS

__all__ = ["Indicators"]


class Indicators(pa.DataFrameModel):
    """Indicators for therapists and "insufficient_data" notes, in plain language.

    One row per episode: a run of consecutive days on which the indicator was raised, from
    ``local_date`` to ``until_date`` (``days`` of them; ``ongoing`` when it still held on the
    client's last day). Value, threshold and explanation are those of the episode's peak day.

    Examples
    --------
    >>> import datetime as dt
    >>> row = {"client_id": "c1", "local_date": dt.date(2024, 3, 1),
    ...        "until_date": dt.date(2024, 3, 1), "days": 1, "ongoing": False,
    ...        "indicator": "low_tsb", "reason": None,
    ...        "value": -34.0, "comparison": "<", "threshold": -30.0,
    ...        "explanation": "Training stress balance is -34.0 ...", "params_json": "{}"}
    >>> Indicators.validate(pl.DataFrame([row])).height
    1
    """

    client_id: str = pa.Field(
        str_length={"min_value": 1}, description="Keyed pseudonym of the client."
    )
    local_date: pl.Date = pa.Field(
        description="First day of the episode (the day the indicator was first raised); for "
        "insufficient_data, the first day of the range."
    )
    until_date: pl.Date = pa.Field(
        description="Last day of the episode (consecutive days raised) or of the range."
    )
    days: pl.Int32 = pa.Field(
        ge=1, description="Days on which it was raised in this episode (until - local + 1)."
    )
    ongoing: bool = pa.Field(
        description="True when the episode still held on the client's last judged day."
    )
    indicator: str = pa.Field(
        isin=INDICATOR_CODES,
        description="load_spike, high_monotony, distance_jump, no_rest_day, low_tsb, "
        "aerobic_decoupling, overload_low_wellbeing, disengagement, sustained_low_mood, "
        "journal_silence or insufficient_data (plain words in schemas/codes.py).",
    )
    reason: str = pa.Field(
        nullable=True,
        isin=INSUFFICIENT_REASONS,
        description="For insufficient_data only: short_history (< 21 days), "
        "short_history_acwr (21-27 days, no ACWR yet) or sparse_journal (< 3 journal "
        "entries in 7 days when a load signal was raised); null otherwise.",
    )
    value: pl.Float64 = pa.Field(
        nullable=True,
        description="The value judged on the episode's peak day (ratio, monotony, percent, days, "
        "TSB, z-score, mood on 0-10; for insufficient_data the largest value in the range).",
    )
    comparison: str = pa.Field(
        isin=[">", ">=", "<", "<="],
        description="How value is compared to threshold to raise the indicator.",
    )
    threshold: pl.Float64 = pa.Field(
        nullable=True,
        description="The threshold from LoadConfig that was applied (for sustained_low_mood the "
        "client's own: the higher of baseline - 1 SD and low_mood_abs).",
    )
    explanation: str = pa.Field(
        str_length={"min_value": 1},
        description="Plain-language explanation a therapist can read.",
    )
    params_json: str = pa.Field(
        str_startswith="{",
        description="Parameters used (method, windows, constants, threshold; activity ids "
        "for decoupling; signals and z-scores for the combined signal), as a JSON object.",
    )

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def range_is_ordered(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """until_date is on or after local_date."""
        return data.lazyframe.select(pl.col("until_date") >= pl.col("local_date"))

    @pa.dataframe_check
    @classmethod
    def reason_only_for_insufficient_data(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Give a reason exactly on insufficient_data rows."""
        return data.lazyframe.select(
            (pl.col("indicator") == "insufficient_data") == pl.col("reason").is_not_null()
        )

    @pa.dataframe_check
    @classmethod
    def one_row_per_client_day_indicator(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """At most one row per client, day, indicator and reason."""
        key = pl.struct("client_id", "local_date", "indicator", pl.col("reason").fill_null(""))
        return data.lazyframe.select(~key.is_duplicated())
