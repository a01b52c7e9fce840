"""The report's queries, each run once for the whole clinic and its result split by client.

:func:`query_clinic` filters, groups and sorts every table the reports read (:class:`ReportInputs`)
once for all the clients asked for, with ``client_id`` among the group keys, and returns the rows
of each result by client (:class:`ClinicRows`). The cost of a query hardly grows with the number of
clients; :mod:`report.model` then builds each client's report from these rows in Python. Pure:
frames in, rows out; no paths, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from schemas.files import Outcome

__all__ = [
    "ClinicRows",
    "ReportInputs",
    "Rows",
    "Window",
    "query_clinic",
    "week_start",
]


@dataclass(frozen=True)
class ReportInputs:
    """The warehouse tables a report reads (whole tables, every client)."""

    weekly_adherence: pl.DataFrame
    daily_load: pl.DataFrame
    journal: pl.DataFrame
    run_journal: pl.DataFrame
    indicators: pl.DataFrame
    activities: pl.DataFrame
    files: pl.DataFrame


def week_start(day: dt.date) -> dt.date:
    """Monday of the ISO week of ``day``.

    Examples
    --------
    >>> week_start(dt.date(2026, 3, 8))
    datetime.date(2026, 3, 2)
    """
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True)
class Window:
    """The ISO weeks a report shows and their days up to ``as_of``.

    Examples
    --------
    >>> w = Window.ending(dt.date(2026, 3, 18), weeks=2)
    >>> w.first_day, w.weeks[-1], len(w.days)
    (datetime.date(2026, 3, 9), datetime.date(2026, 3, 16), 10)
    """

    as_of: dt.date
    weeks: list[dt.date]
    """Monday of each week shown, oldest first; the last is the week of ``as_of``."""
    days: list[dt.date]
    """Every day from the first Monday to ``as_of``."""

    @classmethod
    def ending(cls, as_of: dt.date, weeks: int) -> Window:
        """The ``weeks`` ISO weeks ending with the week of ``as_of``."""
        last_week = week_start(as_of)
        week_list = [last_week - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
        first_day = week_list[0]
        days = [first_day + dt.timedelta(days=i) for i in range((as_of - first_day).days + 1)]
        return cls(as_of, week_list, days)

    @property
    def first_day(self) -> dt.date:
        """The first day shown (a Monday)."""
        return self.weeks[0]

    def holds(self, column: str) -> pl.Expr:
        """Whether the date in ``column`` lies between the first day shown and ``as_of``."""
        return pl.col(column).is_between(self.first_day, self.as_of)

    def holds_week(self, column: str) -> pl.Expr:
        """Whether the Monday in ``column`` is one of the weeks shown."""
        return pl.col(column).is_between(self.weeks[0], self.weeks[-1])

    def overlaps(self, start: str, end: str) -> pl.Expr:
        """Whether the range of days from ``start`` to ``end`` (columns) meets the days shown."""
        return (pl.col(end) >= self.first_day) & (pl.col(start) <= self.as_of)


Rows = dict[str, list[dict[str, Any]]]
"""A query's rows by ``client_id`` (``DataFrame.rows_by_key``): each client's rows in the result's
order, each a dict of its columns but ``client_id``."""


DAILY_COLUMNS = (
    "load",
    "atl",
    "ctl",
    "tsb",
    "acwr_ewma",
    "mood_week_mean_frac",
    "sleep_week_mean_h",
)
"""The daily_load columns a report shows, one value per day."""

RUN_COLUMNS = (
    "local_date",
    "start_utc",
    "sport",
    "distance_m",
    "moving_time_s",
    "pre_mood",
    "post_mood",
    "pre_mood_scale_max",
    "post_mood_scale_max",
    "mood_change",
    "post_rpe",
)
"""The run_journal columns a report shows."""


@dataclass(frozen=True)
class ClinicRows:
    """The rows each report is built from, by client (a client without rows is absent)."""

    adherence: Rows
    """weekly_adherence of the weeks shown: week_start, planned/completed minutes, band."""
    daily: Rows
    """daily_load of the days shown: local_date and :data:`DAILY_COLUMNS`."""
    journal_days: Rows
    """Per day shown: mean ``mood`` (scaled to 0-10) and mean ``sleep`` hours of its entries."""
    runs: Rows
    """Runs (sport running) of the days shown, newest first: :data:`RUN_COLUMNS`."""
    episodes: Rows
    """Indicator episodes overlapping the window (insufficient_data aside), newest first, then
    by indicator."""
    insufficient: Rows
    """insufficient_data ranges overlapping the window, by first day."""
    data_days: Rows
    """One row: ``first`` day with an activity or journal entry, ``last`` one up to ``as_of``,
    the ``weeks`` shown that have one (days after ``as_of`` in its week count)."""
    quality: Rows
    """Per quality ``flag`` (by name), the number (``len``) of activities of the days shown (or
    without a date) carrying it."""
    refused: Rows
    """Per ``reason_message``, the number (``len``) of refused files, most first, then by
    message."""
    moved: Rows
    """Per ``week`` shown with a dated activity: its moving ``minutes`` and ``km``, every sport
    (activities after ``as_of`` in its week count)."""
    loads: Rows
    """Per ``week`` shown: the sum of daily_load's ``load`` of its days shown."""


def query_clinic(inputs: ReportInputs, client_ids: Sequence[str], window: Window) -> ClinicRows:
    """Run every report query once for ``client_ids`` and split the results by client."""
    mine = pl.col("client_id").is_in(client_ids)
    daily = inputs.daily_load.filter(mine & window.holds("local_date"))
    journal = inputs.journal.filter(mine)
    activities = inputs.activities.filter(mine)
    raised = inputs.indicators.filter(mine & window.overlaps("local_date", "until_date"))
    insufficient = pl.col("indicator") == "insufficient_data"
    return ClinicRows(
        adherence=inputs.weekly_adherence.filter(mine & window.holds_week("week_start"))
        .select("client_id", "week_start", "planned_minutes", "completed_minutes", "band")
        .rows_by_key("client_id", named=True),
        daily=daily.select("client_id", "local_date", *DAILY_COLUMNS).rows_by_key(
            "client_id", named=True
        ),
        journal_days=journal.filter(window.holds("local_date"))
        .group_by("client_id", "local_date")
        .agg(
            mood=(pl.col("mood") / pl.col("mood_scale_max").cast(pl.Float64) * 10).mean(),
            sleep=pl.col("sleep_hours").mean(),
        )
        .rows_by_key("client_id", named=True),
        runs=inputs.run_journal.filter(
            mine & window.holds("local_date") & (pl.col("sport") == "running")
        )
        .select("client_id", *RUN_COLUMNS)
        .sort("local_date", "start_utc", descending=True, maintain_order=True)
        .rows_by_key("client_id", named=True),
        episodes=raised.filter(~insufficient)
        .select("client_id", "local_date", "until_date", "indicator", "explanation", "ongoing")
        .sort("local_date", "indicator", descending=[True, False], maintain_order=True)
        .rows_by_key("client_id", named=True),
        insufficient=raised.filter(insufficient)
        .select("client_id", "local_date", "until_date", "reason")
        .sort("local_date", maintain_order=True)
        .rows_by_key("client_id", named=True),
        data_days=_data_days(activities, journal, window).rows_by_key("client_id", named=True),
        quality=activities.filter(window.holds("local_date") | pl.col("local_date").is_null())
        .select("client_id", pl.col("quality_flags").str.split(",").alias("flag"))
        .explode("flag")
        .filter(pl.col("flag").str.len_chars() > 0)
        .group_by("client_id", "flag")
        .len()
        .sort("flag")
        .rows_by_key("client_id", named=True),
        refused=inputs.files.filter(mine & (pl.col("outcome") == Outcome.QUARANTINED))
        .group_by("client_id", pl.col("reason_message").fill_null("refused (no reason recorded)"))
        .len()
        .sort("len", "reason_message", descending=[True, False])
        .rows_by_key("client_id", named=True),
        moved=activities.with_columns(_WEEK)
        .filter(window.holds_week("week"))
        .group_by("client_id", "week")
        .agg(
            minutes=pl.col("moving_time_s").fill_null(0.0).sum() / 60.0,
            km=pl.col("distance_m").fill_null(0.0).sum() / 1000.0,
        )
        .rows_by_key("client_id", named=True),
        loads=daily.group_by("client_id", _WEEK)
        .agg(load=pl.col("load").sum())
        .rows_by_key("client_id", named=True),
    )


_WEEK = pl.col("local_date").dt.truncate("1w").alias("week")
"""Monday of the ISO week of ``local_date``."""


def _data_days(activities: pl.DataFrame, journal: pl.DataFrame, window: Window) -> pl.DataFrame:
    """Per client: first day with data, last one up to ``as_of``, weeks shown with data."""
    day = pl.col("local_date")
    return (
        pl.concat([activities.select("client_id", day), journal.select("client_id", day)])
        .filter(day.is_not_null())
        .with_columns(_WEEK)
        .group_by("client_id")
        .agg(
            first=day.min(),
            last=day.filter(day <= window.as_of).max(),
            weeks=pl.col("week").filter(window.holds_week("week")).unique(),
        )
    )
