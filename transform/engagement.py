"""Engagement and mood indicators: prompts for a therapist to check in, never diagnoses.

Judged day by day on ``daily_load`` (extended to the clinic's last day, so a client who stops
recording still has days) and the planned weeks of ``weekly_adherence``; the caller collapses
the raised days into episodes. Thresholds: :class:`transform.load_config.LoadConfig`.

``disengagement``
    In a planned week (``planned_sessions > 0``): no run for ``disengagement_days`` (10) days,
    counted from the last run (or from the first day of history when there was none); or each
    of the last ``disengagement_low_weeks`` (2) complete planned weeks under
    ``disengagement_low_ratio`` (50 %) of the planned minutes and no run yet this week.
    Cleared by the next run. ``params_json`` gives the date of the last run.
``sustained_low_mood``
    The 7-day mean mood on a 0-10 scale at or below the client's own threshold, the higher of
    (28-day baseline - 1 SD) and ``low_mood_abs`` (4/10), with at least
    ``min_journal_entries_7d`` (3) entries in the 7 days, for ``low_mood_days`` (10) days in a
    row; raised from the 10th day on, whatever the training load.
``journal_silence``
    No journal entry for ``journal_silence_days`` (7) days by a client who made at least
    ``journal_regular_entries`` (12) entries in the 28 days up to their last entry.
"""

from __future__ import annotations

import polars as pl

from transform.day_runs import days_in_a_row, days_since, last_day_when, per_client
from transform.indicator_rows import DAY_COLUMNS, num, params_json, rows
from transform.load_config import LoadConfig

__all__ = ["engagement_days"]


def _planned_weeks(weekly_adherence: pl.DataFrame | None, c: LoadConfig) -> pl.DataFrame:
    """Per client and planned week: whether it was under the disengagement ratio."""
    if weekly_adherence is None or weekly_adherence.is_empty():
        return pl.DataFrame(
            schema={
                "client_id": pl.Utf8,
                "week_start": pl.Date,
                "planned": pl.Boolean,
                "low": pl.Boolean,
                "ratio": pl.Float64,
            }
        )
    planned = pl.col("planned_sessions").fill_null(0) > 0
    ratio = pl.col("adherence_ratio").fill_null(0.0)
    return weekly_adherence.select(
        "client_id",
        "week_start",
        planned=planned,
        low=planned & (ratio < c.disengagement_low_ratio),
        ratio=ratio,
    )


def engagement_days(
    days: pl.DataFrame, weekly_adherence: pl.DataFrame | None, c: LoadConfig
) -> pl.DataFrame:
    """Per-day raised rows of ``disengagement``, ``sustained_low_mood`` and ``journal_silence``.

    Parameters
    ----------
    days
        ``daily_load`` rows with ``week_start`` (Monday of the day's week).
    weekly_adherence
        Planned weeks (``planned_sessions``, ``adherence_ratio``).
    c
        Thresholds.
    """
    return pl.concat(
        [
            _disengagement(days, weekly_adherence, c),
            _sustained_low_mood(days, c),
            _journal_silence(days, c),
        ],
        how="vertical_relaxed",
    ).select(DAY_COLUMNS)


def _disengagement(
    days: pl.DataFrame, weekly_adherence: pl.DataFrame | None, c: LoadConfig
) -> pl.DataFrame:
    weeks = _planned_weeks(weekly_adherence, c)
    low_weeks = [
        weeks.select(
            "client_id",
            (pl.col("week_start") + pl.duration(days=7 * back)).alias("week_start"),
            pl.col("low").alias(f"low_{back}"),
            pl.col("ratio").alias(f"ratio_{back}"),
        )
        for back in range(1, c.disengagement_low_weeks + 1)
    ]
    ran = pl.col("n_runs") > 0
    judged = days.join(
        weeks.select("client_id", "week_start", "planned"),
        on=["client_id", "week_start"],
        how="left",
    )
    for frame in low_weeks:
        judged = judged.join(frame, on=["client_id", "week_start"], how="left")
    since_run = pl.coalesce(days_since(ran), pl.col("history_days").cast(pl.Int64))
    ran_this_week = (
        ran.cast(pl.Int32).cum_sum().over(["client_id", "week_start"], order_by="local_date")
    )
    back = range(1, c.disengagement_low_weeks + 1)
    judged = judged.with_columns(
        last_run=last_day_when(ran),
        since_run=since_run,
        planned=pl.col("planned").fill_null(value=False),
        low_weeks=pl.all_horizontal(pl.col(f"low_{b}").fill_null(value=False) for b in back),
        best_ratio=pl.max_horizontal(pl.col(f"ratio_{b}") for b in back),
        ran_this_week=ran_this_week > 0,
    )
    no_run = pl.col("planned") & (pl.col("since_run") >= c.disengagement_days)
    low = pl.col("planned") & pl.col("low_weeks") & ~pl.col("ran_this_week") & ~no_run
    last_run_text = (
        pl.when(pl.col("last_run").is_not_null())
        .then(
            pl.concat_str(pl.lit(" (last run on "), pl.col("last_run").cast(pl.Utf8), pl.lit(")"))
        )
        .otherwise(pl.lit(" (no run recorded yet)"))
    )
    prompt = (
        " This can be a sign of disengagement from the running plan: a prompt to check in "
        "with the client, not a diagnosis."
    )
    params = {
        "indicator": "disengagement",
        "days_without_run": c.disengagement_days,
        "low_weeks": c.disengagement_low_weeks,
        "low_ratio": c.disengagement_low_ratio,
    }
    not_running = rows(
        judged.filter(no_run),
        code="disengagement",
        value=pl.col("since_run"),
        comparison=">=",
        threshold=float(c.disengagement_days),
        explanation=pl.concat_str(
            pl.lit("No run recorded for "),
            pl.col("since_run").cast(pl.Utf8),
            pl.lit(" days"),
            last_run_text,
            pl.lit(" while the running plan continues." + prompt),
        ),
        params=params_json({**params, "rule": "no_run"}, last_run=pl.col("last_run")),
    )
    under_plan = rows(
        judged.filter(low),
        code="disengagement",
        value=pl.col("best_ratio") * 100.0,
        comparison="<",
        threshold=c.disengagement_low_ratio * 100.0,
        explanation=pl.concat_str(
            pl.lit(
                f"Each of the last {c.disengagement_low_weeks} planned weeks reached less than "
                f"{c.disengagement_low_ratio:.0%} of the planned running minutes (the better "
                "one "
            ),
            num(pl.col("best_ratio") * 100.0, 0),
            pl.lit(" %), and there has been no run yet this week"),
            last_run_text,
            pl.lit("." + prompt),
        ),
        params=params_json({**params, "rule": "low_weeks"}, last_run=pl.col("last_run")),
    )
    return pl.concat([not_running, under_plan], how="vertical_relaxed")


def _sustained_low_mood(days: pl.DataFrame, c: LoadConfig) -> pl.DataFrame:
    mood = pl.col("mood_week_mean_frac") * 10.0
    # the client's own threshold needs a baseline that varies (SD 0: only the absolute level)
    spread = pl.col("mood_baseline_sd_frac")
    own = pl.when(spread > 1e-6).then(
        (pl.col("mood_baseline_mean_frac") + c.wellbeing_z_low * spread) * 10.0
    )
    limit = pl.max_horizontal(own, pl.lit(c.low_mood_abs))
    low = (mood <= limit) & (pl.col("journal_entries_week") >= c.min_journal_entries_7d)
    judged = days.with_columns(
        mood10=mood, limit=limit, low_days=days_in_a_row(low.fill_null(value=False))
    )
    raised = judged.filter(pl.col("low_days") >= c.low_mood_days)
    return rows(
        raised,
        code="sustained_low_mood",
        value=pl.col("mood10"),
        comparison="<=",
        threshold=pl.col("limit"),
        explanation=pl.concat_str(
            pl.lit("Mood has been low for "),
            pl.col("low_days").cast(pl.Utf8),
            pl.lit(" days in a row: the 7-day average is "),
            num(pl.col("mood10"), 1),
            pl.lit(" out of 10, at or below "),
            num(pl.col("limit"), 1),
            pl.lit(
                " (the lower end of this client's usual range, or "
                f"{c.low_mood_abs:g}/10). A prompt to talk about how the client is feeling, "
                "not a diagnosis; it does not depend on training."
            ),
        ),
        params=params_json(
            {
                "indicator": "sustained_low_mood",
                "days_in_a_row": c.low_mood_days,
                "z_low": c.wellbeing_z_low,
                "abs_low_of_10": c.low_mood_abs,
                "min_entries_7d": c.min_journal_entries_7d,
                "baseline_days": c.baseline_days,
            },
            baseline_mean_of_10=pl.col("mood_baseline_mean_frac") * 10.0,
        ),
    )


def _journal_silence(days: pl.DataFrame, c: LoadConfig) -> pl.DataFrame:
    wrote = pl.col("journal_entries") > 0
    recent = per_client(pl.col("journal_entries").rolling_sum(28, min_samples=1))
    at_last_entry = per_client(pl.when(wrote).then(recent).forward_fill())
    judged = days.with_columns(
        silent=days_since(wrote), regular=at_last_entry, last_entry=last_day_when(wrote)
    )
    raised = judged.filter(
        (pl.col("silent") >= c.journal_silence_days)
        & (pl.col("regular") >= c.journal_regular_entries)
    )
    return rows(
        raised,
        code="journal_silence",
        value=pl.col("silent"),
        comparison=">=",
        threshold=float(c.journal_silence_days),
        explanation=pl.concat_str(
            pl.lit("No journal entry for "),
            pl.col("silent").cast(pl.Utf8),
            pl.lit(" days (last on "),
            pl.col("last_entry").cast(pl.Utf8),
            pl.lit(") from a client who had been journalling regularly ("),
            pl.col("regular").cast(pl.Utf8),
            pl.lit(" entries in the 28 days before). A prompt to check in, not a diagnosis."),
        ),
        params=params_json(
            {
                "indicator": "journal_silence",
                "silent_days": c.journal_silence_days,
                "regular_entries_28d": c.journal_regular_entries,
            },
            last_entry=pl.col("last_entry"),
        ),
    )
