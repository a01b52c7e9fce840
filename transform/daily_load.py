"""Daily training load per client: ATL/CTL/TSB, ACWR, monotony, strain, distance, wellbeing.

One row per client and calendar day (``local_date``), from the client's first day
with data (an activity or a journal entry) to ``end_date`` inclusive. Days without
an activity have ``load`` 0 (rest days count); ``has_data`` says whether the client
recorded anything that day. Activities without a local date (watch clock never
set) cannot be placed on a day and are left out.

Formulas (windows and constants from :class:`transform.load_config.LoadConfig`)
--------------------------------------------------------------------------------
ATL, CTL (Banister impulse-response, exponentially weighted)
    ``ATL_t = ATL_{t-1} + (1 - exp(-1/7)) * (load_t - ATL_{t-1})``, CTL the same with
    tau 42, both starting on the day before the first day from the seed: the mean daily
    load of the client's first ``ewma_seed_days`` (7) days, rest days counting 0 (a
    history of zeros before the first day would be invented; 0 days: start from 0).
TSB
    ``TSB_t = CTL_{t-1} - ATL_{t-1}`` (the previous day's values: form going into
    the day); 0 on the first day.
ACWR, rolling (``acwr_coupled``, Gabbett 2016)
    mean load of the last 7 days (t-6..t) / mean of the last 28 days (t-27..t).
ACWR, uncoupled (``acwr_uncoupled``, Windt & Gabbett 2019)
    the same acute mean / mean of the 21 days before the acute week (t-27..t-7).
ACWR, EWMA (``acwr_ewma``, Williams et al. 2017)
    ``EWMA_t = lambda * load_t + (1 - lambda) * EWMA_{t-1}``, ``lambda = 2/(N+1)``,
    N = 7 (acute) and 28 (chronic), starting from the same seed; ratio acute / chronic.
    All ratios are null before 28 days of history and when the chronic value is 0.
Monotony and strain (Foster 1998)
    ``monotony = mean / SD`` of the last 7 daily loads, SD with ``ddof = 1``
    (sample SD), kept as ``monotony_uncapped``; ``monotony`` is capped at
    ``monotony_cap`` (10, as Runalyze): near-identical days give huge ratios (127 for
    an SD of 1.4) that mean no more than "every day the same". When the 7 loads are
    identical the SD is 0 (``monotony_sd_zero``): ``monotony_uncapped`` is null and
    ``monotony`` is the cap for a non-zero load, null for a week of rest.
    ``strain = 7-day load sum * monotony`` (capped).
Distance
    ``run_distance_week_m``: 7-day rolling sum of running distance;
    ``run_distance_change_pct``: change against the 7 days before (null when that
    was 0 or not yet observed).
Streaks
    ``consecutive_run_days``: days in a row up to today with a run;
    ``consecutive_active_days``: days in a row with any activity (any sport), used
    for "no rest day".
Wellbeing
    Daily mood is the mean of the day's entries as a fraction of the scale maximum
    (so 5-point and 10-point journals mix); daily sleep the mean ``sleep_hours``.
    7-day mean of the days with a value against the client's own 28-day baseline
    (mean and sample SD of the days with a value in t-27..t, which includes the
    recent week; at least 7 such days): ``z = (mean_7d - baseline_mean) /
    baseline_sd``; null when the baseline is too short or its SD is 0 (below 1e-6,
    rounding residue of the running sums).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from schemas.base import column_names
from schemas.daily_load import DailyLoad
from transform.day_runs import days_in_a_row
from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig

__all__ = ["DAILY_LOAD_COLUMNS", "daily_load"]

_EPS = 1e-9
_VAR_FLOOR = 1e-12  # baseline variances below this (SD < 1e-6) count as 0
_RESIDUE = (
    1e-6  # window totals of loads or metres below this are rounding residue (see _window_total)
)

#: Column order of the ``daily_load`` table.
DAILY_LOAD_COLUMNS: tuple[str, ...] = column_names(DailyLoad)


def _over(expr: pl.Expr) -> pl.Expr:
    return expr.over("client_id", order_by="local_date")


def _window_total(expr: pl.Expr) -> pl.Expr:
    """A rolling sum or mean of non-negative days, with the rounding residue made 0.

    Polars' rolling sums subtract the values that leave the window, so a window of rest days
    after a few runs can hold -1.8e-12 or 1.8e-12 instead of 0: anything below
    :data:`_RESIDUE` is that residue (no real day total is that small).
    """
    total = _over(expr)
    return pl.when(total < _RESIDUE).then(0.0).otherwise(total)


def _ratio(num: pl.Expr, den: pl.Expr, enough: pl.Expr) -> pl.Expr:
    """``num / den`` when ``enough`` and ``den > 0``, else null (never inf)."""
    return pl.when(enough & (den > _EPS)).then(num / den).otherwise(None)


def _window_stats(col: str, window: int) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Count, mean and sample SD of the non-null values of ``col`` in a trailing window.

    Values are centred on the client's first value before the running sums, so a
    constant series gives exactly 0 (no cancellation error in ``s2 - s1^2 / n``).
    """
    present = pl.col(col).is_not_null()
    ref = pl.col(col).filter(present).first().over("client_id")
    value = (pl.col(col) - ref).fill_null(0.0)
    n = _over(present.cast(pl.Float64).rolling_sum(window, min_samples=1))
    s1 = _over(value.rolling_sum(window, min_samples=1))
    s2 = _over((value * value).rolling_sum(window, min_samples=1))
    # a mean lies between the window's extremes: the clip removes only rounding (-1.1e-16 for a
    # week of mood 0 otherwise, which fails the table's check and with it the run)
    low = _over(pl.col(col).rolling_min(window, min_samples=1))
    high = _over(pl.col(col).rolling_max(window, min_samples=1))
    mean = pl.when(n > 0).then((ref + s1 / n).clip(low, high))
    raw_var = pl.when(n > 1).then(((s2 - s1 * s1 / n) / (n - 1)).clip(lower_bound=0.0))
    # Rounding residue of the running sums (values leaving the window) is not variation.
    var = pl.when(raw_var < _VAR_FLOOR).then(0.0).otherwise(raw_var)
    return n, mean, var.sqrt()


def _ewma_from_seed(alpha: float) -> pl.Expr:
    """Exponentially weighted load starting from the seed row's load (the day before the first).

    Clipped at 0: round-off of the running update must not produce ``-1e-15``.
    """
    return _over(pl.col("load").ewm_mean(alpha=alpha, adjust=False)).clip(lower_bound=0.0)


def _seed_load(days: int) -> pl.Expr:
    """Mean daily load of the client's first ``days`` days (rest days 0), on the seed row."""
    if days <= 0:
        return pl.lit(0.0)
    first_days = pl.col("load").filter(~pl.col("seed")).head(days)
    return first_days.mean().over("client_id")


def daily_load(
    activity_metrics: pl.DataFrame,
    journal: pl.DataFrame,
    *,
    end_date: dt.date,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Build the ``daily_load`` table (one row per client and calendar day).

    Parameters
    ----------
    activity_metrics
        Per-activity load (``client_id``, ``local_date``, ``sport``, ``load``,
        ``distance_m``), as built by :func:`transform.trimp.activity_metrics`.
    journal
        Journal entries (``client_id``, ``local_date``, ``mood``, ``mood_scale_max``,
        ``sleep_hours``).
    end_date
        Last day of the range (inclusive); later data is ignored. No clock is read.
    config
        Windows, time constants and the SD convention; its JSON is written in
        ``config_json``.

    Returns
    -------
    pl.DataFrame
        Columns in the order of ``DAILY_LOAD_COLUMNS``, sorted by client and day.

    Examples
    --------
    >>> import datetime as dt
    >>> acts = pl.DataFrame({"client_id": ["c"], "local_date": [dt.date(2024, 1, 1)],
    ...                      "sport": ["running"], "load": [100.0], "distance_m": [5000.0]})
    >>> journal = pl.DataFrame(schema={"client_id": pl.Utf8, "local_date": pl.Date,
    ...     "mood": pl.Float64, "mood_scale_max": pl.Int8, "sleep_hours": pl.Float64})
    >>> out = daily_load(acts, journal, end_date=dt.date(2024, 1, 2))
    >>> # seed: mean load of the first days (100, 0) = 50; 50 + (100 - 50)(1 - e^(-1/7)),
    >>> # then that times e^(-1/7)
    >>> [round(v, 3) for v in out["atl"]]
    [56.656, 49.114]
    """
    run_sports = list(config.run_sports)
    acts = activity_metrics.filter(
        pl.col("local_date").is_not_null() & (pl.col("local_date") <= end_date)
    )
    act_days = acts.group_by("client_id", "local_date").agg(
        n_activities=pl.len().cast(pl.Int32),
        n_runs=pl.col("sport").is_in(run_sports).sum().cast(pl.Int32),
        load=pl.col("load").fill_null(0.0).sum(),
        run_distance_m=pl.col("distance_m")
        .filter(pl.col("sport").is_in(run_sports))
        .fill_null(0.0)
        .sum(),
    )
    entries = journal.filter(
        pl.col("local_date").is_not_null() & (pl.col("local_date") <= end_date)
    )
    mood_frac = pl.col("mood").cast(pl.Float64) / pl.col("mood_scale_max").cast(pl.Float64)
    journal_days = entries.group_by("client_id", "local_date").agg(
        journal_entries=pl.len().cast(pl.Int32),
        wellbeing_entries=(pl.col("mood").is_not_null() | pl.col("sleep_hours").is_not_null())
        .sum()
        .cast(pl.Float64),
        mood_day=mood_frac.mean(),
        sleep_day=pl.col("sleep_hours").cast(pl.Float64).mean(),
    )
    firsts = (
        pl.concat(
            [
                act_days.select("client_id", "local_date"),
                journal_days.select("client_id", "local_date"),
            ]
        )
        .group_by("client_id")
        .agg(first=pl.col("local_date").min())
    )
    # One seed row per client on the day before its first day (load 0) starts
    # every exponentially weighted series from 0; it is dropped at the end.
    calendar = (
        firsts.select(
            "client_id",
            local_date=pl.date_ranges(pl.col("first") - pl.duration(days=1), pl.lit(end_date)),
        )
        .explode("local_date")
        .drop_nulls("local_date")
    )
    days = (
        calendar.join(act_days, on=["client_id", "local_date"], how="left")
        .join(journal_days, on=["client_id", "local_date"], how="left")
        .with_columns(
            pl.col("n_activities", "n_runs", "journal_entries").fill_null(0),
            pl.col("load", "run_distance_m", "wellbeing_entries").fill_null(0.0),
        )
        .sort("client_id", "local_date")
        .with_columns(
            history_days=_over(pl.int_range(pl.len(), dtype=pl.Int32)),
            seed=_over(pl.int_range(pl.len())) == 0,
        )
    )
    days = days.with_columns(
        load=pl.when(pl.col("seed"))
        .then(_seed_load(config.ewma_seed_days))
        .otherwise(pl.col("load"))
    )
    acute, chronic = config.acwr_acute_days, config.acwr_chronic_days
    load = pl.col("load")
    enough_acwr = pl.col("history_days") >= config.acwr_min_history_days
    mood_n, mood_mean, mood_sd = _window_stats("mood_day", config.baseline_days)
    sleep_n, sleep_mean, sleep_sd = _window_stats("sleep_day", config.baseline_days)
    _, mood_week, _ = _window_stats("mood_day", config.wellbeing_days)
    _, sleep_week, _ = _window_stats("sleep_day", config.wellbeing_days)
    enough_mood = mood_n >= config.baseline_min_entries
    enough_sleep = sleep_n >= config.baseline_min_entries
    week = config.monotony_days
    days = days.with_columns(
        atl=_ewma_from_seed(config.atl_alpha),
        ctl=_ewma_from_seed(config.ctl_alpha),
        ewma_acute=_ewma_from_seed(config.ewma_acute_lambda),
        ewma_chronic=_ewma_from_seed(config.ewma_chronic_lambda),
        mood_week_mean_frac=mood_week,
        mood_baseline_mean_frac=pl.when(enough_mood).then(mood_mean),
        mood_baseline_sd_frac=pl.when(enough_mood).then(mood_sd),
        sleep_week_mean_h=sleep_week,
        sleep_baseline_mean_h=pl.when(enough_sleep).then(sleep_mean),
        sleep_baseline_sd_h=pl.when(enough_sleep).then(sleep_sd),
    ).filter(~pl.col("seed"))
    has_week = pl.col("history_days") >= week
    week_max = _over(load.rolling_max(week))
    week_min = _over(load.rolling_min(week))
    days = days.with_columns(
        has_data=(pl.col("n_activities") > 0) | (pl.col("journal_entries") > 0),
        tsb=_over((pl.col("ctl") - pl.col("atl")).shift(1, fill_value=0.0)),
        load_acute_mean=_window_total(load.rolling_mean(acute)),
        load_chronic_mean=_window_total(load.rolling_mean(chronic)),
        load_chronic_uncoupled_mean=_window_total(load.shift(acute).rolling_mean(chronic - acute)),
        load_week_sum=_window_total(load.rolling_sum(week)),
        load_week_sd=_over(load.rolling_std(week, ddof=config.monotony_ddof)).clip(lower_bound=0.0),
        monotony_sd_zero=pl.when(has_week).then(week_max == week_min),
        run_distance_week_m=_window_total(
            pl.col("run_distance_m").rolling_sum(config.distance_days)
        ),
        journal_entries_week=_over(
            pl.col("wellbeing_entries").rolling_sum(config.wellbeing_days, min_samples=1)
        ).cast(pl.Int32),
        ran=pl.col("n_runs") > 0,
        active=pl.col("n_activities") > 0,
    )
    days = days.with_columns(
        acwr_coupled=_ratio(pl.col("load_acute_mean"), pl.col("load_chronic_mean"), enough_acwr),
        acwr_uncoupled=_ratio(
            pl.col("load_acute_mean"), pl.col("load_chronic_uncoupled_mean"), enough_acwr
        ),
        acwr_ewma=_ratio(pl.col("ewma_acute"), pl.col("ewma_chronic"), enough_acwr),
        monotony_uncapped=pl.when(~pl.col("monotony_sd_zero")).then(
            pl.col("load_week_sum") / week / pl.col("load_week_sd")
        ),
        run_distance_prev_week_m=_over(pl.col("run_distance_week_m").shift(config.distance_days)),
        consecutive_run_days=days_in_a_row(pl.col("ran")),
        consecutive_active_days=days_in_a_row(pl.col("active")),
        mood_z=_ratio(
            pl.col("mood_week_mean_frac") - pl.col("mood_baseline_mean_frac"),
            pl.col("mood_baseline_sd_frac"),
            pl.lit(value=True),
        ),
        sleep_z=_ratio(
            pl.col("sleep_week_mean_h") - pl.col("sleep_baseline_mean_h"),
            pl.col("sleep_baseline_sd_h"),
            pl.lit(value=True),
        ),
    )
    cap = config.monotony_cap
    days = days.with_columns(
        monotony=pl.when(pl.col("monotony_sd_zero") & (pl.col("load_week_sum") > 0))
        .then(pl.lit(cap))
        .otherwise(pl.col("monotony_uncapped").clip(upper_bound=cap))
    )
    days = days.with_columns(
        strain=pl.col("load_week_sum") * pl.col("monotony"),
        # a week without running is -100 % exactly, never a rounding step beside it
        run_distance_change_pct=pl.when(
            (pl.col("run_distance_week_m") == 0) & (pl.col("run_distance_prev_week_m") > _EPS)
        )
        .then(pl.lit(-100.0))
        .otherwise(
            _ratio(
                (pl.col("run_distance_week_m") - pl.col("run_distance_prev_week_m")) * 100.0,
                pl.col("run_distance_prev_week_m"),
                pl.lit(value=True),
            ).clip(lower_bound=-100.0)
        ),
        config_json=pl.lit(config.to_json()),
    )
    return days.select(DAILY_LOAD_COLUMNS).sort("client_id", "local_date")
