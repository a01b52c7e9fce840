"""The warehouse's tables: schema, key and partitioning of each, in one place."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas.activities import Activities
from schemas.activity_metrics import ActivityMetrics
from schemas.daily_load import DailyLoad
from schemas.daily_wellness import DailyWellness
from schemas.files import Files
from schemas.hrv import Hrv
from schemas.indicators import Indicators
from schemas.journal import Journal, JournalNotes
from schemas.laps import Laps
from schemas.plans import PlanNotes, Plans
from schemas.roster import Roster
from schemas.run_journal import RunJournal
from schemas.samples import Samples
from schemas.weekly_adherence import WeeklyAdherence

__all__ = ["TABLES", "TableSpec", "sample_partitions", "start_year", "with_sample_partition"]


@dataclass(frozen=True)
class TableSpec:
    """How one table is stored.

    ``key`` identifies a row group that is replaced as a whole on upsert (for ``samples``, all rows
    of an activity); ``partition_by`` gives Hive partition columns (``col=value`` folders), which are
    not stored inside the Parquet files.
    """

    name: str
    model: type[pa.DataFrameModel]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    sort_by: tuple[str, ...] = ()
    restricted: bool = False


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("files", Files, key=("client_id", "sha256"), sort_by=("client_id", "sha256")),
        TableSpec(
            "activities",
            Activities,
            key=("activity_id",),
            sort_by=("client_id", "start_utc", "activity_id"),
        ),
        TableSpec("laps", Laps, key=("activity_id",), sort_by=("activity_id", "lap_index")),
        TableSpec(
            "samples",
            Samples,
            key=("activity_id",),
            partition_by=("client_id", "year"),
            sort_by=("activity_id", "elapsed_s", "timestamp"),
        ),
        TableSpec("hrv", Hrv, key=("activity_id",), sort_by=("activity_id", "rr_index")),
        TableSpec("roster", Roster, key=("client_id",), sort_by=("client_id",)),
        TableSpec(
            "journal",
            Journal,
            key=("client_id",),
            sort_by=("client_id", "timestamp_utc", "entry_id"),
        ),
        TableSpec("plans", Plans, key=("client_id",), sort_by=("client_id", "week_start")),
        TableSpec(
            "run_journal", RunJournal, key=("client_id",), sort_by=("client_id", "activity_id")
        ),
        TableSpec(
            "weekly_adherence",
            WeeklyAdherence,
            key=("client_id",),
            sort_by=("client_id", "week_start"),
        ),
        TableSpec(
            "activity_metrics",
            ActivityMetrics,
            key=("client_id",),
            sort_by=("client_id", "activity_id"),
        ),
        TableSpec(
            "daily_wellness",
            DailyWellness,
            key=("client_id", "date", "source"),
            sort_by=("client_id", "date", "source"),
        ),
        TableSpec("daily_load", DailyLoad, key=("client_id",), sort_by=("client_id", "local_date")),
        TableSpec(
            "indicators",
            Indicators,
            key=("client_id",),
            sort_by=("client_id", "local_date", "indicator"),
        ),
        TableSpec(
            "journal_notes",
            JournalNotes,
            key=("client_id",),
            sort_by=("client_id", "entry_id"),
            restricted=True,
        ),
        TableSpec(
            "plan_notes",
            PlanNotes,
            key=("client_id",),
            sort_by=("client_id", "week_start"),
            restricted=True,
        ),
    )
}
"""Every table the warehouse holds, by name. Later issues register their tables here."""


def register(spec: TableSpec) -> None:
    """Add a table to :data:`TABLES` (used by modules that define derived tables)."""
    TABLES[spec.name] = spec


def start_year(start_utc: pl.Expr | None = None) -> pl.Expr:
    """The ``year`` partition of an activity's samples: the UTC year of its start.

    0 when the watch clock was never set (no start time). The one place this rule is stated.

    Examples
    --------
    >>> import datetime as dt
    >>> frame = pl.DataFrame({"start_utc": [dt.datetime(2026, 3, 1), None]})
    >>> frame.select(start_year())["year"].to_list()
    [2026, 0]
    """
    column = pl.col("start_utc") if start_utc is None else start_utc
    return column.dt.year().fill_null(0).cast(pl.Int32).alias("year")


def sample_partitions(activities: pl.DataFrame) -> pl.DataFrame:
    """The ``(client_id, year)`` partitions of ``samples`` that hold these activities' samples."""
    return activities.select("client_id", start_year()).unique()


def with_sample_partition(samples: pl.DataFrame, activities: pl.DataFrame) -> pl.DataFrame:
    """Add the ``year`` partition column to samples, from their activity's start."""
    years = activities.select("activity_id", start_year())
    return samples.join(years, on="activity_id", how="left").with_columns(
        pl.col("year").fill_null(0)
    )
