"""The derived tables, rebuilt for the clients a run affected (wiring of ``transform/``).

Order: ``run_journal`` (journal join); per-activity load and heart-rate zones
(``activity_metrics``); ``weekly_adherence`` from activities, journal, plans and zones; then
``daily_load`` and ``indicators``. Every derived table
is keyed by ``client_id``: the rows of the affected clients are replaced, all others are untouched,
so a run with nothing new rewrites nothing.

Of an affected client's activities, only those whose sample-derived values are not stored for the
same inputs (:mod:`transform.sample_inputs`: new activities, a changed activity row such as one
whose samples took another copy's channels, a roster or load config change) have their samples
read back and their heart-rate load and decoupling computed; the others' values are taken from
their stored ``activity_metrics`` rows. Everything else is computed afresh for the affected
clients, as before.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import polars as pl

from transform.adherence import build_weekly_adherence
from transform.config import DEFAULT_THRESHOLDS, Thresholds
from transform.daily_load import daily_load
from transform.decoupling import decoupling_metrics
from transform.hrv_metrics import hrv_metrics
from transform.indicators import indicators
from transform.load_config import LoadConfig
from transform.run_journal import build_run_journal
from transform.sample_inputs import (
    SAMPLE_DERIVED_COLUMNS,
    reusable_sample_metrics,
    sample_inputs,
)
from transform.trimp import (
    DECOUPLING_COLUMNS,
    HR_LOAD_COLUMNS,
    activity_metrics,
    hr_load,
    threshold_hour_load,
)
from warehouse.location import Where
from warehouse.store import TableStore
from warehouse.tables import sample_partitions

__all__ = [
    "DERIVED_TABLES",
    "ChunkInputs",
    "DeriveChunks",
    "client_chunks",
    "clients_behind",
    "derive_chunk",
    "derive_for_clients",
    "last_data_date",
]

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


def clients_behind(store: TableStore, clinic_end: dt.date | None) -> set[str]:
    """Clients whose stored ``daily_load`` ends before ``clinic_end`` (the clinic's last day).

    Every client's days run to the clinic's last day with data (:func:`derive_for_clients`); when
    another client's data moves that day on, these clients' days (and indicators) must be
    extended to it: a client who stopped recording is then seen to be silent.
    """
    if clinic_end is None or store.version("daily_load") is None:
        return set()
    ends = store.read("daily_load", columns=["client_id", "local_date"])
    behind = (
        ends.group_by("client_id")
        .agg(pl.col("local_date").max())
        .filter(pl.col("local_date") < clinic_end)
    )
    return set(behind["client_id"].to_list())


DERIVE_SAMPLE_COLUMNS = (
    "activity_id",
    "client_id",
    "timestamp",
    "elapsed_s",
    "hr_bpm",
    "speed_mps",
)
"""The samples columns the derived tables are computed from (the rest is never read back)."""
SAMPLES_PER_CHUNK = 1_000_000
"""Samples of the clients derived together (about 100 MB in memory): a chunk takes clients, in
order, until their activities hold this many samples (always at least one client). Fewer, larger
chunks cost less per client (each Polars call has a fixed cost; on a cluster each chunk is a task);
the bound keeps memory flat however many clients a run rebuilds."""


def client_chunks(
    activities: pl.DataFrame, clients: Sequence[str], *, at_least: int = 1
) -> list[list[str]]:
    """``clients`` (in order) cut into chunks of at most :data:`SAMPLES_PER_CHUNK` samples.

    With ``at_least`` (a cluster's threads), the bound is lowered to a share of all the samples,
    so that there are about that many chunks (never more than there are clients).

    Examples
    --------
    >>> acts = pl.DataFrame({"client_id": ["a", "b", "b", "c"], "n_samples": [600_000, 300_000,
    ...     300_000, 5]})
    >>> client_chunks(acts, ["a", "b", "c", "d"])
    [['a'], ['b', 'c', 'd']]
    >>> client_chunks(acts, ["b", "c", "d"], at_least=2)
    [['b'], ['c', 'd']]
    """
    held = dict(
        activities.group_by("client_id").agg(pl.col("n_samples").fill_null(0).sum()).iter_rows()
    )
    total = sum(int(held.get(client, 0)) for client in clients)
    budget = min(SAMPLES_PER_CHUNK, -(-total // max(1, at_least)))
    chunks: list[list[str]] = []
    rows = 0
    for client in clients:
        size = int(held.get(client, 0))
        if not chunks or rows + size > budget:
            chunks.append([])
            rows = 0
        chunks[-1].append(client)
        rows += size
    return chunks


@dataclass(frozen=True)
class ChunkInputs:
    """Everything one chunk of clients needs except their samples (read where it runs).

    ``held_metrics`` are the clients' stored ``activity_metrics`` rows (keys, ``inputs_sha256``
    and the sample-derived values), reused where their inputs are unchanged.
    """

    warehouse: Where
    clients: list[str]
    activities: pl.DataFrame
    journal: pl.DataFrame
    plans: pl.DataFrame
    roster: pl.DataFrame
    hrv: pl.DataFrame
    thresholds: Thresholds
    clinic_end: dt.date | None
    held_metrics: pl.DataFrame


DerivedFrames = dict[str, pl.DataFrame | None]
DeriveChunks = Callable[[Sequence[ChunkInputs]], list[DerivedFrames]]
"""Derives chunks of clients: in this process by default, as Dask tasks on a cluster."""


def derive_for_clients(
    store: TableStore,
    clients: Collection[str],
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    derive_chunks: DeriveChunks | None = None,
    parallelism: int = 1,
    extend_behind: bool = False,
) -> dict[str, int]:
    """Rebuild every derived table for ``clients`` with ``thresholds``; return rows per table.

    With ``extend_behind`` (a run that took in new data), the other clients whose days end before
    the clinic's last day (:func:`clients_behind`) have only their ``daily_load`` and
    ``indicators`` computed again (:func:`_extended`), from their stored rows, as a rebuild would
    give them.

    Clients are processed a chunk at a time (:func:`client_chunks`, at least ``parallelism``
    chunks), so memory does not grow with the number of clients; ``derive_chunks`` may run the
    chunks elsewhere (one task each on a cluster), and the results are written here, one commit
    per table. ``daily_load`` runs, for each client, from their first day with any activity or
    journal entry to the clinic's last such day (any client's), so the result depends on the data
    only (never on the clock) and a client who stops recording keeps getting days.
    """
    if not clients:
        return {}
    ordered = sorted(clients)
    activities_every, journal_every = store.read("activities"), store.read("journal")
    # Every client's days run to the clinic's last day with data, so that a client who stops
    # recording still has days on which disengagement or silence can be seen (data, no clock).
    clinic_end = last_data_date(activities_every, journal_every)
    extended = sorted(clients_behind(store, clinic_end) - set(clients)) if extend_behind else []
    activities_all = _only(activities_every, ordered)
    journal_all = _only(journal_every, ordered)
    plans_all = _only(store.read("plans"), ordered)
    roster_every = store.read("roster")
    roster_all = _only(roster_every, ordered)
    hrv_all = _only(store.read("hrv"), ordered)
    # only what reuse reads (and the keys): each chunk's share goes to a cluster task
    held = store.read("activity_metrics", columns=["inputs_sha256", *SAMPLE_DERIVED_COLUMNS])
    held_all = _only(held, ordered)
    chunks = [
        ChunkInputs(
            warehouse=store.root,
            clients=chunk,
            activities=_only(activities_all, chunk),
            journal=_only(journal_all, chunk),
            plans=_only(plans_all, chunk),
            roster=_only(roster_all, chunk),
            hrv=_only(hrv_all, chunk),
            thresholds=thresholds,
            clinic_end=clinic_end,
            held_metrics=_only(held_all, chunk),
        )
        for chunk in client_chunks(activities_all, ordered, at_least=parallelism)
    ]
    outputs: dict[str, list[pl.DataFrame]] = {name: [] for name in DERIVED_TABLES}
    results = (
        derive_chunks(chunks)
        if derive_chunks is not None  # here: one after the other, through this (open) store
        else [derive_chunk(chunk, store=store) for chunk in chunks]
    )
    for derived in results:
        for name, frame in derived.items():
            if frame is not None and frame.height:
                outputs[name].append(frame)
    keys = pl.DataFrame({"client_id": ordered}, schema={"client_id": pl.String})
    if extended:
        for name, frame in _extended(
            store,
            extended,
            journal_every,
            roster_every,
            thresholds=thresholds,
            clinic_end=clinic_end,
        ).items():
            if frame is not None and frame.height:
                outputs[name].append(frame)
    both = pl.DataFrame({"client_id": ordered + extended}, schema={"client_id": pl.String})
    written: dict[str, int] = {}
    for name, frames in outputs.items():
        frame = pl.concat(frames, how="vertical_relaxed") if frames else None
        store.replace_clients(name, frame, both if name in EXTENDED_TABLES else keys)
        written[name] = 0 if frame is None else frame.height
    log.info(
        "derived tables rebuilt for %d client(s), days extended for %d: %s",
        len(ordered),
        len(extended),
        written,
    )
    return written


EXTENDED_TABLES = ("daily_load", "indicators")
"""The derived tables that depend on the clinic's last day (the others on a client's data only)."""


def _extended(
    store: TableStore,
    clients: Sequence[str],
    journal_every: pl.DataFrame,
    roster_every: pl.DataFrame,
    *,
    thresholds: Thresholds,
    clinic_end: dt.date | None,
) -> DerivedFrames:
    """``daily_load`` and ``indicators`` of clients whose own data is unchanged, to ``clinic_end``.

    From their stored ``activity_metrics`` and ``weekly_adherence`` (what a rebuild would derive
    again from the same data) and their journal and roster: no samples are read.
    """
    return _days(
        _only(store.read("activity_metrics"), clients),
        _only(journal_every, clients),
        _only(store.read("weekly_adherence"), clients),
        _only(roster_every, clients),
        end=clinic_end,
        load=thresholds.load,
    )


def _days(
    metrics: pl.DataFrame,
    journal: pl.DataFrame,
    adherence: pl.DataFrame,
    roster: pl.DataFrame,
    *,
    end: dt.date | None,
    load: LoadConfig,
) -> DerivedFrames:
    """``daily_load`` (each client from their first day to ``end``) and ``indicators``.

    Both ``None`` without an ``end`` (no data anywhere).
    """
    if end is None:
        return {"daily_load": None, "indicators": None}
    daily = daily_load(metrics, journal, end_date=end, config=load)
    return {
        "daily_load": daily,
        "indicators": indicators(
            daily,
            metrics,
            weekly_adherence=adherence,
            calibration=threshold_hour_load(roster, config=load),
            config=load,
        ),
    }


def _sample_metrics(
    store: TableStore, inputs: ChunkInputs
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Heart-rate load, decoupling and their inputs' hash for every activity of the chunk.

    Stored values are reused where the hash is unchanged; only the other activities' samples are
    read back and computed (:mod:`transform.sample_inputs`).
    """
    activities, roster, load = inputs.activities, inputs.roster, inputs.thresholds.load
    current = sample_inputs(activities, roster, config=load)
    reused = reusable_sample_metrics(inputs.held_metrics, current)
    todo = activities.join(reused, on="activity_id", how="anti")
    samples = store.read(
        "samples",
        partitions=sample_partitions(todo).rows(),
        keys=todo["activity_id"].to_list(),
        columns=DERIVE_SAMPLE_COLUMNS,
    ).drop("year")
    log.debug("sample-derived values: %d computed, %d reused", todo.height, reused.height)
    ids = ("activity_id", "client_id")  # as hr_load and decoupling_metrics give them
    hr_loads = pl.concat(
        [
            hr_load(samples, roster, config=load).select(*ids, *HR_LOAD_COLUMNS),
            reused.select(*ids, *HR_LOAD_COLUMNS),
        ],
        how="vertical_relaxed",
    )
    decoupling = pl.concat(
        [
            decoupling_metrics(samples, todo, config=load).select(*ids, *DECOUPLING_COLUMNS),
            reused.select(*ids, *DECOUPLING_COLUMNS),
        ],
        how="vertical_relaxed",
    )
    return hr_loads, decoupling, current


def derive_chunk(inputs: ChunkInputs, *, store: TableStore | None = None) -> DerivedFrames:
    """Derive one chunk of clients (reads their samples from the warehouse; writes nothing).

    ``store`` reads the warehouse when given (the caller's, whose tables are open already);
    otherwise one is opened on ``inputs.warehouse`` (a task on a cluster worker).
    """
    activities, journal, roster = inputs.activities, inputs.journal, inputs.roster
    thresholds, clinic_end = inputs.thresholds, inputs.clinic_end
    load = thresholds.load
    reader = store if store is not None else TableStore(inputs.warehouse)
    hr_loads, decoupling, sample_inputs_sha = _sample_metrics(reader, inputs)
    run_journal = build_run_journal(activities, journal, config=thresholds.run_journal)
    metrics = activity_metrics(
        activities,
        roster,
        hr_loads=hr_loads,
        rpe=run_journal.select("activity_id", pl.col("post_rpe").alias("rpe")),
        decoupling=decoupling,
        hrv=hrv_metrics(inputs.hrv, config=load),
        inputs=sample_inputs_sha,
        config=load,
    )
    adherence = build_weekly_adherence(
        activities, journal, inputs.plans, zones=metrics, config=thresholds.adherence
    )
    # One call for the chunk's clients: daily_load runs each from their own first day, and every
    # one's days end on the clinic's last day with data (no client's own last day passes it).
    end = clinic_end if last_data_date(activities, journal) is not None else None
    return {
        "run_journal": run_journal,
        "weekly_adherence": adherence,
        "activity_metrics": metrics,
        **_days(metrics, journal, adherence, roster, end=end, load=load),
    }
