"""TCX reader: one activity per ``<Activity>`` (multi-sport sessions included) or timed ``<Course>``.

Trackpoint children map to sample columns through :data:`TRACKPOINT_FIELDS`; Garmin's ActivityExtension
``TPX`` (``Speed``, ``RunCadence``, ``Watts``) is read by local name, whatever its namespace prefix.
Heart rate is rounded half up to whole beats, never truncated.

A ``<Course>`` whose trackpoints carry times is a recorded workout saved as a course (Garmin Connect
exports rides that way): it is read like an activity, without laps (a course's laps have no start
time), with the flag ``tcx_course``; a course without times is a planned route and is skipped.

Distance is the file's own ``DistanceMeters`` where it carries one, else measured from positions as
the GPX readers measure it (:func:`ingest.geo.track_distance_m`). Speed is the file's own ``Speed``
where present, else distance step over time step, null (never negative) where a device's cumulative
distance steps back. One activity or course without a timed trackpoint, or whose trackpoints all
carry one instant (:func:`ingest.summaries.one_instant`), is skipped with a warning; it never takes the
file's other activities with it.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

from ingest.frames import LAP_COLUMNS, SAMPLE_COLUMNS, ParsedActivity, ParsedFile, frame_from_rows
from ingest.gpx import finish_samples, sensor_value
from ingest.sports import infer_sport, normalise_sport
from ingest.summaries import one_instant
from ingest.xml_safety import local_name, parse_safe
from schemas.errors import CorruptFile, NotAnActivity

__all__ = ["read_tcx"]

TRACKPOINT_FIELDS: dict[str, str] = {
    "LatitudeDegrees": "lat_deg",
    "LongitudeDegrees": "lon_deg",
    "AltitudeMeters": "altitude_m",
    "DistanceMeters": "distance_m",
    "Value": "hr_bpm",  # inside HeartRateBpm
    "Cadence": "cadence_rpm",
    "RunCadence": "cadence_rpm",
    "Speed": "speed_mps",
    "Watts": "power_w",
}
"""Trackpoint descendant local name -> sample column."""

LAP_FIELDS: dict[str, str] = {
    "TotalTimeSeconds": "timer_s",
    "DistanceMeters": "distance_m",
    "MaximumSpeed": "max_speed_mps",
    "AverageHeartRateBpm": "hr_mean_bpm",
    "MaximumHeartRateBpm": "hr_max_bpm",
    "Cadence": "cadence_mean_rpm",
    "AvgRunCadence": "cadence_mean_rpm",
    "AvgSpeed": "speed_mean_mps",
}
"""Lap child local name -> lap column (heart-rate children hold a ``<Value>``)."""


def _time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # not a time, or one that falls outside years 1-9999 in UTC
        return None


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def _trackpoint(point: ET.Element) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for element in point.iter():
        name = local_name(element.tag)
        if name == "Time":
            row["timestamp"] = _time(element.text)
            continue
        column = TRACKPOINT_FIELDS.get(name)
        if column is not None and column not in row and element.text is not None:
            row[column] = sensor_value(column, element.text)
    return row


def _lap(lap: ET.Element, index: int) -> dict[str, Any]:
    row: dict[str, Any] = {"lap_index": index, "start_utc": _time(lap.get("StartTime"))}
    for child in lap:
        column = LAP_FIELDS.get(local_name(child.tag))
        if column is None:
            continue
        value_element = next((e for e in child.iter() if local_name(e.tag) == "Value"), None)
        row[column] = _float((value_element if value_element is not None else child).text)
    row["elapsed_s"] = row.get("timer_s")
    return row


def _activity(element: ET.Element) -> ParsedActivity | None:
    """An ``<Activity>`` or ``<Course>`` as an activity; ``None`` without a time axis."""
    course = local_name(element.tag) == "Course"
    laps = [e for e in element if local_name(e.tag) == "Lap"]
    containers = [element] if course else laps  # a course's trackpoints stand in its <Track>
    rows = [
        _trackpoint(point)
        for container in containers
        for point in container.iter()
        if local_name(point.tag) == "Trackpoint"
    ]
    rows = [row for row in rows if row.get("timestamp") is not None]
    times = [row["timestamp"] for row in rows]
    if not rows or one_instant(min(times), max(times), len(times)):
        return None
    samples = finish_samples(frame_from_rows(rows, SAMPLE_COLUMNS))
    flags: set[str] = {"tcx_course"} if course else set()
    sport = normalise_sport(element.get("Sport"))
    if sport is None:
        sport = infer_sport(samples["speed_mps"])
        flags.add("sport_inferred")
    lap_rows = [] if course else [_lap(lap, i) for i, lap in enumerate(laps)]
    return ParsedActivity(
        meta={"sport": sport, "sub_sport": element.get("Sport"), "start_utc": None, "flags": flags},
        samples=samples,
        laps=frame_from_rows(lap_rows, LAP_COLUMNS),
    )


def _device(root: ET.Element) -> str | None:
    for element in root.iter():
        if local_name(element.tag) == "Creator":
            name = next((e.text for e in element if local_name(e.tag) == "Name"), None)
            return name.strip() if name else None
    return None


def read_tcx(data: bytes) -> ParsedFile:
    """Decode a TCX file (multi-sport included) into one activity per ``<Activity>``.

    Raises
    ------
    UnsafeInput
        The XML declares entities or external references.
    CorruptFile
        Not well-formed XML or not a TrainingCenterDatabase (``tcx_malformed``, ``tcx_invalid``).
    NotAnActivity
        Planned workouts or untimed courses only: no activity or course with a time axis.
    """
    root = parse_safe(data, kind="tcx")
    if local_name(root.tag) != "TrainingCenterDatabase":
        raise CorruptFile("tcx_invalid", "This file looks like TCX but is not a workout file.")
    elements = [e for e in root.iter() if local_name(e.tag) in ("Activity", "Course")]
    read = [(element, _activity(element)) for element in elements]
    activities = [activity for _, activity in read if activity is not None]
    if not activities:
        raise NotAnActivity(
            "not_an_activity",
            "This TCX file holds no recorded workout (no track points with times, or all with "
            "the same time).",
        )
    skipped = [local_name(element.tag) for element, activity in read if activity is None]
    warnings = (
        [f"{len(skipped)} activit(ies) or course(s) without timed track points skipped"]
        if skipped
        else []
    )
    return ParsedFile(
        source_format="tcx",
        activities=activities,
        device=_device(root),
        decoder="tcx",
        warnings=warnings,
    )
