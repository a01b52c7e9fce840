"""Union of frames that arrive over time, where the frame that arrived last wins on a key.

Shared by the journal merge (:mod:`transform.journal`, keyed on ``entry_id``) and the plan merge
(:mod:`transform.plans`, keyed on client and week).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["merge_last_wins"]


def merge_last_wins(
    frames: Sequence[pl.DataFrame], *, key: list[str], order: list[str]
) -> pl.DataFrame:
    """Concatenate frames and keep, per ``key``, the row of the frame that came last.

    Parameters
    ----------
    frames : sequence of polars.DataFrame
        Frames of one schema, in arrival order (oldest first).
    key : list of str
        Columns identifying a row; a repeated key keeps its last row.
    order : list of str
        Columns the result is sorted by.

    Returns
    -------
    polars.DataFrame
        One row per distinct ``key``, sorted by ``order``.

    Raises
    ------
    ValueError
        No frames, or frames whose schemas differ.

    Examples
    --------
    >>> old = pl.DataFrame({"id": ["a", "b"], "value": [1, 2]})
    >>> new = pl.DataFrame({"id": ["a"], "value": [3]})
    >>> merge_last_wins([old, new], key=["id"], order=["id"]).rows()
    [('a', 3), ('b', 2)]
    """
    if not frames:
        raise ValueError("at least one frame is needed (an empty one gives the schema)")
    schema = frames[0].schema
    for frame in frames[1:]:
        if frame.schema != schema:
            raise ValueError(f"frames differ in schema: {dict(schema)} != {dict(frame.schema)}")
    return (
        pl.concat(frames, how="vertical")
        .unique(subset=key, keep="last", maintain_order=True)
        .sort(order)
    )
