"""Per-client expressions over consecutive calendar days (frames sorted by client and day).

Shared by ``daily_load`` (streaks), the break rule of the indicators and the engagement
indicators, so that "days in a row" and "days since" are stated once.
"""

from __future__ import annotations

import polars as pl

__all__ = ["days_in_a_row", "days_since", "last_day_when", "per_client"]


def per_client(expr: pl.Expr) -> pl.Expr:
    """Evaluate ``expr`` per client, in day order."""
    return expr.over("client_id", order_by="local_date")


def last_day_when(flag: pl.Expr) -> pl.Expr:
    """The latest ``local_date`` up to each day on which ``flag`` held (null before the first)."""
    return per_client(pl.when(flag).then(pl.col("local_date")).forward_fill())


def days_since(flag: pl.Expr) -> pl.Expr:
    """Days since the last day on which ``flag`` held: 0 on such a day, null before the first.

    Examples
    --------
    >>> import datetime as dt
    >>> days = pl.DataFrame({"client_id": "c", "flag": [True, False, False],
    ...     "local_date": [dt.date(2024, 1, d) for d in (1, 2, 3)]})
    >>> days.select(days_since(pl.col("flag")))["local_date"].to_list()
    [0, 1, 2]
    """
    return (pl.col("local_date") - last_day_when(flag)).dt.total_days()


def days_in_a_row(flag: pl.Expr) -> pl.Expr:
    """Days in a row, up to and including each day, on which ``flag`` holds (0 when it does not).

    Examples
    --------
    >>> import datetime as dt
    >>> days = pl.DataFrame({"client_id": "c", "flag": [True, True, False, True],
    ...     "local_date": [dt.date(2024, 1, d) for d in (1, 2, 3, 4)]})
    >>> days.select(days_in_a_row(pl.col("flag")))["flag"].to_list()
    [1, 2, 0, 1]
    """
    block = per_client((~flag).cast(pl.Int64).cum_sum())
    return (
        flag.cast(pl.Int64)
        .cum_sum()
        .over(["client_id", block], order_by="local_date")
        .cast(pl.Int32)
    )
