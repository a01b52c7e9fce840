"""Wellness readings from exports to ``daily_wellness`` rows (one per client, local day, source)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from ingest.exports.model import WellnessReading
from schemas.local_dates import add_local_date

__all__ = ["WELLNESS_COLUMNS", "daily_wellness_frame"]

WELLNESS_COLUMNS: dict[str, pl.DataType] = {
    "client_id": pl.String(),
    "date": pl.Date(),
    "resting_hr_bpm": pl.Int16(),
    "source": pl.String(),
    "measured_utc": pl.Datetime("us", "UTC"),
    "source_sha256": pl.String(),
}
"""Columns of :class:`schemas.daily_wellness.DailyWellness`, in order."""


def daily_wellness_frame(
    readings: Iterable[tuple[str, str, WellnessReading]], timezones: pl.DataFrame
) -> pl.DataFrame:
    """One row per client, local day and source: the day's latest reading.

    Parameters
    ----------
    readings
        ``(client_id, source_sha256, reading)`` triples, any order, repeats allowed (a monitoring
        file repeats the day's value; several files cover one day).
    timezones
        ``client_id``, ``timezone`` (the roster's); clients without a row use UTC.

    Examples
    --------
    >>> import datetime as dt
    >>> r = WellnessReading(dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC), 52, "garmin_monitoring")
    >>> frame = daily_wellness_frame([("c", "0" * 64, r)],
    ...     pl.DataFrame({"client_id": ["c"], "timezone": ["Europe/Berlin"]}))
    >>> frame.select("date", "resting_hr_bpm").row(0)
    (datetime.date(2026, 3, 3), 52)
    """
    rows = [
        {
            "client_id": client,
            "resting_hr_bpm": r.resting_hr_bpm,
            "source": r.source,
            "measured_utc": r.measured_utc,
            "source_sha256": sha,
        }
        for client, sha, r in readings
    ]
    schema = {k: v for k, v in WELLNESS_COLUMNS.items() if k != "date"}
    frame = pl.DataFrame(rows, schema=schema)
    dated = add_local_date(frame, timezones, timestamp="measured_utc", output="date")
    latest = (
        dated.sort("measured_utc", "source_sha256")
        .group_by("client_id", "date", "source", maintain_order=True)
        .last()
    )
    return latest.select(WELLNESS_COLUMNS.keys()).sort("client_id", "date", "source")
