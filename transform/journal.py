"""Merge journal snapshots: exports are cumulative, so the warehouse keeps the union.

A journal export (Daylio or the clinic template) is a snapshot of everything the client logged
so far. Dropping the same export twice, then a longer one, then a shorter one must leave exactly
the union of distinct entries. Entries are identified by ``entry_id`` (client, UTC time, kind and
source), so the merge is a union keyed on it:

- an entry in any snapshot is kept, even when a later (shorter) snapshot no longer has it
  (deletions in the app are not propagated);
- when the same ``entry_id`` appears in several snapshots with different values (the client
  edited the entry), the snapshot that arrived last wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from transform.merge import merge_last_wins

__all__ = ["merge_journal", "merge_journal_notes"]


def merge_journal(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Union journal frames by ``entry_id``; the last frame wins on a repeated id.

    Parameters
    ----------
    frames : sequence of polars.DataFrame
        ``journal`` frames in arrival order (the warehouse's current table first).

    Returns
    -------
    polars.DataFrame
        One row per distinct ``entry_id``, sorted by client_id, timestamp_utc, entry_id.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> def snap(ids, moods):
    ...     ts = [datetime(2026, 3, 2, h, tzinfo=timezone.utc) for h in range(len(ids))]
    ...     return pl.DataFrame(
    ...         {"entry_id": ids, "client_id": "c1", "timestamp_utc": ts, "mood": moods}
    ...     )
    >>> merged = merge_journal([snap(["a", "b"], [5.0, 6.0]), snap(["a"], [7.0])])
    >>> merged.select("entry_id", "mood").rows()
    [('a', 7.0), ('b', 6.0)]
    """
    return merge_last_wins(
        frames, key=["entry_id"], order=["client_id", "timestamp_utc", "entry_id"]
    )


def merge_journal_notes(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Union ``journal_notes`` frames by ``entry_id``; the last frame wins on a repeated id.

    A note that a later snapshot no longer has is kept (as entries are).

    Parameters
    ----------
    frames : sequence of polars.DataFrame
        ``journal_notes`` frames in arrival order.

    Returns
    -------
    polars.DataFrame
        One row per distinct ``entry_id``, sorted by client_id, entry_id.

    Examples
    --------
    >>> a = pl.DataFrame({"entry_id": ["a"], "client_id": ["c1"], "note": ["old"]})
    >>> b = pl.DataFrame({"entry_id": ["a"], "client_id": ["c1"], "note": ["edited"]})
    >>> merge_journal_notes([a, b])["note"].to_list()
    ['edited']
    """
    return merge_last_wins(frames, key=["entry_id"], order=["client_id", "entry_id"])
