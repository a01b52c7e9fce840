"""The same run from several sources becomes one activity: match copies, keep the richest (pure).

Two activities are copies of one run when they belong to the same client, have the same sport,
both have a clock, start within :data:`START_TOLERANCE_S` of each other, and their durations and
distances agree within :data:`DURATION_TOLERANCE` / :data:`DISTANCE_TOLERANCE` (a bound is only
checked when both copies have the value). A copy whose sport is generic (:data:`GENERIC_SPORTS`:
a TCX ``Other``, a FIT ``generic``, an ``unknown`` guess) matches one of any sport, but then
both its duration and its distance must be known and agree. Copies group transitively.

In each group the richest copy is kept, by :func:`richness_key`: the source format first
(:data:`FORMAT_RANK`: FIT over TCX over GPX over Apple Health over a manual entry), then more
samples, heart rate, positions, and finally the smaller ``activity_id``. The rule looks only at
the copies themselves, never at arrival order, so dropping sources in any order keeps the same copy.

The kept copy gets ``kept_reason`` (which copies it was preferred over and why), the first
``perceived_exertion`` found among the copies (Strava's, typically, when the FIT copy is kept),
and the specific sport of a copy when its own is generic. It also takes every sample channel it
lacks from the copies it was kept over (:func:`merge_channels`: a FIT without heart rate and a
TCX with heart rate give one activity with both), and ``channel_sources`` names the source of
each channel.
Rows sharing one ``activity_id`` (the same file bytes inside two exports) are one copy; their source
is chosen by :data:`SOURCE_KIND_RANK`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = [
    "CHANNELS",
    "DISTANCE_TOLERANCE",
    "DURATION_TOLERANCE",
    "FORMAT_RANK",
    "GENERIC_SPORTS",
    "MERGE_TOLERANCE_S",
    "SOURCE_KIND_RANK",
    "START_TOLERANCE_S",
    "Merged",
    "Resolution",
    "merge_channels",
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

GENERIC_SPORTS: frozenset[str] = frozenset({"other", "unknown"})
"""Sports that say nothing about the activity: a copy of one of them matches any sport."""

CHANNELS: tuple[tuple[str, ...], ...] = (
    ("hr_bpm",),
    ("cadence_rpm",),
    ("power_w",),
    ("speed_mps",),
    ("distance_m",),
    ("altitude_m",),
    ("temperature_c",),
    ("lat_deg", "lon_deg"),
)
"""Sample channels a kept copy can take from another copy (a position is one channel)."""

MERGE_TOLERANCE_S = 2.0
"""A donor's sample lends its values to the kept copy's sample at most this far away in time."""

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
        ``source_type``, ``sport`` to stamp on it.
    donors
        ``{kept activity_id: [(dropped activity_id, "format/source_kind"), ...]}``, richest
        first: the copies whose channels the kept one may take (:func:`merge_channels`).
    """

    dropped: dict[str, str]
    kept: pl.DataFrame
    donors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


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
    >>> same_run(a, {**a, "sport": "other"}), same_run(a, {**a, "sport": "cycling"})
    (True, False)
    """
    if a["start_utc"] is None or b["start_utc"] is None:
        return False
    if a["sport"] != b["sport"]:
        generic = a["sport"] in GENERIC_SPORTS or b["sport"] in GENERIC_SPORTS
        measured = all(r[k] is not None for r in (a, b) for k in ("duration_s", "distance_m"))
        if not (generic and measured):
            return False
    return (
        a["client_id"] == b["client_id"]
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
    ('f', 'fit/garmin kept over gpx/strava: richer format', 6.0, 'garmin', None, 'running')
    >>> result.donors
    {'f': [('g', 'gpx/strava')]}
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
        key=lambda r: (r["client_id"], r["start_utc"], r["activity_id"]),
    )
    for i, a in enumerate(timed):
        for b in timed[i + 1 :]:
            if b["client_id"] != a["client_id"]:
                break
            if (b["start_utc"] - a["start_utc"]).total_seconds() > START_TOLERANCE_S:
                break
            if same_run(a, b):
                parent[_find(parent, b["activity_id"])] = _find(parent, a["activity_id"])
    groups: dict[str, list[dict[str, Any]]] = {}
    for aid in sorted(rows):
        groups.setdefault(_find(parent, aid), []).append(rows[aid])
    dropped: dict[str, str] = {}
    donors: dict[str, list[tuple[str, str]]] = {}
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
        sport = kept["sport"]
        if sport in GENERIC_SPORTS:
            sport = next((m["sport"] for m in members if m["sport"] not in GENERIC_SPORTS), sport)
        if others:
            donors[kept["activity_id"]] = [(o["activity_id"], _label(o)) for o in others]
        stamps.append(
            {
                "activity_id": kept["activity_id"],
                "kept_reason": reason,
                "perceived_exertion": exertion,
                "source_kind": kept["source_kind"],
                "source_type": kept["source_type"],
                "sport": sport,
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
            "sport": pl.String,
        },
    )
    return Resolution(dropped=dropped, kept=kept_frame, donors=donors)


@dataclass(frozen=True)
class Merged:
    """What :func:`merge_channels` made of a kept copy's samples.

    ``samples`` carries the taken channels; ``taken`` lists them (empty: nothing changed);
    ``channel_sources`` is the provenance text for ``activities.channel_sources`` (null when
    nothing was taken).
    """

    samples: pl.DataFrame
    taken: tuple[str, ...]
    channel_sources: str | None


def _has(frame: pl.DataFrame, columns: tuple[str, ...]) -> bool:
    return all(c in frame.columns and frame[c].null_count() < frame.height for c in columns)


def merge_channels(
    kept: pl.DataFrame, own_label: str, donors: list[tuple[str, pl.DataFrame]]
) -> Merged:
    """Give the kept copy's samples every channel it lacks that a donor copy has.

    A channel (:data:`CHANNELS`) the kept samples hold no value of is taken from the first donor
    that has one, sample by sample: each kept sample takes the value of the donor sample nearest
    in time, within :data:`MERGE_TOLERANCE_S` (an as-of join on ``timestamp``). Channels the kept
    copy has are never touched. Samples without a timestamp take nothing.

    Parameters
    ----------
    kept
        One activity's samples (``timestamp`` and the channel columns).
    own_label
        ``format/source_kind`` of the kept copy, for the provenance text.
    donors
        ``(label, samples)`` of the copies it was kept over, richest first.

    Examples
    --------
    >>> import datetime as dt
    >>> t = [dt.datetime(2026, 3, 2, 7, 0, s, tzinfo=dt.UTC) for s in range(3)]
    >>> fit = pl.DataFrame({"timestamp": t, "speed_mps": [1.0, 1.1, 1.2],
    ...                     "hr_bpm": pl.Series([None, None, None], dtype=pl.Int16)})
    >>> tcx = pl.DataFrame({"timestamp": t, "speed_mps": [9.0, 9.0, 9.0],
    ...                     "hr_bpm": pl.Series([120, 121, 122], dtype=pl.Int16)})
    >>> merged = merge_channels(fit, "fit/file", [("tcx/file", tcx)])
    >>> merged.samples["hr_bpm"].to_list(), merged.samples["speed_mps"].to_list()
    ([120, 121, 122], [1.0, 1.1, 1.2])
    >>> merged.channel_sources
    'hr_bpm=tcx/file,speed_mps=fit/file'
    """
    sources: dict[str, str] = {}
    out = kept
    taken: list[str] = []
    order = kept.with_row_index("_row")
    timed = order.filter(pl.col("timestamp").is_not_null()).sort("timestamp")
    for channel in CHANNELS:
        if _has(kept, channel):
            sources.update(dict.fromkeys(channel, own_label))
            continue
        for label, donor in donors:
            if not _has(donor, channel) or timed.is_empty():
                continue
            values = (
                donor.select("timestamp", *channel)
                .filter(pl.col("timestamp").is_not_null())
                .drop_nulls(channel[0])
                .sort("timestamp")
            )
            joined = timed.select("_row", "timestamp").join_asof(
                values,
                on="timestamp",
                strategy="nearest",
                tolerance=dt.timedelta(seconds=MERGE_TOLERANCE_S),
            )
            filled = order.select("_row").join(joined.drop("timestamp"), on="_row", how="left")
            out = out.with_columns(
                filled[c].cast(kept.schema[c]) if c in kept.columns else filled[c] for c in channel
            )
            sources.update(dict.fromkeys(channel, label))
            taken.extend(channel)
            break
    if not taken:
        return Merged(kept, (), None)
    text = ",".join(f"{c}={sources[c]}" for c in sorted(sources))
    return Merged(out, tuple(taken), text)
