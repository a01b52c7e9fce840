"""The derived tables, rebuilt for the clients a run affected (wiring of ``transform/``).

Order: ``run_journal`` (journal join) and ``weekly_adherence`` from activities, journal and plans;
then per-activity load (``activity_metrics``), ``daily_load`` and ``indicators``. Every derived table
is keyed by ``client_id``: the rows of the affected clients are replaced, all others are untouched,
so a run with nothing new rewrites nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection

import polars as pl

from transform.adherence import build_weekly_adherence
from transform.daily_load import daily_load
from transform.decoupling import decoupling_metrics
from transform.hrv_metrics import hrv_metrics
from transform.indicators import indicators
from transform.run_journal import build_run_journal
from transform.trimp import activity_metrics, hr_load
from warehouse.store import TableStore

__all__ = ["DERIVED_TABLES", "derive_for_clients", "last_data_date"]

log = logging.getLogger(__name__)

DERIVED_TABLES = ("run_journal", "weekly_adherence", "activity_metrics", "daily_load", "indicators")


def _only(frame: pl.DataFrame, clients: Collection[str]) -> pl.DataFrame:
    return frame.filter(pl.col("client_id").is_in(list(clients)))


def last_data_date(activities: pl.DataFrame, journal: pl.DataFrame) -> dt.date | None:
    """Latest local date with an activity or a journal entry (the end of ``daily_load``)."""
    dates = pl.concat(
        [activities.select("local_date"), journal.select("local_date")], how="vertical_relaxed"
    )["local_date"].drop_nulls()
    value = dates.max()
    return value if isinstance(value, dt.date) else None


def derive_for_clients(store: TableStore, clients: Collection[str]) -> dict[str, int]:
    """Rebuild every derived table for ``clients``; return rows written per table.

    ``daily_load`` runs, for each client, from the first to the last day with any activity or
    journal entry of that client, so the result depends on the data only (never on the clock).
    """
    if not clients:
        return {}
    activities = _only(store.read("activities"), clients)
    journal = _only(store.read("journal"), clients)
    plans = _only(store.read("plans"), clients)
    roster = _only(store.read("roster"), clients)
    partitions = [
        (client, year)
        for client, year in store.read("activities")
        .filter(pl.col("client_id").is_in(list(clients)))
        .select("client_id", pl.col("start_utc").dt.year().fill_null(0).alias("year"))
        .unique()
        .rows()
    ]
    samples = store.read("samples", partitions=partitions).drop("year")
    hrv = _only(store.read("hrv"), clients)

    run_journal = build_run_journal(activities, journal)
    adherence = build_weekly_adherence(activities, journal, plans)
    loads = hr_load(samples, roster)
    metrics = activity_metrics(
        activities,
        roster,
        hr_loads=loads,
        rpe=run_journal.select("activity_id", pl.col("post_rpe").alias("rpe")),
        decoupling=decoupling_metrics(samples, activities),
        hrv=hrv_metrics(hrv),
    )
    daily_frames = []
    for client in sorted(clients):
        end = last_data_date(_only(activities, [client]), _only(journal, [client]))
        if end is None:
            continue
        daily_frames.append(
            daily_load(_only(metrics, [client]), _only(journal, [client]), end_date=end)
        )
    daily = pl.concat(daily_frames, how="vertical_relaxed") if daily_frames else None
    raised = indicators(daily, metrics) if daily is not None else None
    written: dict[str, int] = {}
    outputs = {
        "run_journal": run_journal,
        "weekly_adherence": adherence,
        "activity_metrics": metrics,
        "daily_load": daily,
        "indicators": raised,
    }
    for name, frame in outputs.items():
        keys = pl.DataFrame({"client_id": sorted(clients)})
        store.replace_clients(name, frame, keys)
        written[name] = 0 if frame is None else frame.height
    log.info("derived tables rebuilt for %d client(s): %s", len(clients), written)
    return written
