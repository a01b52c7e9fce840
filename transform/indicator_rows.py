"""Rows of the ``indicators`` table: per-day raised rows, and their collapse into episodes.

Every indicator is first judged day by day (one row per client, day and indicator raised); then
:func:`collapse_episodes` turns each run of consecutive raised days into one row: ``local_date``
the episode's first day, ``until_date`` its last, ``days`` how many days it was raised,
``ongoing`` whether it still held on the client's last judged day. The value, threshold,
explanation and parameters are those of the episode's peak day (the largest value for ``>``
rules, the smallest for ``<`` rules), so "episodes" and "days raised" are both queryable.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from schemas.base import column_names
from schemas.indicators import Indicators

__all__ = ["DAY_COLUMNS", "INDICATORS_COLUMNS", "collapse_episodes", "num", "params_json", "rows"]

INDICATORS_COLUMNS: tuple[str, ...] = column_names(Indicators)
"""Column order of the ``indicators`` table."""

DAY_COLUMNS: tuple[str, ...] = tuple(c for c in INDICATORS_COLUMNS if c not in ("days", "ongoing"))
"""Columns of a per-day raised row, before episodes are formed."""


def num(expr: pl.Expr, decimals: int = 2) -> pl.Expr:
    """Round a number and render it as text for an explanation."""
    return expr.cast(pl.Float64).round(decimals).cast(pl.Utf8)


def params_json(static: dict[str, Any], **dynamic: pl.Expr) -> pl.Expr:
    """JSON object of the static parameters, extended with per-row values."""
    text = json.dumps(static, sort_keys=True, separators=(",", ":"), default=str)
    if not dynamic:
        return pl.lit(text)
    extra = pl.struct([e.alias(k) for k, e in dynamic.items()]).struct.json_encode()
    extra = extra.str.slice(1)
    return pl.concat_str(pl.lit(text[:-1] + ","), extra)


def rows(
    frame: pl.DataFrame,
    *,
    code: str,
    value: pl.Expr,
    comparison: str,
    threshold: float | pl.Expr,
    explanation: pl.Expr,
    params: pl.Expr,
    reason: str | None = None,
    until_date: pl.Expr | None = None,
) -> pl.DataFrame:
    """Shape already-filtered rows (one per client and day) into per-day indicator rows."""
    limit = threshold if isinstance(threshold, pl.Expr) else pl.lit(threshold)
    return frame.select(
        "client_id",
        "local_date",
        until_date=pl.col("local_date") if until_date is None else until_date,
        indicator=pl.lit(code),
        reason=pl.lit(reason, dtype=pl.Utf8),
        value=value.cast(pl.Float64),
        comparison=pl.lit(comparison),
        threshold=limit.cast(pl.Float64),
        explanation=explanation,
        params_json=params,
    )


def collapse_episodes(day_rows: pl.DataFrame, last_days: pl.DataFrame) -> pl.DataFrame:
    """One row per episode: a run of consecutive days on which one indicator was raised.

    Parameters
    ----------
    day_rows
        Per-day rows (:data:`DAY_COLUMNS`, ``until_date`` equal to ``local_date``).
    last_days
        ``client_id`` and ``last_day``: the last day judged for each client (an episode that
        reaches it is ``ongoing``).

    Examples
    --------
    >>> import datetime as dt
    >>> day = [dt.date(2024, 5, d) for d in (1, 2, 3, 6)]
    >>> raised = pl.DataFrame({"client_id": "c", "local_date": day, "until_date": day,
    ...     "indicator": "load_spike", "reason": None, "value": [1.6, 1.9, 1.7, 1.55],
    ...     "comparison": ">", "threshold": 1.5, "explanation": ["a", "peak", "c", "d"],
    ...     "params_json": "{}"}, schema_overrides={"reason": pl.Utf8})
    >>> last = pl.DataFrame({"client_id": ["c"], "last_day": [dt.date(2024, 5, 6)]})
    >>> out = collapse_episodes(raised, last)
    >>> out.select("local_date", "until_date", "days", "value", "explanation", "ongoing").rows()
    [(datetime.date(2024, 5, 1), datetime.date(2024, 5, 3), 3, 1.9, 'peak', False), \
(datetime.date(2024, 5, 6), datetime.date(2024, 5, 6), 1, 1.55, 'd', True)]
    """
    if day_rows.is_empty():
        empty = day_rows.select(DAY_COLUMNS).with_columns(
            days=pl.lit(None, dtype=pl.Int32), ongoing=pl.lit(None, dtype=pl.Boolean)
        )
        return empty.select(INDICATORS_COLUMNS)
    keys = ["client_id", "indicator"]
    ordered = day_rows.sort([*keys, "local_date"])
    new_episode = (pl.col("local_date").diff().dt.total_days() != 1).fill_null(value=True)
    rising = pl.col("comparison").is_in([">", ">="])
    peak_key = pl.when(rising).then(-pl.col("value")).otherwise(pl.col("value"))
    episodes = (
        ordered.with_columns(episode=new_episode.cum_sum().over(keys))
        .group_by([*keys, "episode"], maintain_order=True)
        .agg(
            pl.col("local_date").min().alias("first_day"),
            pl.col("local_date").max().alias("last_day_raised"),
            pl.len().cast(pl.Int32).alias("days"),
            pl.all()
            .exclude("local_date", "until_date", "client_id", "indicator", "episode")
            .sort_by(peak_key, nulls_last=True, maintain_order=True)
            .first(),
        )
    )
    return (
        episodes.join(last_days, on="client_id", how="left")
        .with_columns(
            local_date=pl.col("first_day"),
            until_date=pl.col("last_day_raised"),
            ongoing=(pl.col("last_day_raised") >= pl.col("last_day")).fill_null(value=False),
        )
        .select(INDICATORS_COLUMNS)
    )
