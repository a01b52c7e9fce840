"""Schema of the ``activities`` table: one row per session."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from schemas.base import DateTime, utc_field

UNKNOWN_SPORT = "unknown"
"""The sport of a session whose evidence disagrees (or that has none)."""

SPORTS = (
    "running",
    "walking",
    "hiking",
    "cycling",
    "swimming",
    "rowing",
    "transition",
    "other",
    UNKNOWN_SPORT,
)
"""The sports the warehouse knows (``activities.sport``)."""

SEVEN_DAYS_S = 7 * 24 * 3600.0


class Activities(pa.DataFrameModel):
    """One row per activity (a session of a watch file); grain: ``activity_id``."""

    activity_id: str = pa.Field(
        unique=True,
        description="Stable id of the activity: a hash of the client, its source file's bytes "
        "and its place in the file (the same file for two clients is two activities).",
    )
    client_id: str = pa.Field(description="Keyed pseudonym of the client (HMAC-SHA256).")
    source_format: str = pa.Field(
        isin=["fit", "gpx", "tcx", "apple_health", "manual"],
        description=(
            "Format of the source: a fit/gpx/tcx file, an Apple Health workout, or a manual entry "
            "(a Strava activity without a file: no samples)."
        ),
    )
    source_kind: str = pa.Field(
        isin=["file", "strava", "garmin", "apple"],
        description="Where it came from: a single dropped file, or a Strava/Garmin/Apple export.",
    )
    source_type: str = pa.Field(
        nullable=True,
        description=(
            "The export's own activity type as written (e.g. Run, Lauf, "
            "HKWorkoutActivityTypeRunning)."
        ),
    )
    perceived_exertion: float = pa.Field(
        ge=1,
        le=10,
        nullable=True,
        description="Perceived exertion (1-10) the client entered in Strava.",
    )
    device: str = pa.Field(
        nullable=True, description="Manufacturer and product; never a serial number."
    )
    sport: str = pa.Field(
        isin=list(SPORTS),
        description=(
            "Sport, normalised across formats: the file's own (FIT sport, TCX Sport, GPX type), "
            "else inferred from the creator application and the data (flag sport_inferred); "
            "unknown when that evidence disagrees or there is none; other when the file names a "
            "sport outside this list."
        ),
    )
    sub_sport: str = pa.Field(nullable=True, description="Sub-sport as the device named it.")
    start_utc: DateTime = utc_field(
        "Start time, UTC; null when the watch clock was never set.", nullable=True, plausible=True
    )
    end_utc: DateTime = utc_field(
        "End time, UTC; null when the watch clock was never set.", nullable=True, plausible=True
    )
    local_date: dt.date = pa.Field(
        nullable=True, description="Calendar date of the start in the client's roster timezone."
    )
    duration_s: float = pa.Field(
        ge=0,
        le=SEVEN_DAYS_S,
        nullable=True,
        description=(
            "Elapsed time from first to last sample, seconds; null (a value refused, counted in "
            "values_refused) when over 7 days: a session left paused for weeks."
        ),
    )
    moving_time_s: float = pa.Field(
        ge=0,
        le=SEVEN_DAYS_S,
        nullable=True,
        description=(
            "Time spent moving (speed >= 0.5 m/s, gaps <= 10 s), seconds; a FIT swim's active "
            "lengths (else its laps' timer time)."
        ),
    )
    pool_length_m: float = pa.Field(
        gt=0,
        le=1_000,
        nullable=True,
        description="Pool length of a pool swim as the watch was set, metres; null otherwise.",
    )
    distance_m: float = pa.Field(ge=0, le=2_000_000, nullable=True, description="Distance, metres.")
    hr_mean_bpm: float = pa.Field(
        ge=20,
        le=250,
        nullable=True,
        description="Mean heart rate over samples with a reading, bpm.",
    )
    hr_max_bpm: float = pa.Field(
        ge=20, le=250, nullable=True, description="Maximum heart rate, bpm."
    )
    cadence_mean_rpm: float = pa.Field(
        ge=0,
        le=300,
        nullable=True,
        description="Mean non-zero cadence as the device records it (running: strides per minute per leg), rpm.",
    )
    cadence_max_rpm: float = pa.Field(
        ge=0, le=300, nullable=True, description="Maximum cadence, rpm."
    )
    elevation_gain_m: float = pa.Field(
        ge=0, le=20_000, nullable=True, description="Total ascent after smoothing, metres."
    )
    n_samples: pl.Int64 = pa.Field(ge=0, description="Number of samples (records) in the activity.")
    has_gps: bool = pa.Field(description="At least one sample carries a position.")
    has_hr: bool = pa.Field(description="At least one sample carries a heart rate.")
    clock_set: bool = pa.Field(
        description="False when the watch clock was never set (device-relative time)."
    )
    recovered: bool = pa.Field(
        description="True when the file was damaged and the part before the damage was kept."
    )
    quality_flags: str = pa.Field(
        description=(
            "Comma-separated data-quality flags (e.g. clock_not_set, recovered, "
            "sport_inferred); empty when none."
        )
    )
    values_refused: pl.Int64 = pa.Field(
        ge=0,
        nullable=True,
        description=(
            "Sample and summary values left null because they were physically impossible "
            "(outside the samples/activities ranges, e.g. a heart rate of 300); flag "
            "values_refused when above 0; null for activities taken in before it was counted."
        ),
    )
    channel_sources: str = pa.Field(
        nullable=True,
        description=(
            "When copies of one workout were merged: the source of each sample channel, "
            "channel=format/source_kind comma-separated (e.g. 'hr_bpm=tcx/file,speed_mps=fit/file'); "
            "null when every channel comes from this activity's own file."
        ),
    )
    source_sha256: str = pa.Field(
        str_length=64,
        description=(
            "SHA-256 of the file the activity was decoded from (an Apple workout or a manual "
            "Strava entry: of its identity in the export, the files row of that entry)."
        ),
    )
    kept_reason: str = pa.Field(
        nullable=True,
        description=(
            "When the same run arrived from several sources: which copies this one was kept over "
            "and why (e.g. 'fit/garmin kept over gpx/strava: richer format'); null otherwise."
        ),
    )

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True
