"""Merge plan files: a later plan file overrides the weeks it gives, per client.

Plan files arrive over time (a first prescription, then revisions). Each is read into a
``plans`` frame (:func:`clinic.plan.read_plan`). The merged table has one row per client and
week: a week present in several files takes the row of the file that arrived last; weeks a later
file does not mention keep their earlier row (a revision of weeks 5-8 leaves weeks 1-4 alone).
To cancel a week, the therapist plans it with 0 sessions and 0 minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from transform.merge import merge_last_wins

__all__ = ["merge_plan_notes", "merge_plans"]

#: A plan row is one client's one week; the later file wins per key.
_WEEK_KEY: Final[list[str]] = ["client_id", "week_start"]


def merge_plans(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Merge ``plans`` frames given in arrival order; the later file wins per client and week.

    Parameters
    ----------
    frames : sequence of polars.DataFrame
        ``plans`` frames, oldest first (the warehouse's current table first, then new files in
        the order they were received).

    Returns
    -------
    polars.DataFrame
        One row per (client_id, week_start), sorted by both.

    Examples
    --------
    >>> from datetime import date
    >>> first = pl.DataFrame({"client_id": ["c1", "c1"],
    ...     "week_start": [date(2026, 3, 2), date(2026, 3, 9)], "sessions": [2, 2],
    ...     "minutes": [40.0, 50.0], "session_type": ["easy", "easy"]})
    >>> revision = pl.DataFrame({"client_id": ["c1"], "week_start": [date(2026, 3, 9)],
    ...     "sessions": [3], "minutes": [60.0], "session_type": ["easy"]})
    >>> merge_plans([first, revision]).select("week_start", "minutes").rows()
    [(datetime.date(2026, 3, 2), 40.0), (datetime.date(2026, 3, 9), 60.0)]
    """
    return merge_last_wins(frames, key=_WEEK_KEY, order=_WEEK_KEY)


def merge_plan_notes(plans: Sequence[pl.DataFrame], notes: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Merge restricted ``plan_notes`` so each week keeps the note of its winning plan file.

    A week's note comes from the same file as the week's row in :func:`merge_plans`; when that
    file has no note for the week, the week has no note (an older note about a plan that was
    since revised is not kept).

    Parameters
    ----------
    plans : sequence of polars.DataFrame
        The ``plans`` frames, oldest first, exactly as passed to :func:`merge_plans`.
    notes : sequence of polars.DataFrame
        The ``plan_notes`` frame of each of those files, in the same order.

    Returns
    -------
    polars.DataFrame
        One row per (client_id, week_start) with a note, sorted by both.

    Examples
    --------
    >>> from datetime import date
    >>> week = {"client_id": ["c1"], "week_start": [date(2026, 3, 2)]}
    >>> p1 = pl.DataFrame({**week, "sessions": [2], "minutes": [40.0], "session_type": ["easy"]})
    >>> p2 = pl.DataFrame({**week, "sessions": [3], "minutes": [60.0], "session_type": ["easy"]})
    >>> n1 = pl.DataFrame({**week, "note": ["first"]})
    >>> n2 = pl.DataFrame({**week, "note": ["revised"]})
    >>> merge_plan_notes([p1, p2], [n1, n2])["note"].to_list()
    ['revised']
    >>> merge_plan_notes([p1, p2], [n1, n2.clear()]).height
    0
    """
    if len(plans) != len(notes):
        raise ValueError("plans and notes must come in pairs, one of each per plan file")
    key = _WEEK_KEY
    winners = merge_last_wins(
        [frame.select(key).with_columns(_file=pl.lit(i)) for i, frame in enumerate(plans)],
        key=key,
        order=key,
    )
    tagged = merge_last_wins(
        [frame.with_columns(_file=pl.lit(i)) for i, frame in enumerate(notes)], key=key, order=key
    )
    return tagged.join(winners, on=[*key, "_file"], how="inner").drop("_file").sort(key)
