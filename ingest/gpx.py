"""GPX reader (gpxpy): one activity per track, sensor values from the common extensions.

Heart rate, cadence, temperature, power and speed are read from Garmin's TrackPointExtension (v1 and
v2), Cluetrust's ``gpxdata``, Apple Health's bare ``<speed>`` and similar elements: any extension
element whose local name appears in :data:`EXTENSION_FIELDS`. Routes and waypoint-only files are not
activities (:class:`NotAnActivity`); a track without any time stamps is a planned route, also not an
activity. The sport comes from the track's ``<type>`` when present, else it is inferred from the
median moving speed and flagged ``sport_inferred``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import gpxpy
import gpxpy.gpx
import polars as pl

from ingest.frames import SAMPLE_COLUMNS, ParsedActivity, ParsedFile, frame_from_rows
from ingest.geo import cumulative_distance_m
from ingest.sports import infer_sport, normalise_sport
from ingest.xml_safety import clean_xml_bytes, local_name, parse_safe
from schemas.errors import CorruptFile, NotAnActivity

__all__ = ["read_gpx"]

EXTENSION_FIELDS: dict[str, str] = {
    "hr": "hr_bpm",
    "heartrate": "hr_bpm",
    "heart_rate": "hr_bpm",
    "cad": "cadence_rpm",
    "cadence": "cadence_rpm",
    "atemp": "temperature_c",
    "wtemp": "temperature_c",
    "temp": "temperature_c",
    "power": "power_w",
    "watts": "power_w",
    "speed": "speed_mps",
}
"""Extension element local name (lower case) -> sample column."""

TRACK_JOIN_GAP = dt.timedelta(hours=1)
"""Consecutive tracks closer than this in time are one outing."""


def _extension_values(elements: Iterable[Any]) -> dict[str, float]:
    values: dict[str, float] = {}
    for root in elements:
        for element in root.iter():
            column = EXTENSION_FIELDS.get(local_name(str(element.tag)).lower())
            if column is None or column in values or element.text is None:
                continue
            try:
                values[column] = float(element.text.strip())
            except ValueError:
                continue
    return values


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:  # gpxpy accepts offsets of a day or more
        raise CorruptFile(
            "gpx_invalid",
            "This GPX file could not be read: it holds an impossible time.",
            detail=type(exc).__name__,
        ) from exc


def _track_rows(track: gpxpy.gpx.GPXTrack) -> list[dict[str, Any]]:
    rows = []
    for segment in track.segments:
        for point in segment.points:
            row: dict[str, Any] = {
                "timestamp": _utc(point.time),
                "lat_deg": point.latitude,
                "lon_deg": point.longitude,
                "altitude_m": point.elevation,
            }
            row.update(_extension_values(point.extensions))
            rows.append(row)
    return rows


def _samples(rows: list[dict[str, Any]]) -> pl.DataFrame:
    frame = frame_from_rows(rows, SAMPLE_COLUMNS)
    start = frame["timestamp"].drop_nulls().min()
    distance = cumulative_distance_m(pl.col("lat_deg"), pl.col("lon_deg"))
    elapsed = (pl.col("timestamp") - pl.lit(start)).dt.total_microseconds() / 1e6
    frame = frame.with_columns(distance_m=distance, elapsed_s=elapsed)
    derived_speed = (pl.col("distance_m").diff() / pl.col("elapsed_s").diff()).fill_nan(None)
    derived_speed = pl.when(pl.col("elapsed_s").diff() > 0).then(derived_speed)
    return frame.with_columns(speed_mps=pl.coalesce(pl.col("speed_mps"), derived_speed))


def read_gpx(data: bytes) -> ParsedFile:
    """Decode a GPX file into one activity per timed track.

    Parameters
    ----------
    data
        The file's bytes (a UTF-8 BOM and leading whitespace are tolerated).

    Returns
    -------
    ParsedFile
        ``source_format="gpx"``, ``decoder="gpxpy"``.

    Raises
    ------
    UnsafeInput
        The XML declares entities or external references.
    CorruptFile
        Not well-formed XML, or not a GPX document gpxpy accepts (``gpx_malformed``, ``gpx_invalid``).
    NotAnActivity
        Routes, waypoints, or tracks without times only.
    """
    parse_safe(data, kind="gpx")
    try:
        document = gpxpy.parse(clean_xml_bytes(data).decode("utf-8", errors="replace"))
    except gpxpy.gpx.GPXException as exc:
        raise CorruptFile(
            "gpx_invalid",
            "This GPX file could not be read: it is not a valid GPX document.",
            detail=str(exc),
        ) from exc
    except (ValueError, OverflowError) as exc:  # gpxpy on an impossible value
        raise CorruptFile(
            "gpx_invalid",
            "This GPX file could not be read: it holds an impossible value.",
            detail=type(exc).__name__,
        ) from exc
    outings: list[tuple[str | None, list[dict[str, Any]]]] = []
    skipped_untimed = 0
    for track in document.tracks:
        rows = _track_rows(track)
        times = [row["timestamp"] for row in rows if row["timestamp"] is not None]
        if not times:
            skipped_untimed += bool(rows)
            continue
        previous = outings[-1] if outings else None
        previous_end = (
            max(r["timestamp"] for r in previous[1] if r["timestamp"] is not None)
            if previous
            else None
        )
        if (
            previous is not None
            and previous_end is not None
            and dt.timedelta(0) <= min(times) - previous_end <= TRACK_JOIN_GAP
            and previous[0] == track.type
        ):
            previous[1].extend(rows)
        else:
            outings.append((track.type, rows))
    activities: list[ParsedActivity] = []
    for track_type, rows in outings:
        samples = _samples(rows)
        flags: set[str] = set()
        sport = normalise_sport(track_type)
        if sport is None:
            sport = infer_sport(samples["speed_mps"])
            flags.add("sport_inferred")
        activities.append(
            ParsedActivity(
                meta={"sport": sport, "sub_sport": None, "start_utc": None, "flags": flags},
                samples=samples,
            )
        )
    if not activities:
        what = _what_instead(document, skipped_untimed)
        raise NotAnActivity("not_an_activity", what)
    warnings = [f"{skipped_untimed} track(s) without times skipped"] if skipped_untimed else []
    return ParsedFile(
        source_format="gpx",
        activities=activities,
        device=document.creator or None,
        decoder="gpxpy",
        warnings=warnings,
    )


def _what_instead(document: gpxpy.gpx.GPX, untimed: int) -> str:
    if untimed:
        return (
            "This GPX file holds a track without times (a planned route), not a recorded workout."
        )
    if document.routes:
        return "This GPX file holds a planned route, not a recorded workout."
    if document.waypoints:
        return "This GPX file holds only waypoints (saved places), not a recorded workout."
    return "This GPX file is empty: it holds no recorded workout."
