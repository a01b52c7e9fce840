"""Overtraining indicators with plain-language explanations for therapists.

One row per client, day and indicator raised, with the value, the threshold, the
comparison and the parameters used (``params_json``). Thresholds come from
:class:`transform.load_config.LoadConfig`.

Indicators (code: rule)
-----------------------
``load_spike``: EWMA acute:chronic workload ratio > 1.5 (Williams et al. 2017).
``high_monotony``: Foster monotony > 2.0, or the same non-zero load on each of the
last 7 days (SD 0, monotony undefined; ``value`` null).
``distance_jump``: 7-day running distance more than 30 % above the 7 days before
(Nielsen et al. 2014, novice runners). Not judged when the previous week had no
running distance (a percentage of zero is meaningless).
``no_rest_day``: 7 or more days in a row with an activity.
``low_tsb``: training stress balance < -30.
``aerobic_decoupling``: Pa:HR decoupling > 5 % on a steady run (per run, on the
run's day; the largest value when several runs on one day; ``params_json`` lists
the activity ids).
``overload_low_wellbeing``: at least one load signal (``combined_load_signals``)
the same day *and* the 7-day mood or sleep mean at least one SD below the client's
own 28-day baseline (z <= -1). Mood or sleep alone never raise an indicator.

Insufficient data (``indicator = "insufficient_data"``, ``reason`` says which)
-------------------------------------------------------------------------------
Granularity: one row per client and contiguous range of days with the same
reason, ``local_date`` the first day and ``until_date`` the last (a range of one
day has both equal), ``value`` the largest value reached in the range.

``short_history``: fewer than 21 days of history (``history_days``): none of the
daily-load indicators is judged. ``short_history_acwr``: 21 to 27 days: the
acute:chronic ratio needs 28 days, so ``load_spike`` is not judged yet.
``sparse_journal``: a load signal was raised but fewer than 3 journal entries with
mood or sleep exist in the last 7 days (or no baseline exists), so the combined
signal cannot be judged. Decoupling is judged per run and needs no history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from schemas.base import column_names
from schemas.codes import INDICATOR_LABELS
from schemas.indicators import Indicators
from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig

__all__ = [
    "INDICATORS_COLUMNS",
    "indicators",
]

#: Column order of the ``indicators`` table.
INDICATORS_COLUMNS: tuple[str, ...] = column_names(Indicators)


def _num(expr: pl.Expr, decimals: int = 2) -> pl.Expr:
    """Round a number and render it as text for an explanation."""
    return expr.cast(pl.Float64).round(decimals).cast(pl.Utf8)


def _params_json(static: dict[str, Any], **dynamic: pl.Expr) -> pl.Expr:
    """JSON object of the static parameters, extended with per-row values."""
    text = json.dumps(static, sort_keys=True, separators=(",", ":"))
    if not dynamic:
        return pl.lit(text)
    extra = pl.struct([e.alias(k) for k, e in dynamic.items()]).struct.json_encode()
    extra = extra.str.slice(1)
    return pl.concat_str(pl.lit(text[:-1] + ","), extra)


@dataclass(frozen=True)
class DailyRule:
    """An indicator judged on ``daily_load`` rows: raised when ``raised`` holds."""

    code: str
    value: pl.Expr
    comparison: str
    threshold: float
    raised: pl.Expr
    explanation: pl.Expr
    params: dict[str, Any]


def _daily_rules(config: LoadConfig) -> tuple[DailyRule, ...]:
    """Return the daily-load indicator rules, as data."""
    c = config
    acwr = pl.col("acwr_ewma")
    mono = pl.col("monotony")
    dist = pl.col("run_distance_change_pct")
    streak = pl.col("consecutive_active_days")
    tsb = pl.col("tsb")
    return (
        DailyRule(
            "load_spike",
            acwr,
            ">",
            c.acwr_spike,
            acwr > c.acwr_spike,
            pl.concat_str(
                pl.lit("Training load over the last week is "),
                _num(acwr),
                pl.lit(
                    " times the load the client has been used to over the last four weeks "
                    f"(exponentially weighted acute:chronic workload ratio; warning above "
                    f"{c.acwr_spike}). A sudden rise like this has been linked to a higher "
                    "risk of overuse injury and excessive fatigue."
                ),
            ),
            {
                "method": "EWMA ACWR (Williams et al. 2017)",
                "acute_n_days": c.acwr_acute_days,
                "chronic_n_days": c.acwr_chronic_days,
                "lambda_acute": c.ewma_acute_lambda,
                "lambda_chronic": c.ewma_chronic_lambda,
            },
        ),
        DailyRule(
            "high_monotony",
            mono,
            ">",
            c.monotony_high,
            mono > c.monotony_high,
            pl.concat_str(
                pl.lit(
                    f"Training was very similar from day to day over the last "
                    f"{c.monotony_days} days (monotony "
                ),
                _num(mono),
                pl.lit(
                    f"; warning above {c.monotony_high}). With little difference between "
                    "hard and easy days there is less room for recovery."
                ),
            ),
            {
                "method": "Foster 1998: mean / SD of daily load",
                "window_days": c.monotony_days,
                "sd_ddof": c.monotony_ddof,
            },
        ),
        DailyRule(
            "high_monotony",
            pl.lit(None, dtype=pl.Float64),
            ">",
            c.monotony_high,
            pl.col("monotony_sd_zero") & (pl.col("load_week_sum") > 0),
            pl.lit(
                f"The client trained with exactly the same load on each of the last "
                f"{c.monotony_days} days, so training monotony is at its extreme (it cannot "
                "be computed as a number because the day-to-day variation is zero). With no "
                "easy days there is little room for recovery."
            ),
            {
                "method": "Foster 1998: mean / SD of daily load",
                "window_days": c.monotony_days,
                "sd_ddof": c.monotony_ddof,
                "sd_zero": True,
            },
        ),
        DailyRule(
            "distance_jump",
            dist,
            ">",
            c.distance_increase_pct,
            dist > c.distance_increase_pct,
            pl.concat_str(
                pl.lit(f"Running distance in the last {c.distance_days} days ("),
                _num(pl.col("run_distance_week_m") / 1000.0, 1),
                pl.lit(" km) is "),
                _num(dist, 0),
                pl.lit(f" % more than in the {c.distance_days} days before ("),
                _num(pl.col("run_distance_prev_week_m") / 1000.0, 1),
                pl.lit(
                    f" km). Weekly increases above {c.distance_increase_pct:g} % have been "
                    "linked to running injuries in novice runners."
                ),
            ),
            {"method": "Nielsen et al. 2014", "window_days": c.distance_days},
        ),
        DailyRule(
            "no_rest_day",
            streak.cast(pl.Float64),
            ">=",
            float(c.no_rest_days),
            streak >= c.no_rest_days,
            pl.concat_str(
                pl.lit("The client has been active on "),
                streak.cast(pl.Utf8),
                pl.lit(
                    f" days in a row without a rest day (warning at {c.no_rest_days} or "
                    "more). Rest days are when the body adapts to training."
                ),
            ),
            {"rest_day": "a day with no recorded activity of any sport"},
        ),
        DailyRule(
            "low_tsb",
            tsb,
            "<",
            c.tsb_low,
            tsb < c.tsb_low,
            pl.concat_str(
                pl.lit("Training stress balance is "),
                _num(tsb, 1),
                pl.lit(
                    f" (warning below {c.tsb_low:g}): recent training is well above what the "
                    "client is adapted to, so fatigue is likely to be high."
                ),
            ),
            {
                "method": "TSB = CTL - ATL of the previous day",
                "atl_tau_days": c.atl_tau_days,
                "ctl_tau_days": c.ctl_tau_days,
            },
        ),
    )


def _raised_rows(
    frame: pl.DataFrame,
    *,
    code: str,
    value: pl.Expr,
    comparison: str,
    threshold: float,
    explanation: pl.Expr,
    params_json: pl.Expr,
    reason: str | None = None,
    until_date: pl.Expr | None = None,
) -> pl.DataFrame:
    """Shape already-filtered rows into the indicators table."""
    return frame.select(
        "client_id",
        "local_date",
        until_date=pl.col("local_date") if until_date is None else until_date,
        indicator=pl.lit(code),
        reason=pl.lit(reason, dtype=pl.Utf8),
        value=value.cast(pl.Float64),
        comparison=pl.lit(comparison),
        threshold=pl.lit(threshold, dtype=pl.Float64),
        explanation=explanation,
        params_json=params_json,
    )


def _ranges(flagged: pl.DataFrame, flag: str, value: str) -> pl.DataFrame:
    """Collapse days where ``flag`` holds into contiguous ranges per client."""
    return (
        flagged.sort("client_id", "local_date")
        .with_columns(
            run_id=(pl.col(flag) != pl.col(flag).shift(1))
            .fill_null(value=True)
            .cum_sum()
            .over("client_id")
        )
        .filter(pl.col(flag))
        .group_by("client_id", "run_id")
        .agg(
            local_date=pl.col("local_date").min(),
            until_date=pl.col("local_date").max(),
            value=pl.col(value).max(),
        )
    )


def indicators(
    daily_load: pl.DataFrame,
    activity_metrics: pl.DataFrame,
    *,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Build the ``indicators`` table from ``daily_load`` and ``activity_metrics``.

    Parameters
    ----------
    daily_load
        Output of :func:`transform.daily_load.daily_load`.
    activity_metrics
        Output of :func:`transform.trimp.activity_metrics` (for decoupling).
    config
        Thresholds; the ones used are written in each row's ``params_json``.

    Returns
    -------
    pl.DataFrame
        Columns ``INDICATORS_COLUMNS``, sorted by client, day and indicator.

    Examples
    --------
    >>> import datetime as dt
    >>> from transform.daily_load import daily_load as build_daily_load
    >>> acts = pl.DataFrame({"client_id": ["c"], "local_date": [dt.date(2024, 1, 1)],
    ...                      "sport": ["running"], "load": [80.0], "distance_m": [5000.0],
    ...                      "steady_run": [False], "decoupling_pct": [None],
    ...                      "activity_id": ["a1"]})
    >>> journal = pl.DataFrame(schema={"client_id": pl.Utf8, "local_date": pl.Date,
    ...     "mood": pl.Float64, "mood_scale_max": pl.Int8, "sleep_hours": pl.Float64})
    >>> days = build_daily_load(acts, journal, end_date=dt.date(2024, 1, 10))
    >>> indicators(days, acts).select("indicator", "reason", "until_date").row(0)
    ('insufficient_data', 'short_history', datetime.date(2024, 1, 10))
    """
    c = config
    days = daily_load.sort("client_id", "local_date")
    judged = days.filter(pl.col("history_days") >= c.min_history_days)
    parts: list[pl.DataFrame] = []
    signal_columns: list[pl.Expr] = []
    for rule in _daily_rules(c):
        raised = rule.raised.fill_null(value=False)
        if rule.code == "load_spike":
            raised = raised & (pl.col("history_days") >= c.acwr_min_history_days)
        params = {
            **rule.params,
            "indicator": rule.code,
            "threshold": rule.threshold,
            "min_history_days": c.min_history_days,
        }
        parts.append(
            _raised_rows(
                judged.filter(raised),
                code=rule.code,
                value=rule.value,
                comparison=rule.comparison,
                threshold=rule.threshold,
                explanation=rule.explanation,
                params_json=_params_json(params),
            )
        )
        if rule.code in c.combined_load_signals:
            signal_columns.append(pl.when(raised).then(pl.lit(rule.code)))
    parts.append(_combined(judged, signal_columns, c))
    parts.append(_decoupling(activity_metrics, c))
    parts.extend(_insufficient(days, signal_columns, c))
    out = pl.concat([p.select(INDICATORS_COLUMNS) for p in parts], how="vertical_relaxed")
    return out.sort("client_id", "local_date", "indicator", "reason", nulls_last=True)


def _combined(judged: pl.DataFrame, signals: list[pl.Expr], c: LoadConfig) -> pl.DataFrame:
    """Load signal together with low mood or sleep against the client's own baseline."""
    low = c.wellbeing_z_low
    mood_low = pl.col("mood_z") <= low
    sleep_low = pl.col("sleep_z") <= low
    worst = pl.min_horizontal(
        pl.when(mood_low).then(pl.col("mood_z")), pl.when(sleep_low).then(pl.col("sleep_z"))
    )
    with_signals = judged.with_columns(
        load_signals=pl.concat_list(signals).list.drop_nulls()
        if signals
        else pl.lit([], dtype=pl.List(pl.Utf8)),
    )
    raised = with_signals.filter(
        (pl.col("load_signals").list.len() > 0)
        & (pl.col("journal_entries_week") >= c.min_journal_entries_7d)
        & (mood_low.fill_null(value=False) | sleep_low.fill_null(value=False))
    )
    wellbeing_text = pl.concat_str(
        pl.when(mood_low).then(
            pl.concat_str(pl.lit("mood (z = "), _num(pl.col("mood_z")), pl.lit(")"))
        ),
        pl.when(sleep_low).then(
            pl.concat_str(pl.lit("sleep (z = "), _num(pl.col("sleep_z")), pl.lit(")"))
        ),
        separator=" and ",
        ignore_nulls=True,
    )
    explanation = pl.concat_str(
        pl.lit("A training-load warning ("),
        pl.col("load_signals").list.eval(pl.element().replace(INDICATOR_LABELS)).list.join(", "),
        pl.lit(") came together with "),
        wellbeing_text,
        pl.lit(
            f" at least {abs(low):g} standard deviation below the client's own usual level "
            f"over the last {c.baseline_days} days. Load and low wellbeing together can be an "
            "early sign of overreaching: consider talking about recovery. (Low mood or sleep "
            "alone never raises this indicator.)"
        ),
    )
    params = {
        "indicator": "overload_low_wellbeing",
        "threshold": low,
        "combined_load_signals": list(c.combined_load_signals),
        "baseline_days": c.baseline_days,
        "wellbeing_days": c.wellbeing_days,
        "min_journal_entries_7d": c.min_journal_entries_7d,
        "baseline_min_entries": c.baseline_min_entries,
    }
    return _raised_rows(
        raised,
        code="overload_low_wellbeing",
        value=worst,
        comparison="<=",
        threshold=low,
        explanation=explanation,
        params_json=_params_json(
            params,
            load_signals_raised=pl.col("load_signals"),
            mood_z=pl.col("mood_z"),
            sleep_z=pl.col("sleep_z"),
        ),
    )


def _decoupling(activity_metrics: pl.DataFrame, c: LoadConfig) -> pl.DataFrame:
    """Pa:HR decoupling above the threshold on a steady run (largest per client and day)."""
    per_day = (
        activity_metrics.filter(
            pl.col("steady_run").fill_null(value=False)
            & (pl.col("decoupling_pct") > c.decoupling_high_pct)
            & pl.col("local_date").is_not_null()
        )
        .group_by("client_id", "local_date")
        .agg(
            decoupling_pct=pl.col("decoupling_pct").max(),
            activity_ids=pl.col("activity_id").sort(),
        )
    )
    explanation = pl.concat_str(
        pl.lit("On a steady run, heart rate drifted upward relative to pace by "),
        _num(pl.col("decoupling_pct"), 1),
        pl.lit(
            f" % between the first and the second half (warning above "
            f"{c.decoupling_high_pct:g} %). This can mean the run was longer than the "
            "client's current aerobic fitness, or heat, dehydration or fatigue."
        ),
    )
    params = {
        "indicator": "aerobic_decoupling",
        "threshold": c.decoupling_high_pct,
        "method": "Pa:HR (Friel), first vs second half",
        "min_duration_s": c.decoupling_min_duration_s,
        "warmup_s": c.decoupling_warmup_s,
        "stopped_speed_mps": c.decoupling_stopped_speed_mps,
        "max_speed_cv": c.decoupling_max_speed_cv,
    }
    return _raised_rows(
        per_day,
        code="aerobic_decoupling",
        value=pl.col("decoupling_pct"),
        comparison=">",
        threshold=c.decoupling_high_pct,
        explanation=explanation,
        params_json=_params_json(params, activity_ids=pl.col("activity_ids")),
    )


@dataclass(frozen=True)
class _Gap:
    """A reason why some indicators cannot be judged on a day."""

    reason: str
    flag: pl.Expr
    value: str
    threshold: float
    comparison: str
    text: str


def _insufficient(days: pl.DataFrame, signals: list[pl.Expr], c: LoadConfig) -> list[pl.DataFrame]:
    """``insufficient_data`` rows, one per client and contiguous range per reason."""
    history = pl.col("history_days")
    any_signal = (
        pl.any_horizontal(s.is_not_null() for s in signals) if signals else pl.lit(value=False)
    )
    no_wellbeing = pl.col("mood_z").is_null() & pl.col("sleep_z").is_null()
    gaps = (
        _Gap(
            "short_history",
            history < c.min_history_days,
            "history_days",
            float(c.min_history_days),
            "<",
            f"there were fewer than {c.min_history_days} days of history, too few to judge "
            "training-load warnings (load spike, monotony, weekly distance, rest days, "
            "training stress balance, load with low mood or sleep).",
        ),
        _Gap(
            "short_history_acwr",
            (history >= c.min_history_days) & (history < c.acwr_min_history_days),
            "history_days",
            float(c.acwr_min_history_days),
            "<",
            f"there were fewer than {c.acwr_min_history_days} days of history, so the "
            "acute:chronic workload ratio (load spike) could not be judged yet.",
        ),
        _Gap(
            "sparse_journal",
            (history >= c.min_history_days)
            & any_signal
            & ((pl.col("journal_entries_week") < c.min_journal_entries_7d) | no_wellbeing),
            "journal_entries_week",
            float(c.min_journal_entries_7d),
            "<",
            f"a training-load warning was raised but there were fewer than "
            f"{c.min_journal_entries_7d} journal entries with mood or sleep in the last "
            f"{c.wellbeing_days} days (or no {c.baseline_days}-day baseline yet), so it could "
            "not be judged whether mood or sleep were also low.",
        ),
    )
    out: list[pl.DataFrame] = []
    for gap in gaps:
        flagged = days.select(
            "client_id",
            "local_date",
            gap.value,
            flag=gap.flag.fill_null(value=False),
        )
        ranges = _ranges(flagged, "flag", gap.value)
        explanation = pl.concat_str(
            pl.when(pl.col("local_date") == pl.col("until_date"))
            .then(pl.concat_str(pl.lit("On "), pl.col("local_date").cast(pl.Utf8)))
            .otherwise(
                pl.concat_str(
                    pl.lit("From "),
                    pl.col("local_date").cast(pl.Utf8),
                    pl.lit(" to "),
                    pl.col("until_date").cast(pl.Utf8),
                )
            ),
            pl.lit(", " + gap.text),
        )
        params = {
            "indicator": "insufficient_data",
            "reason": gap.reason,
            "value_column": gap.value,
            "threshold": gap.threshold,
            "value_is": "largest value in the range",
        }
        out.append(
            _raised_rows(
                ranges,
                code="insufficient_data",
                value=pl.col("value"),
                comparison=gap.comparison,
                threshold=gap.threshold,
                explanation=explanation,
                params_json=_params_json(params),
                reason=gap.reason,
                until_date=pl.col("until_date"),
            )
        )
    return out
