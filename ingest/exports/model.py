"""What the export readers hand back: source activities with their source metadata.

A whole-account export is turned into a stream of :data:`ExportItem`:

* :class:`MemberFile`: the bytes of one activity file inside the export (FIT, GPX, TCX, possibly
  gzipped), decoded later by the ordinary single-file path, plus its :class:`SourceMeta`;
* :class:`DecodedSource`: activities the export reader decoded itself (Strava manual entries from
  ``activities.csv``, Apple Health workouts from ``export.xml``), as a
  :class:`~ingest.frames.ParsedFile` with one :class:`SourceMeta` per activity;
* :class:`SkippedMember`: a valid member that is not a workout (a Garmin monitoring, sleep or HRV
  status FIT, a settings file), with any :class:`WellnessReading` taken from it.

Privacy: :attr:`SourceMeta.source_name` (the activity title the client typed) and
:attr:`SourceMeta.source_activity_id` (the vendor's id, which opens the activity's public page
with its map) are carried in memory for logging and matching only; :data:`WAREHOUSE_META_COLUMNS`
lists what may reach the analyst tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ingest.frames import ParsedFile
from ingest.sports import normalise_sport

__all__ = [
    "EXPORT_KINDS",
    "SOURCE_KINDS",
    "WAREHOUSE_META_COLUMNS",
    "DecodedSource",
    "ExportItem",
    "MemberFile",
    "SkippedMember",
    "SourceMeta",
    "WellnessReading",
    "apply_source_meta",
]

EXPORT_KINDS = ("strava", "garmin_full", "garmin_original", "apple_health")
"""Kinds of whole-account export :func:`ingest.exports.detect_export` recognises."""

SOURCE_KINDS = ("file", "strava", "garmin", "apple")
"""Where an activity came from: a single dropped file, or one of the exports."""

PERCEIVED_EXERTION_RANGE = (1.0, 10.0)
"""Strava's perceived exertion scale (1 = easy ... 10 = max effort)."""


@dataclass(frozen=True)
class SourceMeta:
    """What the export says about one activity, besides the activity file itself.

    Attributes
    ----------
    source_kind
        One of :data:`SOURCE_KINDS`.
    source_activity_id
        The vendor's activity id (Strava ``Activity ID``, Garmin ``<id>_ACTIVITY``); not written to
        the warehouse (it links to the activity's web page, map and owner's name).
    source_name
        The activity's title as the client typed it; free text that can name a street or a
        person, so never written to the warehouse.
    source_type
        The vendor's activity type as given (``Run``, ``Lauf``, ``HKWorkoutActivityTypeRunning``).
    perceived_exertion
        Strava's perceived exertion (1-10) where the client entered one.
    """

    source_kind: str
    source_activity_id: str | None = None
    source_name: str | None = field(default=None, repr=False)
    source_type: str | None = None
    perceived_exertion: float | None = None


@dataclass(frozen=True)
class MemberFile:
    """One activity file found inside an export, to be decoded by the single-file path."""

    name: str
    data: bytes
    meta: SourceMeta


@dataclass(frozen=True)
class DecodedSource:
    """Activities decoded by an export reader itself, from the member ``name`` (sha ``sha256``).

    ``metas[i]`` belongs to ``parsed.activities[i]``.
    """

    name: str
    sha256: str
    parsed: ParsedFile
    metas: tuple[SourceMeta, ...]


@dataclass(frozen=True)
class WellnessReading:
    """One daily wellness value read from a monitoring file (``resting_hr_bpm`` for now)."""

    measured_utc: dt.datetime
    resting_hr_bpm: int
    source: str


@dataclass(frozen=True)
class SkippedMember:
    """A valid member that holds no workout, counted by ``kind`` (``monitoring_b``, ``sleep`` ...)."""

    name: str
    sha256: str
    detected_format: str
    kind: str
    wellness: tuple[WellnessReading, ...] = ()


ExportItem = MemberFile | DecodedSource | SkippedMember
"""One thing an export reader yields."""

WAREHOUSE_META_COLUMNS: dict[str, pl.DataType] = {
    "source_kind": pl.String(),
    "source_type": pl.String(),
    "perceived_exertion": pl.Float64(),
}
"""Source metadata columns written to ``activities`` (names and vendor ids are left out)."""


def _exertion(value: float | None) -> float | None:
    low, high = PERCEIVED_EXERTION_RANGE
    return value if value is not None and low <= value <= high else None


def apply_source_meta(
    activities: pl.DataFrame, metas: SourceMeta | tuple[SourceMeta, ...]
) -> pl.DataFrame:
    """Stamp source metadata on an ``activities`` frame (one meta for all rows, or one per row).

    The export's own activity type fills ``sport`` where the file did not name one: ``other``,
    ``unknown``, or a sport inferred from the data (flag ``sport_inferred``, then dropped: the
    export named it); the file's own sport wins otherwise.

    Examples
    --------
    >>> frame = pl.DataFrame({"sport": ["other"], "source_kind": ["file"],
    ...     "source_type": [None], "perceived_exertion": [None]},
    ...     schema_overrides={"source_type": pl.String, "perceived_exertion": pl.Float64})
    >>> apply_source_meta(frame, SourceMeta("strava", source_type="Run",
    ...     perceived_exertion=6.0)).row(0)
    ('running', 'strava', 'Run', 6.0)
    """
    rows = metas if isinstance(metas, tuple) else (metas,) * activities.height
    if len(rows) != activities.height:
        raise ValueError(f"{len(rows)} source metas for {activities.height} activities")
    values: dict[str, list[Any]] = {
        "source_kind": [m.source_kind for m in rows],
        "source_type": [m.source_type for m in rows],
        "perceived_exertion": [_exertion(m.perceived_exertion) for m in rows],
        "_export_sport": [normalise_sport(m.source_type) for m in rows],
    }
    stamped = pl.DataFrame(values, schema={**WAREHOUSE_META_COLUMNS, "_export_sport": pl.String()})
    out = activities.with_columns(stamped.drop("_export_sport"))
    export_sport = stamped["_export_sport"]
    flags = (
        pl.col("quality_flags").fill_null("").str.split(",")
        if "quality_flags" in activities.columns
        else pl.lit([], dtype=pl.List(pl.String))
    )
    guessed = pl.col("sport").is_in(["other", "unknown"]) | flags.list.contains("sport_inferred")
    fill = guessed & export_sport.is_not_null() & (export_sport != "other")
    out = out.with_columns(sport=pl.when(fill).then(export_sport).otherwise(pl.col("sport")))
    if "quality_flags" not in activities.columns:
        return out
    kept_flags = flags.list.eval(pl.element().filter(pl.element() != "sport_inferred"))
    return out.with_columns(
        quality_flags=pl.when(fill).then(kept_flags.list.join(",")).otherwise("quality_flags")
    )
