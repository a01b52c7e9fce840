"""Indicators for therapists, with plain-language explanations: load, engagement, mood.

Each indicator is judged day by day, then collapsed into episodes (one row per run of
consecutive raised days: :mod:`transform.indicator_rows`), with the value, the threshold,
the comparison and the parameters used (``params_json``). Thresholds come from
:class:`transform.load_config.LoadConfig`.

Load indicators (code: rule)
----------------------------
``load_spike``: EWMA acute:chronic workload ratio > 1.5 (Williams et al. 2017), judged only
with a chronic EWMA load of at least ``acwr_min_chronic_load`` and not in the
``return_hold_days`` (14) after a break of ``return_break_days`` (14) or more days without
activity: a ratio over a near-zero or faded chronic load is an artefact of returning
(Gabbett 2016; Impellizzeri et al. 2020 on the ratio's instability at low loads).
``high_monotony``: Foster monotony (capped at 10, as Runalyze) > 2.0; the same non-zero load
every day of the week is monotony at the cap.
``distance_jump``: this calendar week's running distance (Monday to Sunday, local time) more
than 30 % above all of last week's (Nielsen et al. 2014, novice runners), raised once per
week on the day it is first exceeded, only when last week was fully observed and at least
``distance_min_base_m`` (10 km), and not in the hold after a break.
``no_rest_day``: 7 or more days in a row with an activity.
``low_tsb``: training stress balance < -30.
``aerobic_decoupling``: Pa:HR decoupling > 5 % on a steady run (per run, on the
run's day; the largest value when several runs on one day; ``params_json`` lists
the activity ids).
``overload_low_wellbeing``: at least one load signal (``combined_load_signals``)
the same day *and* the 7-day mood or sleep mean at least one SD below the client's
own 28-day baseline (z <= -1).

Engagement and mood indicators (:mod:`transform.engagement`)
-------------------------------------------------------------
``disengagement``, ``sustained_low_mood``, ``journal_silence``: prompts for the therapist to
check in, worded as such, never diagnoses; independent of training load.

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

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from schemas.codes import INDICATOR_LABELS
from transform.day_runs import days_since, last_day_when, per_client
from transform.engagement import engagement_days
from transform.indicator_rows import (
    DAY_COLUMNS,
    INDICATORS_COLUMNS,
    collapse_episodes,
    num,
    params_json,
    rows,
)
from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig

__all__ = [
    "INDICATORS_COLUMNS",
    "indicators",
]


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
    dynamic: dict[str, pl.Expr] = field(default_factory=dict)
    """Per-row values written into ``params_json`` beside the static ``params``."""


def _daily_rules(config: LoadConfig) -> tuple[DailyRule, ...]:
    """Return the daily-load indicator rules, as data."""
    c = config
    acwr = pl.col("acwr_ewma")
    mono = pl.col("monotony")
    dist = pl.col("week_run_distance_change_pct")
    streak = pl.col("consecutive_active_days")
    tsb = pl.col("tsb_100")
    return (
        DailyRule(
            "load_spike",
            acwr,
            ">",
            c.acwr_spike,
            (acwr > c.acwr_spike)
            & (pl.col("ewma_chronic") >= c.acwr_min_chronic_load)
            & (pl.col("history_days") >= c.acwr_min_history_days)
            & ~pl.col("held_after_break"),
            pl.concat_str(
                pl.lit("Training load over the last week is "),
                num(acwr),
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
                "min_chronic_load": c.acwr_min_chronic_load,
                "held_after_break": [c.return_break_days, c.return_hold_days],
            },
        ),
        DailyRule(
            "high_monotony",
            mono,
            ">",
            c.monotony_high,
            mono > c.monotony_high,
            pl.when(pl.col("monotony_sd_zero").fill_null(value=False))
            .then(
                pl.lit(
                    f"The client trained with exactly the same load on each of the last "
                    f"{c.monotony_days} days, so training monotony is at its extreme (shown "
                    f"as {c.monotony_cap:g}, the cap). With no easy days there is little room "
                    "for recovery."
                )
            )
            .otherwise(
                pl.concat_str(
                    pl.lit(
                        f"Training was very similar from day to day over the last "
                        f"{c.monotony_days} days (monotony "
                    ),
                    num(mono),
                    pl.lit(
                        f"; warning above {c.monotony_high:g}, values capped at "
                        f"{c.monotony_cap:g}). With little difference between hard and easy "
                        "days there is less room for recovery."
                    ),
                )
            ),
            {
                "method": "Foster 1998: mean / SD of daily load, capped (Runalyze)",
                "window_days": c.monotony_days,
                "sd_ddof": c.monotony_ddof,
                "cap": c.monotony_cap,
            },
        ),
        DailyRule(
            "distance_jump",
            dist,
            ">",
            c.distance_increase_pct,
            pl.col("distance_jump_raised"),
            pl.concat_str(
                pl.lit("Running distance this week (Monday to "),
                pl.col("local_date").dt.strftime("%A %-d %B"),
                pl.lit(": "),
                num(pl.col("week_run_distance_m") / 1000.0, 1),
                pl.lit(" km) is already "),
                num(dist, 0),
                pl.lit(" % more than all of last week ("),
                num(pl.col("prev_week_run_distance_m") / 1000.0, 1),
                pl.lit(
                    f" km). Weekly increases above {c.distance_increase_pct:g} % have been "
                    "linked to running injuries in novice runners."
                ),
            ),
            {
                "method": "Nielsen et al. 2014, calendar weeks (Monday to Sunday, local time)",
                "min_base_m": c.distance_min_base_m,
                "held_after_break": [c.return_break_days, c.return_hold_days],
            },
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
                num(tsb, 1),
                pl.lit(
                    f" (in units where one hour at the client's threshold is 100; warning below "
                    f"{c.tsb_low:g}): recent training is well above what the client is adapted "
                    "to, so fatigue is likely to be high."
                ),
            ),
            {
                "method": "TSB = CTL - ATL of the previous day, * 100 / threshold-hour load",
                "atl_tau_days": c.atl_tau_days,
                "ctl_tau_days": c.ctl_tau_days,
            },
            {
                "tsb_trimp": pl.col("tsb"),
                "threshold_hour_load": pl.col("threshold_hour_load"),
                "lthr_source": pl.col("lthr_source"),
            },
        ),
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
    weekly_adherence: pl.DataFrame | None = None,
    calibration: pl.DataFrame | None = None,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Build the ``indicators`` table from ``daily_load`` and ``activity_metrics``.

    Parameters
    ----------
    daily_load
        Output of :func:`transform.daily_load.daily_load`.
    activity_metrics
        Output of :func:`transform.trimp.activity_metrics` (for decoupling).
    weekly_adherence
        Output of :func:`transform.adherence.build_weekly_adherence` (planned weeks, for
        ``disengagement``); ``None``: no client has a plan.
    calibration
        ``client_id``, ``threshold_hour_load`` and ``lthr_source``
        (:func:`transform.trimp.threshold_hour_load`): TSB is judged in threshold-hour units;
        ``None`` (or a client missing): ``default_threshold_hour_load``.
    config
        Thresholds; the ones used are written in each row's ``params_json``.

    Returns
    -------
    pl.DataFrame
        Columns ``INDICATORS_COLUMNS``, one row per episode, sorted by client, first day and
        indicator.

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
    days = _with_context(daily_load.sort("client_id", "local_date"), calibration, c)
    judged = days.filter(pl.col("history_days") >= c.min_history_days)
    parts: list[pl.DataFrame] = []
    signal_columns: list[pl.Expr] = []
    for rule in _daily_rules(c):
        raised = rule.raised.fill_null(value=False)
        params = {
            **rule.params,
            "indicator": rule.code,
            "threshold": rule.threshold,
            "min_history_days": c.min_history_days,
        }
        parts.append(
            rows(
                judged.filter(raised),
                code=rule.code,
                value=rule.value,
                comparison=rule.comparison,
                threshold=rule.threshold,
                explanation=rule.explanation,
                params=params_json(params, **rule.dynamic),
            )
        )
        if rule.code in c.combined_load_signals:
            signal_columns.append(pl.when(raised).then(pl.lit(rule.code)))
    parts.append(_combined(judged, signal_columns, c))
    parts.append(_decoupling(activity_metrics, c))
    parts.append(engagement_days(days, weekly_adherence, c))
    per_day = pl.concat([p.select(DAY_COLUMNS) for p in parts], how="vertical_relaxed")
    last_days = days.group_by("client_id").agg(last_day=pl.col("local_date").max())
    ranges = pl.concat(
        [p.select(DAY_COLUMNS) for p in _insufficient(days, signal_columns, c)],
        how="vertical_relaxed",
    ).join(last_days, on="client_id", how="left")
    ranges = ranges.with_columns(
        days=((pl.col("until_date") - pl.col("local_date")).dt.total_days() + 1).cast(pl.Int32),
        ongoing=(pl.col("until_date") >= pl.col("last_day")).fill_null(value=False),
    )
    out = pl.concat(
        [collapse_episodes(per_day, last_days), ranges.select(INDICATORS_COLUMNS)],
        how="vertical_relaxed",
    )
    return out.sort("client_id", "local_date", "indicator", "reason", nulls_last=True)


def _with_context(
    days: pl.DataFrame, calibration: pl.DataFrame | None, c: LoadConfig
) -> pl.DataFrame:
    """Add what the rules judge beyond ``daily_load``: returns from a break, calendar weeks.

    ``held_after_break``: within ``return_hold_days`` of the first activity after
    ``return_break_days`` or more days without any. ``week_run_distance_m``: running distance
    from Monday to this day; ``prev_week_run_distance_m``: all of last week (null unless the
    client's history covers it); ``distance_jump_raised``: the first day of a week on which the
    week's distance exceeds last week's by more than ``distance_increase_pct`` over a base of at
    least ``distance_min_base_m`` (so one jump raises once). ``tsb_100``: TSB in threshold-hour
    units (one hour at threshold = 100).
    """
    units = (
        calibration.select("client_id", "threshold_hour_load", "lthr_source")
        if calibration is not None
        else pl.DataFrame(
            schema={"client_id": pl.Utf8, "threshold_hour_load": pl.Float64, "lthr_source": pl.Utf8}
        )
    )
    days = days.join(units, on="client_id", how="left").with_columns(
        pl.col("threshold_hour_load").fill_null(c.default_threshold_hour_load),
        pl.col("lthr_source").fill_null("default"),
    )
    # rounded so that unit conversion round-off (-30.000000000000004) cannot cross a threshold
    scaled = pl.col("tsb") * 100.0 / pl.col("threshold_hour_load")
    days = days.with_columns(tsb_100=scaled.round(9))
    active = pl.col("n_activities") > 0
    days = days.with_columns(
        week_start=pl.col("local_date").dt.truncate("1w"),
        prev_active=per_client(last_day_when(active).shift(1)),
        first_day=pl.col("local_date").min().over("client_id"),
    )
    rest_before = (pl.col("local_date") - pl.col("prev_active")).dt.total_days() - 1
    returned = active & (rest_before >= c.return_break_days).fill_null(value=False)
    since_return = days_since(returned)
    weeks = days.group_by("client_id", "week_start").agg(
        prev_week_run_distance_m=pl.col("run_distance_m").sum()
    )
    days = days.with_columns(
        held_after_break=(since_return < c.return_hold_days).fill_null(value=False),
        week_run_distance_m=pl.col("run_distance_m")
        .cum_sum()
        .over(["client_id", "week_start"], order_by="local_date"),
    ).join(
        weeks.with_columns(week_start=pl.col("week_start") + pl.duration(days=7)),
        on=["client_id", "week_start"],
        how="left",
    )
    observed = pl.col("week_start") - pl.duration(days=7) >= pl.col("first_day")
    prev = pl.when(observed).then(pl.col("prev_week_run_distance_m"))
    days = days.with_columns(prev_week_run_distance_m=prev).with_columns(
        week_run_distance_change_pct=pl.when(pl.col("prev_week_run_distance_m") > 0).then(
            (pl.col("week_run_distance_m") / pl.col("prev_week_run_distance_m") - 1.0) * 100.0
        )
    )
    candidate = (
        (pl.col("prev_week_run_distance_m") >= c.distance_min_base_m)
        & (pl.col("week_run_distance_change_pct") > c.distance_increase_pct)
        & ~pl.col("held_after_break")
    ).fill_null(value=False)
    first_in_week = (
        candidate.cast(pl.Int32).cum_sum().over(["client_id", "week_start"], order_by="local_date")
    )
    return days.with_columns(distance_jump_raised=candidate & (first_in_week == 1)).sort(
        "client_id", "local_date"
    )


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
            pl.concat_str(pl.lit("mood (z = "), num(pl.col("mood_z")), pl.lit(")"))
        ),
        pl.when(sleep_low).then(
            pl.concat_str(pl.lit("sleep (z = "), num(pl.col("sleep_z")), pl.lit(")"))
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
    return rows(
        raised,
        code="overload_low_wellbeing",
        value=worst,
        comparison="<=",
        threshold=low,
        explanation=explanation,
        params=params_json(
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
        num(pl.col("decoupling_pct"), 1),
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
    return rows(
        per_day,
        code="aerobic_decoupling",
        value=pl.col("decoupling_pct"),
        comparison=">",
        threshold=c.decoupling_high_pct,
        explanation=explanation,
        params=params_json(params, activity_ids=pl.col("activity_ids")),
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
            rows(
                ranges,
                code="insufficient_data",
                value=pl.col("value"),
                comparison=gap.comparison,
                threshold=gap.threshold,
                explanation=explanation,
                params=params_json(params),
                reason=gap.reason,
                until_date=pl.col("until_date"),
            )
        )
    return out
