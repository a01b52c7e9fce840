"""The same run from several sources becomes one activity: match copies, keep the richest (pure).

Two activities are copies of one run when they belong to the same client, have the same sport,
both have a clock, start within :data:`START_TOLERANCE_S` of each other, and their durations and
distances agree within :data:`DURATION_TOLERANCE` / :data:`DISTANCE_TOLERANCE` (a bound is only
checked when both copies have the value). Copies group transitively.

In each group the richest copy is kept, by :func:`richness_key`: the source format first
(:data:`FORMAT_RANK`: FIT over TCX over GPX over Apple Health over a manual entry), then more
samples, heart rate, positions, and finally the smaller ``activity_id``. The rule looks only at
the copies themselves, never at arrival order, so dropping sources in any order keeps the same copy.

The kept copy gets ``kept_reason`` (which copies it was preferred over and why) and the first
``perceived_exertion`` found among the copies (Strava's, typically, when the FIT copy is kept).
Rows sharing one ``activity_id`` (the same file bytes inside two exports) are one copy; their source
is chosen by :data:`SOURCE_KIND_RANK`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = [
    "DISTANCE_TOLERANCE",
    "DURATION_TOLERANCE",
    "FORMAT_RANK",
    "SOURCE_KIND_RANK",
    "START_TOLERANCE_S",
    "Resolution",
    "resolve_copies",
    "richness_key",
    "same_run",
]

START_TOLERANCE_S = 60
"""Largest start-time difference, seconds, between two copies of one run."""

FORMAT_RANK: dict[str, int] = {"fit": 0, "tcx": 1, "gpx": 2, "apple_health": 3, "manual": 4}
"""Source format -> rank, lower is richer (FIT carries laps, HRV and device totals)."""

SOURCE_KIND_RANK: dict[str, int] = {"garmin": 0, "strava": 1, "apple": 2, "file": 3}
"""For identical copies (same bytes): whose metadata the activity keeps."""

DURATION_TOLERANCE = (0.10, 120.0)
"""Durations agree when they differ by at most 10 % of the longer or 120 s."""
DISTANCE_TOLERANCE = (0.25, 500.0)
"""Distances agree when they differ by at most 25 % of the longer or 500 m.

Distance is the weakest of the signals: a GPX or Apple copy measures the GPS track (jitter adds
length), the FIT copy the watch's smoothed or foot-pod distance; they can differ by a fifth. The
bound still separates a warm-up from the run that starts a minute later."""

REQUIRED = (
    "activity_id",
    "client_id",
    "sport",
    "start_utc",
    "duration_s",
    "distance_m",
    "source_format",
    "source_kind",
    "source_type",
    "perceived_exertion",
    "n_samples",
    "has_hr",
    "has_gps",
)
"""Columns :func:`resolve_copies` reads."""


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve_copies` decided.

    Attributes
    ----------
    dropped
        ``{activity_id: kept_activity_id}`` for every copy that is not kept.
    kept
        One row per kept copy of a group of two or more (and per activity whose id occurred in
        several rows): ``activity_id``, ``kept_reason``, ``perceived_exertion``, ``source_kind``,
        ``source_type`` to stamp on it.
    """

    dropped: dict[str, str]
    kept: pl.DataFrame


def _agree(a: float | None, b: float | None, tolerance: tuple[float, float]) -> bool:
    if a is None or b is None:
        return True
    relative, absolute = tolerance
    return abs(a - b) <= max(absolute, relative * max(abs(a), abs(b)))


def same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two activity rows are copies of one run (see the module docstring).

    Examples
    --------
    >>> import datetime as dt
    >>> t = dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)
    >>> a = {"client_id": "c", "sport": "running", "start_utc": t, "duration_s": 1800.0,
    ...      "distance_m": 5000.0}
    >>> same_run(a, {**a, "start_utc": t + dt.timedelta(seconds=40), "distance_m": 5100.0})
    True
    >>> same_run(a, {**a, "duration_s": 3600.0})
    False
    """
    if a["start_utc"] is None or b["start_utc"] is None:
        return False
    return (
        a["client_id"] == b["client_id"]
        and a["sport"] == b["sport"]
        and abs((a["start_utc"] - b["start_utc"]).total_seconds()) <= START_TOLERANCE_S
        and _agree(a["duration_s"], b["duration_s"], DURATION_TOLERANCE)
        and _agree(a["distance_m"], b["distance_m"], DISTANCE_TOLERANCE)
    )


def richness_key(row: dict[str, Any]) -> tuple[int, int, int, int, str]:
    """Sort key, smallest = richest: format rank, more samples, HR, positions, then id."""
    return (
        FORMAT_RANK.get(row["source_format"], len(FORMAT_RANK)),
        -int(row["n_samples"] or 0),
        -int(bool(row["has_hr"])),
        -int(bool(row["has_gps"])),
        row["activity_id"],
    )


REASONS = ("richer format", "more samples", "has heart rate", "has positions", "same content")
"""Why the kept copy won against the runner-up, by the first element of the key that differs."""


def _why(kept: dict[str, Any], runner_up: dict[str, Any]) -> str:
    for reason, a, b in zip(REASONS, richness_key(kept), richness_key(runner_up), strict=True):
        if a != b:
            return reason
    return REASONS[-1]


def _label(row: dict[str, Any]) -> str:
    return f"{row['source_format']}/{row['source_kind']}"


def _find(parent: dict[str, str], x: str) -> str:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def resolve_copies(activities: pl.DataFrame) -> Resolution:
    """Group the copies of each run and choose the one to keep.

    Parameters
    ----------
    activities
        Held and new activities together (columns :data:`REQUIRED`); an ``activity_id`` may occur
        in several rows (identical bytes from two exports).

    Returns
    -------
    Resolution
        The dropped copies and the stamps for the kept ones.

    Examples
    --------
    >>> import datetime as dt
    >>> t = dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)
    >>> row = {"client_id": "c", "sport": "running", "start_utc": t, "duration_s": 1800.0,
    ...        "distance_m": 5000.0, "source_type": None, "perceived_exertion": None,
    ...        "n_samples": 1800, "has_hr": True, "has_gps": True}
    >>> frame = pl.DataFrame([
    ...     {**row, "activity_id": "g", "source_format": "gpx", "source_kind": "strava",
    ...      "perceived_exertion": 6.0},
    ...     {**row, "activity_id": "f", "source_format": "fit", "source_kind": "garmin"}])
    >>> result = resolve_copies(frame)
    >>> result.dropped
    {'g': 'f'}
    >>> result.kept.row(0)
    ('f', 'fit/garmin kept over gpx/strava: richer format', 6.0, 'garmin', None)
    """
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in activities.select(REQUIRED).iter_rows(named=True):
        by_id.setdefault(row["activity_id"], []).append(row)
    rows: dict[str, dict[str, Any]] = {}
    for aid, copies in by_id.items():
        ordered = sorted(copies, key=lambda r: SOURCE_KIND_RANK.get(r["source_kind"], 99))
        rows[aid] = {
            **ordered[0],
            "perceived_exertion": next(
                (r["perceived_exertion"] for r in ordered if r["perceived_exertion"] is not None),
                None,
            ),
            "_identical": len(copies) > 1,
        }
    parent = {aid: aid for aid in rows}
    timed = sorted(
        (r for r in rows.values() if r["start_utc"] is not None),
        key=lambda r: (r["client_id"], r["sport"], r["start_utc"], r["activity_id"]),
    )
    for i, a in enumerate(timed):
        for b in timed[i + 1 :]:
            if (b["client_id"], b["sport"]) != (a["client_id"], a["sport"]):
                break
            if (b["start_utc"] - a["start_utc"]).total_seconds() > START_TOLERANCE_S:
                break
            if same_run(a, b):
                parent[_find(parent, b["activity_id"])] = _find(parent, a["activity_id"])
    groups: dict[str, list[dict[str, Any]]] = {}
    for aid in sorted(rows):
        groups.setdefault(_find(parent, aid), []).append(rows[aid])
    dropped: dict[str, str] = {}
    stamps: list[dict[str, Any]] = []
    for members in groups.values():
        members.sort(key=richness_key)
        kept, others = members[0], members[1:]
        for other in others:
            dropped[other["activity_id"]] = kept["activity_id"]
        if not others and not kept["_identical"]:
            continue
        reason = (
            f"{_label(kept)} kept over {', '.join(_label(o) for o in others)}: "
            f"{_why(kept, others[0])}"
            if others
            else None
        )
        exertion = next(
            (m["perceived_exertion"] for m in members if m["perceived_exertion"] is not None),
            None,
        )
        stamps.append(
            {
                "activity_id": kept["activity_id"],
                "kept_reason": reason,
                "perceived_exertion": exertion,
                "source_kind": kept["source_kind"],
                "source_type": kept["source_type"],
            }
        )
    kept_frame = pl.DataFrame(
        stamps,
        schema={
            "activity_id": pl.String,
            "kept_reason": pl.String,
            "perceived_exertion": pl.Float64,
            "source_kind": pl.String,
            "source_type": pl.String,
        },
    )
    return Resolution(dropped=dropped, kept=kept_frame)
