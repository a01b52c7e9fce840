"""Pandera model for the ``daily_load`` table (one row per client and calendar day)."""

from __future__ import annotations

from typing import Any

import pandera.polars as pa
import polars as pl

__all__ = ["DailyLoad"]


def _nullable_ratio(description: str) -> Any:
    """Return a nullable, non-negative column field with a description."""
    return pa.Field(nullable=True, ge=0, description=description)


class DailyLoad(pa.DataFrameModel):
    """Daily training load, ACWR, monotony, distance and wellbeing per client.

    Rest days are rows with ``load`` 0; ``has_data`` is false on days the client
    recorded nothing. Each client's days run from their first day with data to the clinic's
    last day with data (any client's), so a client who stops recording keeps getting days.
    Windows and constants are those of ``config_json``.

    Examples
    --------
    >>> import datetime as dt
    >>> from transform.daily_load import daily_load
    >>> acts = pl.DataFrame({"client_id": ["c"], "local_date": [dt.date(2024, 1, 1)],
    ...                      "sport": ["running"], "load": [100.0], "distance_m": [5000.0]})
    >>> journal = pl.DataFrame(schema={"client_id": pl.Utf8, "local_date": pl.Date,
    ...     "mood": pl.Float64, "mood_scale_max": pl.Int8, "sleep_hours": pl.Float64})
    >>> DailyLoad.validate(daily_load(acts, journal, end_date=dt.date(2024, 1, 9))).height
    9
    """

    client_id: str = pa.Field(
        str_length={"min_value": 1}, description="Keyed pseudonym of the client."
    )
    local_date: pl.Date = pa.Field(description="Calendar day in the client's roster time zone.")
    history_days: pl.Int32 = pa.Field(
        ge=1,
        description="Days since the client's first day with data, counting this day (1 on "
        "the first day).",
    )
    has_data: bool = pa.Field(
        description="True when the client recorded an activity or a journal entry this day."
    )
    n_activities: pl.Int32 = pa.Field(ge=0, description="Activities this day (any sport).")
    n_runs: pl.Int32 = pa.Field(ge=0, description="Runs this day (sport in run_sports).")
    load: pl.Float64 = pa.Field(
        ge=0, description="Sum of activity load this day, TRIMP units; 0 on rest days."
    )
    run_distance_m: pl.Float64 = pa.Field(ge=0, description="Running distance this day, metres.")
    atl: pl.Float64 = pa.Field(
        ge=0,
        description="Acute training load: ATL_t = ATL_{t-1} + (1 - e^(-1/7)) (load_t - ATL_{t-1}), "
        "from the seed (mean daily load of the first 7 days) on the day before the first day.",
    )
    ctl: pl.Float64 = pa.Field(
        ge=0, description="Chronic training load: as ATL with tau 42 days, from the same seed."
    )
    tsb: pl.Float64 = pa.Field(
        description="Training stress balance: CTL - ATL of the previous day (0 on the first "
        "day); negative = fatigue above fitness."
    )
    load_acute_mean: pl.Float64 = _nullable_ratio(
        "Mean daily load of the last 7 days (t-6..t); null before 7 days."
    )
    load_chronic_mean: pl.Float64 = _nullable_ratio(
        "Mean daily load of the last 28 days (t-27..t); null before 28 days."
    )
    load_chronic_uncoupled_mean: pl.Float64 = _nullable_ratio(
        "Mean daily load of the 21 days before the acute week (t-27..t-7)."
    )
    acwr_coupled: pl.Float64 = _nullable_ratio(
        "Rolling ACWR, coupled (Gabbett 2016): load_acute_mean / load_chronic_mean; null "
        "before 28 days of history or when the chronic mean is 0."
    )
    acwr_uncoupled: pl.Float64 = _nullable_ratio(
        "Rolling ACWR, uncoupled (Windt & Gabbett 2019): load_acute_mean / "
        "load_chronic_uncoupled_mean; null as acwr_coupled."
    )
    ewma_acute: pl.Float64 = pa.Field(
        ge=0, description="EWMA of load, lambda = 2/(7+1) (Williams et al. 2017), from the seed."
    )
    ewma_chronic: pl.Float64 = pa.Field(
        ge=0, description="EWMA of load, lambda = 2/(28+1) (Williams et al. 2017), from the seed."
    )
    acwr_ewma: pl.Float64 = _nullable_ratio(
        "EWMA ACWR: ewma_acute / ewma_chronic; null before 28 days of history or when "
        "ewma_chronic is 0."
    )
    load_week_sum: pl.Float64 = _nullable_ratio("Sum of the last 7 daily loads (weekly load).")
    load_week_sd: pl.Float64 = _nullable_ratio("Sample SD (n-1) of the last 7 daily loads.")
    monotony: pl.Float64 = _nullable_ratio(
        "Foster monotony: mean / sample SD of the last 7 daily loads, capped at monotony_cap "
        "(10, as Runalyze); the cap for 7 identical non-zero loads (SD 0); null before 7 days "
        "and for a week of rest."
    )
    monotony_uncapped: pl.Float64 = _nullable_ratio(
        "Foster monotony before the cap (for analysts); null when the SD is 0 (see "
        "monotony_sd_zero) and before 7 days."
    )
    monotony_sd_zero: bool = pa.Field(
        nullable=True,
        description="True when the last 7 daily loads are identical (SD 0, monotony "
        "undefined); null before 7 days.",
    )
    strain: pl.Float64 = _nullable_ratio("Foster strain: load_week_sum * monotony (capped).")
    run_distance_week_m: pl.Float64 = _nullable_ratio(
        "Running distance of the last 7 days, metres."
    )
    run_distance_prev_week_m: pl.Float64 = _nullable_ratio(
        "Running distance of the 7 days before those (t-13..t-7), metres."
    )
    run_distance_change_pct: pl.Float64 = pa.Field(
        nullable=True,
        ge=-100,
        description="Change of run_distance_week_m on run_distance_prev_week_m, percent; "
        "null when the previous week had no running distance or is not yet observed.",
    )
    consecutive_run_days: pl.Int32 = pa.Field(
        ge=0, description="Days in a row, up to this day, with at least one run."
    )
    consecutive_active_days: pl.Int32 = pa.Field(
        ge=0, description="Days in a row, up to this day, with any activity (no rest day)."
    )
    journal_entries: pl.Int32 = pa.Field(ge=0, description="Journal entries this day.")
    journal_entries_week: pl.Int32 = pa.Field(
        ge=0, description="Journal entries with mood or sleep in the last 7 days."
    )
    mood_week_mean_frac: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        le=1,
        description="Mean of daily mood over the last 7 days, as a fraction of the scale "
        "maximum (mood / mood_scale_max).",
    )
    mood_baseline_mean_frac: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        le=1,
        description="Mean daily mood over the last 28 days (the client's own baseline, "
        "fraction of scale); null with fewer than 7 days with a mood.",
    )
    mood_baseline_sd_frac: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=1, description="Sample SD of daily mood over the last 28 days."
    )
    mood_z: pl.Float64 = pa.Field(
        nullable=True,
        description="(mood_week_mean_frac - mood_baseline_mean_frac) / mood_baseline_sd_frac; "
        "null without a baseline or when its SD is 0.",
    )
    sleep_week_mean_h: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=24, description="Mean daily sleep_hours over the last 7 days."
    )
    sleep_baseline_mean_h: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        le=24,
        description="Mean daily sleep_hours over the last 28 days (the client's baseline).",
    )
    sleep_baseline_sd_h: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=24, description="Sample SD of daily sleep_hours, last 28 days."
    )
    sleep_z: pl.Float64 = pa.Field(
        nullable=True,
        description="(sleep_week_mean_h - sleep_baseline_mean_h) / sleep_baseline_sd_h.",
    )
    config_json: str = pa.Field(
        description="The LoadConfig used, as JSON (windows, time constants, thresholds)."
    )

    class Config:
        """Strict and coercing; one row per client and day."""

        strict = True
        coerce = True
        unique = ["client_id", "local_date"]  # noqa: RUF012

    @pa.dataframe_check
    @classmethod
    def monotony_null_when_sd_zero(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """The uncapped monotony is never reported for a week of identical loads."""
        return data.lazyframe.select(
            ~pl.col("monotony_sd_zero").fill_null(value=False)
            | pl.col("monotony_uncapped").is_null()
        )
