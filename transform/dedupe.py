"""Recognise the same run arriving twice (pure).

Two activities are the same run when they belong to the same client, have the same sport, both
have a real clock, and start within :data:`START_TOLERANCE_S` of each other. The copy already held
(or, within one batch, the first in arrival order) is kept; the later one is reported as a duplicate.
"""

from __future__ import annotations

import polars as pl

__all__ = ["START_TOLERANCE_S", "find_duplicates"]

START_TOLERANCE_S = 60
"""Largest start-time difference, seconds, between two copies of one run."""


def find_duplicates(new: pl.DataFrame, held: pl.DataFrame) -> dict[str, str]:
    """Map each activity of ``new`` that repeats an earlier one to the id it repeats.

    Parameters
    ----------
    new
        Activities in arrival order: ``activity_id``, ``client_id``, ``sport``, ``start_utc``.
    held
        Activities already in the warehouse, same columns.

    Returns
    -------
    dict
        ``{new_activity_id: kept_activity_id}``; activities without a clock are never matched.

    Examples
    --------
    >>> import datetime as dt
    >>> t = dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)
    >>> held = pl.DataFrame({"activity_id": ["a"], "client_id": ["c"], "sport": ["running"],
    ...                      "start_utc": [t]})
    >>> new = held.with_columns(activity_id=pl.lit("b"),
    ...                         start_utc=pl.lit(t + dt.timedelta(seconds=5)))
    >>> find_duplicates(new, held)
    {'b': 'a'}
    """
    kept: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for row in held.filter(pl.col("start_utc").is_not_null()).iter_rows(named=True):
        kept.setdefault((row["client_id"], row["sport"]), []).append(
            (row["start_utc"].timestamp(), row["activity_id"])
        )
    duplicates: dict[str, str] = {}
    for row in new.iter_rows(named=True):
        if row["start_utc"] is None:
            continue
        key = (row["client_id"], row["sport"])
        start = row["start_utc"].timestamp()
        match = next(
            (
                aid
                for t, aid in kept.get(key, [])
                if abs(t - start) <= START_TOLERANCE_S and aid != row["activity_id"]
            ),
            None,
        )
        if match is not None:
            duplicates[row["activity_id"]] = match
        else:
            kept.setdefault(key, []).append((start, row["activity_id"]))
    return duplicates
