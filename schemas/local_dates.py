"""Local calendar dates from UTC timestamps and each client's roster timezone (pure)."""

from __future__ import annotations

import polars as pl

__all__ = ["DEFAULT_TIMEZONE", "add_local_date"]

DEFAULT_TIMEZONE = "UTC"
"""Used for a client with no roster row; such activities are flagged ``timezone_unknown``."""


def add_local_date(
    frame: pl.DataFrame,
    timezones: pl.DataFrame,
    *,
    timestamp: str = "start_utc",
    output: str = "local_date",
) -> pl.DataFrame:
    """Set ``output`` to the calendar date of ``timestamp`` in the client's timezone.

    Parameters
    ----------
    frame
        Rows with ``client_id`` and a UTC ``timestamp`` column.
    timezones
        ``client_id``, ``timezone`` (IANA name), one row per client.

    Examples
    --------
    >>> import datetime as dt
    >>> f = pl.DataFrame({"client_id": ["a"],
    ...     "start_utc": [dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC)]})
    >>> add_local_date(f, pl.DataFrame({"client_id": ["a"], "timezone": ["Europe/Berlin"]}))[
    ...     "local_date"].to_list()
    [datetime.date(2026, 3, 3)]
    """
    zones = frame.join(timezones.select("client_id", "timezone"), on="client_id", how="left")
    zones = zones.with_columns(pl.col("timezone").fill_null(DEFAULT_TIMEZONE))
    parts = []
    for (zone,), part in zones.with_row_index("_row").group_by("timezone", maintain_order=True):
        local = pl.col(timestamp).dt.convert_time_zone(str(zone)).dt.date()
        parts.append(part.with_columns(local.alias(output)))
    if not parts:
        return frame.with_columns(pl.lit(None, dtype=pl.Date).alias(output))
    joined = pl.concat(parts).sort("_row")
    return joined.drop("_row", "timezone").select(
        frame.columns if output in frame.columns else [*frame.columns, output]
    )
