"""Duplicate resolution: one copy of every run is kept, the richest, whatever order copies arrive in.

The same run reaches a clinic more than once (the FIT from the watch and the GPX from Strava, the
same file inside two exports, a replay after a crash). The policy that ranks copies is pure and
lives in :mod:`transform.source_priority`; this module applies it to a run's parse results and to
what the warehouse already holds: new copies that lose are dropped and their files become
``duplicate``; held copies that lose are replaced once the new data is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ingest.parse import FileResult
from schemas.files import Outcome
from transform.source_priority import resolve_copies
from warehouse.store import TableStore
from warehouse.tables import sample_partitions

__all__ = ["DUPLICATE_MESSAGE", "STAMPS", "Replacement", "mark_duplicates", "replace_held"]

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
        if item.activities.height:
            joined = item.activities.join(stamps, on="activity_id", how="left", suffix="_new")
            has_stamp = pl.col("source_kind_new").is_not_null()
            item.activities = joined.with_columns(
                pl.when(has_stamp).then(pl.col(f"{c}_new")).otherwise(pl.col(c)).alias(c)
                for c in STAMPS
            ).select(item.activities.columns)
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
    return Replacement(
        merged=merged + lost.height,
        lost=lost if lost.height else None,
        restamp=restamp if restamp.height else None,
        ledger=_lost_ledger_rows(store, lost, dropped, reasons) if lost.height else None,
    )


STAMPS = ("kept_reason", "perceived_exertion", "source_kind", "source_type")
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
