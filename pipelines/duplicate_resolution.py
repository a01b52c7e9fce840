"""Duplicate resolution: one copy of every run is kept, the richest, whatever order copies arrive in.

The same run reaches a clinic more than once (the FIT from the watch and the GPX from Strava, the
same file inside two exports, a replay after a crash). The policy that ranks copies is pure and
lives in :mod:`transform.source_priority`; this module applies it to a run's parse results and to
what the warehouse already holds: new copies that lose are dropped and their files become
``duplicate``; held copies that lose are replaced once the new data is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ingest.parse import FileResult
from ingest.summaries import summarize_activity
from schemas.files import Outcome
from transform.source_priority import merge_channels, resolve_copies
from warehouse.store import TableStore
from warehouse.tables import sample_partitions, with_sample_partition

__all__ = ["DUPLICATE_MESSAGE", "STAMPS", "Replacement", "mark_duplicates", "replace_held"]

ITEM = "__item"
"""A working column: which parse result an activity row came from."""
DUPLICATE_MESSAGE = "This workout is already in the warehouse from another source ({reason})."


@dataclass
class Replacement:
    """What :func:`mark_duplicates` decided about activities already held.

    ``lost``: held activities that a richer new copy replaces (removed once the new data is
    written); ``restamp``: held activities whose source stamps change; ``ledger``: their files rows
    as duplicates (written with this run's ledger); ``merged``: copies dropped in all.
    """

    merged: int = 0
    lost: pl.DataFrame | None = None
    restamp: pl.DataFrame | None = None
    ledger: pl.DataFrame | None = None
    enriched_samples: pl.DataFrame | None = None

    @property
    def clients(self) -> set[str]:
        """Clients whose held activities change."""
        frames = [f for f in (self.lost, self.restamp) if f is not None]
        return {c for f in frames for c in f["client_id"].to_list()}


def _mark_duplicate(item: FileResult, kept: list[str], reason: str | None) -> None:
    item.outcome = Outcome.DUPLICATE
    item.reason_code = "same_activity_held"
    item.reason_message = DUPLICATE_MESSAGE.format(reason=reason or "same file content")
    item.duplicate_of = kept


def _stamp(items: list[FileResult], stamps: pl.DataFrame) -> None:
    """Give the items' activities the source stamps the resolution decided.

    One join for all items whose activities share a schema (one per file cost 2-3 ms each:
    seconds on a backfill of a thousand files); a reader may leave an all-null column typed
    ``Null``, so items are grouped by schema first.
    """
    groups: dict[tuple[tuple[str, pl.DataType], ...], list[tuple[FileResult, pl.DataFrame]]] = {}
    for item in items:
        frame = item.activities
        assert frame is not None
        groups.setdefault(tuple(frame.schema.items()), []).append((item, frame))
    has_stamp = pl.col("source_kind_new").is_not_null()
    for group in groups.values():
        frames = [frame for _, frame in group]
        index = np.repeat(np.arange(len(frames), dtype=np.uint32), [f.height for f in frames])
        stamped = (
            pl.concat(frames, how="vertical")
            .with_columns(pl.Series(ITEM, index))
            .join(stamps, on="activity_id", how="left", suffix="_new", maintain_order="left")
            .with_columns(
                pl.when(has_stamp).then(pl.col(f"{c}_new")).otherwise(pl.col(c)).alias(c)
                for c in STAMPS
            )
            .select(*frames[0].columns, ITEM)
        )
        parts = stamped.partition_by(ITEM, as_dict=True, include_key=False, maintain_order=True)
        for position, (item, _) in enumerate(group):
            item.activities = parts[(position,)]


def mark_duplicates(results: list[FileResult], store: TableStore) -> Replacement:
    """Keep one copy of every run, the richest (:mod:`transform.source_priority`).

    New copies that lose are dropped from ``results``; held copies that lose are returned in the
    :class:`Replacement`, for :func:`replace_held` once the new data is written, so the tables do
    not depend on the order sources arrive in. An activity already held under the same id (the same
    bytes: a replay after a crash, or the same FIT inside two exports) is rewritten, not dropped,
    unless another export's copy of those bytes owns it.
    """
    items = [r for top in results for r in top.walk() if r.activities is not None]
    if not items:
        return Replacement()
    new = pl.concat(
        [r.activities for r in items if r.activities is not None], how="vertical_relaxed"
    )
    held = store.read("activities")
    pool = pl.concat(
        [held.filter(pl.col("client_id").is_in(new["client_id"].unique().to_list())), new],
        how="vertical_relaxed",
    )
    resolution = resolve_copies(pool)
    dropped, stamps = resolution.dropped, resolution.kept
    pending = _samples_for_merging(items, held, resolution.donors, store)
    reasons = dict(zip(stamps["activity_id"], stamps["kept_reason"], strict=True))
    owner = dict(zip(stamps["activity_id"], stamps["source_kind"], strict=True))
    held_kind = dict(held.select("activity_id", "source_kind").iter_rows())
    taken: set[str] = set()
    merged = 0
    for item in items:
        assert item.activities is not None
        rows = item.activities.select("activity_id", "source_kind").rows()
        repeated = [
            a for a, kind in rows if a in dropped or a in taken or owner.get(a, kind) != kind
        ]
        taken.update(a for a, _ in rows if a not in repeated)
        merged += len(repeated)
        merged += sum(a not in repeated and held_kind.get(a, kind) != kind for a, kind in rows)
        if repeated:  # (a filter keeping every row would copy the samples for nothing)
            keep = ~pl.col("activity_id").is_in(repeated)
            for name in ("activities", "samples", "laps", "hrv"):
                setattr(item, name, getattr(item, name).filter(keep))
        if repeated and item.activities.is_empty():
            kept = [dropped.get(a, a) for a in repeated]
            _mark_duplicate(item, kept, reasons.get(kept[0]))
        elif repeated:
            item.duplicate_of = [dropped.get(a, a) for a in repeated]
    _stamp(
        [item for item in items if item.activities is not None and item.activities.height], stamps
    )
    enriched = _merge_kept_channels(items, held, pool, resolution.donors, pending)
    for top in results:
        _settle_duplicates(top)
    lost = held.filter(pl.col("activity_id").is_in(list(dropped)))
    restamp = (
        held.filter(~pl.col("activity_id").is_in(list(taken)))
        .join(stamps, on="activity_id", suffix="_new")
        .filter(pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_new")) for c in STAMPS))
        .with_columns(pl.col(f"{c}_new").alias(c) for c in STAMPS)
        .select(held.columns)
    )
    if enriched is not None:
        ids = enriched.activities["activity_id"].to_list()
        restamped = restamp["activity_id"].to_list()
        base = pl.concat(
            [
                restamp.filter(pl.col("activity_id").is_in(ids)),
                held.filter(
                    pl.col("activity_id").is_in(ids) & ~pl.col("activity_id").is_in(restamped)
                ),
            ]
        )
        updated = base.update(enriched.activities, on="activity_id", include_nulls=True)
        restamp = pl.concat(
            [restamp.filter(~pl.col("activity_id").is_in(ids)), updated.select(held.columns)]
        )
    return Replacement(
        enriched_samples=None if enriched is None else enriched.samples,
        merged=merged + lost.height,
        lost=lost if lost.height else None,
        restamp=restamp if restamp.height else None,
        ledger=_lost_ledger_rows(store, lost, dropped, reasons) if lost.height else None,
    )


STAMPS = ("kept_reason", "perceived_exertion", "source_kind", "source_type", "sport")

CHANNEL_SUMMARIES: dict[str, tuple[str, ...]] = {
    "hr_bpm": ("hr_mean_bpm", "hr_max_bpm", "has_hr"),
    "cadence_rpm": ("cadence_mean_rpm", "cadence_max_rpm"),
    "lat_deg": ("has_gps",),
    "altitude_m": ("elevation_gain_m",),
    "distance_m": ("distance_m",),
    "speed_mps": ("moving_time_s",),
}
"""The ``activities`` columns summarised from each sample channel: recomputed when a kept copy
takes that channel from another copy."""

HELD_NEVER_TAKES = ("lat_deg", "lon_deg")
"""Channels a held activity does not take from a new copy: positions are trimmed around the
client's home when written (:func:`pipelines.run`), which this rewrite of held rows does not do."""


@dataclass
class _Enriched:
    activities: pl.DataFrame
    samples: pl.DataFrame


def _samples_for_merging(
    items: list[FileResult],
    held: pl.DataFrame,
    donors: dict[str, list[tuple[str, str]]],
    store: TableStore,
) -> dict[str, pl.DataFrame]:
    """Samples of every kept copy that has donors and of its donors, before any is dropped.

    New activities' samples come from the parse results; held ones are read from their
    partitions of the ``samples`` table.
    """
    wanted = set(donors) | {d for ds in donors.values() for d, _ in ds}
    if not wanted:
        return {}
    found: dict[str, pl.DataFrame] = {}
    for item in items:
        if item.samples is None or item.activities is None:
            continue
        mine = wanted & set(item.activities["activity_id"].to_list())
        for aid in mine:
            found[aid] = item.samples.filter(pl.col("activity_id") == aid)
    missing = held.filter(pl.col("activity_id").is_in(sorted(wanted - set(found))))
    if missing.height:
        stored = store.read("samples", partitions=sample_partitions(missing).rows())
        for aid in missing["activity_id"].to_list():
            found[aid] = stored.filter(pl.col("activity_id") == aid).drop("year", strict=False)
    return found


def _resummarised(
    row: dict[str, Any], samples: pl.DataFrame, taken: tuple[str, ...]
) -> dict[str, Any]:
    summary = summarize_activity(samples, {})
    for channel in taken:
        for column in CHANNEL_SUMMARIES.get(channel, ()):
            row[column] = summary[column]
    return row


def _merge_kept_channels(
    items: list[FileResult],
    held: pl.DataFrame,
    pool: pl.DataFrame,
    donors: dict[str, list[tuple[str, str]]],
    pending: dict[str, pl.DataFrame],
) -> _Enriched | None:
    """Give each kept copy the channels it lacks from the copies it was kept over.

    A kept copy that is new gets them in its parse result (samples, summary columns,
    ``channel_sources``); a kept copy already held is returned, to be rewritten by
    :func:`replace_held`.
    """
    labels = {
        r["activity_id"]: f"{r['source_format']}/{r['source_kind']}"
        for r in pool.select("activity_id", "source_format", "source_kind").iter_rows(named=True)
    }
    held_rows: list[dict[str, Any]] = []
    held_samples: list[pl.DataFrame] = []
    by_id = {
        aid: item
        for item in items
        if item.activities is not None
        for aid in item.activities["activity_id"].to_list()
    }
    for kept_id, copies in donors.items():
        kept_samples = pending.get(kept_id)
        if kept_samples is None:
            continue
        given = [(label, pending[d]) for d, label in copies if d in pending]
        item = by_id.get(kept_id)
        if item is None:
            given = [(label, frame.drop(HELD_NEVER_TAKES, strict=False)) for label, frame in given]
        merged = merge_channels(kept_samples, labels.get(kept_id, ""), given)
        if not merged.taken:
            continue
        if item is not None and item.activities is not None and item.samples is not None:
            mine = pl.col("activity_id") == kept_id
            item.samples = pl.concat(
                [item.samples.filter(~mine), merged.samples.select(item.samples.columns)]
            )
            row = item.activities.filter(mine).row(0, named=True)
            row = _resummarised(row, merged.samples, merged.taken)
            row["channel_sources"] = merged.channel_sources
            item.activities = pl.concat(
                [
                    item.activities.filter(~mine),
                    pl.DataFrame([row], schema=item.activities.schema),
                ]
            )
        else:
            source = held.filter(pl.col("activity_id") == kept_id)
            if source.is_empty():
                continue
            row = _resummarised(source.row(0, named=True), merged.samples, merged.taken)
            changed = {c for ch in merged.taken for c in CHANNEL_SUMMARIES.get(ch, ())}
            held_rows.append(
                {
                    "activity_id": kept_id,
                    "channel_sources": merged.channel_sources,
                    **{c: row[c] for c in changed},
                }
            )
            held_samples.append(merged.samples)
    if not held_rows:
        return None
    columns = {"activity_id", "channel_sources"} | {k for r in held_rows for k in r}
    updates = pl.DataFrame(
        [{c: r.get(c) for c in sorted(columns)} for r in held_rows],
        schema={c: held.schema[c] for c in sorted(columns)},
    )
    samples = with_sample_partition(pl.concat(held_samples, how="vertical_relaxed"), held)
    return _Enriched(updates, samples)


"""Columns of ``activities`` that :func:`transform.source_priority.resolve_copies` sets."""


def _lost_ledger_rows(
    store: TableStore, lost: pl.DataFrame, dropped: dict[str, str], reasons: dict[str, str | None]
) -> pl.DataFrame | None:
    """The files rows of replaced held activities, turned into duplicates of the kept copy."""
    lost_ids = lost["activity_id"].to_list()
    ledger = store.read("files")
    rows = ledger.filter(pl.col("activity_ids").list.eval(pl.element().is_in(lost_ids)).list.any())
    if not rows.height:
        return None
    kept = [[dropped[a] for a in ids if a in dropped] for ids in rows["activity_ids"]]
    messages = [DUPLICATE_MESSAGE.format(reason=reasons.get(k[0])) for k in kept]
    return rows.with_columns(
        outcome=pl.lit(Outcome.DUPLICATE),
        reason_code=pl.lit("same_activity_held"),
        reason_message=pl.Series(messages, dtype=pl.String),
        duplicate_of=pl.Series(kept, dtype=pl.List(pl.String)),
    )


def replace_held(store: TableStore, replacement: Replacement) -> None:
    """Record held copies that lost as duplicates, remove them, restamp held winners.

    Called after the new data is written, in this order, so that a killed run converges.
    """
    if replacement.ledger is not None:
        store.upsert("files", replacement.ledger)
    if replacement.lost is not None:
        keys = replacement.lost.select("activity_id")
        partitions = sample_partitions(replacement.lost)
        store.delete("samples", keys, partition_values=partitions)
        for name in ("laps", "hrv", "activities"):
            store.delete(name, keys)
    if replacement.enriched_samples is not None:
        store.upsert("samples", replacement.enriched_samples)
    if replacement.restamp is not None:
        store.upsert("activities", replacement.restamp)


def _settle_duplicates(result: FileResult) -> None:
    """A container whose members are all duplicates or skipped is a duplicate (bottom up)."""
    for member in result.members:
        _settle_duplicates(member)
    outcomes = {m.outcome for m in result.members}
    if (
        result.members
        and outcomes <= {Outcome.DUPLICATE, Outcome.SKIPPED}
        and Outcome.DUPLICATE in outcomes
    ):
        result.outcome = Outcome.DUPLICATE
